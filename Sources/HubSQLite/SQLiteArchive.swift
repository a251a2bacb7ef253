import Foundation
import HubCore
import Synchronization

/// The ``SampleArchive`` on disk: one SQLite database (WAL, `synchronous=FULL`) in the data directory.
///
/// Two connections: the writer (``apply(_:)``, ``recover()``, retention) and a reader for queries, so a query never
/// waits for a flush and a flush never waits for a query.
public final class SQLiteArchive: SampleArchive {
    /// The database file.
    public let path: String
    private let writer: Mutex<SQLiteConnection>
    private let reader: Mutex<SQLiteConnection>

    /// The file name inside the data directory.
    public static let fileName = "telemetry.db"

    /// Opens (creating and migrating when needed) the archive in `dataDirectory`.
    public convenience init(dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try self.init(path: (dataDirectory as NSString).appendingPathComponent(Self.fileName))
    }

    /// Opens (creating and migrating when needed) the archive at `path`.
    public init(path: String) throws {
        self.path = path
        let writer = try SQLiteConnection(path: path)
        try writer.execute("PRAGMA journal_mode=WAL")
        try writer.execute("PRAGMA synchronous=FULL; PRAGMA secure_delete=OFF; PRAGMA cache_size=-16000")
        try writer.migrate(SQLiteSchema.migrations)
        let reader = try SQLiteConnection(path: path, readOnly: true)
        self.writer = Mutex(writer)
        self.reader = Mutex(reader)
    }

    public var location: String { path }

    /// Closes the reader, then the writer: the last connection to close checkpoints the WAL and removes it.
    public func close() {
        reader.withLock { $0.close() }
        writer.withLock { $0.close() }
    }

    // MARK: Start-up and recovery

    public func startup(ringCapacity: Int) throws -> ArchiveStartup {
        try reader.withLock { db in
            var startup = ArchiveStartup()
            startup.devices = try Self.devices(db)
            let staged = try Self.staged(db)
            var stagedBySeries: [Int64: [Sample]] = [:]
            for run in staged { stagedBySeries[run.seriesID, default: []].append(contentsOf: run.samples) }
            let chunks = try db.cached("SELECT id, end_ts, data FROM chunks WHERE series_id = ? ORDER BY end_ts DESC")
            for record in try Self.series(db) {
                let open = SampleMerge.dedupe(stagedBySeries[record.id] ?? [])
                // Newest chunks first, until the newest `ringCapacity` samples are settled: a chunk ending before
                // the oldest of them can neither add a newer sample nor overwrite one (later chunks win).
                var runs: [(Int64, [Sample])] = []
                var merged = open
                chunks.reset()
                chunks.bind(record.id, at: 1)
                while try chunks.step() {
                    if merged.count >= ringCapacity, chunks.int64(1) < merged[merged.count - ringCapacity].ts { break }
                    runs.append((chunks.int64(0), try Self.decodeChunk(chunks.blob(2))))
                    runs.sort { $0.0 < $1.0 }
                    merged = SampleMerge.merge(runs.map { $0.1 } + [open])
                }
                chunks.reset()
                if merged.isEmpty { continue }
                startup.newest.append((record.key, Array(merged.suffix(ringCapacity))))
            }
            return startup
        }
    }

    public func recover() throws -> ArchiveRecovery {
        try writer.withLock { db in
            var recovery = ArchiveRecovery()
            recovery.series = try Self.series(db)
            recovery.staged = try Self.staged(db)
            recovery.nextStagingSeq = (recovery.staged.last?.seq ?? 0) + 1
            for record in recovery.series {
                let raw = try Self.sealed(db, seriesID: record.id, from: record.rolledMinute, to: .max)
                if !raw.isEmpty { recovery.unrolledRaw[record.id] = raw }
                let minutes = try Self.points(db, tier: .minute, seriesID: record.id, from: record.rolledHour, to: .max)
                if !minutes.isEmpty { recovery.unrolledMinutes[record.id] = minutes }
            }
            return recovery
        }
    }

    // MARK: Writing

