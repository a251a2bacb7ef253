/// The write-behind's decisions: which samples to stage, when a series' staged samples are sealed into a chunk,
/// which rollup buckets are final, and which staged rows can go.
///
/// A value type with no clock and no I/O: ``step(_:now:sealAll:sealed:)`` takes the accepted samples and `now`
/// and returns the ``ArchiveWrite`` an archive applies in one transaction.
///
/// Rules:
/// - every accepted sample is staged at once, one run per series per batch (so it is durable when the batch
///   commits);
/// - a series' staged samples are sealed into one chunk at `chunkMaxSamples`, when the oldest has waited
///   `chunkMaxAgeMs`, when the staging area holds over `stagingMaxRows` and the series holds its oldest half, or
///   on shutdown; sealing sorts by time and keeps the last write of each timestamp;
/// - a 1-minute bucket is final once the series' newest timestamp is `lateToleranceMs` past its end (the ring
///   refuses anything older), a 1-hour bucket once all its minutes are final; final points are written with the
///   series' next chunk, and the watermarks move with them;
/// - a bucket touched by a replacement (same timestamp, new value) is recomputed from the raw samples when it
///   becomes final, so rollups always equal an aggregate of the stored samples.
public struct ArchiveWriter: Sendable {
    /// Sealing and rollup settings.
    public struct Configuration: Sendable, Equatable {
        public var chunkMaxSamples: Int
        public var chunkMaxAgeMs: Int64
        public var stagingMaxRows: Int
        public var lateToleranceMs: Int64

        /// Creates settings.
        public init(chunkMaxSamples: Int, chunkMaxAgeMs: Int64, stagingMaxRows: Int, lateToleranceMs: Int64) {
            precondition(chunkMaxSamples > 0 && stagingMaxRows > 1)
            self.chunkMaxSamples = chunkMaxSamples
            self.chunkMaxAgeMs = chunkMaxAgeMs
            self.stagingMaxRows = stagingMaxRows
            self.lateToleranceMs = lateToleranceMs
        }
    }

    struct Bucket: Sendable {
        var point: RollupPoint
        var dirty: Bool
    }

    struct SeriesState: Sendable {
        let id: Int64
        let key: SeriesKey
        /// Staged, unsealed samples in arrival order.
        var open: [Sample] = []
        var openFirstSeq: Int64 = 0
        var openSince: Int64 = 0
        var newest: Int64 = .min
        var minutes: [Int64: Bucket] = [:]
        /// Minute buckets starting before this are final (in memory); `writtenMinute` is what the archive holds.
        var finalMinute: Int64
        var writtenMinute: Int64
        var pendingMinutes: [RollupPoint] = []
        var hours: [Int64: RollupPoint] = [:]
        var finalHour: Int64
        var writtenHour: Int64
        var pendingHours: [RollupPoint] = []

        init(id: Int64, key: SeriesKey, rolledMinute: Int64, rolledHour: Int64) {
            self.id = id
            self.key = key
            self.finalMinute = rolledMinute
            self.writtenMinute = rolledMinute
            self.finalHour = rolledHour
            self.writtenHour = rolledHour
        }
    }

    /// The settings in force.
    public let configuration: Configuration
    private var series: [Int64: SeriesState] = [:]
    private var ids: [SeriesKey: Int64] = [:]
    private var nextSeriesID: Int64 = 1
    private var nextSeq: Int64 = 1
    /// Staged rows below this seq have been released.
    private var releasedBelow: Int64 = 1
    /// Samples that arrived for a bucket already final (only possible when a ring was cold); kept raw, not rolled.
    public private(set) var lateForRollup = 0

