/// Checks the frames a WebSocket client sends before any of them is buffered: every client frame must be masked
/// (RFC 6455 §5.1), and one message may arrive in at most `maxFragments` frames whose wire size (payload plus frame
/// headers) is at most `maxMessageBytes + maxFragments × 14`.
///
/// Without it a message of a million one-byte fragments (7 MB on the wire, under a 1 MiB payload limit) cost the
/// hub over 100 MB: each fragment is buffered on its own until the last one arrives.
///
/// Invariants: while the guard passes a message's frames, that message has at most `maxFragments` frames and at
/// most `maxMessageBytes` of payload (counted from the first frame the guard sees); once it has returned `.close`,
/// it returns `.close` for every later frame.
public struct WebSocketFrameGuard: Sendable, Equatable {
    /// What to do with a frame.
    public enum Verdict: Equatable, Sendable {
        /// Hand the frame on.
        case pass
        /// Drop it and close the connection with `code` (1002 protocol error, 1009 too big).
        case close(code: UInt16, reason: String)
    }

    /// Close code for a protocol violation (an unmasked client frame).
    public static let protocolError: UInt16 = 1002
    /// Close code for a message over a limit.
    public static let tooBig: UInt16 = 1009
    /// The largest header a frame can have: 2 bytes, 8 of extended length and 4 of mask.
    public static let maxHeaderBytes = 14

    /// Most payload bytes in one message.
    public let maxMessageBytes: Int
    /// Most frames (the first plus continuations) in one message.
    public let maxFragments: Int
    /// Frames of the message in progress; 0 when none is.
    public private(set) var fragments = 0
    /// Payload bytes of the message in progress.
    public private(set) var payloadBytes = 0
    /// Wire bytes (payload and headers) of the message in progress.
    public private(set) var wireBytes = 0
    /// The verdict that closed the connection, once one did.
    public private(set) var closed: Verdict?

    /// Creates a guard for messages of at most `maxMessageBytes` in at most `maxFragments` frames.
    /// Both are bounded (to 2^40 bytes and 2^24 frames) so that no sum the guard makes can overflow.
    public init(maxMessageBytes: Int, maxFragments: Int) {
        self.maxMessageBytes = Swift.min(Swift.max(0, maxMessageBytes), 1 << 40)
        self.maxFragments = Swift.min(Swift.max(1, maxFragments), 1 << 24)
    }

    /// The most wire bytes one message may take.
    public var maxWireBytes: Int { maxMessageBytes + maxFragments * Self.maxHeaderBytes }

    /// Judges one frame: its opcode (0 continuation, 1 text, 2 binary, 8–10 control), FIN bit, whether it was
    /// masked, and its payload length.
    public mutating func receive(opcode: UInt8, fin: Bool, masked: Bool, payloadLength: Int) -> Verdict {
        if let closed { return closed }
        guard masked else {
            return close(Self.protocolError, "client frames must be masked")
        }
        // Bounded so that the sums below cannot overflow whatever a caller passes (a frame is never this big).
        let length = Swift.min(Swift.max(0, payloadLength), (1 << 40) + 1)
        switch opcode {
        case 0x1, 0x2:
            // A new message (one started while another is open is the protocol layer's to refuse).
            fragments = 1
            payloadBytes = length
            wireBytes = length + Self.headerBytes(payloadLength: length)
        case 0x0:
            // A continuation of a message whose start the guard did not see (it was installed after the upgrade,
            // when a few frames may already be buffered) is counted from here: it cannot pass unbounded.
            fragments += 1
            payloadBytes += length
            wireBytes += length + Self.headerBytes(payloadLength: length)
        default:
            // Control frames are at most 125 bytes and never fragmented; the frame decoder enforces that.
            return .pass
        }
        if fragments > maxFragments {
            return close(Self.tooBig, "a message may arrive in at most \(maxFragments) frames")
        }
        if payloadBytes > maxMessageBytes || wireBytes > maxWireBytes {
            return close(Self.tooBig, "a message may carry at most \(maxMessageBytes) bytes")
        }
        if fin {
            fragments = 0
            payloadBytes = 0
            wireBytes = 0
        }
        return .pass
    }

    /// The size of a masked client frame's header for a payload of `payloadLength` bytes.
    public static func headerBytes(payloadLength: Int) -> Int {
        let extended = payloadLength < 126 ? 0 : (payloadLength <= 0xFFFF ? 2 : 8)
        return 2 + extended + 4
    }

    private mutating func close(_ code: UInt16, _ reason: String) -> Verdict {
        let verdict = Verdict.close(code: code, reason: reason)
        closed = verdict
        return verdict
    }
}
