import HubCore
import Testing

/// Shared helpers for the archive tests: a seeded stream generator that behaves like the hub's rings, a driver
/// that applies every ``ArchiveWriter`` step to an archive, and a brute-force comparison of what the archive holds
/// with the de-duplicated input.
///
/// A copy of HubCoreTests/ArchiveScenario.swift (test targets cannot share sources); keep the two in step.
enum ArchiveScenario {
    /// An hour boundary (2023-11-14T21:00Z) the simulated streams start at.
    static let base: Int64 = 472_222 * 3_600_000
    static let minute = RollupTier.minute.stepMs
    static let hour = RollupTier.hour.stepMs

    /// One write-behind batch: the samples accepted before `now`, in acceptance order.
    struct Step {
        var now: Int64
        var samples: [ArchiveSample]
    }

    /// How a stream is generated.
    struct Options {
        var seed: UInt64
        /// One series per period; each emits about every `period` ms.
        var periodsMs: [Int64] = [1_000, 1_000, 2_000, 5_000]
        var hours: Int64 = 3
        var jitterMs: Int64 = 150
        var lateToleranceMs: Int64 = 30_000
        /// Chance, per regular sample, of a late sample (inside the tolerance) following it.
        var lateRate = 0.03
        /// Chance, per regular sample, of a replacement (same timestamp, new value) following it.
        var replaceRate = 0.02
        /// Width of one batch of simulated time.
        var stepMs: Int64 = 5_000
    }

    /// A generated stream cut into batches.
    struct Stream {
        var keys: [SeriesKey]
        var steps: [Step]
        var options: Options

        /// Per series, the samples of the first `stepCount` steps de-duplicated by timestamp (the last write wins),
        /// in time order. Computed independently of ``SampleMerge``.
        func expectedRaw(through stepCount: Int? = nil) -> [SeriesKey: [Sample]] {
            var byKey: [SeriesKey: [Int64: Double]] = [:]
            for step in steps.prefix(stepCount ?? steps.count) {
                for sample in step.samples { byKey[sample.series, default: [:]][sample.ts] = sample.value }
            }
            return byKey.mapValues { values in
                values.keys.sorted().map { Sample(ts: $0, value: values[$0]!) }
            }
        }

        /// The newest timestamp of `key` in the whole stream.
        func newest(_ key: SeriesKey) -> Int64 {
            steps.lazy.flatMap(\.samples).filter { $0.series == key }.map(\.ts).max() ?? .min
        }

        /// The number of samples (with replacements) in the stream.
        var sampleCount: Int { steps.reduce(0) { $0 + $1.samples.count } }

        /// The number of samples flagged as replacements.
        var replacedCount: Int { steps.reduce(0) { $0 + $1.samples.filter(\.replaced).count } }
    }

