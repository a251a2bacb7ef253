// Fuzz target: WebSocketFrameGuard, fed the limits and a sequence of frames decoded from the input.
//
// Input: the two limits (`maxMessageBytes`, `maxFragments`), then frames until the input ends, each a flags byte
// (low nibble: opcode; 0x80: FIN; 0x40: *un*masked, so most frames are masked) and a payload length. Each number is
// a selector byte and its operand bytes (see `FrameReader.integer`): small values, 16/32/64-bit raw values, values
// near Int.max and Int.min, powers of two and negatives, so limits and lengths range over all of Int.
//
// Properties (the file's doc comments), checked against an independent model of the message in progress:
// - receiving never traps, whatever the limits and lengths; the limits are the given ones bounded to 0...2^40 bytes
//   and 1...2^24 frames;
// - while the guard passes a message's frames, the message has at most `maxFragments` frames and at most
//   `maxMessageBytes` of payload (lengths as given; a negative length counts as 0) and at most
//   `maxMessageBytes + maxFragments × 14` bytes on the wire, counted from the first frame the guard sees (a
//   continuation without a start counts too);
// - once it has returned `.close`, it returns that same `.close` for every later frame, and `closed` is it;
// - an unmasked frame closes with 1002, a limit with 1009, always with a reason;
// - after a passed final frame no message is in progress (`fragments == 0`); the guard's counters are the model's.
//
// `WS_FRAMES_MAX_INT=n` in the environment bounds every number drawn from the input (limits and lengths) to -n...n,
// to keep fuzzing the state machine past a known bug that only huge limits or lengths reach (for example
// `WS_FRAMES_MAX_INT=1099511627775`, 2^40 - 1, stays clear of Tests/Fuzz/Crashes/ws_frames-length-clamped-to-2p40).
// Unset: the whole Int range.
import Glibc
import HubCore

private let bound: Int = getenv("WS_FRAMES_MAX_INT").flatMap { Int(String(cString: $0)) }.map { max(0, $0) } ?? .max

private struct FrameReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    var atEnd: Bool { index >= bytes.count }

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func raw(_ count: Int) -> UInt64 {
        var value: UInt64 = 0
        for shift in 0..<count { value |= UInt64(byte()) << (8 * UInt64(shift)) }
        return value
    }

    /// An Int over its whole range (or -`bound`...`bound`), with the interesting ones easy to reach.
    mutating func integer() -> Int {
        min(max(unbounded(), -bound), bound)
    }

    private mutating func unbounded() -> Int {
        let selector = byte()
        switch selector % 10 {
        case 0: return Int(byte())
        case 1: return Int(raw(2))
        case 2: return Int(raw(4))
        case 3: return Int(truncatingIfNeeded: raw(8))
        case 4: return Int.max - Int(byte())
        case 5: return Int.min + Int(byte())
        case 6: return 1 << (Int(byte()) % 63)
        case 7: return (1 << (Int(byte()) % 63)) - 1
        case 8: return -Int(byte())
        default: return Int(selector / 10)  // 0...25, one byte
        }
    }
}

/// What the model knows of the message in progress.
private struct Model {
    var fragments = 0
    /// Sum of the payload lengths as given (negative as 0), wide enough not to overflow.
    var payload: UInt128 = 0
    /// Sum of the frames' wire sizes (payload plus a masked client frame's header).
    var wire: UInt128 = 0

    mutating func add(_ length: Int) {
        let length = UInt128(max(0, length))
        payload += length
        wire += length + 6 + (length < 126 ? 0 : length <= 0xFFFF ? 2 : 8)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var reader = FrameReader(bytes: fuzzInput(data, size))
    let maxMessageBytes = reader.integer()
    let maxFragments = reader.integer()
    var frameGuard = WebSocketFrameGuard(maxMessageBytes: maxMessageBytes, maxFragments: maxFragments)
    // The limits as documented: bounded to 0...2^40 bytes and 1...2^24 frames.
    require(
        frameGuard.maxMessageBytes == min(max(0, maxMessageBytes), 1 << 40),
        "maxMessageBytes \(frameGuard.maxMessageBytes) for \(maxMessageBytes)")
    require(
        frameGuard.maxFragments == min(max(1, maxFragments), 1 << 24),
        "maxFragments \(frameGuard.maxFragments) for \(maxFragments)")
    var model = Model()
    var closedWith: WebSocketFrameGuard.Verdict?
    var frames = 0
    while !reader.atEnd && frames < 100_000 {
        frames += 1
        let flags = reader.byte()
        let opcode = flags & 0x0F
        let fin = flags & 0x80 != 0
        let masked = flags & 0x40 == 0
        let length = reader.integer()
        let verdict = frameGuard.receive(opcode: opcode, fin: fin, masked: masked, payloadLength: length)

        if let closedWith {
            require(verdict == closedWith, "after \(closedWith) the guard said \(verdict)")
            require(frameGuard.closed == closedWith, "closed changed")
            continue
        }
        guard case .pass = verdict else {
            guard case .close(let code, let reason) = verdict else { return 0 }
            require(!reason.isEmpty, "close without a reason")
            if !masked {
                require(code == WebSocketFrameGuard.protocolError, "unmasked frame closed with \(code)")
            } else {
                require(code == WebSocketFrameGuard.tooBig, "masked frame closed with \(code)")
                require(opcode <= 2, "closed on a frame that is not data")
            }
            require(frameGuard.closed == verdict, "closed is \(String(describing: frameGuard.closed))")
            closedWith = verdict
            continue
        }
        require(masked, "an unmasked frame passed")
        require(frameGuard.closed == nil, "passed after closing")
        // The model of the message the frame belongs to.
        let counted: Bool
        switch opcode {
        case 1, 2:
            model = Model(fragments: 1)
            model.add(length)
            counted = true
        case 0:
            // A continuation counts even when the guard did not see the message start ("counted from the first
            // frame the guard sees").
            model.fragments += 1
            model.add(length)
            counted = true
        default:
            counted = false  // a control frame (or a reserved opcode)
        }
        if counted {
            require(
                model.fragments <= frameGuard.maxFragments,
                "passed frame \(model.fragments) of a message; the cap is \(frameGuard.maxFragments)")
            require(
                model.payload <= UInt128(frameGuard.maxMessageBytes),
                "passed \(model.payload) bytes of a message; the cap is \(frameGuard.maxMessageBytes)")
            let maxWire = UInt128(frameGuard.maxMessageBytes) + UInt128(frameGuard.maxFragments) * 14
            require(model.wire <= maxWire, "passed \(model.wire) wire bytes of a message; the cap is \(maxWire)")
            if fin { model = Model() }
        }
        require(
            frameGuard.fragments == model.fragments,
            "guard counts \(frameGuard.fragments) frames, model \(model.fragments)")
        require(
            frameGuard.fragments > 0 || frameGuard.payloadBytes == 0 && frameGuard.wireBytes == 0, "counters left over")
        require(
            frameGuard.payloadBytes >= 0 && frameGuard.payloadBytes <= frameGuard.wireBytes
                && frameGuard.payloadBytes <= frameGuard.maxMessageBytes,
            "payload counter \(frameGuard.payloadBytes), wire \(frameGuard.wireBytes)")
    }
    return 0
}
