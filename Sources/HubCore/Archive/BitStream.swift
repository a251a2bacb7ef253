/// Appends bit fields, most significant bit first.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    /// Bits used in the last byte (0 means the last byte is full or there is none).
    private var usedInLastByte = 0

    init(reservingBytes capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    /// Writes the low `count` bits of `value` (count 0...64).
    mutating func write(_ value: UInt64, bits count: Int) {
        var remaining = count
        while remaining > 0 {
            if usedInLastByte == 0 { bytes.append(0) }
            let free = 8 - usedInLastByte
            let take = min(free, remaining)
            let shift = remaining - take
            let chunk = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & ((1 << UInt64(take)) - 1))
            bytes[bytes.count - 1] |= chunk << UInt8(free - take)
            usedInLastByte = (usedInLastByte + take) & 7
            remaining -= take
        }
    }

    mutating func write(bit: Bool) {
        write(bit ? 1 : 0, bits: 1)
    }
}

/// Reads bit fields written by ``BitWriter``.
struct BitReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8], byteOffset: Int) {
        self.bytes = bytes
        self.position = byteOffset * 8
    }

    /// Reads `count` bits (0...64); nil past the end.
    mutating func read(bits count: Int) -> UInt64? {
        guard position + count <= bytes.count * 8 else { return nil }
        var value: UInt64 = 0
        var remaining = count
        while remaining > 0 {
            let byte = bytes[position >> 3]
            let offset = position & 7
            let available = 8 - offset
            let take = min(available, remaining)
            let chunk = (UInt64(byte) >> UInt64(available - take)) & ((1 << UInt64(take)) - 1)
            value = (value << UInt64(take)) | chunk
            position += take
            remaining -= take
        }
        return value
    }

    mutating func readBit() -> Bool? {
        read(bits: 1).map { $0 == 1 }
    }
}