    /// Generates a stream the way devices and the hub's rings produce one: regular samples with jitter, late
    /// samples inside the tolerance, and replacements of timestamps already sent (flagged `replaced`, as a ring
    /// reports them); nothing the ring would refuse as too late.
    static func generate(_ options: Options) -> Stream {
        struct Accepted {
            var arrival: Int64
            var order: Int
            var sample: ArchiveSample
        }
        var accepted: [Accepted] = []
        var keys: [SeriesKey] = []
        let end = base + options.hours * hour
        let tolerance = options.lateToleranceMs
        for (index, period) in options.periodsMs.enumerated() {
            let key = SeriesKey(device: "dev-\(index / 2)", metric: "m\(index)")
            keys.append(key)
            var random = SeededRandom(seed: options.seed &+ UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15)
            var sent = Set<Int64>()
            var recent: [Int64] = []
            var newest = Int64.min
            var arrival = base
            var level = Int64.random(in: -300...300, using: &random)
            func emit(_ ts: Int64, _ tenths: Int64) {
                let replaced = sent.contains(ts)
                sent.insert(ts)
                recent.append(ts)
                if recent.count > 64 { recent.removeFirst() }
                newest = max(newest, ts)
                let sample = ArchiveSample(series: key, ts: ts, value: Double(tenths) / 10, replaced: replaced)
                accepted.append(Accepted(arrival: arrival, order: accepted.count, sample: sample))
            }
            var ts = base + Int64.random(in: 0..<period, using: &random)
            while ts < end {
                level += Bool.random(using: &random) ? 1 : -1
                arrival = max(arrival + 1, ts + Int64.random(in: 0...200, using: &random))
                emit(ts, level)
                if Double.random(in: 0..<1, using: &random) < options.lateRate {
                    let late = max(base, newest - Int64.random(in: 1...tolerance, using: &random))
                    arrival += 1
                    emit(late, level + Int64.random(in: -20...20, using: &random))
                }
                if Double.random(in: 0..<1, using: &random) < options.replaceRate {
                    let candidates = recent.filter { $0 >= newest - tolerance }
                    if let target = candidates.randomElement(using: &random) {
                        arrival += 1
                        emit(target, level + Int64.random(in: -50...50, using: &random))
                    }
                }
                ts += period + Int64.random(in: -options.jitterMs...options.jitterMs, using: &random)
            }
        }
        accepted.sort { ($0.arrival, $0.order) < ($1.arrival, $1.order) }
        let lastStep = Int((accepted.last!.arrival - base) / options.stepMs)
        var steps = (0...lastStep).map { Step(now: base + Int64($0 + 1) * options.stepMs, samples: []) }
        for entry in accepted { steps[Int((entry.arrival - base) / options.stepMs)].samples.append(entry.sample) }
        return Stream(keys: keys, steps: steps, options: options)
    }

    /// A writer configuration that exercises every sealing rule on a generated stream.
    static func configuration(lateToleranceMs: Int64 = 30_000) -> ArchiveWriter.Configuration {
        ArchiveWriter.Configuration(
            chunkMaxSamples: 256, chunkMaxAgeMs: 600_000, stagingMaxRows: 300, lateToleranceMs: lateToleranceMs)
    }

    /// Runs one writer step and applies its write to `archive`, as the hub's storage thread does.
    @discardableResult
    static func drive(
        _ writer: inout ArchiveWriter, _ samples: [ArchiveSample], now: Int64, sealAll: Bool = false,
        into archive: any SampleArchive
    ) throws -> ArchiveWrite {
        let write = try writer.step(samples, now: now, sealAll: sealAll) { id, from, to in
            try archive.sealedSamples(seriesID: id, from: from, to: to)
        }
        try archive.apply(write)
        return write
    }

    /// Runs `steps` of `stream` through `writer` into `archive`.
    static func run(
        _ stream: Stream, steps range: Range<Int>, writer: inout ArchiveWriter, into archive: any SampleArchive
    ) throws {
        for step in stream.steps[range] { try drive(&writer, step.samples, now: step.now, into: archive) }
    }

    /// Runs the whole stream into `archive`, crashing (a new writer from `recover()`, without sealing first) after
    /// each step index in `crashes`, and seals everything at the end unless `sealAtEnd` is false.
    static func runAll(
        _ stream: Stream, into archive: any SampleArchive, configuration: ArchiveWriter.Configuration,
        crashes: [Int] = [], sealAtEnd: Bool = true
    ) throws {
        var writer = ArchiveWriter(configuration: configuration, recovery: try archive.recover(), now: base)
        var start = 0
        for crash in crashes.sorted() + [stream.steps.count] {
            try run(stream, steps: start..<crash, writer: &writer, into: archive)
            if crash < stream.steps.count {
                writer = ArchiveWriter(
                    configuration: configuration, recovery: try archive.recover(), now: stream.steps[crash - 1].now)
            }
            start = crash
        }
        if sealAtEnd { try drive(&writer, [], now: stream.steps.last!.now + 1, sealAll: true, into: archive) }
    }

    // MARK: Comparisons

    /// The first difference between two sample runs, compared bit for bit; nil when equal.
    static func difference(_ got: [Sample], _ want: [Sample]) -> String? {
        for (index, (a, b)) in zip(got, want).enumerated()
        where a.ts != b.ts || a.value.bitPattern != b.value.bitPattern {
            return "sample \(index): got (\(a.ts), \(a.value)), want (\(b.ts), \(b.value))"
        }
        return got.count == want.count ? nil : "got \(got.count) samples, want \(want.count)"
    }

