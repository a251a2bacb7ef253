import Synchronization

/// A ``SampleArchive`` in memory (`--storage memory`, and tests): the same chunks and blocks as on disk, lost on
/// restart.
public final class MemoryArchive: SampleArchive {
    struct State {
        var series: [Int64: ArchivedSeries] = [:]
        var ids: [SeriesKey: Int64] = [:]
        var staged: [StagedRun] = []
        var chunks: [Int64: [(order: Int64, chunk: ArchiveChunk)]] = [:]
        var rollups: [RollupTier: [Int64: [(order: Int64, block: RollupBlock)]]] = [:]
        var devices: [String: DeviceRecord] = [:]
        var order: Int64 = 0
    }

    private let state = Mutex(State())

    /// Creates an empty archive.
    public init() {}

    public var location: String { "memory" }

    public func startup(ringCapacity: Int) throws -> ArchiveStartup {
        try state.withLock { state in
            var startup = ArchiveStartup()
            startup.devices = state.devices.values.sorted { $0.device < $1.device }
            var stagedBySeries: [Int64: [Sample]] = [:]
            for run in state.staged { stagedBySeries[run.seriesID, default: []].append(contentsOf: run.samples) }
            for (id, record) in state.series.sorted(by: { $0.key < $1.key }) {
                let sealed = try Self.decode(state.chunks[id] ?? [], from: .min, to: .max)
                let merged = SampleMerge.merge([sealed, SampleMerge.dedupe(stagedBySeries[id] ?? [])])
                if merged.isEmpty { continue }
                startup.newest.append((record.key, Array(merged.suffix(ringCapacity))))
            }
            return startup
        }
    }

    public func recover() throws -> ArchiveRecovery {
        try state.withLock { state in
            var recovery = ArchiveRecovery()
            recovery.series = state.series.values.sorted { $0.id < $1.id }
            recovery.staged = state.staged
            recovery.nextStagingSeq = (state.staged.last?.seq ?? 0) + 1
            for record in recovery.series {
                let raw = try Self.decode(state.chunks[record.id] ?? [], from: record.rolledMinute, to: .max)
                if !raw.isEmpty { recovery.unrolledRaw[record.id] = raw }
                let minutes = try Self.points(
                    state.rollups[.minute]?[record.id] ?? [], from: record.rolledHour, to: .max)
                if !minutes.isEmpty { recovery.unrolledMinutes[record.id] = minutes }
            }
            return recovery
        }
    }

    public func apply(_ write: ArchiveWrite) throws {
        state.withLock { state in
            for record in write.newSeries {
                state.series[record.id] = record
                state.ids[record.key] = record.id
            }
            state.staged.append(contentsOf: write.staged)
            if let below = write.releaseStagingBelow {
                let index = state.staged.firstIndex { $0.seq >= below } ?? state.staged.count
                state.staged.removeFirst(index)
            }
            for chunk in write.chunks {
                state.order += 1
                state.chunks[chunk.seriesID, default: []].append((state.order, chunk))
            }
            for block in write.rollups {
                state.order += 1
                state.rollups[block.tier, default: [:]][block.seriesID, default: []].append((state.order, block))
            }
            for (id, marks) in write.watermarks {
                if let minute = marks[.minute] { state.series[id]?.rolledMinute = minute }
                if let hour = marks[.hour] { state.series[id]?.rolledHour = hour }
            }
            for device in write.devices { state.devices[device.device] = device }
            for device in write.forgottenDevices { state.devices[device] = nil }
        }
    }

    public func sealedSamples(seriesID: Int64, from: Int64, to: Int64) throws -> [Sample] {
        try state.withLock { state in try Self.decode(state.chunks[seriesID] ?? [], from: from, to: to) }
    }

    public func sealedSamples(_ key: SeriesKey, from: Int64, to: Int64) throws -> [Sample] {
        try state.withLock { state in
            guard let id = state.ids[key] else { return [] }
            return try Self.decode(state.chunks[id] ?? [], from: from, to: to)
        }
    }

    public func rollups(_ key: SeriesKey, tier: RollupTier, from: Int64, to: Int64) throws -> (
        points: [RollupPoint], rolledUntil: Int64
    )? {
        try state.withLock { state in
            guard let id = state.ids[key], let record = state.series[id] else { return nil }
            let points = try Self.points(state.rollups[tier]?[id] ?? [], from: from, to: to)
            return (points, record.rolled(tier))
        }
    }

    public func enforceRetention(_ policy: RetentionPolicy, now: Int64) throws -> RetentionReport {
        state.withLock { state in
            var report = RetentionReport()
            for (id, record) in state.series {
                if let cutoff = policy.rawCutoff(of: record, now: now), var chunks = state.chunks[id] {
                    let before = chunks.count
                    report.samples += chunks.filter { $0.chunk.endTs < cutoff }.reduce(0) { $0 + $1.chunk.count }
                    chunks.removeAll { $0.chunk.endTs < cutoff }
                    report.chunks += before - chunks.count
                    state.chunks[id] = chunks
                }
                for tier in RollupTier.allCases {
                    guard let cutoff = policy.cutoff(of: record.key, tier: tier, now: now),
                        var blocks = state.rollups[tier]?[id]
                    else { continue }
                    let before = blocks.count
                    blocks.removeAll { $0.block.endTs + tier.stepMs <= cutoff }
                    report.rollupBlocks[tier, default: 0] += before - blocks.count
                    state.rollups[tier]![id] = blocks
                }
            }
            Self.enforceSize(&state, policy: policy, report: &report)
            return report
        }
    }