    public func apply(_ write: ArchiveWrite) throws {
        guard !write.isEmpty else { return }
        try writer.withLock { db in
            try db.transaction {
                if !write.newSeries.isEmpty {
                    let insert = try db.cached(
                        "INSERT INTO series(id, device, metric, rolled_1m, rolled_1h) VALUES(?, ?, ?, ?, ?)")
                    for record in write.newSeries {
                        insert.bind(record.id, at: 1)
                        insert.bind(record.key.device, at: 2)
                        insert.bind(record.key.metric, at: 3)
                        insert.bind(record.rolledMinute, at: 4)
                        insert.bind(record.rolledHour, at: 5)
                        try insert.run()
                    }
                }
                if !write.staged.isEmpty {
                    let insert = try db.cached("INSERT INTO staging(seq, series_id, count, data) VALUES(?, ?, ?, ?)")
                    for run in write.staged {
                        insert.bind(run.seq, at: 1)
                        insert.bind(run.seriesID, at: 2)
                        insert.bind(run.samples.count, at: 3)
                        insert.bind(ChunkCodec.encode(run.samples), at: 4)
                        try insert.run()
                    }
                }
                if !write.chunks.isEmpty {
                    let insert = try db.cached(
                        "INSERT INTO chunks(series_id, start_ts, end_ts, count, data) VALUES(?, ?, ?, ?, ?)")
                    for chunk in write.chunks {
                        insert.bind(chunk.seriesID, at: 1)
                        insert.bind(chunk.startTs, at: 2)
                        insert.bind(chunk.endTs, at: 3)
                        insert.bind(chunk.count, at: 4)
                        insert.bind(chunk.bytes, at: 5)
                        try insert.run()
                    }
                }
                for block in write.rollups {
                    let insert = try db.cached(
                        "INSERT INTO \(Self.table(block.tier))(series_id, start_ts, end_ts, count, data) VALUES(?, ?, ?, ?, ?)"
                    )
                    insert.bind(block.seriesID, at: 1)
                    insert.bind(block.startTs, at: 2)
                    insert.bind(block.endTs, at: 3)
                    insert.bind(block.count, at: 4)
                    insert.bind(block.bytes, at: 5)
                    try insert.run()
                }
                for (id, marks) in write.watermarks {
                    for (tier, until) in marks {
                        let column = tier == .minute ? "rolled_1m" : "rolled_1h"
                        let update = try db.cached("UPDATE series SET \(column) = ? WHERE id = ?")
                        update.bind(until, at: 1)
                        update.bind(id, at: 2)
                        try update.run()
                    }
                }
                if let below = write.releaseStagingBelow {
                    let delete = try db.cached("DELETE FROM staging WHERE seq < ?")
                    delete.bind(below, at: 1)
                    try delete.run()
                }
                if !write.devices.isEmpty { try Self.save(write.devices, db) }
                if !write.forgottenDevices.isEmpty {
                    let delete = try db.cached("DELETE FROM devices WHERE device = ?")
                    for device in write.forgottenDevices {
                        delete.bind(device, at: 1)
                        try delete.run()
                    }
                }
            }
        }
    }

    // MARK: Reading

    public func sealedSamples(seriesID: Int64, from: Int64, to: Int64) throws -> [Sample] {
        try reader.withLock { db in try Self.sealed(db, seriesID: seriesID, from: from, to: to) }
    }

    public func sealedSamples(_ key: SeriesKey, from: Int64, to: Int64) throws -> [Sample] {
        try reader.withLock { db in
            guard let record = try Self.series(db, key: key) else { return [] }
            return try Self.sealed(db, seriesID: record.id, from: from, to: to)
        }
    }

    public func rollups(_ key: SeriesKey, tier: RollupTier, from: Int64, to: Int64) throws -> (
        points: [RollupPoint], rolledUntil: Int64
    )? {
        try reader.withLock { db in
            guard let record = try Self.series(db, key: key) else { return nil }
            return (try Self.points(db, tier: tier, seriesID: record.id, from: from, to: to), record.rolled(tier))
        }
    }

