// Shared by every fuzz target (compiled into each fuzzer next to its target file).
import HubCore

/// Stops the fuzzer with `message` when an invariant does not hold; libFuzzer reports it as a crash and saves the
/// input. (Plain `precondition` would lose the message in `-O` builds.)
@inline(never)
func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("fuzz invariant failed: \(message())", file: file, line: line)
    }
}

/// The fuzz input as a buffer (no copy).
@inline(__always)
func fuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: data, count: size)
}

/// The input cut at its first `separator`: what comes before and what comes after (nil when there is none).
func split(_ bytes: UnsafeBufferPointer<UInt8>, at separator: UInt8) -> (
    head: Slice<UnsafeBufferPointer<UInt8>>, tail: Slice<UnsafeBufferPointer<UInt8>>?
) {
    guard let cut = bytes.firstIndex(of: separator) else { return (bytes[...], nil) }
    return (bytes[..<cut], bytes[(cut + 1)...])
}

extension JSONValue {
    /// The value as `JSONWriter` writes it: non-finite numbers become `null` (it has no other way to say them).
    var writable: JSONValue {
        switch self {
        case .number(let number) where !number.isFinite: .null
        case .array(let elements): .array(elements.map(\.writable))
        case .object(let object): .object(JSONObject(object.members.map { ($0.key, $0.value.writable) }))
        default: self
        }
    }

    /// The document as `JSONWriter` writes it.
    var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        writer.value(self)
        return writer.bytes
    }

    /// Nesting depth (a scalar is 0).
    var depth: Int {
        switch self {
        case .array(let elements): 1 + (elements.map(\.depth).max() ?? 0)
        case .object(let object): 1 + (object.members.map(\.value.depth).max() ?? 0)
        default: 0
        }
    }
}

extension MessageID {
    /// Ids are strings or finite numbers.
    var isValid: Bool {
        if case .number(let number) = self { return number.isFinite }
        return true
    }
}

/// A timestamp a device may send: integer Unix milliseconds from 0 to 2^53 − 1.
func isValidTimestamp(_ ts: Int64) -> Bool { ts >= 0 && ts <= 9_007_199_254_740_991 }

/// A plain reference matcher for `*` globs (dynamic programming over bytes), to check `GlobPattern` against.
func referenceGlobMatch(_ pattern: String, _ name: String) -> Bool {
    let p = Array(pattern.utf8)
    let n = Array(name.utf8)
    // row[j]: whether p[..<i] matches n[..<j].
    var row = [Bool](repeating: false, count: n.count + 1)
    row[0] = true
    for i in 0..<p.count {
        var next = [Bool](repeating: false, count: n.count + 1)
        if p[i] == UInt8(ascii: "*") {
            var any = false
            for j in 0...n.count {
                any = any || row[j]
                next[j] = any
            }
        } else {
            for j in 0..<n.count where row[j] && n[j] == p[i] { next[j + 1] = true }
        }
        row = next
    }
    return row[n.count]
}

/// Names to try a pattern on: the pattern with its stars matching nothing and something, and a few fixed names.
func probeNames(for pattern: String) -> [String] {
    let stars = pattern.split(separator: "*", omittingEmptySubsequences: false)
    return [
        stars.joined(), stars.joined(separator: "x"), stars.joined(separator: "-*-"), String(pattern.dropFirst()),
        String(pattern.dropLast()), pattern + pattern, "thermo-1", "temp", "", "*",
    ]
}

/// A selector re-parses from its text, and its parts match what a reference glob matcher says.
func checkSelector(_ selector: SeriesSelector) {
    guard let again = try? SeriesSelector(parsing: selector.description), again == selector else {
        require(false, "selector '\(selector)' does not re-parse to itself")
        return
    }
    for part in [selector.device, selector.metric] {
        require(!part.text.isEmpty && part.text.utf8.count <= Names.maxLength, "selector part '\(part.text)'")
        require(part.isLiteral == !part.text.contains("*"), "isLiteral wrong for '\(part.text)'")
        for name in probeNames(for: part.text) {
            require(
                part.matches(name) == referenceGlobMatch(part.text, name),
                "glob '\(part.text)' on '\(name)': \(part.matches(name)), reference says otherwise")
        }
    }
}
