import Foundation
import Testing

@testable import HubCore

@Suite("RetentionPolicy: ages, overrides, cut-offs and MemoryArchive.enforceRetention")
struct RetentionPolicyTests {
    private static let day: Int64 = 86_400_000
    private static let hour: Int64 = 3_600_000
    private static let minute: Int64 = 60_000
    private static let now = ArchiveScenario.base + 400 * day

    private let temp = SeriesKey(device: "thermo-1", metric: "temp")
    private let debug = SeriesKey(device: "thermo-1", metric: "debug_rssi")
    private let other = SeriesKey(device: "pump-1", metric: "debug_flow")

    // MARK: Ages

    @Test(
        arguments: [
            ("1h", 3_600_000), ("7d", 604_800_000), ("90d", 7_776_000_000), ("2y", 63_072_000_000),
            ("30m", 1_800_000), ("1500ms", 1_500), ("1.5h", 5_400_000),
        ] as [(String, Int64)])
    func parsesAges(text: String, milliseconds: Int64) throws {
        let age = try #require(RetentionAge(text: text))
        #expect(age.milliseconds == milliseconds)
        // The description parses back to the same age.
        #expect(RetentionAge(text: age.description) == age)
    }

    @Test func parsesForever() throws {
        let forever = try #require(RetentionAge(text: "forever"))
        #expect(forever == .forever)
        #expect(forever.milliseconds == nil)
        #expect(forever.description == "forever")
    }

    @Test(arguments: [
        "", "0", "0h", "0d", "0.0001ms", "-1d", "7x", "d", "1 h", "seven days", "nan", "inf", "1e400d", "1001y",
    ])
    func rejectsJunkAndZero(text: String) {
        #expect(RetentionAge(text: text) == nil)
    }

