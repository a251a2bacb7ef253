import Foundation
import HubCore
import HubSQLite
import Testing

/// A fresh temporary directory holding `telemetry.db`, removed by `remove()`.
private struct TempArchiveDirectory {
    let directory: String
    var path: String { (directory as NSString).appendingPathComponent(SQLiteArchive.fileName) }

    init() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "hubsqlite-archive-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Two archives driven by two writers with the same input, step by step.
private struct Pair {
    let configuration: ArchiveWriter.Configuration
    let memory = MemoryArchive()
    var sqlite: SQLiteArchive
    var memoryWriter: ArchiveWriter
    var sqliteWriter: ArchiveWriter

    init(path: String, configuration: ArchiveWriter.Configuration) throws {
        self.configuration = configuration
        sqlite = try SQLiteArchive(path: path)
        memoryWriter = ArchiveWriter(
            configuration: configuration, recovery: ArchiveRecovery(), now: ArchiveScenario.base)
        sqliteWriter = ArchiveWriter(
            configuration: configuration, recovery: try sqlite.recover(), now: ArchiveScenario.base)
    }

    /// One step on both; the two writes must be identical.
    mutating func step(
        _ samples: [ArchiveSample], now: Int64, sealAll: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let fromMemory = try ArchiveScenario.drive(&memoryWriter, samples, now: now, sealAll: sealAll, into: memory)
        let fromSQLite = try ArchiveScenario.drive(&sqliteWriter, samples, now: now, sealAll: sealAll, into: sqlite)
        #expect(fromMemory == fromSQLite, "write at \(now)", sourceLocation: sourceLocation)
    }

    mutating func run(_ stream: ArchiveScenario.Stream, steps: Range<Int>) throws {
        for step in stream.steps[steps] { try self.step(step.samples, now: step.now) }
    }

    /// A crash of both: new writers from what each archive holds; the SQLite file is reopened.
    mutating func crash(now: Int64) throws {
        let path = sqlite.path
        sqlite = try SQLiteArchive(path: path)
        memoryWriter = ArchiveWriter(configuration: configuration, recovery: try memory.recover(), now: now)
        sqliteWriter = ArchiveWriter(configuration: configuration, recovery: try sqlite.recover(), now: now)
    }
}

@Suite("SQLiteArchive: the archive on disk, checked against MemoryArchive")
struct SQLiteArchiveTests {
    private static let t0 = ArchiveScenario.base
    private let a = SeriesKey(device: "d1", metric: "temp")
    private let b = SeriesKey(device: "d1", metric: "hum")

    private func expectSameStartup(
        _ got: ArchiveStartup, _ want: ArchiveStartup, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(got.devices == want.devices, sourceLocation: sourceLocation)
        let gotNewest = got.newest.sorted { $0.0 < $1.0 }
        let wantNewest = want.newest.sorted { $0.0 < $1.0 }
        #expect(gotNewest.map(\.0) == wantNewest.map(\.0), sourceLocation: sourceLocation)
        for ((key, samples), (_, wanted)) in zip(gotNewest, wantNewest) {
            #expect(
                ArchiveScenario.difference(samples, wanted) == nil, "startup \(key)", sourceLocation: sourceLocation)
        }
    }

