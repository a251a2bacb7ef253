import Testing

@testable import HubCore

@Suite("ChunkCodec: delta-of-delta timestamps, scaled-integer or XOR values")
struct ChunkCodecTests {
    private func roundTrip(_ samples: [Sample], sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let chunk = ChunkCodec.encode(samples)
        let decoded = try ChunkCodec.decode(chunk)
        #expect(decoded.count == samples.count, sourceLocation: sourceLocation)
        for (got, want) in zip(decoded, samples) {
            #expect(got.ts == want.ts, sourceLocation: sourceLocation)
            #expect(
                got.value.bitPattern == want.value.bitPattern, "\(got.value) vs \(want.value)",
                sourceLocation: sourceLocation)
        }
        return chunk
    }

    @Test func emptyAndSingle() throws {
        #expect(try ChunkCodec.decode(ChunkCodec.encode([])) == [])
        _ = try roundTrip([Sample(ts: 1_732_240_000_000, value: 21.5)])
    }

    @Test func steadyDecimalSeriesUsesScaledIntegersAndFewBits() throws {
        var random = SeededRandom(seed: 7)
        var value = 21.0
        let samples = (0..<86_400).map { second -> Sample in
            value += Double(Int.random(in: -1...1, using: &random)) / 10
            return Sample(ts: 1_732_240_000_000 + Int64(second) * 1_000, value: (value * 10).rounded() / 10)
        }
        let chunk = try roundTrip(samples)
        #expect(chunk[1] == 2)  // scaled by 10^1
        // One bit per timestamp; per value '0' (unchanged, a third of the time) or '10' + 4 bits: about 0.67 B.
        #expect(Double(chunk.count) / Double(samples.count) < 0.7)
    }

    @Test func constantSeriesCostsAboutTwoBitsPerSample() throws {
        let samples = (0..<10_000).map { Sample(ts: Int64($0) * 1_000, value: 42) }
        let chunk = try roundTrip(samples)
        #expect(chunk.count < 10_000 * 2 / 8 + 32)
    }

    @Test func countersNegativeValuesAndLargeJumps() throws {
        _ = try roundTrip((0..<1_000).map { Sample(ts: Int64($0) * 500, value: Double($0 * 37)) })
        _ = try roundTrip((0..<1_000).map { Sample(ts: Int64($0) * 1_000, value: -40.25 + Double($0 % 7) * 0.25) })
        _ = try roundTrip([
            Sample(ts: 0, value: 1), Sample(ts: 1, value: -1e15), Sample(ts: 9_000_000_000_000, value: 1e15),
            Sample(ts: 9_000_000_000_001, value: 0.000000001), Sample(ts: 9_000_000_000_002, value: 0),
        ])
    }

    @Test func irregularAndOutOfOrderTimestamps() throws {
        _ = try roundTrip([
            Sample(ts: 1_000, value: 1), Sample(ts: 900, value: 2), Sample(ts: 5_000_000, value: 3),
            Sample(ts: 5_000_001, value: 4), Sample(ts: 5_000_001, value: 5), Sample(ts: Int64.max, value: 6),
            Sample(ts: Int64.min, value: 7), Sample(ts: 0, value: 8),
        ])
    }

    @Test func valuesThatAreNotShortDecimalsUseXOR() throws {
        let samples = (0..<1_000).map { Sample(ts: Int64($0) * 1_000, value: Double($0) * Double.pi) }
        let chunk = try roundTrip(samples)
        #expect(chunk[1] == 0)
        _ = try roundTrip([
            Sample(ts: 0, value: .greatestFiniteMagnitude), Sample(ts: 1, value: -.greatestFiniteMagnitude),
            Sample(ts: 2, value: .leastNonzeroMagnitude), Sample(ts: 3, value: -0.0), Sample(ts: 4, value: 0),
            Sample(ts: 5, value: 1e300), Sample(ts: 6, value: 1e300), Sample(ts: 7, value: 1 / 3),
        ])
    }

    @Test func negativeZeroKeepsItsSign() throws {
        let chunk = try roundTrip([Sample(ts: 0, value: -0.0), Sample(ts: 1, value: 1)])
        #expect(chunk[1] == 0)
    }

    @Test(arguments: 0..<300)
    func randomSeriesRoundTrip(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed) &* 0x9E37)
        let count = Int.random(in: 1...400, using: &random)
        let kind = seed % 4
        var ts = Int64.random(in: 0...2_000_000_000_000, using: &random)
        var value = Double.random(in: -1_000...1_000, using: &random)
        var samples: [Sample] = []
        for _ in 0..<count {
            ts += Int64.random(in: kind == 3 ? -5_000...100_000 : 0...2_000, using: &random)
            switch kind {
            case 0: value = (Double.random(in: -500...500, using: &random) * 100).rounded() / 100
            case 1: value += Double(Int.random(in: -3...3, using: &random))
            case 2: value = Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF)
            default: value = Double.random(in: -1e6...1e6, using: &random)
            }
            samples.append(Sample(ts: ts, value: value))
        }
        _ = try roundTrip(samples)
    }

    @Test func truncatedChunksAreRefused() throws {
        let chunk = ChunkCodec.encode((0..<50).map { Sample(ts: Int64($0) * 1_000, value: Double($0) / 10) })
        for length in 0..<chunk.count {
            #expect(throws: ChunkCodec.DecodingError.self) { try ChunkCodec.decode(Array(chunk.prefix(length))) }
        }
    }

    @Test func garbageNeverCrashes() {
        var random = SeededRandom(seed: 99)
        for _ in 0..<2_000 {
            var bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            if bytes.count > 1, Bool.random(using: &random) { bytes[0] = ChunkCodec.version }
            _ = try? ChunkCodec.decode(bytes)
        }
        #expect(throws: ChunkCodec.DecodingError.self) { try ChunkCodec.decode([9, 0, 0]) }
        #expect(throws: ChunkCodec.DecodingError.self) { try ChunkCodec.decode([1, 11, 0]) }
    }

    @Test func bitStreamRoundTripsFieldsOfEveryWidth() {
        var writer = BitWriter()
        var random = SeededRandom(seed: 3)
        var fields: [(UInt64, Int)] = []
        for _ in 0..<2_000 {
            let width = Int.random(in: 0...64, using: &random)
            let value = width == 64 ? random.next() : random.next() & ((1 << UInt64(width)) - 1)
            fields.append((value, width))
            writer.write(value, bits: width)
        }
        var reader = BitReader(writer.bytes, byteOffset: 0)
        for (value, width) in fields {
            #expect(reader.read(bits: width) == value)
        }
    }
}
