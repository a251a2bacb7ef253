// Fuzz target: JSONParser.parse on arbitrary bytes, and the JSONWriter round trip of whatever it accepts.
//
// Properties:
// - parsing never traps, and a refusal is always `invalid_json`;
// - the byte and String entry points agree on valid UTF-8 (same value or same error);
// - an accepted document is at most `JSONParser.maxDepth` deep;
// - what `JSONWriter` writes of an accepted document parses again, to the same value (non-finite numbers, which the
//   parser accepts as `NaN`/`Infinity` but the writer writes as `null`, compared as `null`), and writing that again
//   gives the same bytes.
import HubCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let parsed: Result<JSONValue, ProtocolError> = Result { () throws(ProtocolError) in try JSONParser.parse(bytes) }

    if let text = String(validating: bytes, as: UTF8.self) {
        let fromString = Result { () throws(ProtocolError) in try JSONParser.parse(text) }
        switch (parsed, fromString) {
        case (.success(let a), .success(let b)):
            require(a.writable == b.writable, "bytes and String parse differ: \(a) vs \(b)")
        case (.failure(let a), .failure(let b)):
            require(a == b, "bytes and String parse fail differently: \(a) vs \(b)")
        default:
            require(false, "bytes and String parse disagree: \(parsed) vs \(fromString)")
        }
    }

    let value: JSONValue
    switch parsed {
    case .failure(let error):
        require(error.code == .invalidJSON, "parse failed with \(error.code), not invalid_json")
        return 0
    case .success(let success):
        value = success
    }
    require(value.depth <= JSONParser.maxDepth, "accepted a document \(value.depth) deep")

    let written = value.jsonBytes
    let reparsed: JSONValue
    do {
        reparsed = try JSONParser.parse(written)
    } catch {
        require(
            false, "JSONWriter wrote what JSONParser refuses (\(error)): \(String(decoding: written, as: UTF8.self))")
        return 0
    }
    require(
        reparsed == value.writable,
        "round trip changed the value: \(value) -> \(String(decoding: written, as: UTF8.self)) -> \(reparsed)")
    require(reparsed.jsonBytes == written, "writing the re-parsed value gave different bytes")
    return 0
}
