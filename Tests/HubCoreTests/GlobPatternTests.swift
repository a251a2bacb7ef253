import Testing

@testable import HubCore

@Suite("GlobPattern")
struct GlobPatternTests {
    @Test(arguments: [
        // literal
        ("thermo-1", "thermo-1", true), ("thermo-1", "thermo-10", false), ("thermo-1", "thermo-", false),
        ("thermo-1", "", false), ("", "", true), ("", "a", false),
        // prefix*
        ("thermo-*", "thermo-1", true), ("thermo-*", "thermo-", true), ("thermo-*", "thermo", false),
        ("thermo-*", "xthermo-1", false), ("floor:*", "floor:12", true),
        // *suffix
        ("*temp", "temp", true), ("*temp", "room.temp", true), ("*temp", "temps", false), ("*temp", "emp", false),
        // a*b*c
        ("a*b*c", "abc", true), ("a*b*c", "aXbYc", true), ("a*b*c", "abbc", true), ("a*b*c", "acb", false),
        ("a*b*c", "abcx", false), ("a*b*c", "xabc", false), ("a*b*c", "ab", false), ("a*b*c", "ac", false),
        ("a*b*c", "abcbc", true), ("a*b*c", "acbc", true),
        // overlapping anchors
        ("a*a", "a", false), ("a*a", "aa", true), ("a*a", "aba", true), ("ab*ba", "aba", false),
        ("ab*ba", "abba", true),
        ("*a*", "a", true), ("*a*", "bab", true), ("*a*", "bbb", false), ("*a*b", "ba", false), ("*a*b", "bab", true),
        ("*ab*", "xaby", true), ("*ab*", "xayb", false),
        // only stars
        ("*", "", true), ("*", "anything", true), ("**", "", true), ("**", "x/y", true), ("***", "z", true),
        // empty parts between stars
        ("a**b", "ab", true), ("a**b", "axxb", true), ("a**b", "ba", false), ("**a", "ba", true), ("a**", "ab", true),
        // multi-byte characters
        ("é*", "éa", true), ("*😀", "x😀", true), ("*😀", "x😁", false),
    ])
    func matching(pattern: String, name: String, expected: Bool) {
        #expect(GlobPattern(pattern).matches(name) == expected, "'\(pattern)' vs '\(name)'")
    }

    @Test func properties() {
        #expect(GlobPattern("abc").isLiteral)
        #expect(GlobPattern("").isLiteral)
        #expect(!GlobPattern("a*").isLiteral)
        #expect(GlobPattern("*").matchesEverything)
        #expect(GlobPattern("**").matchesEverything)
        #expect(!GlobPattern("").matchesEverything)
        #expect(!GlobPattern("a*").matchesEverything)
        #expect(!GlobPattern("abc").matchesEverything)
        #expect(GlobPattern("x-*").description == "x-*")
        #expect(GlobPattern("x-*").text == "x-*")
        #expect(GlobPattern("a*") == GlobPattern("a*"))
        #expect(GlobPattern("a*") != GlobPattern("a**"))
    }

    /// Reference matcher: textbook dynamic programming over characters.
    private static func reference(_ pattern: [Character], _ name: [Character]) -> Bool {
        var table = Array(repeating: Array(repeating: false, count: name.count + 1), count: pattern.count + 1)
        table[0][0] = true
        for p in 0..<pattern.count where pattern[p] == "*" { table[p + 1][0] = table[p][0] }
        for p in 0..<pattern.count {
            for n in 0..<name.count {
                if pattern[p] == "*" {
                    table[p + 1][n + 1] = table[p][n + 1] || table[p + 1][n]
                } else {
                    table[p + 1][n + 1] = table[p][n] && pattern[p] == name[n]
                }
            }
        }
        return table[pattern.count][name.count]
    }

    @Test func randomPatternsAgreeWithReference() {
        var random = SeededRandom(seed: 42)
        let patternAlphabet: [Character] = ["a", "b", "*"]
        let nameAlphabet: [Character] = ["a", "b"]
        var mismatches: [String] = []
        for _ in 0..<20_000 {
            let pattern = (0..<Int.random(in: 0...6, using: &random)).map { _ in
                patternAlphabet.randomElement(using: &random)!
            }
            let name = (0..<Int.random(in: 0...7, using: &random)).map { _ in
                nameAlphabet.randomElement(using: &random)!
            }
            let expected = Self.reference(pattern, name)
            if GlobPattern(String(pattern)).matches(String(name)) != expected {
                mismatches.append("'\(String(pattern))' vs '\(String(name))' should be \(expected)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }
}
