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

// MARK: - More round trips and property tests

extension ChunkCodecTests {
    /// The index and description of the first sample that does not come back bit for bit, or nil.
    private func firstMismatch(_ samples: [Sample]) throws -> String? {
        let decoded = try ChunkCodec.decode(ChunkCodec.encode(samples))
        guard decoded.count == samples.count else { return "\(decoded.count) samples for \(samples.count)" }
        for (index, (got, want)) in zip(decoded, samples).enumerated()
        where got.ts != want.ts || got.value.bitPattern != want.value.bitPattern {
            return "sample \(index): \(got) for \(want)"
        }
        return nil
    }

    @Test(arguments: [0, 1, -1, 21.5, -273.15, 1e-9, 123_456_789.123, 1e300, -.greatestFiniteMagnitude, .pi])
    func constantSeries(value: Double) throws {
        let samples = (0..<2_000).map { Sample(ts: 1_732_240_000_000 + Int64($0) * 1_000, value: value) }
        let chunk = try roundTrip(samples)
        // Regular timestamps and an unchanging value: a bit each, whatever the value mode.
        #expect(chunk.count < 2_000 * 2 / 8 + 32)
    }

    @Test func monotonicCountersUpToTwoToThe52() throws {
        var random = SeededRandom(seed: 52)
        for start in [0, 1 << 32, (1 << 52) - 5_000_000] as [Int64] {
            var counter = start
            let samples = (0..<5_000).map { second -> Sample in
                counter += Int64.random(in: 0...1_000, using: &random)
                return Sample(ts: Int64(second) * 10_000, value: Double(counter))
            }
            #expect(samples.last!.value <= 0x1p52)
            let chunk = try roundTrip(samples)
            #expect(chunk[1] == 1)  // integers: scaled by 10^0
            #expect(chunk.count < 5_000 * 3)
        }
        let top = (0..<100).map { Sample(ts: Int64($0), value: 0x1p52 - 99 + Double($0)) }
        #expect(try roundTrip(top)[1] == 1)
        _ = try roundTrip([
            Sample(ts: 0, value: 0x1p52), Sample(ts: 1, value: 0x1p53), Sample(ts: 2, value: 0x1p53 + 2),
        ])
    }

    @Test func largeAndNegativeTimestampJumps() throws {
        let year: Int64 = 365 * 86_400_000
        let jumps: [Int64] = [
            0, 1_000, 2_000, 30 * year, 30 * year + 1, 2 * year, -50 * year, -50 * year - 1, 1_000, 999, 999,
            Int64.max, Int64.min, Int64.max, 0, -1, 1, 100 * year,
        ]
        let samples = jumps.enumerated().map { Sample(ts: $1, value: Double($0) / 4) }
        _ = try roundTrip(samples)
        // Steps back in time inside an otherwise regular series.
        var random = SeededRandom(seed: 31)
        var ts: Int64 = 1_700_000_000_000
        let shuffled = (0..<3_000).map { index -> Sample in
            ts += Int64.random(in: 0...9, using: &random) == 0 ? -Int64.random(in: 1...year, using: &random) : 1_000
            return Sample(ts: ts, value: Double(index % 17) - 8)
        }
        _ = try roundTrip(shuffled)
    }

    @Test func negativeValues() throws {
        var random = SeededRandom(seed: 40)
        var value = -40.0
        let walk = (0..<3_000).map { second -> Sample in
            value = ((value + Double.random(in: -0.5...0.5, using: &random)) * 100).rounded() / 100
            return Sample(ts: Int64(second) * 1_000, value: -value.magnitude)
        }
        #expect(try roundTrip(walk)[1] == 3)  // scaled by 10^2
        let extremes: [Double] = [
            -1e-300, -1, -0x1p52, -1e15, -123.456, -.leastNonzeroMagnitude, -.greatestFiniteMagnitude,
        ]
        _ = try roundTrip(extremes.enumerated().map { Sample(ts: Int64($0) * 1_000, value: $1) })
    }

    @Test func oneLongDecimalSwitchesTheChunkToXOR() throws {
        var samples = (0..<500).map { Sample(ts: Int64($0) * 1_000, value: Double($0 % 50) / 10) }
        #expect(try roundTrip(samples)[1] == 2)  // scaled by 10^1
        samples[250].value = 1.123456789012  // 12 decimals: no scale up to 10^9 holds it
        #expect(try roundTrip(samples)[1] == 0)
        samples[250].value = 1.123456789  // 9 decimals still scale
        #expect(try roundTrip(samples)[1] == 10)
        samples[250].value = 0.1 + 0.2
        #expect(try roundTrip(samples)[1] == 0)
        // A value too large to scale at the precision the others need.
        samples[250].value = 1e15 + 0.5
        samples[251].value = 0.001
        #expect(try roundTrip(samples)[1] == 0)
    }

