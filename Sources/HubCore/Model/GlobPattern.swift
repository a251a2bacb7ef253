/// A name pattern where `*` matches any run of characters (possibly empty).
///
/// Used for selector parts (`thermo-*`), device-id limits on tokens and room addressing (`floor:*`).
public struct GlobPattern: Hashable, Sendable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String
    private let pieces: [[UInt8]]
    private let anchoredStart: Bool
    private let anchoredEnd: Bool

    /// Creates a pattern from its text.
    public init(_ text: String) {
        self.text = text
        let bytes = Array(text.utf8)
        self.anchoredStart = bytes.first != UInt8(ascii: "*")
        self.anchoredEnd = bytes.last != UInt8(ascii: "*")
        self.pieces = bytes.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: true).map(Array.init)
    }

    /// The pattern text.
    public var description: String { text }

    /// True when the pattern has no `*` and so matches exactly one name.
    public var isLiteral: Bool { !text.utf8.contains(UInt8(ascii: "*")) }

    /// True when the pattern matches every name (`*`).
    public var matchesEverything: Bool { pieces.isEmpty && !text.isEmpty }

    /// Whether `name` matches the pattern.
    public func matches(_ name: String) -> Bool {
        if isLiteral { return name == text }
        var name = name
        return name.withUTF8 { matches(bytes: $0) }
    }

    private func matches(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if pieces.isEmpty { return true }  // only stars
        var position = 0
        for (index, piece) in pieces.enumerated() {
            let isFirst = index == 0
            let isLast = index == pieces.count - 1
            if isFirst && anchoredStart {
                guard Self.hasPrefix(bytes, at: 0, piece) else { return false }
                position = piece.count
                if isLast && anchoredEnd { return position == bytes.count }
                continue
            }
            if isLast && anchoredEnd {
                let start = bytes.count - piece.count
                guard start >= position, Self.hasPrefix(bytes, at: start, piece) else { return false }
                return true
            }
            guard let found = Self.find(piece, in: bytes, from: position) else { return false }
            position = found + piece.count
        }
        return true
    }

    private static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, _ piece: [UInt8]) -> Bool {
        guard start >= 0, start + piece.count <= bytes.count else { return false }
        for offset in 0..<piece.count where bytes[start + offset] != piece[offset] { return false }
        return true
    }

    private static func find(_ piece: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard piece.count <= bytes.count else { return nil }
        var index = start
        while index + piece.count <= bytes.count {
            if hasPrefix(bytes, at: index, piece) { return index }
            index += 1
        }
        return nil
    }
}