    /// The first difference between two point runs: timestamps, min, max and count exactly, sums within
    /// `relativeSum` (0: bit for bit); nil when equal.
    static func difference(_ got: [RollupPoint], _ want: [RollupPoint], relativeSum: Double = 1e-9) -> String? {
        for (index, (a, b)) in zip(got, want).enumerated() {
            let sumOK =
                relativeSum == 0
                ? a.sum.bitPattern == b.sum.bitPattern
                : (a.sum - b.sum).magnitude <= relativeSum * max(a.sum.magnitude, b.sum.magnitude, 1e-300)
            if a.ts != b.ts || a.min.bitPattern != b.min.bitPattern || a.max.bitPattern != b.max.bitPattern
                || a.count != b.count || !sumOK
            {
                return "point \(index): got \(a), want \(b)"
            }
        }
        return got.count == want.count ? nil : "got \(got.count) points, want \(want.count)"
    }

    /// Checks that every written rollup point of `archive` (both tiers, before their watermarks) equals
    /// `Rollup.buckets` over the de-duplicated raw samples, that nothing is written at or after a watermark, and
    /// that the sealed raw samples equal `expected` exactly (when `sealed` is true: everything was sealed).
    static func verify(
        _ archive: any SampleArchive, expected: [SeriesKey: [Sample]], sealed: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for (key, raw) in expected.sorted(by: { $0.key < $1.key }) {
            if sealed {
                let stored = try archive.sealedSamples(key, from: .min, to: .max)
                #expect(difference(stored, raw) == nil, "raw \(key)", sourceLocation: sourceLocation)
            }
            for tier in RollupTier.allCases {
                let written = try #require(
                    try archive.rollups(key, tier: tier, from: .min, to: .max), sourceLocation: sourceLocation)
                let want = Rollup.buckets(raw, stepMs: tier.stepMs).filter { $0.ts < written.rolledUntil }
                #expect(
                    difference(written.points, want) == nil, "\(tier) \(key) until \(written.rolledUntil)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    /// The watermarks a series reaches once everything it sent is sealed: every minute ending at least the
    /// tolerance before its newest sample, and every hour made of such minutes.
    static func expectedWatermarks(newest: Int64, lateToleranceMs: Int64) -> (minute: Int64, hour: Int64) {
        let minuteMark = Rollup.floorDiv(newest - lateToleranceMs, minute) * minute
        return (minuteMark, Rollup.floorDiv(minuteMark, hour) * hour)
    }

    /// Checks that two archives hold the same sealed samples (bit for bit), rollup points and watermarks for
    /// `keys`; sums within `relativeSum`.
    static func expectSameContents(
        _ a: any SampleArchive, _ b: any SampleArchive, keys: [SeriesKey], relativeSum: Double = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for key in keys {
            let rawA = try a.sealedSamples(key, from: .min, to: .max)
            let rawB = try b.sealedSamples(key, from: .min, to: .max)
            #expect(difference(rawA, rawB) == nil, "raw \(key)", sourceLocation: sourceLocation)
            for tier in RollupTier.allCases {
                let pointsA = try a.rollups(key, tier: tier, from: .min, to: .max)
                let pointsB = try b.rollups(key, tier: tier, from: .min, to: .max)
                #expect(pointsA?.rolledUntil == pointsB?.rolledUntil, "\(tier) \(key)", sourceLocation: sourceLocation)
                #expect(
                    difference(pointsA?.points ?? [], pointsB?.points ?? [], relativeSum: relativeSum) == nil,
                    "\(tier) \(key)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Checks that `startup` holds, per series, exactly the newest `capacity` de-duplicated samples of `expected`.
    static func expectStartup(
        _ startup: ArchiveStartup, expected: [SeriesKey: [Sample]], capacity: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            startup.newest.map(\.0).sorted() == expected.keys.sorted(), "series", sourceLocation: sourceLocation)
        let got = Dictionary(startup.newest, uniquingKeysWith: { first, _ in first })
        for (key, raw) in expected {
            #expect(
                difference(got[key] ?? [], Array(raw.suffix(capacity))) == nil, "startup \(key)",
                sourceLocation: sourceLocation)
        }
    }
}
