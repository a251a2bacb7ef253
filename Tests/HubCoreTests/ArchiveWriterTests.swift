import Testing

@testable import HubCore

@Suite("ArchiveWriter: staging, sealing, rollups and recovery against a MemoryArchive")
struct ArchiveWriterTests {
    private static let t0 = ArchiveScenario.base
    private static let minute = ArchiveScenario.minute
    private static let hour = ArchiveScenario.hour
    private let a = SeriesKey(device: "d1", metric: "temp")
    private let b = SeriesKey(device: "d1", metric: "hum")
    private let c = SeriesKey(device: "d2", metric: "temp")

    private func configuration(
        chunkMaxSamples: Int = 1_000, chunkMaxAgeMs: Int64 = 24 * 3_600_000, stagingMaxRows: Int = 1_000_000,
        lateToleranceMs: Int64 = 5_000
    ) -> ArchiveWriter.Configuration {
        ArchiveWriter.Configuration(
            chunkMaxSamples: chunkMaxSamples, chunkMaxAgeMs: chunkMaxAgeMs, stagingMaxRows: stagingMaxRows,
            lateToleranceMs: lateToleranceMs)
    }

    private func writer(_ configuration: ArchiveWriter.Configuration) -> ArchiveWriter {
        ArchiveWriter(configuration: configuration, recovery: ArchiveRecovery(), now: Self.t0)
    }

    /// A sample `offset` ms after `t0`.
    private func s(_ key: SeriesKey, _ offset: Int64, _ value: Double, replaced: Bool = false) -> ArchiveSample {
        ArchiveSample(series: key, ts: Self.t0 + offset, value: value, replaced: replaced)
    }

    @discardableResult
    private func step(
        _ writer: inout ArchiveWriter, _ samples: [ArchiveSample], now offset: Int64, sealAll: Bool = false,
        into archive: MemoryArchive
    ) throws -> ArchiveWrite {
        try ArchiveScenario.drive(&writer, samples, now: Self.t0 + offset, sealAll: sealAll, into: archive)
    }

    private func stagingRows(_ archive: MemoryArchive) throws -> Int64? {
        try archive.stats().tier("staging")?.rows
    }

    private func decoded(_ chunk: ArchiveChunk) throws -> [Sample] {
        try ChunkCodec.decode(chunk.bytes)
    }

    // MARK: Staging

