/// Compresses a run of samples of one series into a chunk of bytes, and back.
///
/// Timestamps are stored as delta-of-delta in variable-width bit fields (a steady 1 Hz series costs one bit per
/// sample). Values are stored as scaled integers when every value is a decimal with at most 9 places that survives
/// the round trip bit for bit (a reading such as 21.4 becomes 214 at scale 1, and consecutive differences take a
/// few bits); otherwise each value is XORed with the previous one (Gorilla encoding). The chunk is self-describing:
///
/// `[version: 1 byte][value mode: 1 byte][count: LEB128][bit stream]`, value mode 0 = XOR, 1 + d = scaled by 10^d.
public enum ChunkCodec {
    /// The format version written in the first byte.
    public static let version: UInt8 = 1

    /// An undecodable chunk.
    public struct DecodingError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    private static let powersOfTen: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]

    /// Encodes samples (in any order of timestamps, though time order compresses best).
    public static func encode(_ samples: [Sample]) -> [UInt8] {
        let decimals = scaledDecimals(samples)
        var header: [UInt8] = [version, decimals.map { UInt8(1 + $0) } ?? 0]
        writeLEB128(UInt64(samples.count), to: &header)
        var bits = BitWriter(reservingBytes: samples.count + 16)
        encodeTimestamps(samples, into: &bits)
        if let decimals {
            encodeScaled(samples, scale: powersOfTen[decimals], into: &bits)
        } else {
            encodeXOR(samples, into: &bits)
        }
        return header + bits.bytes
    }

    /// Decodes a chunk made by ``encode(_:)``.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> [Sample] {
        guard bytes.count >= 3 else { throw DecodingError(message: "chunk shorter than its header") }
        guard bytes[0] == version else { throw DecodingError(message: "unknown chunk version \(bytes[0])") }
        let mode = bytes[1]
        guard mode <= 10 else { throw DecodingError(message: "unknown value mode \(mode)") }
        var offset = 2
        guard let count = readLEB128(bytes, offset: &offset), count <= UInt64(bytes.count) * 8 else {
            throw DecodingError(message: "bad sample count")
        }
        var reader = BitReader(bytes, byteOffset: offset)
        guard let timestamps = decodeTimestamps(count: Int(count), from: &reader) else {
            throw DecodingError(message: "truncated timestamps")
        }
        let values: [Double]?
        if mode == 0 {
            values = decodeXOR(count: Int(count), from: &reader)
        } else {
            values = decodeScaled(count: Int(count), scale: powersOfTen[Int(mode) - 1], from: &reader)
        }
        guard let values else { throw DecodingError(message: "truncated values") }
        return zip(timestamps, values).map { Sample(ts: $0, value: $1) }
    }

    /// The fewest decimal places (0...9) at which every value is an integer that converts back exactly, or nil.
    static func scaledDecimals(_ samples: [Sample]) -> Int? {
        guard !samples.isEmpty else { return 0 }
        var decimals = 0
        for sample in samples {
            while decimals < powersOfTen.count, !survivesScaling(sample.value, scale: powersOfTen[decimals]) {
                decimals += 1
            }
            if decimals == powersOfTen.count { return nil }
        }
        // Values checked at a coarser scale must also fit at the final one (large values may not).
        let scale = powersOfTen[decimals]
        return samples.allSatisfy { survivesScaling($0.value, scale: scale) } ? decimals : nil
    }

    private static func survivesScaling(_ value: Double, scale: Double) -> Bool {
        let scaled = (value * scale).rounded()
        guard scaled.magnitude < 9_007_199_254_740_992 else { return false }
        // Through Int64, as the decoder goes, so that -0.0 (which would come back as 0.0) is not scaled.
        return (Double(Int64(scaled)) / scale).bitPattern == value.bitPattern
    }

    // MARK: Timestamps: delta-of-delta

    private static func encodeTimestamps(_ samples: [Sample], into bits: inout BitWriter) {
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        for (index, sample) in samples.enumerated() {
            if index == 0 {
                bits.write(UInt64(bitPattern: sample.ts), bits: 64)
                previous = sample.ts
                continue
            }
            let delta = sample.ts &- previous
            let deltaOfDelta = delta &- previousDelta
            writeClass(deltaOfDelta, classes: timestampClasses, into: &bits)
            previous = sample.ts
            previousDelta = delta
        }
    }

    private static func decodeTimestamps(count: Int, from reader: inout BitReader) -> [Int64]? {
        var result: [Int64] = []
        result.reserveCapacity(count)
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        for index in 0..<count {
            if index == 0 {
                guard let first = reader.read(bits: 64) else { return nil }
                previous = Int64(bitPattern: first)
                result.append(previous)
                continue
            }
            guard let deltaOfDelta = readClass(classes: timestampClasses, from: &reader) else { return nil }
            let delta = previousDelta &+ deltaOfDelta
            previous = previous &+ delta
            previousDelta = delta
            result.append(previous)
        }
        return result
    }

    // MARK: Values: scaled integers

    private static func encodeScaled(_ samples: [Sample], scale: Double, into bits: inout BitWriter) {
        var previous: Int64 = 0
        for (index, sample) in samples.enumerated() {
            let scaled = Int64((sample.value * scale).rounded())
            if index == 0 {
                bits.write(UInt64(bitPattern: scaled), bits: 64)
            } else {
                writeClass(scaled &- previous, classes: valueClasses, into: &bits)
            }
            previous = scaled
        }
    }

    private static func decodeScaled(count: Int, scale: Double, from reader: inout BitReader) -> [Double]? {
        var result: [Double] = []
        result.reserveCapacity(count)
        var previous: Int64 = 0
        for index in 0..<count {
            if index == 0 {
                guard let first = reader.read(bits: 64) else { return nil }
                previous = Int64(bitPattern: first)
            } else {
                guard let delta = readClass(classes: valueClasses, from: &reader) else { return nil }
                previous = previous &+ delta
            }
            result.append(Double(previous) / scale)
        }
        return result
    }

    // MARK: Values: XOR (Gorilla)

    private static func encodeXOR(_ samples: [Sample], into bits: inout BitWriter) {
        var previous: UInt64 = 0
        var leading = 65  // no window yet
        var trailing = 0
        for (index, sample) in samples.enumerated() {
            let current = sample.value.bitPattern
            if index == 0 {
                bits.write(current, bits: 64)
                previous = current
                continue
            }
            let xor = current ^ previous
            previous = current
            if xor == 0 {
                bits.write(bit: false)
                continue
            }
            bits.write(bit: true)
            let newLeading = min(xor.leadingZeroBitCount, 31)
            let newTrailing = xor.trailingZeroBitCount
            if leading <= 64, newLeading >= leading, newTrailing >= trailing {
                bits.write(bit: false)
                bits.write(xor >> UInt64(trailing), bits: 64 - leading - trailing)
            } else {
                leading = newLeading
                trailing = newTrailing
                let meaningful = 64 - leading - trailing
                bits.write(bit: true)
                bits.write(UInt64(leading), bits: 5)
                bits.write(UInt64(meaningful - 1), bits: 6)
                bits.write(xor >> UInt64(trailing), bits: meaningful)
            }
        }
    }

    private static func decodeXOR(count: Int, from reader: inout BitReader) -> [Double]? {
        var result: [Double] = []
        result.reserveCapacity(count)
        var previous: UInt64 = 0
        var leading = 0
        var trailing = 0
        for index in 0..<count {
            if index == 0 {
                guard let first = reader.read(bits: 64) else { return nil }
                previous = first
                result.append(Double(bitPattern: previous))
                continue
            }
            guard let changed = reader.readBit() else { return nil }
            if changed {
                guard let newWindow = reader.readBit() else { return nil }
                if newWindow {
                    guard let lead = reader.read(bits: 5), let length = reader.read(bits: 6) else { return nil }
                    leading = Int(lead)
                    trailing = 64 - leading - Int(length + 1)
                    guard trailing >= 0 else { return nil }
                }
                guard let meaningful = reader.read(bits: 64 - leading - trailing) else { return nil }
                previous ^= meaningful << UInt64(trailing)
            }
            result.append(Double(bitPattern: previous))
        }
        return result
    }

    // MARK: Variable-width signed fields

    /// A prefix code: `n` one-bits then a zero select class `n` of `widths`; the last class has no terminating zero.
    /// Class 0 with width 0 means "the value is 0". Values are zigzag-encoded within their width.
    private static let timestampClasses = [0, 7, 9, 12, 64]
    private static let valueClasses = [0, 4, 8, 16, 64]

    private static func writeClass(_ value: Int64, classes: [Int], into bits: inout BitWriter) {
        let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        for (index, width) in classes.enumerated() {
            let fits = width == 64 || (width == 0 ? zigzag == 0 : zigzag < (1 << UInt64(width)))
            guard fits else { continue }
            let isLast = index == classes.count - 1
            if index > 0 { bits.write((1 << UInt64(index)) - 1, bits: index) }
            if !isLast { bits.write(bit: false) }
            if width > 0 { bits.write(zigzag, bits: width) }
            return
        }
    }

    private static func readClass(classes: [Int], from reader: inout BitReader) -> Int64? {
        var index = 0
        while index < classes.count - 1 {
            guard let bit = reader.readBit() else { return nil }
            if !bit { break }
            index += 1
        }
        let width = classes[index]
        guard width > 0 else { return 0 }
        guard let zigzag = reader.read(bits: width) else { return nil }
        return Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
    }

    // MARK: LEB128

    static func writeLEB128(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            bytes.append(byte)
        } while value != 0
    }

    static func readLEB128(_ bytes: [UInt8], offset: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }
}