    @Test func tierRetentionUsesTheConfigurationKeys() throws {
        let decoded = try JSONDecoder().decode(
            TierRetention.self, from: Data(#"{"raw": "1h", "1m": "30d", "1h": "forever"}"#.utf8))
        #expect(decoded.raw == RetentionAge(milliseconds: Self.hour))
        #expect(decoded.minute == RetentionAge(milliseconds: 30 * Self.day))
        #expect(decoded.hour == .forever)
        #expect(decoded.age(nil) == decoded.raw && decoded.age(.minute) == decoded.minute)
        #expect(decoded.age(.hour) == decoded.hour)

        let partial = try JSONDecoder().decode(TierRetention.self, from: Data(#"{"1m": 60000}"#.utf8))
        #expect(partial == TierRetention(minute: RetentionAge(milliseconds: 60_000)))

        let encoded = try JSONEncoder().encode(TierRetention(raw: RetentionAge(text: "7d"), hour: .forever))
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect(Set(object.keys) == ["raw", "1h"])
        #expect(object["1h"] as? String == "forever")
        #expect(try JSONDecoder().decode(TierRetention.self, from: encoded).raw?.milliseconds == 7 * Self.day)

        for bad in [#"{"raw": "soon"}"#, #"{"raw": "0"}"#, #"{"1h": -5}"#, #"{"1m": 0}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(TierRetention.self, from: Data(bad.utf8)) }
        }
    }

    @Test func overrideUsesTheConfigurationKeys() throws {
        let decoded = try JSONDecoder().decode(
            RetentionOverride.self, from: Data(#"{"match": "*/debug_*", "raw": "1h", "1h": "30d"}"#.utf8))
        #expect(
            decoded
                == RetentionOverride(
                    match: "*/debug_*", raw: RetentionAge(milliseconds: Self.hour),
                    hour: RetentionAge(milliseconds: 30 * Self.day)))
    }

    // MARK: Overrides and cut-offs

    @Test func firstMatchingOverrideWinsTierByTierAndOthersFallBackToDefaults() throws {
        let policy = try RetentionPolicy(overrides: [
            RetentionOverride(match: "thermo-*/debug_*", raw: RetentionAge(text: "1h")),
            RetentionOverride(match: "*/debug_*", raw: RetentionAge(text: "2h"), minute: RetentionAge(text: "1d")),
            RetentionOverride(match: "*/*", minute: RetentionAge(text: "2d"), hour: .forever),
        ])
        // debug: raw from rule 1, 1m from rule 2 (rule 1 leaves it out), 1h from rule 3.
        #expect(policy.age(of: debug, tier: nil).milliseconds == Self.hour)
        #expect(policy.age(of: debug, tier: .minute).milliseconds == Self.day)
        #expect(policy.age(of: debug, tier: .hour) == .forever)
        // other: rule 2 then rule 3.
        #expect(policy.age(of: other, tier: nil).milliseconds == 2 * Self.hour)
        #expect(policy.age(of: other, tier: .minute).milliseconds == Self.day)
        // temp: only rule 3; raw falls back to the default.
        #expect(policy.age(of: temp, tier: nil).milliseconds == 7 * Self.day)
        #expect(policy.age(of: temp, tier: .minute).milliseconds == 2 * Self.day)
        #expect(policy.age(of: temp, tier: .hour) == .forever)

        let plain = try RetentionPolicy()
        #expect(plain.age(of: temp, tier: nil).milliseconds == 7 * Self.day)
        #expect(plain.age(of: temp, tier: .minute).milliseconds == 90 * Self.day)
        #expect(plain.age(of: temp, tier: .hour).milliseconds == 730 * Self.day)
        let noDefaults = try RetentionPolicy(defaults: TierRetention(raw: RetentionAge(text: "1d")))
        #expect(noDefaults.age(of: temp, tier: .hour) == .forever)
        #expect(noDefaults.cutoff(of: temp, tier: .hour, now: Self.now) == nil)
        #expect(noDefaults.cutoff(of: temp, tier: nil, now: Self.now) == Self.now - Self.day)
    }

    @Test func badSelectorIsRefused() {
        #expect(throws: ProtocolError.self) {
            _ = try RetentionPolicy(overrides: [RetentionOverride(match: "no-slash", raw: .forever)])
        }
    }

    @Test func rawCutoffNeverPassesTheMinuteWatermark() throws {
        let policy = try RetentionPolicy()
        let cutoff = Self.now - 7 * Self.day
        let ahead = ArchivedSeries(id: 1, key: temp, rolledMinute: Self.now - Self.minute)
        #expect(policy.rawCutoff(of: ahead, now: Self.now) == cutoff)
        let behind = ArchivedSeries(id: 1, key: temp, rolledMinute: cutoff - 10 * Self.day)
        #expect(policy.rawCutoff(of: behind, now: Self.now) == cutoff - 10 * Self.day)
        let never = ArchivedSeries(id: 1, key: temp)
        #expect(policy.rawCutoff(of: never, now: Self.now) == .min)
        let keepAll = try RetentionPolicy(defaults: TierRetention(raw: .forever))
        #expect(keepAll.rawCutoff(of: ahead, now: Self.now) == nil)
        // An age longer than the clock goes back keeps everything rather than overflowing.
        let huge = try RetentionPolicy(defaults: TierRetention(raw: RetentionAge(milliseconds: .max)))
        #expect(huge.cutoff(of: temp, tier: nil, now: -2) == nil)
    }

    @Test func sizeCutRemovesOldestRowsUntilUnderTheLimit() {
        let rows: [(id: Int64, bytes: Int64)] = [(1, 10), (2, 20), (3, 30)]
        #expect(RetentionPolicy.sizeCut(oldestFirst: rows, total: 60, limit: 60) == [])
        #expect(RetentionPolicy.sizeCut(oldestFirst: rows, total: 60, limit: 59) == [1])
        #expect(RetentionPolicy.sizeCut(oldestFirst: rows, total: 60, limit: 50) == [1])
        #expect(RetentionPolicy.sizeCut(oldestFirst: rows, total: 60, limit: 49) == [1, 2])
        #expect(RetentionPolicy.sizeCut(oldestFirst: rows, total: 60, limit: 1) == [1, 2, 3])
        #expect(RetentionPolicy.sizeCut(oldestFirst: rows, total: 60, limit: 0) == [])
        // The total may include rows that are not candidates (not rolled up yet): only candidates go.
        #expect(RetentionPolicy.sizeCut(oldestFirst: rows, total: 1_000, limit: 10) == [1, 2, 3])
    }

    // MARK: MemoryArchive.enforceRetention

    /// Samples every `stepMs` ms over `[from, through]`.
    private func samples(from: Int64, through: Int64, stepMs: Int64, value: Double = 1) -> [Sample] {
        stride(from: from, through: through, by: Int(stepMs)).map { Sample(ts: $0, value: value) }
    }

    private func minutePoints(from: Int64, through: Int64) -> [RollupPoint] {
        stride(from: from, through: through, by: Int(Self.minute)).map {
            RollupPoint(ts: $0, min: 1, max: 1, sum: 1, count: 1)
        }
    }

    private func hourPoints(from: Int64, through: Int64) -> [RollupPoint] {
        stride(from: from, through: through, by: Int(Self.hour)).map {
            RollupPoint(ts: $0, min: 1, max: 1, sum: 60, count: 60)
        }
    }

    @Test func removesChunksOlderThanTheCutoffAndTheWatermarkOnly() throws {
        let archive = MemoryArchive()
        let cutoff = Self.now - 7 * Self.day
        var write = ArchiveWrite()
        write.newSeries = [
            ArchivedSeries(id: 1, key: temp, rolledMinute: Self.now - Self.hour),
            // Rollups behind: raw cannot go past this series' watermark.
            ArchivedSeries(id: 2, key: SeriesKey(device: "thermo-2", metric: "temp"), rolledMinute: cutoff - Self.day),
        ]
        let ends = [cutoff - 2 * Self.day, cutoff - 1, cutoff, cutoff + 1, Self.now - 2 * Self.hour]
        for id: Int64 in [1, 2] {
            for end in ends {
                write.chunks.append(
                    ArchiveChunk(seriesID: id, samples: samples(from: end - 5_000, through: end, stepMs: 1_000)))
            }
        }
        try archive.apply(write)
        let report = try archive.enforceRetention(try RetentionPolicy(), now: Self.now)
        // Series 1 loses the chunks ending before the cut-off; series 2 only the one ending before its watermark.
        #expect(report.chunks == 3)
        #expect(report.samples == 18)
        let kept1 = try archive.sealedSamples(seriesID: 1, from: .min, to: .max)
        #expect(kept1.first?.ts == cutoff - 5_000)
        #expect(kept1.count == 3 * 6)
        let kept2 = try archive.sealedSamples(seriesID: 2, from: .min, to: .max)
        #expect(kept2.first?.ts == cutoff - 1 - 5_000)
        #expect(kept2.count == 4 * 6)
        #expect(try archive.stats().tier("raw")?.rows == 7)
        // A second pass finds nothing more.
        #expect(try archive.enforceRetention(try RetentionPolicy(), now: Self.now).isEmpty)
    }

    @Test func removesRollupBlocksWhollyOlderThanTheirTiersCutoff() throws {
        let archive = MemoryArchive()
        let minuteCut = Self.now - 90 * Self.day
        let hourCut = Self.now - 730 * Self.day
        var write = ArchiveWrite()
        write.newSeries = [ArchivedSeries(id: 1, key: temp, rolledMinute: Self.now, rolledHour: Self.now)]
        write.rollups = [
            // Last bucket ends exactly at the cut-off: wholly older, removed.
            RollupBlock(
                seriesID: 1, tier: .minute,
                points: minutePoints(from: minuteCut - 10 * Self.minute, through: minuteCut - Self.minute)),
            // Last bucket ends one minute after the cut-off: kept, with its older points.
            RollupBlock(
                seriesID: 1, tier: .minute, points: minutePoints(from: minuteCut - 5 * Self.minute, through: minuteCut)),
            RollupBlock(
                seriesID: 1, tier: .minute,
                points: minutePoints(from: Self.now - Self.hour, through: Self.now - Self.minute)),
            RollupBlock(
                seriesID: 1, tier: .hour,
                points: hourPoints(from: hourCut - 5 * Self.hour, through: hourCut - Self.hour)),
            RollupBlock(seriesID: 1, tier: .hour, points: hourPoints(from: hourCut - Self.hour, through: hourCut)),
        ]
        try archive.apply(write)
        let report = try archive.enforceRetention(try RetentionPolicy(), now: Self.now)
        #expect(report.rollupBlocks[.minute] == 1)
        #expect(report.rollupBlocks[.hour] == 1)
        #expect(report.chunks == 0)
        let minutes = try #require(try archive.rollups(temp, tier: .minute, from: .min, to: .max))
        #expect(minutes.points.count == 6 + 60)
        #expect(minutes.points.first?.ts == minuteCut - 5 * Self.minute)
        let hours = try #require(try archive.rollups(temp, tier: .hour, from: .min, to: .max))
        #expect(hours.points.map(\.ts) == [hourCut - Self.hour, hourCut])
    }

    @Test func selectorOverrideAppliesOnlyToMatchingSeries() throws {
        let archive = MemoryArchive()
        var write = ArchiveWrite()
        write.newSeries = [
            ArchivedSeries(id: 1, key: temp, rolledMinute: Self.now, rolledHour: Self.now),
            ArchivedSeries(id: 2, key: debug, rolledMinute: Self.now, rolledHour: Self.now),
            ArchivedSeries(id: 3, key: other, rolledMinute: Self.now - 3 * Self.hour, rolledHour: Self.now),
        ]
        for id: Int64 in 1...3 {
            for start in [Self.now - 5 * Self.hour, Self.now - 2 * Self.hour, Self.now - 30 * Self.minute] {
                write.chunks.append(
                    ArchiveChunk(seriesID: id, samples: samples(from: start, through: start + 10_000, stepMs: 1_000)))
            }
            write.rollups.append(
                RollupBlock(
                    seriesID: id, tier: .minute,
                    points: minutePoints(from: Self.now - 3 * Self.day, through: Self.now - 2 * Self.day)))
        }
        try archive.apply(write)
        let policy = try RetentionPolicy(overrides: [
            RetentionOverride(match: "*/debug_*", raw: RetentionAge(text: "1h"), minute: RetentionAge(text: "1d"))
        ])
        let report = try archive.enforceRetention(policy, now: Self.now)
        // temp keeps everything (7d, 90d); debug loses two chunks and its minute block; other's watermark (3 h
        // ago) holds back its second chunk.
        #expect(try archive.sealedSamples(temp, from: .min, to: .max).count == 33)
        #expect(try archive.sealedSamples(debug, from: .min, to: .max).count == 11)
        #expect(try archive.sealedSamples(other, from: .min, to: .max).count == 22)
        #expect(report.chunks == 3)
        #expect(report.samples == 33)
        #expect(report.rollupBlocks[.minute] == 2)
        #expect(try archive.rollups(temp, tier: .minute, from: .min, to: .max)?.points.count == 24 * 60 + 1)
        #expect(try archive.rollups(debug, tier: .minute, from: .min, to: .max)?.points.isEmpty == true)
        #expect(try archive.rollups(other, tier: .minute, from: .min, to: .max)?.points.isEmpty == true)
    }

    @Test func sizeCapsRemoveTheOldestFirst() throws {
        let archive = MemoryArchive()
        var write = ArchiveWrite()
        write.newSeries = [
            ArchivedSeries(id: 1, key: temp, rolledMinute: Self.now - 10 * Self.hour, rolledHour: Self.now),
            ArchivedSeries(id: 2, key: debug, rolledMinute: Self.now, rolledHour: Self.now),
        ]
        // Interleaved ages across series; series 1's last chunk is not rolled up yet and must stay.
        let plan: [(id: Int64, end: Int64)] = [
            (2, Self.now - 40 * Self.hour), (1, Self.now - 30 * Self.hour), (2, Self.now - 20 * Self.hour),
            (1, Self.now - 12 * Self.hour), (2, Self.now - 11 * Self.hour), (1, Self.now - 5 * Self.hour),
        ]
        var random = SeededRandom(seed: 3)
        for entry in plan {
            let samples = (0..<50).map { index in
                Sample(ts: entry.end - Int64(49 - index) * 1_000, value: Double.random(in: -1...1, using: &random))
            }
            write.chunks.append(ArchiveChunk(seriesID: entry.id, samples: samples))
        }
        let sizes = write.chunks.map { Int64($0.bytes.count) }
        let total = sizes.reduce(0, +)
        for index: Int64 in 0..<4 {
            let first = Self.now - (10 - index) * Self.day
            let points = hourPoints(from: first, through: first + Self.day)
            write.rollups.append(RollupBlock(seriesID: 1 + index % 2, tier: .hour, points: points))
        }
        // Written newest first: age, not insertion order, decides.
        write.rollups.reverse()
        let blockSizes = write.rollups.map { Int64($0.bytes.count) }
        try archive.apply(write)

        // Over by one byte more than the two oldest chunks: the three oldest go.
        let limit = total - sizes[0] - sizes[1] - 1
        let policy = try RetentionPolicy(
            defaults: TierRetention(raw: .forever, minute: .forever, hour: .forever),
            maxBytes: ["raw": limit, "1h": blockSizes.reduce(0, +) - 1])
        let report = try archive.enforceRetention(policy, now: Self.now)
        #expect(report.chunks == 3)
        #expect(report.samples == 150)
        #expect(report.rollupBlocks[.hour] == 1)
        #expect(try archive.sealedSamples(debug, from: .min, to: .max).first?.ts == Self.now - 11 * Self.hour - 49_000)
        #expect(try archive.sealedSamples(temp, from: .min, to: .max).first?.ts == Self.now - 12 * Self.hour - 49_000)
        let hours = try #require(try archive.rollups(temp, tier: .hour, from: .min, to: .max))
        #expect(hours.points.first?.ts == Self.now - 8 * Self.day)
        #expect(
            try archive.rollups(debug, tier: .hour, from: .min, to: .max)?.points.first?.ts == Self.now - 9 * Self.day)

        // A cap below what may go removes every rolled-up chunk but never the unrolled one.
        let tight = try RetentionPolicy(
            defaults: TierRetention(raw: .forever, minute: .forever, hour: .forever), maxBytes: ["raw": 1])
        _ = try archive.enforceRetention(tight, now: Self.now)
        #expect(try archive.sealedSamples(debug, from: .min, to: .max).isEmpty)
        #expect(try archive.sealedSamples(temp, from: .min, to: .max).count == 50)
        #expect(try archive.stats().tier("raw")?.rows == 1)
    }
}