    private static func enforceSize(_ state: inout State, policy: RetentionPolicy, report: inout RetentionReport) {
        if let limit = policy.maxBytes["raw"], limit > 0 {
            var rows: [(id: Int64, bytes: Int64, series: Int64, endTs: Int64)] = []
            for (series, chunks) in state.chunks {
                let rolled = state.series[series]?.rolledMinute ?? .min
                for entry in chunks where entry.chunk.endTs < rolled {
                    rows.append((entry.order, Int64(entry.chunk.bytes.count), series, entry.chunk.endTs))
                }
            }
            let total = state.chunks.values.joined().reduce(Int64(0)) { $0 + Int64($1.chunk.bytes.count) }
            rows.sort { ($0.endTs, $0.id) < ($1.endTs, $1.id) }
            let doomed = Set(
                RetentionPolicy.sizeCut(oldestFirst: rows.map { ($0.id, $0.bytes) }, total: total, limit: limit))
            for series in Array(state.chunks.keys) {
                let before = state.chunks[series]!.count
                report.samples += state.chunks[series]!.filter { doomed.contains($0.order) }.reduce(0) {
                    $0 + $1.chunk.count
                }
                state.chunks[series]!.removeAll { doomed.contains($0.order) }
                report.chunks += before - state.chunks[series]!.count
            }
        }
        for tier in RollupTier.allCases {
            guard let limit = policy.maxBytes[tier.description], limit > 0, let bySeries = state.rollups[tier] else {
                continue
            }
            var rows: [(id: Int64, bytes: Int64, endTs: Int64)] = []
            for blocks in bySeries.values {
                for entry in blocks { rows.append((entry.order, Int64(entry.block.bytes.count), entry.block.endTs)) }
            }
            let total = rows.reduce(Int64(0)) { $0 + $1.bytes }
            rows.sort { ($0.endTs, $0.id) < ($1.endTs, $1.id) }
            let doomed = Set(
                RetentionPolicy.sizeCut(oldestFirst: rows.map { ($0.id, $0.bytes) }, total: total, limit: limit))
            for series in Array(bySeries.keys) {
                let before = state.rollups[tier]![series]!.count
                state.rollups[tier]![series]!.removeAll { doomed.contains($0.order) }
                report.rollupBlocks[tier, default: 0] += before - state.rollups[tier]![series]!.count
            }
        }
    }

    public func stats() throws -> ArchiveStats {
        state.withLock { state in
            var stats = ArchiveStats()
            stats.location = "memory"
            stats.series = Int64(state.series.count)
            stats.devices = Int64(state.devices.count)
            let chunks = state.chunks.values.joined()
            stats.tiers.append(
                ArchiveTierStats(
                    name: "raw", rows: Int64(chunks.count), samples: Int64(chunks.reduce(0) { $0 + $1.chunk.count }),
                    bytes: Int64(chunks.reduce(0) { $0 + $1.chunk.bytes.count })))
            stats.tiers.append(
                ArchiveTierStats(
                    name: "staging", rows: Int64(state.staged.count),
                    samples: Int64(state.staged.reduce(0) { $0 + $1.samples.count }),
                    bytes: Int64(state.staged.reduce(0) { $0 + 16 + 16 * $1.samples.count })))
            for tier in RollupTier.allCases {
                let blocks = (state.rollups[tier] ?? [:]).values.joined()
                stats.tiers.append(
                    ArchiveTierStats(
                        name: tier.description, rows: Int64(blocks.count),
                        samples: Int64(blocks.reduce(0) { $0 + $1.block.count }),
                        bytes: Int64(blocks.reduce(0) { $0 + $1.block.bytes.count })))
            }
            return stats
        }
    }

    public func compact() throws {}

    private static func decode(_ chunks: [(order: Int64, chunk: ArchiveChunk)], from: Int64, to: Int64) throws
        -> [Sample]
    {
        var runs: [[Sample]] = []
        for entry in chunks where entry.chunk.endTs >= from && entry.chunk.startTs <= to {
            runs.append(try ChunkCodec.decode(entry.chunk.bytes).filter { $0.ts >= from && $0.ts <= to })
        }
        return SampleMerge.merge(runs)
    }

    private static func points(_ blocks: [(order: Int64, block: RollupBlock)], from: Int64, to: Int64) throws
        -> [RollupPoint]
    {
        var points: [RollupPoint] = []
        for entry in blocks where entry.block.endTs >= from && entry.block.startTs <= to {
            points.append(contentsOf: try RollupCodec.decode(entry.block.bytes).filter { $0.ts >= from && $0.ts <= to })
        }
        points.sort { $0.ts < $1.ts }
        return points
    }
}