    // MARK: Retention, stats, compaction

    public func enforceRetention(_ policy: RetentionPolicy, now: Int64) throws -> RetentionReport {
        try writer.withLock { db in
            var report = RetentionReport()
            try db.transaction {
                let countRaw = try db.cached(
                    "SELECT COUNT(*), COALESCE(SUM(count), 0) FROM chunks WHERE series_id = ? AND end_ts < ?")
                let deleteRaw = try db.cached("DELETE FROM chunks WHERE series_id = ? AND end_ts < ?")
                for record in try Self.series(db) {
                    if let cutoff = policy.rawCutoff(of: record, now: now) {
                        countRaw.bind(record.id, at: 1)
                        countRaw.bind(cutoff, at: 2)
                        if try countRaw.step(), countRaw.int64(0) > 0 {
                            report.chunks += Int(countRaw.int64(0))
                            report.samples += Int(countRaw.int64(1))
                            countRaw.reset()
                            deleteRaw.bind(record.id, at: 1)
                            deleteRaw.bind(cutoff, at: 2)
                            try deleteRaw.run()
                        }
                        countRaw.reset()
                    }
                    for tier in RollupTier.allCases {
                        guard let cutoff = policy.cutoff(of: record.key, tier: tier, now: now) else { continue }
                        let delete = try db.cached("DELETE FROM \(Self.table(tier)) WHERE series_id = ? AND end_ts < ?")
                        delete.bind(record.id, at: 1)
                        delete.bind(cutoff &- tier.stepMs &+ 1, at: 2)
                        try delete.run()
                        report.rollupBlocks[tier, default: 0] += db.changes
                    }
                }
                try Self.enforceSize(db, policy: policy, report: &report)
            }
            return report
        }
    }

    private static func enforceSize(_ db: SQLiteConnection, policy: RetentionPolicy, report: inout RetentionReport)
        throws
    {
        if let limit = policy.maxBytes["raw"], limit > 0 {
            let total = try db.scalarInt("SELECT COALESCE(SUM(length(data)), 0) FROM chunks") ?? 0
            if total > limit {
                let rows = try db.prepare(
                    """
                    SELECT chunks.id, length(chunks.data), chunks.count FROM chunks JOIN series ON series.id = chunks.series_id
                    WHERE chunks.end_ts < series.rolled_1m ORDER BY chunks.end_ts, chunks.id
                    """)
                var candidates: [(id: Int64, bytes: Int64)] = []
                var counts: [Int64: Int64] = [:]
                while try rows.step() {
                    candidates.append((rows.int64(0), rows.int64(1)))
                    counts[rows.int64(0)] = rows.int64(2)
                }
                let doomed = RetentionPolicy.sizeCut(oldestFirst: candidates, total: total, limit: limit)
                let delete = try db.cached("DELETE FROM chunks WHERE id = ?")
                for id in doomed {
                    delete.bind(id, at: 1)
                    try delete.run()
                    report.chunks += 1
                    report.samples += Int(counts[id] ?? 0)
                }
            }
        }
        for tier in RollupTier.allCases {
            guard let limit = policy.maxBytes[tier.description], limit > 0 else { continue }
            let table = Self.table(tier)
            let total = try db.scalarInt("SELECT COALESCE(SUM(length(data)), 0) FROM \(table)") ?? 0
            guard total > limit else { continue }
            let rows = try db.prepare("SELECT id, length(data) FROM \(table) ORDER BY end_ts, id")
            var candidates: [(id: Int64, bytes: Int64)] = []
            while try rows.step() { candidates.append((rows.int64(0), rows.int64(1))) }
            let delete = try db.cached("DELETE FROM \(table) WHERE id = ?")
            for id in RetentionPolicy.sizeCut(oldestFirst: candidates, total: total, limit: limit) {
                delete.bind(id, at: 1)
                try delete.run()
                report.rollupBlocks[tier, default: 0] += 1
            }
        }
    }

