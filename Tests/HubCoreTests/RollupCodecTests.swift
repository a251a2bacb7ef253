import Testing

@testable import HubCore

@Suite("RollupCodec: rollup points as ChunkCodec chunks, and Rollup.merge")
struct RollupCodecTests {
    private static let minute: Int64 = 60_000
    private static let start: Int64 = 1_732_240_800_000  // a multiple of an hour

    @discardableResult
    private func roundTrip(_ points: [RollupPoint], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> [UInt8]
    {
        let block = RollupCodec.encode(points)
        let decoded = try RollupCodec.decode(block)
        #expect(decoded.count == points.count, sourceLocation: sourceLocation)
        for (got, want) in zip(decoded, points) {
            #expect(got.ts == want.ts, sourceLocation: sourceLocation)
            #expect(
                got.min.bitPattern == want.min.bitPattern, "min \(got.min) vs \(want.min)",
                sourceLocation: sourceLocation)
            #expect(
                got.max.bitPattern == want.max.bitPattern, "max \(got.max) vs \(want.max)",
                sourceLocation: sourceLocation)
            #expect(
                got.sum.bitPattern == want.sum.bitPattern, "sum \(got.sum) vs \(want.sum)",
                sourceLocation: sourceLocation)
            #expect(got.count == want.count, sourceLocation: sourceLocation)
        }
        return block
    }

    /// One sample a second of a random walk in steps of `step`, rounded to `decimals` places.
    private func walk(
        seconds: Int, from start: Int64, step: Double, decimals: Int, seed: UInt64, initial: Double = 21
    ) -> [Sample] {
        var random = SeededRandom(seed: seed)
        let scale = [1.0, 10, 100, 1_000][decimals]
        var value = initial
        return (0..<seconds).map { second in
            value = ((value + Double(Int.random(in: -1...1, using: &random)) * step) * scale).rounded() / scale
            return Sample(ts: start + Int64(second) * 1_000, value: value)
        }
    }

    /// A block assembled by hand from chunks (then `corrections`, or none), for feeding the decoder odd input.
    private func block(
        _ chunks: [[Sample]], corrections: [Sample]? = nil, version: UInt8 = RollupCodec.version
    ) -> [UInt8] {
        var bytes = [version]
        for chunk in chunks + (corrections.map { [$0] } ?? []) {
            let encoded = ChunkCodec.encode(chunk)
            precondition(encoded.count < 0x80)
            bytes.append(UInt8(encoded.count))
            bytes += encoded
        }
        if corrections == nil { bytes.append(0) }
        return bytes
    }

    // MARK: Round trips

    @Test func emptyAndSinglePoint() throws {
        let empty = try roundTrip([])
        #expect(empty[0] == RollupCodec.version)
        try roundTrip([RollupPoint(ts: Self.start, min: 20.5, max: 22.25, sum: 1_283.5, count: 60)])
        try roundTrip([RollupPoint(ts: 0, min: 0, max: 0, sum: 0, count: 1)])
    }

    @Test func anHourOfMinutesOfARandomWalk() throws {
        let samples = walk(seconds: 3_600, from: Self.start, step: 0.01, decimals: 2, seed: 11)
        let points = Rollup.buckets(samples, stepMs: Self.minute)
        #expect(points.count == 60)
        #expect(points.allSatisfy { $0.count == 60 })
        try roundTrip(points)
    }

    @Test func irregularGapsAndNegativeTimestamps() throws {
        var random = SeededRandom(seed: 5)
        var ts = -Self.minute * 1_000
        var points: [RollupPoint] = []
        for _ in 0..<500 {
            ts += Self.minute * Int64.random(in: 1...2_000, using: &random)
            let low = (Double.random(in: -100...100, using: &random) * 10).rounded() / 10
            let count = Int.random(in: 1...60, using: &random)
            points.append(RollupPoint(ts: ts, min: low, max: low + 2.5, sum: low * Double(count) + 1, count: count))
        }
        try roundTrip(points)
        // Years apart, and a step back in time.
        try roundTrip([
            RollupPoint(ts: 0, min: 1, max: 2, sum: 3, count: 2),
            RollupPoint(ts: 5 * 365 * 86_400_000, min: 1, max: 2, sum: 3, count: 2),
            RollupPoint(ts: 60_000, min: 1, max: 2, sum: 3, count: 2),
        ])
    }

    @Test func negativeValues() throws {
        let samples = walk(seconds: 7_200, from: Self.start, step: 0.25, decimals: 2, seed: 8, initial: -40)
        let points = Rollup.buckets(samples, stepMs: Self.minute)
        #expect(points.allSatisfy { $0.max < 0 })
        try roundTrip(points)
        try roundTrip([
            RollupPoint(ts: 0, min: -0.0, max: -0.0, sum: -0.0, count: 1),
            RollupPoint(ts: 60_000, min: -1e-9, max: 0.0, sum: -1e-9, count: 2),
        ])
    }

    @Test func hugeValuesAndCounts() throws {
        try roundTrip([
            RollupPoint(
                ts: 0, min: -.greatestFiniteMagnitude, max: .greatestFiniteMagnitude, sum: .infinity,
                count: RollupCodec.maxCount),
            RollupPoint(ts: 60_000, min: 1e300, max: 1e300, sum: 1e308, count: 1 << 40),
            RollupPoint(ts: 120_000, min: .leastNonzeroMagnitude, max: 4.5e15, sum: 9e15, count: 2),
            RollupPoint(ts: 180_000, min: -4_503_599_627_370_496, max: 4_503_599_627_370_496, sum: 0, count: 3),
            RollupPoint(ts: Int64.max - 59_999, min: 1, max: 1, sum: 1, count: 1),
        ])
    }

    @Test func sumsThatAreNotShortDecimals() throws {
        let sum = 0.1 + 0.2
        #expect(sum != 0.3)
        let block = try roundTrip([
            RollupPoint(ts: 0, min: 0.1, max: 0.2, sum: sum, count: 2),
            RollupPoint(ts: 60_000, min: 0.1, max: 0.1, sum: 0.1 + 0.1 + 0.1, count: 3),
            RollupPoint(ts: 120_000, min: 1 / 3, max: 2 / 3, sum: 1, count: 2),
        ])
        #expect(try RollupCodec.decode(block)[0].sum == sum)
    }

    @Test(arguments: 0..<100)
    func randomBlocksRoundTrip(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed) &* 0x51_7CC1)
        let step = [Self.minute, 3_600_000, 86_400_000][seed % 3]
        var ts = Rollup.floorDiv(Int64.random(in: -1_000_000_000_000...2_000_000_000_000, using: &random), step) * step
        var points: [RollupPoint] = []
        for _ in 0..<Int.random(in: 0...300, using: &random) {
            ts += step * Int64.random(in: 1...(seed % 2 == 0 ? 1 : 50), using: &random)
            let count = Int.random(in: 1...100_000, using: &random)
            let a: Double
            let b: Double
            if seed % 5 == 4 {
                a = Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF)
                b = Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF)
            } else {
                a = (Double.random(in: -1_000...1_000, using: &random) * 100).rounded() / 100
                b = (Double.random(in: -1_000...1_000, using: &random) * 100).rounded() / 100
            }
            let sum = Double.random(in: -1e9...1e9, using: &random)
            points.append(RollupPoint(ts: ts, min: Swift.min(a, b), max: Swift.max(a, b), sum: sum, count: count))
        }
        try roundTrip(points)
    }

    // MARK: Size

    @Test(arguments: [21, 1, 2, 3, 4] as [UInt64])
    func anHourOfOneMinutePointsOfADecimalWalkIsSmall(seed: UInt64) throws {
        let samples = walk(seconds: 3_600, from: Self.start, step: 0.1, decimals: 1, seed: seed)
        let points = Rollup.buckets(samples, stepMs: Self.minute)
        #expect(points.count == 60)
        let block = try roundTrip(points)
        #expect(block.count < 8 * points.count, "\(block.count) bytes for \(points.count) points")
    }

    // MARK: Corrupt input

    @Test func truncatedBlocksAreRefused() throws {
        let points = Rollup.buckets(
            walk(seconds: 600, from: Self.start, step: 0.1, decimals: 1, seed: 2), stepMs: Self.minute)
        let block = RollupCodec.encode(points)
        for length in 0..<block.count {
            #expect(throws: ChunkCodec.DecodingError.self) { try RollupCodec.decode(Array(block.prefix(length))) }
        }
        #expect(throws: ChunkCodec.DecodingError.self) { try RollupCodec.decode(block + [0]) }
    }

    @Test func badVersionIsRefused() throws {
        var block = RollupCodec.encode([RollupPoint(ts: 0, min: 1, max: 1, sum: 1, count: 1)])
        for version: UInt8 in [0, 2, 255] {
            block[0] = version
            #expect(throws: ChunkCodec.DecodingError.self) { try RollupCodec.decode(block) }
        }
    }

    @Test func chunksThatDisagreeAreRefused() throws {
        let good = [Sample(ts: 0, value: 1), Sample(ts: 60_000, value: 2)]
        let shifted = [Sample(ts: 0, value: 1), Sample(ts: 60_001, value: 2)]
        let short = [Sample(ts: 0, value: 1)]
        #expect(try RollupCodec.decode(block([good, good, good, good])).count == 2)
        for chunks in [
            [shifted, good, good, good], [good, shifted, good, good], [good, good, shifted, good],
            [good, good, good, shifted], [short, good, good, good], [good, good, good, short],
            [good, good, good, []], [good, good, good], [good, good, good, good, good],
        ] {
            #expect(throws: ChunkCodec.DecodingError.self) { try RollupCodec.decode(block(chunks)) }
        }
        #expect(throws: ChunkCodec.DecodingError.self) {
            try RollupCodec.decode(block([good, good, good, good], version: 7))
        }
        // Without the correction chunk's zero length.
        #expect(throws: ChunkCodec.DecodingError.self) {
            try RollupCodec.decode(Array(block([good, good, good, good]).dropLast()))
        }
    }

    @Test(arguments: [0, -1, 1.5, -0.0, 9_007_199_254_740_994, 1e300, .greatestFiniteMagnitude])
    func countsThatAreNotPositiveIntegersAreRefused(count: Double) throws {
        let values = [Sample(ts: 0, value: 1), Sample(ts: 60_000, value: 2)]
        let counts = [Sample(ts: 0, value: 3), Sample(ts: 60_000, value: count)]
        #expect(throws: ChunkCodec.DecodingError.self) {
            try RollupCodec.decode(block([values, values, values, counts]))
        }
    }

    @Test func sumCorrectionsMustMatchAndBeIntegers() throws {
        let values = [Sample(ts: 0, value: 1), Sample(ts: 60_000, value: 2)]
        let chunks = [values, values, values, values]
        let corrected = try RollupCodec.decode(
            block(chunks, corrections: [Sample(ts: 0, value: 1), Sample(ts: 60_000, value: -2)]))
        #expect(corrected.map(\.sum) == [Double(1).nextUp, Double(2).nextDown.nextDown])
        for corrections in [
            [Sample(ts: 0, value: 1)], [Sample(ts: 0, value: 1), Sample(ts: 60_001, value: 0)],
            [Sample(ts: 0, value: 0.5), Sample(ts: 60_000, value: 0)],
            [Sample(ts: 0, value: 0), Sample(ts: 60_000, value: 0x1p60)],
            [Sample(ts: 0, value: .nan), Sample(ts: 60_000, value: 0)],
            [Sample(ts: 0, value: -.infinity), Sample(ts: 60_000, value: 0)],
        ] {
            #expect(throws: ChunkCodec.DecodingError.self) {
                try RollupCodec.decode(block(chunks, corrections: corrections))
            }
        }
    }

    @Test func sumsOfDecimalsAreStoredAsDecimalsPlusSmallCorrections() throws {
        // Exact decimal sums need no correction chunk: the block ends in its zero length.
        let exact = try roundTrip([
            RollupPoint(ts: 0, min: 0.5, max: 1.5, sum: 2, count: 2),
            RollupPoint(ts: 60_000, min: 0.25, max: 0.25, sum: 0.25, count: 1),
        ])
        #expect(exact.last == 0)
        // Sums accumulated in floating point are a few units in the last place off a decimal; the block stays small
        // where XOR-encoding the sums would cost about 7 bytes a point.
        let samples = walk(seconds: 86_400, from: Self.start, step: 0.1, decimals: 1, seed: 4)
        let points = Rollup.buckets(samples, stepMs: Self.minute)
        #expect(points.filter { ($0.sum * 10).rounded() / 10 != $0.sum }.count > points.count / 2)
        let block = try roundTrip(points)
        #expect(block.last != 0)
        #expect(block.count < 7 * points.count, "\(block.count) bytes for \(points.count) points")
    }

    @Test func garbageNeverCrashes() {
        var random = SeededRandom(seed: 1_234)
        let valid = RollupCodec.encode(
            Rollup.buckets(walk(seconds: 300, from: Self.start, step: 0.1, decimals: 1, seed: 3), stepMs: Self.minute))
        for round in 0..<2_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...128, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
                if !bytes.isEmpty, Bool.random(using: &random) { bytes[0] = RollupCodec.version }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                }
            }
            if let points = try? RollupCodec.decode(bytes) {
                #expect(points.allSatisfy { $0.count >= 1 })
            }
        }
    }

    // MARK: Merge

    @Test func mergeMatchesBucketsOverTheRawSamples() throws {
        for seed: UInt64 in 0..<20 {
            var random = SeededRandom(seed: seed)
            // Irregular sampling with gaps, starting off the hour and possibly before 1970.
            var ts = Int64.random(in: -10_000_000...2_000_000_000_000, using: &random)
            var value = Double.random(in: -50...50, using: &random)
            var samples: [Sample] = []
            for _ in 0..<Int.random(in: 0...20_000, using: &random) {
                ts += Bool.random(using: &random) ? 1_000 : Int64.random(in: 0...900_000, using: &random)
                value = ((value + Double.random(in: -1...1, using: &random)) * 100).rounded() / 100
                samples.append(Sample(ts: ts, value: value))
            }
            let minutes = Rollup.buckets(samples, stepMs: Self.minute)
            for coarse: Int64 in [Self.minute, 5 * Self.minute, 3_600_000, 86_400_000] {
                let direct = Rollup.buckets(samples, stepMs: coarse)
                let fromMinutes = Rollup.merge(minutes, stepMs: coarse)
                let fromTiers = Rollup.merge(Rollup.merge(minutes, stepMs: 5 * Self.minute), stepMs: coarse * 5)
                try expectClose(fromMinutes, direct)
                try expectClose(fromTiers, Rollup.buckets(samples, stepMs: coarse * 5))
            }
        }
    }

    private func expectClose(
        _ got: [RollupPoint], _ want: [RollupPoint], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try #require(got.count == want.count, sourceLocation: sourceLocation)
        for (got, want) in zip(got, want) {
            #expect(got.ts == want.ts, sourceLocation: sourceLocation)
            #expect(got.min == want.min, sourceLocation: sourceLocation)
            #expect(got.max == want.max, sourceLocation: sourceLocation)
            #expect(got.count == want.count, sourceLocation: sourceLocation)
            let tolerance = 1e-9 * Swift.max(1, want.sum.magnitude)
            #expect(
                (got.sum - want.sum).magnitude <= tolerance, "\(got.sum) vs \(want.sum)", sourceLocation: sourceLocation
            )
        }
    }

    @Test func mergeAlignsToTheStepAndKeepsEmptyBucketsOut() {
        #expect(Rollup.merge([], stepMs: 3_600_000).isEmpty)
        let points = [
            RollupPoint(ts: -120_000, min: 1, max: 2, sum: 3, count: 2),
            RollupPoint(ts: 0, min: 4, max: 4, sum: 4, count: 1),
            RollupPoint(ts: 60_000, min: -1, max: 5, sum: 6, count: 3),
            RollupPoint(ts: 600_000, min: 7, max: 8, sum: 15, count: 2),
        ]
        #expect(
            Rollup.merge(points, stepMs: 300_000) == [
                RollupPoint(ts: -300_000, min: 1, max: 2, sum: 3, count: 2),
                RollupPoint(ts: 0, min: -1, max: 5, sum: 10, count: 4),
                RollupPoint(ts: 600_000, min: 7, max: 8, sum: 15, count: 2),
            ])
        #expect(Rollup.merge(points, stepMs: 60_000) == points)
    }

    @Test func combineAggregatesTwoPoints() {
        let a = RollupPoint(ts: 120_000, min: 1.5, max: 3, sum: 9, count: 4)
        let b = RollupPoint(ts: 60_000, min: -2, max: 2.5, sum: 0.5, count: 1)
        let both = Rollup.combine(a, b)
        #expect(both == RollupPoint(ts: 60_000, min: -2, max: 3, sum: 9.5, count: 5))
        #expect(Rollup.combine(b, a) == both)
        #expect(both.avg == 1.9)
    }
}
