// Fuzz target: the raw bytes of a connection as the connection guard reads them — `RequestHeadScanner` until the
// head ends, then `WebSocketFrameScanner` feeding `WebSocketFrameGuard` — cut into pieces at arbitrary points.
//
// The first input byte chooses where the rest is cut (a piece length of 1 to 16 bytes, repeating); the guard allows
// 4 fragments and 64 bytes of payload per message.
//
// Properties: nothing traps; the head ends at the same offset however the bytes are cut; the frame headers found
// (and the guard's verdicts) are the same however the bytes are cut; every header found in one piece is reported
// once; a payload the guard passed is at most 64 bytes and at most 4 frames.
import HubCore

private struct Run: Equatable {
    var headEnd: Int?
    var upgrade = false
    var headers: [WebSocketFrameScanner.Header] = []
    var verdict: WebSocketFrameGuard.Verdict?
}

private func run(_ bytes: UnsafeBufferPointer<UInt8>, pieceLength: Int) -> Run {
    var result = Run()
    var head = RequestHeadScanner()
    var frames = WebSocketFrameScanner()
    var guardState = WebSocketFrameGuard(maxMessageBytes: 64, maxFragments: 4)
    var offset = 0
    while offset < bytes.count, result.verdict == nil {
        let end = Swift.min(offset + pieceLength, bytes.count)
        var piece = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[offset..<end])
        if result.headEnd == nil {
            guard let cut = head.scan(piece) else {
                offset = end
                continue
            }
            result.headEnd = offset + cut
            result.upgrade = head.isWebSocketUpgrade
            piece = UnsafeRawBufferPointer(rebasing: piece[cut...])
        }
        _ = frames.scan(piece) { header in
            result.headers.append(header)
            let verdict = guardState.receive(
                opcode: header.opcode, fin: header.fin, masked: header.masked, payloadLength: header.payloadLength)
            if verdict != .pass {
                result.verdict = verdict
                return false
            }
            require(guardState.payloadBytes <= 64 && guardState.fragments <= 4, "passed past the caps")
            return true
        }
        offset = end
    }
    return result
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let first = input.first else { return 0 }
    let rest = UnsafeBufferPointer(rebasing: input[1...])
    let whole = run(rest, pieceLength: Swift.max(1, rest.count))
    let cut = run(rest, pieceLength: Int(first % 16) + 1)
    require(whole == cut, "cutting the bytes changed what was found: \(whole) vs \(cut)")
    return 0
}