    public func stats() throws -> ArchiveStats {
        try reader.withLock { db in
            var stats = ArchiveStats()
            stats.location = path
            stats.series = try db.scalarInt("SELECT COUNT(*) FROM series") ?? 0
            stats.devices = try db.scalarInt("SELECT COUNT(*) FROM devices") ?? 0
            var pages: [String: Int64] = [:]
            let dbstat = try db.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
            while try dbstat.step() { pages[dbstat.text(0)] = dbstat.int64(1) }
            func tier(_ name: String, table: String, index: String?, samples: String) throws -> ArchiveTierStats {
                let rows = try db.scalarInt("SELECT COUNT(*) FROM \(table)") ?? 0
                let held = try db.scalarInt("SELECT COALESCE(SUM(\(samples)), 0) FROM \(table)") ?? 0
                let bytes = (pages[table] ?? 0) + (index.flatMap { pages[$0] } ?? 0)
                return ArchiveTierStats(name: name, rows: rows, samples: held, bytes: bytes)
            }
            stats.tiers = [
                try tier("raw", table: "chunks", index: "chunks_by_series", samples: "count"),
                try tier("staging", table: "staging", index: nil, samples: "count"),
                try tier("1m", table: "rollup_1m", index: "rollup_1m_by_series", samples: "count"),
                try tier("1h", table: "rollup_1h", index: "rollup_1h_by_series", samples: "count"),
            ]
            let manager = FileManager.default
            for suffix in ["", "-wal", "-shm"] {
                if let size = (try? manager.attributesOfItem(atPath: path + suffix))?[.size] as? NSNumber {
                    stats.fileBytes += size.int64Value
                }
            }
            return stats
        }
    }