    @Test func everySampleIsStagedInItsStepWithIncreasingSeqAndSeriesGetIDsOnce() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration())
        let first = try step(&writer, [s(a, 0, 1), s(b, 0, 2), s(a, 1_000, 3)], now: 1_000, into: archive)
        #expect(first.newSeries.map(\.key) == [a, b])
        #expect(Set(first.newSeries.map(\.id)).count == 2)
        #expect(first.newSeries.allSatisfy { $0.rolledMinute == .min && $0.rolledHour == .min })
        let idA = try #require(writer.id(of: a))
        let idB = try #require(writer.id(of: b))
        #expect(first.newSeries.map(\.id) == [idA, idB])
        // One run per series, in order of first appearance, holding the series' samples in acceptance order.
        #expect(first.staged.map(\.seriesID) == [idA, idB])
        #expect(first.staged[0].samples == [Sample(ts: Self.t0, value: 1), Sample(ts: Self.t0 + 1_000, value: 3)])
        #expect(first.staged[1].samples == [Sample(ts: Self.t0, value: 2)])
        #expect(first.chunks.isEmpty && first.rollups.isEmpty && first.watermarks.isEmpty)
        #expect(first.releaseStagingBelow == nil)

        let second = try step(&writer, [s(b, 1_000, 4), s(c, 1_000, 5), s(a, 2_000, 6)], now: 2_000, into: archive)
        let idC = try #require(writer.id(of: c))
        #expect(second.newSeries == [ArchivedSeries(id: idC, key: c)])
        #expect(!Set([idA, idB]).contains(idC))
        #expect(second.staged.map(\.seriesID) == [idB, idC, idA])
        let seqs = (first.staged + second.staged).map(\.seq)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $1 == $0 + 1 }, "\(seqs)")

        let third = try step(&writer, [], now: 3_000, into: archive)
        #expect(third.isEmpty)
        #expect(writer.seriesCount == 3)
        #expect(writer.openSamples == 6)
        #expect(writer.stagedRows == 5)
        #expect(try stagingRows(archive) == 5)
        #expect(try archive.stats().tier("staging")?.samples == 6)
        #expect(try archive.recover().staged == first.staged + second.staged)
    }

    // MARK: Sealing

    @Test func sealsAtChunkMaxSamplesAndReleasesAStagingPrefix() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(chunkMaxSamples: 4))
        let first = try step(&writer, [s(a, 0, 1), s(b, 0, 10), s(a, 1_000, 2)], now: 1_000, into: archive)
        #expect(first.chunks.isEmpty)
        let second = try step(&writer, [s(a, 2_000, 3)], now: 2_000, into: archive)
        #expect(second.chunks.isEmpty)
        let third = try step(&writer, [s(a, 3_000, 4)], now: 3_000, into: archive)
        let chunk = try #require(third.chunks.first)
        #expect(third.chunks.count == 1)
        #expect(chunk.seriesID == writer.id(of: a))
        #expect(chunk.count == 4)
        #expect(try decoded(chunk).map(\.value) == [1, 2, 3, 4])
        // b's run is still open, so only a's first run can go.
        #expect(first.staged.map(\.seriesID) == [writer.id(of: a), writer.id(of: b)])
        #expect(third.releaseStagingBelow == first.staged[1].seq)
        #expect(try stagingRows(archive) == 3)
        #expect(writer.openSamples == 1)

        let sealing = try step(&writer, [], now: 4_000, sealAll: true, into: archive)
        #expect(sealing.chunks.map(\.seriesID) == [writer.id(of: b)])
        #expect(sealing.releaseStagingBelow == third.staged.last!.seq + 1)
        #expect(try stagingRows(archive) == 0)
        #expect(writer.stagedRows == 0)
        let stats = try archive.stats()
        #expect(stats.tier("raw")?.rows == 2)
        #expect(stats.tier("raw")?.samples == 5)
    }

    @Test func aBatchLargerThanAChunkIsSplitIntoChunksOfAtMostTheLimit() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(chunkMaxSamples: 4))
        let write = try step(
            &writer, (0..<10).map { s(a, Int64($0) * 1_000, Double($0)) }, now: 10_000, into: archive)
        #expect(write.chunks.map(\.count) == [4, 4, 2])
        #expect(try write.chunks.flatMap { try decoded($0) }.map(\.value) == (0..<10).map(Double.init))
        #expect(writer.openSamples == 0)
    }

    @Test func sealsByAgeMeasuredWithTheNowPassedToStep() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(chunkMaxAgeMs: 10_000))
        // Timestamps far in the past do not matter: the age runs from the step that staged the oldest sample.
        try step(&writer, [s(a, -900_000, 1)], now: 0, into: archive)
        #expect(try step(&writer, [s(a, -899_000, 2)], now: 5_000, into: archive).chunks.isEmpty)
        #expect(try step(&writer, [], now: 9_999, into: archive).chunks.isEmpty)
        let due = try step(&writer, [], now: 10_000, into: archive)
        #expect(due.chunks.count == 1)
        #expect(due.chunks.first?.count == 2)
        #expect(try stagingRows(archive) == 0)
        // The next chunk's age starts with its own first sample.
        try step(&writer, [s(a, -898_000, 3)], now: 12_000, into: archive)
        #expect(try step(&writer, [], now: 21_999, into: archive).chunks.isEmpty)
        #expect(try step(&writer, [], now: 22_000, into: archive).chunks.count == 1)
    }

    @Test func crowdedStagingSealsTheSeriesHoldingTheOldestHalf() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(stagingMaxRows: 4))
        // One staged row per series per step: a (row 1), b (rows 2, 3), c (rows 4, 5).
        var seqs: [Int64] = []
        for (index, key) in [a, b, b, c].enumerated() {
            let write = try step(&writer, [s(key, Int64(index) * 1_000, 1)], now: Int64(index) * 1_000, into: archive)
            #expect(write.chunks.isEmpty)
            seqs += write.staged.map(\.seq)
        }
        #expect(writer.stagedRows == 4)
        let crowded = try step(&writer, [s(c, 5_000, 2)], now: 5_000, into: archive)
        // 5 rows > 4: a and b opened below the newest half of the rows and are sealed; c is not.
        #expect(crowded.chunks.map(\.seriesID) == [writer.id(of: a)!, writer.id(of: b)!].sorted())
        #expect(crowded.chunks.map(\.count).reduce(0, +) == 3)
        #expect(crowded.releaseStagingBelow == seqs[3])
        #expect(writer.stagedRows == 2)
        #expect(try stagingRows(archive) == 2)
        #expect(writer.openSamples == 2)
    }

    @Test func sealAllSealsEverySeriesAndEmptiesStaging() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration())
        try step(&writer, [s(a, 0, 1), s(b, 0, 2), s(c, 0, 3), s(a, 1_000, 4)], now: 1_000, into: archive)
        #expect(try stagingRows(archive) == 3)
        let write = try step(&writer, [s(b, 1_000, 5)], now: 2_000, sealAll: true, into: archive)
        #expect(write.chunks.map(\.seriesID) == [a, b, c].map { writer.id(of: $0)! }.sorted())
        #expect(write.chunks.map(\.count).reduce(0, +) == 5)
        #expect(writer.openSamples == 0)
        #expect(try stagingRows(archive) == 0)
        #expect(try archive.sealedSamples(b, from: .min, to: .max).map(\.value) == [2, 5])
        // Nothing open: another sealAll writes nothing.
        #expect(try step(&writer, [], now: 3_000, sealAll: true, into: archive).isEmpty)
    }

    @Test func chunksAreTimeOrderedAndDeduplicatedLastWriteWins() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration())
        let samples = [
            s(a, 3_000, 1), s(a, 1_000, 2), s(a, 2_000, 3), s(a, 1_000, 4, replaced: true),
            s(a, 3_000, 5, replaced: true), s(a, 500, -0.0),
        ]
        let write = try step(&writer, samples, now: 4_000, sealAll: true, into: archive)
        let chunk = try #require(write.chunks.first)
        let want = [
            Sample(ts: Self.t0 + 500, value: -0.0), Sample(ts: Self.t0 + 1_000, value: 4),
            Sample(ts: Self.t0 + 2_000, value: 3), Sample(ts: Self.t0 + 3_000, value: 5),
        ]
        #expect(ArchiveScenario.difference(try decoded(chunk), want) == nil)
        #expect(chunk.count == 4)
        #expect(chunk.startTs == Self.t0 + 500)
        #expect(chunk.endTs == Self.t0 + 3_000)
        // A later chunk replacing a sealed timestamp wins when the archive merges chunks.
        try step(&writer, [s(a, 2_000, 30, replaced: true), s(a, 4_000, 6)], now: 5_000, sealAll: true, into: archive)
        let stored = try archive.sealedSamples(a, from: .min, to: .max)
        #expect(stored.map(\.value) == [-0.0, 4, 30, 5, 6])
        #expect(stored[0].value.sign == .minus)
    }

    // MARK: Rollups

    @Test func minuteIsFinalOnlyLateTolerancePastItsEndAndWrittenWithTheNextChunk() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(lateToleranceMs: 5_000))
        let firstMinute = (0..<6).map { s(a, Int64($0) * 10_000, Double($0 + 1)) }
        try step(&writer, firstMinute + [s(b, 0, 100)], now: 51_000, into: archive)

        // Newest one ms short of end + tolerance: nothing is final, even when sealed.
        let early = try step(&writer, [s(a, Self.minute + 4_999, 7)], now: 65_000, sealAll: true, into: archive)
        #expect(early.chunks.count == 2)
        #expect(early.rollups.isEmpty)
        // Watermarks may move over empty time, never over minute 0.
        #expect(early.watermarks.values.allSatisfy { ($0[.minute] ?? .min) <= Self.t0 })
        #expect(try archive.rollups(a, tier: .minute, from: .min, to: .max)?.rolledUntil ?? .max <= Self.t0)

        // Exactly end + tolerance: minute 0 is final, but waits for a's next chunk.
        let final = try step(&writer, [s(a, Self.minute + 5_000, 8)], now: 66_000, into: archive)
        #expect(final.chunks.isEmpty && final.rollups.isEmpty && final.watermarks.isEmpty)
        let other = try step(&writer, [s(b, 70_000, 101)], now: 71_000, into: archive)
        #expect(other.rollups.isEmpty && other.watermarks.isEmpty)
        let minutes = try #require(try archive.rollups(a, tier: .minute, from: .min, to: .max))
        #expect(minutes.points.isEmpty && minutes.rolledUntil <= Self.t0)
        #expect(try archive.rollups(b, tier: .minute, from: .min, to: .max)?.rolledUntil ?? .max <= Self.t0)

        let sealed = try step(&writer, [], now: 72_000, sealAll: true, into: archive)
        let idA = try #require(writer.id(of: a))
        let idB = try #require(writer.id(of: b))
        #expect(sealed.chunks.map(\.seriesID) == [idA, idB].sorted())
        let block = try #require(sealed.rollups.first { $0.seriesID == idA })
        #expect(block.tier == .minute)
        let point = RollupPoint(ts: Self.t0, min: 1, max: 6, sum: 21, count: 6)
        #expect(try RollupCodec.decode(block.bytes) == [point])
        let blockB = try #require(sealed.rollups.first { $0.seriesID == idB })
        #expect(
            try RollupCodec.decode(blockB.bytes) == [RollupPoint(ts: Self.t0, min: 100, max: 100, sum: 100, count: 1)])
        #expect(sealed.rollups.count == 2)
        #expect(sealed.watermarks[idA]?[.minute] == Self.t0 + Self.minute)
        #expect(sealed.watermarks[idB]?[.minute] == Self.t0 + Self.minute)
        let written = try #require(try archive.rollups(a, tier: .minute, from: .min, to: .max))
        #expect(written.points == [point])
        #expect(written.rolledUntil == Self.t0 + Self.minute)
        #expect(try archive.rollups(a, tier: .hour, from: .min, to: .max)?.rolledUntil ?? .max <= Self.t0)
        #expect(try archive.rollups(b, tier: .minute, from: .min, to: .max)?.rolledUntil == Self.t0 + Self.minute)
    }

    @Test func hourIsFinalWhenAllItsMinutesAreAndEqualsTheBucketOfItsSamples() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(lateToleranceMs: 5_000))
        var sent: [Sample] = []
        var random = SeededRandom(seed: 99)
        var batch: [ArchiveSample] = []
        for second in stride(from: Int64(0), to: 3_600, by: 7) {
            let value = Double(Int.random(in: -500...500, using: &random)) / 10
            batch.append(s(a, second * 1_000, value))
            sent.append(Sample(ts: Self.t0 + second * 1_000, value: value))
            if batch.count == 20 {
                try step(&writer, batch, now: second * 1_000, into: archive)
                batch = []
            }
        }
        try step(&writer, batch, now: 3_600_000, sealAll: true, into: archive)
        #expect(try archive.rollups(a, tier: .hour, from: .min, to: .max)?.rolledUntil ?? .max <= Self.t0)
        #expect(try archive.rollups(a, tier: .hour, from: .min, to: .max)?.points == [])

        let last = try step(&writer, [s(a, Self.hour + 5_000, 0)], now: Self.hour + 6_000, sealAll: true, into: archive)
        let idA = try #require(writer.id(of: a))
        #expect(last.watermarks == [idA: [.minute: Self.t0 + Self.hour, .hour: Self.t0 + Self.hour]])
        #expect(Set(last.rollups.map(\.tier)) == [.minute, .hour])
        let hours = try #require(try archive.rollups(a, tier: .hour, from: .min, to: .max))
        #expect(hours.rolledUntil == Self.t0 + Self.hour)
        #expect(ArchiveScenario.difference(hours.points, Rollup.buckets(sent, stepMs: Self.hour)) == nil)
        let minutes = try #require(try archive.rollups(a, tier: .minute, from: .min, to: .max))
        #expect(minutes.points.count == 60)
        #expect(ArchiveScenario.difference(minutes.points, Rollup.buckets(sent, stepMs: Self.minute)) == nil)
    }

    @Test func replacementsRecomputeTheBucketFromStagedAndSealedSamples() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(lateToleranceMs: 5_000))
        try step(&writer, [s(a, 0, 1), s(a, 10_000, 2), s(a, 20_000, 3)], now: 21_000, into: archive)
        // Replaces a staged sample.
        try step(&writer, [s(a, 10_000, 20, replaced: true)], now: 22_000, sealAll: true, into: archive)
        // Replaces a sealed sample, plus a late (inserted, not replacing) one.
        try step(&writer, [s(a, 20_000, -7, replaced: true), s(a, 30_000, 4)], now: 31_000, into: archive)
        let write = try step(&writer, [s(a, 65_000, 9)], now: 66_000, sealAll: true, into: archive)
        let block = try #require(write.rollups.first { $0.tier == .minute })
        #expect(try RollupCodec.decode(block.bytes) == [RollupPoint(ts: Self.t0, min: -7, max: 20, sum: 18, count: 4)])
        let raw = try archive.sealedSamples(a, from: .min, to: .max)
        #expect(raw.map(\.value) == [1, 20, -7, 4, 9])
    }

    @Test func replacingTheOnlySampleOfABucketAndReplacingTwice() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(lateToleranceMs: 5_000))
        try step(&writer, [s(a, 59_999, 5)], now: 60_000, sealAll: true, into: archive)
        try step(&writer, [s(a, 59_999, 6, replaced: true)], now: 61_000, into: archive)
        try step(&writer, [s(a, 59_999, 2, replaced: true), s(a, 64_000, 1)], now: 64_500, into: archive)
        try step(&writer, [s(a, 65_000, 1)], now: 66_000, sealAll: true, into: archive)
        let minutes = try #require(try archive.rollups(a, tier: .minute, from: .min, to: .max))
        #expect(minutes.points == [RollupPoint(ts: Self.t0, min: 2, max: 2, sum: 2, count: 1)])
    }

    @Test func aSampleForAFinalBucketIsKeptRawButNotRolled() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration(lateToleranceMs: 5_000))
        try step(&writer, [s(a, 0, 1), s(a, 65_000, 2)], now: 66_000, sealAll: true, into: archive)
        #expect(writer.lateForRollup == 0)
        // Only a cold ring lets this through: minute 0 is final already.
        try step(&writer, [s(a, 1_000, 50)], now: 67_000, sealAll: true, into: archive)
        #expect(writer.lateForRollup == 1)
        #expect(try archive.sealedSamples(a, from: .min, to: .max).map(\.value) == [1, 50, 2])
        #expect(
            try archive.rollups(a, tier: .minute, from: .min, to: .max)?.points == [
                RollupPoint(ts: Self.t0, min: 1, max: 1, sum: 1, count: 1)
            ])
    }

    // MARK: Brute force

    /// Batches of 5 s seal mostly by count and by crowding, batches of 30 s by count and by age.
    @Test(arguments: [(1, 5_000), (2, 5_000), (3, 30_000)] as [(UInt64, Int64)])
    func randomStreamsMatchBucketsOfTheDeduplicatedSamples(seed: UInt64, stepMs: Int64) throws {
        let stream = ArchiveScenario.generate(ArchiveScenario.Options(seed: seed, hours: 2, stepMs: stepMs))
        #expect(stream.replacedCount > 100)
        let configuration = ArchiveScenario.configuration()
        let archive = MemoryArchive()
        var writer = ArchiveWriter(configuration: configuration, recovery: ArchiveRecovery(), now: Self.t0)
        var chunks = 0
        for step in stream.steps {
            let write = try ArchiveScenario.drive(&writer, step.samples, now: step.now, into: archive)
            // Every sample staged, one run per series, in acceptance order.
            #expect(write.staged.count == Set(step.samples.map(\.series)).count)
            for run in write.staged {
                let key = step.samples.first { writer.id(of: $0.series) == run.seriesID }?.series
                let sent = step.samples.filter { $0.series == key }.map { Sample(ts: $0.ts, value: $0.value) }
                #expect(run.samples == sent)
            }
            for chunk in write.chunks {
                #expect(chunk.count <= configuration.chunkMaxSamples + step.samples.count)
                #expect(chunk.startTs <= chunk.endTs)
            }
            for block in write.rollups {
                #expect(block.startTs % block.tier.stepMs == 0 && block.endTs % block.tier.stepMs == 0)
            }
            chunks += write.chunks.count
        }
        try ArchiveScenario.drive(&writer, [], now: stream.steps.last!.now + 1, sealAll: true, into: archive)
        #expect(chunks > 50)
        #expect(try archive.stats().tier("staging")?.rows == 0)
        let expected = stream.expectedRaw()
        try ArchiveScenario.verify(archive, expected: expected)
        for key in stream.keys {
            let marks = ArchiveScenario.expectedWatermarks(
                newest: stream.newest(key), lateToleranceMs: configuration.lateToleranceMs)
            #expect(try archive.rollups(key, tier: .minute, from: .min, to: .max)?.rolledUntil == marks.minute)
            #expect(try archive.rollups(key, tier: .hour, from: .min, to: .max)?.rolledUntil == marks.hour)
            let hours = try archive.rollups(key, tier: .hour, from: .min, to: .max)?.points ?? []
            #expect(hours.count == Int((marks.hour - Self.t0) / Self.hour))
        }
    }

    @Test(arguments: [[700], [300, 301, 900, 1_400]])
    func recoveryAfterACrashEqualsAnUninterruptedRun(crashes: [Int]) throws {
        let stream = ArchiveScenario.generate(ArchiveScenario.Options(seed: 11, hours: 2))
        let configuration = ArchiveScenario.configuration()
        let uninterrupted = MemoryArchive()
        try ArchiveScenario.runAll(stream, into: uninterrupted, configuration: configuration)
        let crashed = MemoryArchive()
        try ArchiveScenario.runAll(stream, into: crashed, configuration: configuration, crashes: crashes)
        let expected = stream.expectedRaw()
        try ArchiveScenario.verify(crashed, expected: expected)
        try ArchiveScenario.verify(uninterrupted, expected: expected)
        try ArchiveScenario.expectSameContents(crashed, uninterrupted, keys: stream.keys, relativeSum: 1e-9)
    }

    @Test func recoveryContinuesStagingWatermarksAndSeriesIDs() throws {
        let archive = MemoryArchive()
        let configuration = configuration(lateToleranceMs: 5_000)
        var first = writer(configuration)
        try step(&first, [s(a, 0, 1), s(a, 65_000, 2), s(b, 0, 3)], now: 66_000, sealAll: true, into: archive)
        try step(
            &first, [s(a, 66_000, 4), s(b, 1_000, 5), s(a, 66_000, 6, replaced: true)], now: 67_000, into: archive)
        // Crash: what the archive holds is all the next writer knows.
        let recovery = try archive.recover()
        #expect(recovery.series.map(\.key) == [a, b])
        #expect(recovery.staged.flatMap(\.samples).map(\.value) == [4, 6, 5])
        #expect(recovery.series.first?.rolledMinute == Self.t0 + Self.minute)
        var second = ArchiveWriter(configuration: configuration, recovery: recovery, now: Self.t0 + 70_000)
        #expect(second.id(of: a) == first.id(of: a) && second.id(of: b) == first.id(of: b))
        #expect(second.openSamples == 3)
        let write = try step(&second, [s(c, 2_000, 7)], now: 71_000, into: archive)
        #expect(write.newSeries.map(\.key) == [c])
        #expect(!recovery.series.map(\.id).contains(write.newSeries[0].id))
        #expect(write.staged.first?.seq ?? .min > recovery.staged.last?.seq ?? .max)
        try step(&second, [], now: 72_000, sealAll: true, into: archive)
        #expect(try archive.sealedSamples(a, from: .min, to: .max).map(\.value) == [1, 2, 6])
        #expect(try archive.stats().tier("staging")?.rows == 0)
    }

    // MARK: Start-up

    @Test func startupHoldsTheNewestRingCapacitySamplesIncludingStagedOnes() throws {
        let archive = MemoryArchive()
        var writer = writer(configuration())
        try step(&writer, (0..<5).map { s(a, Int64($0) * 1_000, Double($0)) }, now: 5_000, sealAll: true, into: archive)
        try step(
            &writer, [s(a, 5_000, 5), s(a, 3_000, 33, replaced: true), s(a, 6_000, 6), s(b, 0, 9)], now: 7_000,
            into: archive)
        #expect(try archive.stats().tier("staging")?.rows == 2)
        #expect(try archive.stats().tier("staging")?.samples == 4)
        let startup = try archive.startup(ringCapacity: 4)
        let newest = Dictionary(startup.newest, uniquingKeysWith: { first, _ in first })
        #expect(newest[a]?.map(\.value) == [33, 4, 5, 6])
        #expect(newest[a]?.map(\.ts) == [3, 4, 5, 6].map { Self.t0 + $0 * 1_000 })
        #expect(newest[b]?.map(\.value) == [9])
        #expect(try archive.startup(ringCapacity: 100).newest.first { $0.0 == a }?.1.count == 7)
    }

    @Test func startupAfterARandomStreamEqualsTheNewestDeduplicatedSamples() throws {
        let stream = ArchiveScenario.generate(ArchiveScenario.Options(seed: 5, hours: 1))
        let archive = MemoryArchive()
        let half = stream.steps.count / 2
        var writer = ArchiveWriter(
            configuration: ArchiveScenario.configuration(), recovery: ArchiveRecovery(), now: Self.t0)
        try ArchiveScenario.run(stream, steps: 0..<half, writer: &writer, into: archive)
        #expect(try archive.stats().tier("staging")!.rows > 0)
        let expected = stream.expectedRaw(through: half)
        for capacity in [1, 50, 300, 100_000] {
            ArchiveScenario.expectStartup(
                try archive.startup(ringCapacity: capacity), expected: expected, capacity: capacity)
        }
    }
}