    /// Creates a writer continuing from what the archive holds.
    public init(configuration: Configuration, recovery: ArchiveRecovery, now: Int64) {
        self.configuration = configuration
        for record in recovery.series {
            series[record.id] = SeriesState(
                id: record.id, key: record.key, rolledMinute: record.rolledMinute, rolledHour: record.rolledHour)
            ids[record.key] = record.id
            nextSeriesID = max(nextSeriesID, record.id + 1)
        }
        nextSeq = recovery.nextStagingSeq
        for run in recovery.staged {
            nextSeq = max(nextSeq, run.seq + 1)
            guard series[run.seriesID] != nil else { continue }
            if series[run.seriesID]!.open.isEmpty {
                series[run.seriesID]!.openFirstSeq = run.seq
                series[run.seriesID]!.openSince = now
            }
            series[run.seriesID]!.open.append(contentsOf: run.samples)
        }
        for (id, var state) in series {
            let raw = SampleMerge.merge([recovery.unrolledRaw[id] ?? [], SampleMerge.dedupe(state.open)])
            state.newest = raw.last?.ts ?? .min
            for point in Rollup.buckets(raw.filter { $0.ts >= state.finalMinute }, stepMs: RollupTier.minute.stepMs) {
                state.minutes[point.ts] = Bucket(point: point, dirty: false)
            }
            let minutes = (recovery.unrolledMinutes[id] ?? []).filter { $0.ts >= state.finalHour }
            for point in Rollup.merge(minutes, stepMs: RollupTier.hour.stepMs) { state.hours[point.ts] = point }
            series[id] = state
        }
        releasedBelow = lowWater()
    }

    /// Series known.
    public var seriesCount: Int { series.count }
    /// Runs in the staging area (an upper bound: released in prefixes).
    public var stagedRows: Int64 { nextSeq - releasedBelow }
    /// Samples staged and not yet sealed.
    public var openSamples: Int { series.values.reduce(0) { $0 + $1.open.count } }

    /// The archive id of `key`, if it has one.
    public func id(of key: SeriesKey) -> Int64? { ids[key] }

    /// Stages `samples` (in acceptance order), finalizes rollups, seals chunks, and returns the write to apply.
    ///
    /// `sealed(id, from, to)` reads a series' sealed samples; it is called only to recompute a bucket touched by
    /// a replacement. `sealAll` seals every series (shutdown).
    public mutating func step(
        _ samples: [ArchiveSample], now: Int64, sealAll: Bool = false,
        sealed: (Int64, Int64, Int64) throws -> [Sample]
    ) rethrows -> ArchiveWrite {
        var write = ArchiveWrite()
        // One staged run per series in the batch, numbered in order of first appearance.
        var runs: [Int64: Int] = [:]
        var lastKey: SeriesKey?
        var lastID: Int64 = 0
        for sample in samples {
            let id: Int64
            if let lastKey, lastKey == sample.series {
                id = lastID
            } else {
                id = seriesID(for: sample.series, write: &write)
                lastKey = sample.series
                lastID = id
            }
            let stored = Sample(ts: sample.ts, value: sample.value)
            let run: Int
            if let index = runs[id] {
                run = index
            } else {
                run = write.staged.count
                runs[id] = run
                write.staged.append(StagedRun(seq: nextSeq, seriesID: id, samples: []))
                nextSeq += 1
            }
            write.staged[run].samples.append(stored)
            series[id]!.stage(
                stored, replaced: sample.replaced, seq: write.staged[run].seq, now: now, late: &lateForRollup)
        }
        for run in write.staged { try finalize(run.seriesID, sealed: sealed) }
        seal(now: now, sealAll: sealAll, write: &write)
        let low = lowWater()
        if low > releasedBelow {
            write.releaseStagingBelow = low
            releasedBelow = low
        }
        return write
    }

    private mutating func seriesID(for key: SeriesKey, write: inout ArchiveWrite) -> Int64 {
        if let id = ids[key] { return id }
        let id = nextSeriesID
        nextSeriesID += 1
        ids[key] = id
        series[id] = SeriesState(id: id, key: key, rolledMinute: .min, rolledHour: .min)
        write.newSeries.append(ArchivedSeries(id: id, key: key))
        return id
    }