    public func compact() throws {
        try writer.withLock { db in
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            try db.execute("VACUUM")
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    // MARK: Helpers

    static func table(_ tier: RollupTier) -> String { tier == .minute ? "rollup_1m" : "rollup_1h" }

    private static func series(_ db: SQLiteConnection) throws -> [ArchivedSeries] {
        let rows = try db.cached("SELECT id, device, metric, rolled_1m, rolled_1h FROM series ORDER BY id")
        var result: [ArchivedSeries] = []
        while try rows.step() {
            result.append(
                ArchivedSeries(
                    id: rows.int64(0), key: SeriesKey(device: rows.text(1), metric: rows.text(2)),
                    rolledMinute: rows.int64(3), rolledHour: rows.int64(4)))
        }
        rows.reset()
        return result
    }

    private static func series(_ db: SQLiteConnection, key: SeriesKey) throws -> ArchivedSeries? {
        let rows = try db.cached("SELECT id, rolled_1m, rolled_1h FROM series WHERE device = ? AND metric = ?")
        rows.bind(key.device, at: 1)
        rows.bind(key.metric, at: 2)
        defer { rows.reset() }
        guard try rows.step() else { return nil }
        return ArchivedSeries(id: rows.int64(0), key: key, rolledMinute: rows.int64(1), rolledHour: rows.int64(2))
    }

    private static func staged(_ db: SQLiteConnection) throws -> [StagedRun] {
        let rows = try db.cached("SELECT seq, series_id, data FROM staging ORDER BY seq")
        var result: [StagedRun] = []
        while try rows.step() {
            result.append(
                StagedRun(seq: rows.int64(0), seriesID: rows.int64(1), samples: try decodeChunk(rows.blob(2))))
        }
        rows.reset()
        return result
    }

    private static func sealed(_ db: SQLiteConnection, seriesID: Int64, from: Int64, to: Int64) throws -> [Sample] {
        let rows = try db.cached(
            "SELECT data FROM chunks WHERE series_id = ? AND end_ts >= ? AND start_ts <= ? ORDER BY id")
        rows.bind(seriesID, at: 1)
        rows.bind(from, at: 2)
        rows.bind(to, at: 3)
        defer { rows.reset() }
        var runs: [[Sample]] = []
        while try rows.step() {
            runs.append(try decodeChunk(rows.blob(0)).filter { $0.ts >= from && $0.ts <= to })
        }
        return SampleMerge.merge(runs)
    }

    private static func points(_ db: SQLiteConnection, tier: RollupTier, seriesID: Int64, from: Int64, to: Int64)
        throws -> [RollupPoint]
    {
        let rows = try db.cached(
            "SELECT data FROM \(table(tier)) WHERE series_id = ? AND end_ts >= ? AND start_ts <= ? ORDER BY start_ts, id"
        )
        rows.bind(seriesID, at: 1)
        rows.bind(from, at: 2)
        rows.bind(to, at: 3)
        defer { rows.reset() }
        var points: [RollupPoint] = []
        while try rows.step() {
            do {
                points.append(contentsOf: try RollupCodec.decode(rows.blob(0)).filter { $0.ts >= from && $0.ts <= to })
            } catch {
                throw SQLiteError(code: 0, message: "a stored rollup block is corrupt: \(error)", sql: nil)
            }
        }
        points.sort { $0.ts < $1.ts }
        return points
    }

    private static func decodeChunk(_ bytes: [UInt8]) throws -> [Sample] {
        do {
            return try ChunkCodec.decode(bytes)
        } catch {
            throw SQLiteError(code: 0, message: "a stored chunk is corrupt: \(error)", sql: nil)
        }
    }

    private static func devices(_ db: SQLiteConnection) throws -> [DeviceRecord] {
        let rows = try db.cached(
            """
            SELECT device, kind, rooms, meta, state, since, reason, transport, first_seen, last_seen, commands,
            quota_owner FROM devices ORDER BY device
            """)
        var result: [DeviceRecord] = []
        while try rows.step() {
            let rooms: [String]
            if case .array(let items)? = try? JSONParser.parse(rows.text(2)) {
                rooms = items.compactMap { if case .string(let room) = $0 { room } else { nil } }
            } else {
                rooms = []
            }
            let meta: JSONObject
            if case .object(let object)? = try? JSONParser.parse(rows.text(3)) {
                meta = object
            } else {
                meta = JSONObject()
            }
            var commands: [CommandSpec] = []
            if case .array(let items)? = try? JSONParser.parse(rows.text(10)) {
                commands = items.compactMap { try? CommandSpec(json: $0) }
            }
            var record = DeviceRecord(
                device: rows.text(0), kind: rows.text(1), rooms: rooms, meta: meta,
                state: PresenceState(rawValue: rows.text(4)) ?? .offline, since: rows.int64(5),
                reason: PresenceReason(rawValue: rows.text(6)) ?? .closed, session: nil, transport: rows.text(7),
                firstSeen: rows.int64(8), lastSeen: rows.int64(9), commands: commands)
            let owner = rows.text(11)
            record.quotaOwner = owner.isEmpty ? nil : owner
            result.append(record)
        }
        rows.reset()
        return result
    }

    private static func save(_ records: [DeviceRecord], _ db: SQLiteConnection) throws {
        let upsert = try db.cached(
            """
            INSERT OR REPLACE INTO devices(device, kind, rooms, meta, state, since, reason, transport, first_seen,
            last_seen, commands, quota_owner) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for record in records {
            var rooms = JSONWriter()
            rooms.value(.array(record.rooms.map(JSONValue.string)))
            var meta = JSONWriter()
            meta.value(.object(record.meta))
            upsert.bind(record.device, at: 1)
            upsert.bind(record.kind, at: 2)
            upsert.bind(rooms.string, at: 3)
            upsert.bind(meta.string, at: 4)
            upsert.bind(record.state.rawValue, at: 5)
            upsert.bind(record.since, at: 6)
            upsert.bind(record.reason.rawValue, at: 7)
            upsert.bind(record.transport, at: 8)
            upsert.bind(record.firstSeen, at: 9)
            upsert.bind(record.lastSeen, at: 10)
            var commands = JSONWriter()
            commands.value(.array(record.commands.map(\.json)))
            upsert.bind(commands.string, at: 11)
            upsert.bind(record.quotaOwner ?? "", at: 12)
            try upsert.run()
        }
    }
}
