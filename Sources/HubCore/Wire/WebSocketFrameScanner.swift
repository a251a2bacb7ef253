/// Finds the frame headers in the raw bytes a WebSocket client sends, as they arrive in pieces, skipping payloads
/// without looking at them: what ``WebSocketFrameGuard`` judges before any frame is decoded or buffered.
///
/// Invariants: `pendingHeader` never holds more than 14 bytes; every byte given to ``scan(_:onHeader:)`` belongs
/// either to a header (reported once complete) or to the payload of the last reported header.
public struct WebSocketFrameScanner: Sendable, Equatable {
    /// One frame's header.
    public struct Header: Equatable, Sendable {
        /// 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong (others are reserved).
        public var opcode: UInt8
        /// The FIN bit: the last frame of a message.
        public var fin: Bool
        /// Whether the frame carries a masking key (every client frame must).
        public var masked: Bool
        /// Payload bytes (clamped to `Int.max` for absurd 64-bit lengths).
        public var payloadLength: Int

        /// Creates a header.
        public init(opcode: UInt8, fin: Bool, masked: Bool, payloadLength: Int) {
            self.opcode = opcode
            self.fin = fin
            self.masked = masked
            self.payloadLength = payloadLength
        }
    }

    /// Bytes of a header not complete yet.
    private var pendingHeader: [UInt8] = []
    /// Payload bytes of the current frame still to skip.
    private var payloadLeft: UInt64 = 0

    /// Creates a scanner at a frame boundary.
    public init() {}

    /// Scans `bytes`, calling `onHeader` for each complete header in order; stops early (returning false) when
    /// `onHeader` returns false.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, onHeader: (Header) -> Bool) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            if payloadLeft > 0 {
                let skip = Int(Swift.min(payloadLeft, UInt64(count - index)))
                index += skip
                payloadLeft -= UInt64(skip)
                continue
            }
            pendingHeader.append(bytes[index])
            index += 1
            guard let (header, length) = Self.parse(pendingHeader) else { continue }
            pendingHeader.removeAll(keepingCapacity: true)
            payloadLeft = length
            if !onHeader(header) { return false }
        }
        return true
    }

    /// The header in `bytes` and its 64-bit payload length once `bytes` holds all of it; nil while incomplete.
    private static func parse(_ bytes: [UInt8]) -> (Header, UInt64)? {
        guard bytes.count >= 2 else { return nil }
        let masked = bytes[1] & 0x80 != 0
        let short = bytes[1] & 0x7F
        let extended = short == 126 ? 2 : (short == 127 ? 8 : 0)
        let total = 2 + extended + (masked ? 4 : 0)
        guard bytes.count >= total else { return nil }
        var length = UInt64(short)
        if extended > 0 {
            length = bytes[2..<(2 + extended)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        let header = Header(
            opcode: bytes[0] & 0x0F, fin: bytes[0] & 0x80 != 0, masked: masked,
            payloadLength: length > UInt64(Int.max) ? Int.max : Int(length))
        return (header, length)
    }
}