    private func expectSameRecovery(
        _ got: ArchiveRecovery, _ want: ArchiveRecovery, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(got.series == want.series, sourceLocation: sourceLocation)
        #expect(got.nextStagingSeq == want.nextStagingSeq, sourceLocation: sourceLocation)
        #expect(got.staged.map(\.seq) == want.staged.map(\.seq), sourceLocation: sourceLocation)
        #expect(got.staged.map(\.seriesID) == want.staged.map(\.seriesID), sourceLocation: sourceLocation)
        for (gotRun, wantRun) in zip(got.staged, want.staged) {
            #expect(
                ArchiveScenario.difference(gotRun.samples, wantRun.samples) == nil, "staged run \(wantRun.seq)",
                sourceLocation: sourceLocation)
        }
        #expect(got.unrolledRaw.keys.sorted() == want.unrolledRaw.keys.sorted(), sourceLocation: sourceLocation)
        for (id, raw) in want.unrolledRaw {
            #expect(
                ArchiveScenario.difference(got.unrolledRaw[id] ?? [], raw) == nil, "unrolled raw \(id)",
                sourceLocation: sourceLocation)
        }
        #expect(got.unrolledMinutes.keys.sorted() == want.unrolledMinutes.keys.sorted(), sourceLocation: sourceLocation)
        for (id, points) in want.unrolledMinutes {
            #expect(
                ArchiveScenario.difference(got.unrolledMinutes[id] ?? [], points, relativeSum: 0) == nil,
                "unrolled minutes \(id)", sourceLocation: sourceLocation)
        }
    }

    private func device(_ id: String, lastSeen: Int64) -> DeviceRecord {
        var meta = JSONObject()
        meta["fw"] = .string("1.2.3")
        meta["calibration"] = .object(
            JSONObject([(key: "offset", value: .number(-0.25)), (key: "ok", value: .bool(true))]))
        meta["tags"] = .array([.string("α"), .null, .number(3)])
        return DeviceRecord(
            device: id, kind: "thermometer", rooms: ["kitchen", "hall \"2\""], meta: meta, state: .online,
            since: Self.t0, reason: .registered, session: nil, transport: "ws", firstSeen: Self.t0 - 1_000,
            lastSeen: lastSeen)
    }

    // MARK: Schema

    @Test func schemaVersionIsSetAndAReopenKeepsIt() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let archive = try SQLiteArchive(dataDirectory: temp.directory)
        #expect(archive.location == temp.path)
        #expect(FileManager.default.fileExists(atPath: temp.path))
        #expect(try SQLiteConnection(path: temp.path).userVersion == 3)
        let reopened = try SQLiteArchive(path: temp.path)
        #expect(try reopened.stats().series == 0)
        let connection = try SQLiteConnection(path: temp.path)
        #expect(try connection.userVersion == 3)
        let mode = try connection.prepare("PRAGMA journal_mode")
        #expect(try mode.step())
        #expect(mode.text(0) == "wal")
    }

    @Test func aNewerSchemaIsRefused() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        _ = try SQLiteArchive(path: temp.path)
        try SQLiteConnection(path: temp.path).setUserVersion(99)
        #expect(throws: SQLiteError.self) { _ = try SQLiteArchive(path: temp.path) }
    }

    // MARK: The engine scenario

    @Test func scenarioGivesTheSameStateAsMemoryArchiveAcrossACrashAndReopen() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let stream = ArchiveScenario.generate(ArchiveScenario.Options(seed: 21, hours: 2, stepMs: 60_000))
        var pair = try Pair(path: temp.path, configuration: ArchiveScenario.configuration())
        var half = stream.steps.count / 2
        try pair.run(stream, steps: 0..<half)
        // Mid-stream, with staged rows (a crowded staging area may just have been emptied: go on a little).
        while try pair.sqlite.stats().tier("staging")!.rows == 0, half < stream.steps.count / 2 + 10 {
            try pair.run(stream, steps: half..<half + 1)
            half += 1
        }
        let stagingSQLite = try #require(try pair.sqlite.stats().tier("staging"))
        let stagingMemory = try #require(try pair.memory.stats().tier("staging"))
        #expect(stagingSQLite.rows > 0)
        #expect(stagingSQLite.rows == stagingMemory.rows)
        #expect(stagingSQLite.samples == stagingMemory.samples)

        // The same recovery and start-up, also from a second instance on the file.
        expectSameRecovery(try pair.sqlite.recover(), try pair.memory.recover())
        let other = try SQLiteArchive(path: temp.path)
        expectSameRecovery(try other.recover(), try pair.memory.recover())
        let expectedHalf = stream.expectedRaw(through: half)
        for capacity in [1, 60, 100_000] {
            expectSameStartup(
                try pair.sqlite.startup(ringCapacity: capacity), try pair.memory.startup(ringCapacity: capacity))
            ArchiveScenario.expectStartup(
                try other.startup(ringCapacity: capacity), expected: expectedHalf, capacity: capacity)
        }
        try ArchiveScenario.verify(pair.sqlite, expected: expectedHalf, sealed: false)

        try pair.crash(now: stream.steps[half - 1].now)
        try pair.run(stream, steps: half..<stream.steps.count)
        try pair.step([], now: stream.steps.last!.now + 1, sealAll: true)

        let expected = stream.expectedRaw()
        try ArchiveScenario.verify(pair.sqlite, expected: expected)
        try ArchiveScenario.expectSameContents(pair.sqlite, pair.memory, keys: stream.keys)
        for key in stream.keys {
            let marks = ArchiveScenario.expectedWatermarks(newest: stream.newest(key), lateToleranceMs: 30_000)
            #expect(try pair.sqlite.rollups(key, tier: .minute, from: .min, to: .max)?.rolledUntil == marks.minute)
            #expect(try pair.sqlite.rollups(key, tier: .hour, from: .min, to: .max)?.rolledUntil == marks.hour)
        }
        expectSameStartup(try pair.sqlite.startup(ringCapacity: 500), try pair.memory.startup(ringCapacity: 500))
        expectSameRecovery(try pair.sqlite.recover(), try pair.memory.recover())

        // A new instance on the same file sees the same.
        let reopened = try SQLiteArchive(path: temp.path)
        try ArchiveScenario.expectSameContents(reopened, pair.memory, keys: stream.keys)
        expectSameRecovery(try reopened.recover(), try pair.memory.recover())
        #expect(try reopened.stats().series == Int64(stream.keys.count))
        #expect(try reopened.stats().tier("staging")?.rows == 0)
        // Ranges are cut the same way.
        for key in stream.keys {
            let from = Self.t0 + 1_234_567
            let to = from + 1_800_000
            #expect(
                ArchiveScenario.difference(
                    try reopened.sealedSamples(key, from: from, to: to),
                    try pair.memory.sealedSamples(key, from: from, to: to)) == nil)
            #expect(
                try reopened.rollups(key, tier: .minute, from: from, to: to)?.points
                    == pair.memory.rollups(key, tier: .minute, from: from, to: to)?.points)
        }
        #expect(try reopened.sealedSamples(SeriesKey(device: "nobody", metric: "x"), from: .min, to: .max).isEmpty)
        #expect(
            try reopened.rollups(SeriesKey(device: "nobody", metric: "x"), tier: .hour, from: .min, to: .max) == nil)
    }

    @Test func crashRecoveryFromTheFileEqualsAnUninterruptedRun() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let stream = ArchiveScenario.generate(ArchiveScenario.Options(seed: 8, hours: 2, stepMs: 60_000))
        let configuration = ArchiveScenario.configuration()
        let crashes = [stream.steps.count / 3, 2 * stream.steps.count / 3]
        // Each crash abandons the archive instance and the writer; the next ones start from the file.
        var writer = ArchiveWriter(configuration: configuration, recovery: ArchiveRecovery(), now: Self.t0)
        var start = 0
        for end in crashes + [stream.steps.count] {
            let archive = try SQLiteArchive(path: temp.path)
            if start > 0 {
                writer = ArchiveWriter(
                    configuration: configuration, recovery: try archive.recover(), now: stream.steps[start - 1].now)
            }
            try ArchiveScenario.run(stream, steps: start..<end, writer: &writer, into: archive)
            if end == stream.steps.count {
                try ArchiveScenario.drive(&writer, [], now: stream.steps.last!.now + 1, sealAll: true, into: archive)
            }
            start = end
        }
        let uninterrupted = MemoryArchive()
        try ArchiveScenario.runAll(stream, into: uninterrupted, configuration: configuration)
        let archive = try SQLiteArchive(path: temp.path)
        try ArchiveScenario.verify(archive, expected: stream.expectedRaw())
        try ArchiveScenario.expectSameContents(archive, uninterrupted, keys: stream.keys, relativeSum: 1e-9)
    }

    // MARK: Start-up

    @Test func startupHoldsTheNewestSamplesWhenLaterChunksRepeatTimestamps() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        var pair = try Pair(
            path: temp.path,
            configuration: ArchiveWriter.Configuration(
                chunkMaxSamples: 1_000, chunkMaxAgeMs: 3_600_000, stagingMaxRows: 1_000_000, lateToleranceMs: 60_000))
        func s(_ second: Int64, _ value: Double, replaced: Bool = false) -> ArchiveSample {
            ArchiveSample(series: a, ts: Self.t0 + second * 1_000, value: value, replaced: replaced)
        }
        try pair.step((0..<5).map { s($0, Double($0)) }, now: Self.t0 + 5_000, sealAll: true)
        try pair.step([s(5, 5), s(6, 6)], now: Self.t0 + 7_000, sealAll: true)
        // A device re-sends its last two samples after a reconnect: a chunk of replacements only, ending where the
        // previous chunk ends.
        try pair.step([s(5, 50, replaced: true), s(6, 60, replaced: true)], now: Self.t0 + 8_000, sealAll: true)
        let memory = try #require(try pair.memory.startup(ringCapacity: 3).newest.first)
        #expect(memory.1.map(\.value) == [4, 50, 60])
        expectSameStartup(try pair.sqlite.startup(ringCapacity: 3), try pair.memory.startup(ringCapacity: 3))
    }

    @Test func startupHoldsTheNewestSamplesWhenAStagedSampleIsOlderThanSealedOnes() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        var pair = try Pair(path: temp.path, configuration: ArchiveScenario.configuration())
        func s(_ second: Int64, _ value: Double, replaced: Bool = false) -> ArchiveSample {
            ArchiveSample(series: a, ts: Self.t0 + second * 1_000, value: value, replaced: replaced)
        }
        try pair.step((0..<5).map { s($0, Double($0)) }, now: Self.t0 + 5_000, sealAll: true)
        // A replacement of second 2 is staged; the newest sample is still second 4, in the chunk.
        try pair.step([s(2, 20, replaced: true)], now: Self.t0 + 6_000)
        #expect(try pair.memory.startup(ringCapacity: 1).newest.first?.1.map(\.value) == [4])
        expectSameStartup(try pair.sqlite.startup(ringCapacity: 1), try pair.memory.startup(ringCapacity: 1))
        expectSameStartup(try pair.sqlite.startup(ringCapacity: 3), try pair.memory.startup(ringCapacity: 3))
    }

    @Test func startupHoldsTheNewestSamplesWhenALateChunkEndsEarlier() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        var pair = try Pair(
            path: temp.path,
            configuration: ArchiveWriter.Configuration(
                chunkMaxSamples: 2, chunkMaxAgeMs: 3_600_000, stagingMaxRows: 1_000_000, lateToleranceMs: 60_000))
        func s(_ second: Int64, _ value: Double) -> ArchiveSample {
            ArchiveSample(series: a, ts: Self.t0 + second * 1_000, value: value)
        }
        // Chunk 1 holds seconds 0 and 40; late samples 30, 35 arrive afterwards and are sealed into chunk 2,
        // which ends before chunk 1 but holds newer samples than chunk 1's first.
        try pair.step([s(0, 0), s(40, 40)], now: Self.t0 + 40_000)
        try pair.step([s(30, 30), s(35, 35)], now: Self.t0 + 41_000)
        #expect(try pair.memory.startup(ringCapacity: 2).newest.first?.1.map(\.value) == [35, 40])
        expectSameStartup(try pair.sqlite.startup(ringCapacity: 2), try pair.memory.startup(ringCapacity: 2))
    }

    // MARK: Stats, devices, values

    @Test func statsReportEveryTierAndADecimalWalkCostsLittleOnDisk() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let archive = try SQLiteArchive(path: temp.path)
        var writer = ArchiveWriter(
            configuration: ArchiveWriter.Configuration(
                chunkMaxSamples: 2_048, chunkMaxAgeMs: 1_800_000, stagingMaxRows: 4_000_000, lateToleranceMs: 30_000),
            recovery: ArchiveRecovery(), now: Self.t0)
        let keys = (0..<4).map { SeriesKey(device: "walker", metric: "m\($0)") }
        var random = SeededRandom(seed: 2_024)
        var levels = keys.map { _ in Int64.random(in: -1_000...1_000, using: &random) }
        // 8 hours (about 14 chunks per series) show the steady-state cost as well as a day would, in a third of the
        // time.
        let seconds: Int64 = 8 * 3_600
        let batchSeconds: Int64 = 512  // 4 batches fill a chunk
        var batch: [ArchiveSample] = []
        batch.reserveCapacity(Int(batchSeconds) * keys.count)
        for second in 0..<seconds {
            for (index, key) in keys.enumerated() {
                levels[index] += Bool.random(using: &random) ? 1 : -1
                batch.append(
                    ArchiveSample(series: key, ts: Self.t0 + second * 1_000, value: Double(levels[index]) / 10))
            }
            if (second + 1) % batchSeconds == 0 {
                try ArchiveScenario.drive(&writer, batch, now: Self.t0 + (second + 1) * 1_000, into: archive)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try ArchiveScenario.drive(&writer, batch, now: Self.t0 + seconds * 1_000, sealAll: true, into: archive)

        let stats = try archive.stats()
        #expect(stats.location == temp.path)
        #expect(stats.series == 4)
        #expect(stats.fileBytes > 0)
        let raw = try #require(stats.tier("raw"))
        #expect(raw.samples == 4 * seconds)
        #expect(raw.rows == 4 * ((seconds + 2_047) / 2_048))
        #expect(raw.bytes > 0)
        #expect(raw.bytesPerSample <= 1.5, "raw tier: \(raw.bytesPerSample) bytes per sample")
        for name in ["1m", "1h"] {
            let tier = try #require(stats.tier(name))
            #expect(tier.rows > 0 && tier.samples > 0 && tier.bytes > 0, "\(name): \(tier)")
        }
        #expect(stats.tier("1m")!.samples == 4 * (seconds / 60 - 1))
        #expect(stats.tier("1h")!.samples == 4 * (seconds / 3_600 - 1))
        #expect(stats.tier("staging")?.rows == 0)
        #expect(stats.tier("staging")?.samples == 0)
    }

    @Test func devicesRoundTripThroughWritesAndStartup() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let archive = try SQLiteArchive(path: temp.path)
        var write = ArchiveWrite()
        write.devices = [device("thermo-2", lastSeen: Self.t0 + 5), device("thermo-1", lastSeen: Self.t0 + 7)]
        try archive.apply(write)
        #expect(try archive.startup(ringCapacity: 10).devices == write.devices.sorted { $0.device < $1.device })
        #expect(try archive.stats().devices == 2)

        // A later record of the same device replaces the stored one.
        var update = ArchiveWrite()
        var offline = device("thermo-1", lastSeen: Self.t0 + 60_000)
        offline.quotaOwner = "junk junk-*"  // the quota it counts against survives a restart
        offline.state = .offline
        offline.reason = .heartbeatTimeout
        offline.rooms = []
        offline.meta = JSONObject()
        update.devices = [offline]
        try archive.apply(update)
        let reopened = try SQLiteArchive(path: temp.path)
        let devices = try reopened.startup(ringCapacity: 10).devices
        #expect(devices == [offline, device("thermo-2", lastSeen: Self.t0 + 5)])
        #expect(devices.first?.meta.count == 0)
        #expect(devices.first?.quotaOwner == "junk junk-*")
        #expect(devices.last?.quotaOwner == nil)
        #expect(devices.last?.meta["calibration"] == write.devices[0].meta["calibration"])
        #expect(try reopened.stats().devices == 2)

        // A forgotten (expired) device's record is deleted.
        var forget = ArchiveWrite()
        forget.forgottenDevices = ["thermo-1"]
        try reopened.apply(forget)
        #expect(try reopened.startup(ringCapacity: 10).devices.map(\.device) == ["thermo-2"])
    }

    @Test func stagedValuesKeepNegativeZeroBitExactly() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let archive = try SQLiteArchive(path: temp.path)
        var writer = ArchiveWriter(
            configuration: ArchiveScenario.configuration(), recovery: ArchiveRecovery(), now: Self.t0)
        // Staged runs of mixed values, of short decimals around -0.0, and of -0.0 alone.
        let batches: [[Double]] = [
            [-0.0, 0.0, -0.0, .leastNonzeroMagnitude, -.greatestFiniteMagnitude, 0.1 + 0.2], [1.5, -0.0, 2.25], [-0.0],
        ]
        var ts = Self.t0
        for (index, values) in batches.enumerated() {
            let samples = values.map { value in
                ts += 1
                return ArchiveSample(series: a, ts: ts, value: value)
            }
            try ArchiveScenario.drive(&writer, samples, now: Self.t0 + Int64(index), into: archive)
        }
        let bits = batches.joined().map(\.bitPattern)
        let reopened = try SQLiteArchive(path: temp.path)
        #expect(try reopened.recover().staged.count == 3)
        #expect(try reopened.recover().staged.flatMap(\.samples).map(\.value.bitPattern) == bits)
        let staged = try #require(try reopened.startup(ringCapacity: 10).newest.first)
        #expect(staged.1.map(\.value.bitPattern) == bits)
        // And through a chunk.
        var next = ArchiveWriter(
            configuration: ArchiveScenario.configuration(), recovery: try reopened.recover(), now: Self.t0)
        try ArchiveScenario.drive(&next, [], now: Self.t0 + 20, sealAll: true, into: reopened)
        #expect(try reopened.sealedSamples(a, from: .min, to: .max).map(\.value.bitPattern) == bits)
    }

    // MARK: Retention and compaction

    @Test func retentionRemovesWhatMemoryArchiveRemoves() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let stream = ArchiveScenario.generate(ArchiveScenario.Options(seed: 4, hours: 2, stepMs: 120_000))
        let sqlite = try SQLiteArchive(path: temp.path)
        let memory = MemoryArchive()
        let configuration = ArchiveScenario.configuration()
        try ArchiveScenario.runAll(stream, into: sqlite, configuration: configuration)
        try ArchiveScenario.runAll(stream, into: memory, configuration: configuration)
        let end = stream.steps.last!.now

        // dev-0/* keeps raw and 1-minute points 1 h; everything else the defaults (nothing expires).
        let ages = try RetentionPolicy(overrides: [
            RetentionOverride(match: "dev-0/*", raw: RetentionAge(text: "1h"), minute: RetentionAge(text: "1h"))
        ])
        let ageReport = try sqlite.enforceRetention(ages, now: end)
        #expect(normalized(ageReport) == normalized(try memory.enforceRetention(ages, now: end)))
        #expect(ageReport.chunks > 0 && ageReport.samples > 0)
        #expect(ageReport.rollupBlocks[.minute, default: 0] > 0)
        try ArchiveScenario.expectSameContents(sqlite, memory, keys: stream.keys)
        for key in stream.keys where key.device == "dev-0" {
            let raw = try sqlite.sealedSamples(key, from: .min, to: .max)
            // What is left belongs to chunks ending after the cut-off (a chunk spans at most its 10-minute age
            // plus late samples).
            #expect(raw.first!.ts >= end - 3_600_000 - 900_000)
            #expect(raw.count < stream.expectedRaw()[key]!.count)
        }
        for key in stream.keys where key.device != "dev-0" {
            #expect(try sqlite.sealedSamples(key, from: .min, to: .max).count == stream.expectedRaw()[key]!.count)
        }

        // Size caps: the oldest go first, in both.
        let rawBytes = try memory.stats().tier("raw")!.bytes
        let caps = try RetentionPolicy(maxBytes: ["raw": rawBytes / 2, "1m": 2_000, "1h": 1])
        let capReport = try sqlite.enforceRetention(caps, now: end)
        #expect(normalized(capReport) == normalized(try memory.enforceRetention(caps, now: end)))
        #expect(capReport.chunks > 0)
        try ArchiveScenario.expectSameContents(sqlite, memory, keys: stream.keys)
        #expect(try sqlite.stats().tier("1h")?.rows == 0)
    }

    @Test func retentionCutsAtTheSameBoundariesAsMemoryArchive() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let sqlite = try SQLiteArchive(path: temp.path)
        let memory = MemoryArchive()
        let minute: Int64 = 60_000
        let hour: Int64 = 3_600_000
        let day: Int64 = 86_400_000
        let now = Self.t0 + 400 * day + 12_345
        let rawCut = now - 7 * day
        let minuteCut = now - 90 * day
        let debug = SeriesKey(device: "d1", metric: "debug_rssi")
        func chunk(_ id: Int64, endingAt end: Int64) -> ArchiveChunk {
            ArchiveChunk(seriesID: id, samples: (0..<5).map { Sample(ts: end - Int64(4 - $0) * 1_000, value: 1.5) })
        }
        func block(_ id: Int64, _ tier: RollupTier, endingAt end: Int64) -> RollupBlock {
            RollupBlock(
                seriesID: id, tier: tier,
                points: [
                    RollupPoint(ts: end - tier.stepMs, min: 1, max: 2, sum: 3, count: 2),
                    RollupPoint(ts: end, min: 1, max: 2, sum: 3, count: 2),
                ])
        }
        var write = ArchiveWrite()
        write.newSeries = [
            ArchivedSeries(id: 1, key: a, rolledMinute: now - 3 * hour, rolledHour: now - 3 * hour),
            ArchivedSeries(id: 2, key: debug, rolledMinute: now - 10 * hour, rolledHour: now - 10 * hour),
        ]
        write.chunks = [
            chunk(1, endingAt: rawCut - 1), chunk(1, endingAt: rawCut), chunk(1, endingAt: now - 2 * hour),
            chunk(2, endingAt: now - 11 * hour), chunk(2, endingAt: now - 10 * hour - 1),
            chunk(2, endingAt: now - 10 * hour), chunk(2, endingAt: now - 30 * minute),
        ]
        write.rollups = [
            // The last bucket ends exactly at the cut-off: wholly older.
            block(1, .minute, endingAt: minuteCut - minute),
            // The last bucket ends 1 ms after the cut-off.
            block(1, .minute, endingAt: minuteCut - minute + 1),
            block(1, .minute, endingAt: now - 2 * minute),
            block(2, .minute, endingAt: now - day - minute),
            block(2, .minute, endingAt: now - day),
        ]
        try sqlite.apply(write)
        try memory.apply(write)

        let policy = try RetentionPolicy(overrides: [
            RetentionOverride(match: "*/debug_*", raw: RetentionAge(text: "1h"), minute: RetentionAge(text: "1d"))
        ])
        let report = try sqlite.enforceRetention(policy, now: now)
        #expect(normalized(report) == normalized(try memory.enforceRetention(policy, now: now)))
        #expect(report.chunks == 3)
        #expect(report.samples == 15)
        #expect(report.rollupBlocks[.minute] == 2)
        try ArchiveScenario.expectSameContents(sqlite, memory, keys: [a, debug])
        #expect(try sqlite.sealedSamples(a, from: .min, to: .max).first?.ts == rawCut - 4_000)
        #expect(try sqlite.sealedSamples(debug, from: .min, to: .max).first?.ts == now - 10 * hour - 4_000)
        let minutes = try #require(try sqlite.rollups(a, tier: .minute, from: .min, to: .max))
        #expect(minutes.points.first?.ts == minuteCut - 2 * minute + 1)
        #expect(
            try sqlite.rollups(debug, tier: .minute, from: .min, to: .max)?.points.map(\.ts) == [
                now - day - minute, now - day,
            ])

        // A cap below what may go removes every rolled-up chunk, but none the watermark has not passed.
        let tight = try RetentionPolicy(maxBytes: ["raw": 1])
        let capped = try sqlite.enforceRetention(tight, now: now)
        #expect(normalized(capped) == normalized(try memory.enforceRetention(tight, now: now)))
        #expect(capped.chunks == 1)
        let newest = (0..<5).map { now - 2 * hour - 4_000 + $0 * 1_000 }
        #expect(try sqlite.sealedSamples(a, from: .min, to: .max).map(\.ts) == newest)
        // debug's remaining chunks end at or after its watermark.
        #expect(try sqlite.sealedSamples(debug, from: .min, to: .max).count == 10)
        try ArchiveScenario.expectSameContents(sqlite, memory, keys: [a, debug])
    }

    /// A report without zero counts (the two archives may or may not list a tier that lost nothing).
    private func normalized(_ report: RetentionReport) -> RetentionReport {
        var report = report
        report.rollupBlocks = report.rollupBlocks.filter { $0.value != 0 }
        return report
    }

    @Test func compactGivesSpaceBackAndKeepsTheData() throws {
        let temp = try TempArchiveDirectory()
        defer { temp.remove() }
        let stream = ArchiveScenario.generate(ArchiveScenario.Options(seed: 6, hours: 2, stepMs: 120_000))
        let archive = try SQLiteArchive(path: temp.path)
        try ArchiveScenario.runAll(stream, into: archive, configuration: ArchiveScenario.configuration())
        try archive.compact()
        let before = try archive.stats().fileBytes
        let policy = try RetentionPolicy(
            defaults: TierRetention(raw: RetentionAge(text: "10m"), minute: RetentionAge(text: "10m"), hour: .forever))
        let report = try archive.enforceRetention(policy, now: stream.steps.last!.now)
        #expect(report.chunks > 0)
        let kept = try stream.keys.map { try archive.sealedSamples($0, from: .min, to: .max) }
        let keptMinutes = try stream.keys.map { try archive.rollups($0, tier: .minute, from: .min, to: .max)?.points }
        try archive.compact()
        let after = try archive.stats()
        #expect(after.fileBytes > 0)
        #expect(after.fileBytes < before, "\(after.fileBytes) bytes after compaction, \(before) before")
        let wal = try? FileManager.default.attributesOfItem(atPath: temp.path + "-wal")[.size] as? NSNumber
        #expect((wal?.int64Value ?? 0) == 0, "the WAL is checkpointed and truncated")
        for (key, samples) in zip(stream.keys, kept) {
            #expect(ArchiveScenario.difference(try archive.sealedSamples(key, from: .min, to: .max), samples) == nil)
        }
        #expect(
            try stream.keys.map { try archive.rollups($0, tier: .minute, from: .min, to: .max)?.points } == keptMinutes)
        // Still writable after VACUUM.
        var writer = ArchiveWriter(
            configuration: ArchiveScenario.configuration(), recovery: try archive.recover(), now: stream.steps.last!.now
        )
        let next = stream.steps.last!.now + 1_000
        try ArchiveScenario.drive(
            &writer, [ArchiveSample(series: stream.keys[0], ts: next, value: 1)], now: next, sealAll: true,
            into: archive)
        #expect(try archive.sealedSamples(stream.keys[0], from: next, to: next) == [Sample(ts: next, value: 1)])
    }
}