    @Test func negativeZeroIsPreservedBitExactly() throws {
        for values in [[-0.0], [-0.0, -0.0, -0.0], [0.0, -0.0, 0.0], [1.5, -0.0, 2.5, 0.0], [-0.0, 1e300, -0.0]] {
            let samples = values.enumerated().map { Sample(ts: Int64($0), value: $1) }
            let chunk = try roundTrip(samples)
            #expect(chunk[1] == 0)
            let decoded = try ChunkCodec.decode(chunk)
            #expect(decoded.map { $0.value.sign } == values.map(\.sign))
        }
        // A lone 0.0 still scales.
        #expect(try roundTrip([Sample(ts: 0, value: 0.0), Sample(ts: 1, value: 0.5)])[1] == 2)
    }

    /// One of the value generators the fuzz test mixes.
    private enum Generator: CaseIterable {
        case decimalWalk, arbitraryBits, counter, constant
    }

    @Test(arguments: 0..<500)
    func fuzzedChunksRoundTripBitExactly(seed: Int) throws {
        var random = SeededRandom(seed: 0xC0DEC &+ UInt64(seed) &* 0x9E37_79B9)
        let count = Int.random(in: 0...3_000, using: &random)
        // A random mix of generators, each used for runs of a random length.
        let mix = Generator.allCases.filter { _ in Bool.random(using: &random) }
        let generators = mix.isEmpty ? [Generator.decimalWalk] : mix
        let decimals = Int.random(in: 0...9, using: &random)
        let scale = (0..<decimals).reduce(1.0) { value, _ in value * 10 }
        let regular = Bool.random(using: &random)
        var ts = Int64.random(in: -4_000_000_000_000...4_000_000_000_000, using: &random)
        var value = (Double.random(in: -1e4...1e4, using: &random) * scale).rounded() / scale
        var counter = Int64.random(in: 0...(1 << 52), using: &random)
        var generator = generators.randomElement(using: &random)!
        var samples: [Sample] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            if Int.random(in: 0..<100, using: &random) == 0 { generator = generators.randomElement(using: &random)! }
            if regular {
                ts &+=
                    Int.random(in: 0..<50, using: &random) == 0
                    ? Int64.random(in: -5_000...60_000, using: &random) : 1_000
            } else {
                ts &+= Int64.random(in: -1_000_000...10_000_000_000, using: &random)
            }
            switch generator {
            case .decimalWalk:
                value = ((value + Double.random(in: -10...10, using: &random)) * scale).rounded() / scale
            case .arbitraryBits:
                repeat {
                    value = Double(bitPattern: random.next())
                } while !value.isFinite
            case .counter:
                counter = Swift.min(counter + Int64.random(in: 0...10_000, using: &random), 1 << 52)
                value = Double(counter)
            case .constant:
                break
            }
            samples.append(Sample(ts: ts, value: value))
        }
        let mismatch = try firstMismatch(samples)
        #expect(mismatch == nil, "seed \(seed), \(count) samples of \(generators)")
    }

    @Test func randomGarbageThrowsOrDecodes() {
        var random = SeededRandom(seed: 0xBAD)
        let valid = ChunkCodec.encode((0..<200).map { Sample(ts: Int64($0) * 1_000, value: Double($0 % 13) / 4) })
        var thrown = 0
        for round in 0..<1_000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = (0..<Int.random(in: 0...4_096, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
            case 1:
                // A plausible header over random bits, to get past the first checks.
                bytes = [
                    ChunkCodec.version, UInt8.random(in: 0...10, using: &random),
                    UInt8.random(in: 0...127, using: &random),
                ]
                bytes += (0..<Int.random(in: 0...512, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
            default:
                // A valid chunk with a few bytes flipped, cut short or extended.
                bytes = valid
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                }
                if Bool.random(using: &random) {
                    bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
                }
            }
            do {
                let samples = try ChunkCodec.decode(bytes)
                #expect(samples.count <= bytes.count * 8)
            } catch {
                thrown += 1
            }
        }
        #expect(thrown > 0)
    }
}