    private mutating func finalize(_ id: Int64, sealed: (Int64, Int64, Int64) throws -> [Sample]) rethrows {
        guard var state = series[id] else { return }
        let (cut, overflow) = state.newest.subtractingReportingOverflow(configuration.lateToleranceMs)
        guard !overflow, state.newest != .min else { return }
        let minuteStep = RollupTier.minute.stepMs
        let finalUntil = Rollup.floorDiv(cut, minuteStep) * minuteStep
        guard finalUntil > state.finalMinute else { return }
        let closing = state.minutes.keys.filter { $0 < finalUntil }.sorted()
        for start in closing {
            var bucket = state.minutes.removeValue(forKey: start)!
            if bucket.dirty {
                let end = start + minuteStep - 1
                let raw = SampleMerge.merge([
                    try sealed(id, start, end),
                    SampleMerge.dedupe(state.open.filter { $0.ts >= start && $0.ts <= end }),
                ])
                guard let point = Rollup.buckets(raw, stepMs: minuteStep).first else { continue }
                bucket.point = point
            }
            state.pendingMinutes.append(bucket.point)
            let hourStep = RollupTier.hour.stepMs
            let hour = Rollup.floorDiv(start, hourStep) * hourStep
            var minute = bucket.point
            minute.ts = hour
            state.hours[hour] = state.hours[hour].map { Rollup.combine($0, minute) } ?? minute
        }
        state.finalMinute = finalUntil
        let hourStep = RollupTier.hour.stepMs
        let hoursUntil = Rollup.floorDiv(finalUntil, hourStep) * hourStep
        if hoursUntil > state.finalHour {
            for start in state.hours.keys.filter({ $0 < hoursUntil }).sorted() {
                state.pendingHours.append(state.hours.removeValue(forKey: start)!)
            }
            state.finalHour = hoursUntil
        }
        series[id] = state
    }

    private mutating func seal(now: Int64, sealAll: Bool, write: inout ArchiveWrite) {
        let crowded = stagedRows > Int64(configuration.stagingMaxRows)
        let crowdBound = nextSeq - Int64(configuration.stagingMaxRows / 2)
        let maxAge = configuration.chunkMaxAgeMs
        var sealing: [Int64] = []
        for (id, state) in series where !state.open.isEmpty {
            if sealAll || state.open.count >= configuration.chunkMaxSamples || now - state.openSince >= maxAge
                || (crowded && state.openFirstSeq < crowdBound)
            {
                sealing.append(id)
            }
        }
        sealing.sort()
        for id in sealing {
            var state = series[id]!
            // A big batch can leave more than a chunk's worth open: split it so no chunk passes the limit.
            let samples = SampleMerge.dedupe(state.open)
            for start in stride(from: 0, to: samples.count, by: configuration.chunkMaxSamples) {
                let end = min(start + configuration.chunkMaxSamples, samples.count)
                write.chunks.append(ArchiveChunk(seriesID: id, samples: Array(samples[start..<end])))
            }
            state.open = []
            state.open.reserveCapacity(16)
            if !state.pendingMinutes.isEmpty {
                write.rollups.append(RollupBlock(seriesID: id, tier: .minute, points: state.pendingMinutes))
                state.pendingMinutes = []
            }
            if !state.pendingHours.isEmpty {
                write.rollups.append(RollupBlock(seriesID: id, tier: .hour, points: state.pendingHours))
                state.pendingHours = []
            }
            var marks: [RollupTier: Int64] = [:]
            if state.finalMinute > state.writtenMinute {
                marks[.minute] = state.finalMinute
                state.writtenMinute = state.finalMinute
            }
            if state.finalHour > state.writtenHour {
                marks[.hour] = state.finalHour
                state.writtenHour = state.finalHour
            }
            if !marks.isEmpty { write.watermarks[id] = marks }
            series[id] = state
        }
    }

    private func lowWater() -> Int64 {
        var low = nextSeq
        for state in series.values where !state.open.isEmpty && state.openFirstSeq < low { low = state.openFirstSeq }
        return low
    }
}

extension ArchiveWriter.SeriesState {
    mutating func stage(_ sample: Sample, replaced: Bool, seq: Int64, now: Int64, late: inout Int) {
        if open.isEmpty {
            openFirstSeq = seq
            openSince = now
        }
        open.append(sample)
        if sample.ts > newest { newest = sample.ts }
        let step = RollupTier.minute.stepMs
        let start = Rollup.floorDiv(sample.ts, step) * step
        guard start >= finalMinute else {
            late += 1
            return
        }
        if var bucket = minutes[start] {
            if replaced {
                bucket.dirty = true
            } else {
                bucket.point = Rollup.combine(
                    bucket.point,
                    RollupPoint(ts: start, min: sample.value, max: sample.value, sum: sample.value, count: 1))
            }
            minutes[start] = bucket
        } else {
            minutes[start] = ArchiveWriter.Bucket(
                point: RollupPoint(ts: start, min: sample.value, max: sample.value, sum: sample.value, count: 1),
                dirty: replaced)
        }
    }
}
