import Testing

@testable import HubCore

@Suite("JSONParser")
struct JSONParserTests {
    // MARK: Valid documents

    @Test func scalars() throws {
        #expect(try json("null") == .null)
        #expect(try json("true") == .bool(true))
        #expect(try json("false") == .bool(false))
        #expect(try json("42") == .number(42))
        #expect(try json("\"hi\"") == .string("hi"))
        #expect(try json("\"\"") == .string(""))
        #expect(try json(" \t\r\n 7 \n\t\r ") == .number(7))
    }

    @Test func emptyContainers() throws {
        #expect(try json("[]") == .array([]))
        #expect(try json("{}") == .object(JSONObject()))
        #expect(try json("[ ]") == .array([]))
        #expect(try json("{ \n }") == .object(JSONObject()))
        #expect(try json("[[],{}]") == .array([.array([]), .object(JSONObject())]))
    }

    @Test func nestedDocument() throws {
        let value = try json(#" { "a" : [ 1 , true , null , "x" ] , "b" : { "c" : -2.5 } , "d" : [ ] } "#)
        let expected = object(
            ("a", .array([.number(1), .bool(true), .null, .string("x")])),
            ("b", object(("c", .number(-2.5)))),
            ("d", .array([])))
        #expect(value == expected)
        #expect(value["b"]?["c"]?.numberValue == -2.5)
        #expect(value["a"]?.typeName == "array")
        #expect(value["zzz"] == nil)
    }

    @Test func objectKeepsMemberOrderAndLastDuplicateWins() throws {
        let value = try json(#"{"z":1,"a":2,"z":3}"#)
        guard case .object(let members) = value else {
            Issue.record("expected an object, got \(value)")
            return
        }
        #expect(members.members.map(\.key) == ["z", "a", "z"])
        #expect(members.count == 3)
        #expect(members["z"] == .number(3))
        #expect(members["a"] == .number(2))
    }

    @Test func rawUTF8PassesThrough() throws {
        #expect(try json("\"héllo €😀\"") == .string("héllo €😀"))
        #expect(try json("{\"ключ\":\"значение\"}")["ключ"] == .string("значение"))
    }

    // MARK: Escapes

    @Test func simpleEscapes() throws {
        #expect(try json(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try json(#""a\nb""#) == .string("a\nb"))
        #expect(try json(#""prefix then escape \" end""#) == .string("prefix then escape \" end"))
    }

    @Test func unicodeEscapes() throws {
        #expect(try json(#""\u0041""#) == .string("A"))
        #expect(try json(#""\u00e9\u00E9""#) == .string("éé"))
        #expect(try json(#""\u20AC""#) == .string("€"))
        #expect(try json(#""\u0000""#) == .string("\u{0}"))
    }

    @Test func surrogatePairs() throws {
        #expect(try json(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try json(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try json(#""x\uD834\uDD1Ey""#) == .string("x𝄞y"))
        #expect(try json(#""\udbff\udfff""#) == .string("\u{10FFFF}"))
    }

    // MARK: Numbers

    @Test(arguments: [
        ("0", 0.0), ("1", 1), ("-1", -1), ("42", 42), ("1.5", 1.5), ("-2.25", -2.25), ("0.1", 0.1),
        ("1e3", 1_000), ("1E3", 1_000), ("1e+3", 1_000), ("1e-3", 0.001), ("2.5e-3", 0.0025), ("-1.25E+2", -125),
        ("1732240000000", 1_732_240_000_000), ("9007199254740991", 9_007_199_254_740_991),
        ("3.141592653589793", 3.141592653589793), ("0.000001", 0.000001), ("1e22", 1e22), ("1e23", 1e23),
        ("123456789012345678901234567890", 1.2345678901234568e29), ("1e-999", 0), ("0e999", 0),
        ("12345678901234567890.5", 12_345_678_901_234_567_890.5),
    ])
    func numbers(text: String, expected: Double) throws {
        #expect(try json(text) == .number(expected))
    }

    @Test func bigTimestampIsExact() throws {
        let value = try #require(try json("1732240000000").numberValue)
        #expect(Int64(value) == 1_732_240_000_000)
        let later = try #require(try json("1732240000001").numberValue)
        #expect(Int64(later) == 1_732_240_000_001)
    }

    @Test func negativeZero() throws {
        let value = try #require(try json("-0").numberValue)
        #expect(value == 0)
        #expect(value.sign == .minus)
        let plain = try #require(try json("0").numberValue)
        #expect(plain.sign == .plus)
        let fraction = try #require(try json("-0.0").numberValue)
        #expect(fraction.sign == .minus && fraction == 0)
    }

    @Test func hugeExponentsOverflowToInfinity() throws {
        #expect(try json("1e999") == .number(.infinity))
        #expect(try json("-1e999") == .number(-.infinity))
        #expect(try json("[1e999]") == .array([.number(.infinity)]))
    }

    @Test func nonFiniteTokensParseAsNumbers() throws {
        let nan = try #require(try json("NaN").numberValue)
        #expect(nan.isNaN)
        #expect(try json("Infinity") == .number(.infinity))
        #expect(try json("-Infinity") == .number(-.infinity))
        let inArray = try json("[NaN, Infinity, -Infinity]")
        guard case .array(let elements) = inArray, elements.count == 3 else {
            Issue.record("expected a 3-element array, got \(inArray)")
            return
        }
        #expect(elements[0].numberValue?.isNaN == true)
        #expect(elements[1] == .number(.infinity))
        #expect(elements[2] == .number(-.infinity))
    }

    /// Random valid JSON numbers must parse to exactly what Swift's correctly rounded `Double(_:)` gives.
    @Test func randomNumbersMatchStandardLibrary() throws {
        var random = SeededRandom(seed: 0xC0FFEE)
        func digits(_ count: Int, leadingNonZero: Bool) -> String {
            var text = ""
            for index in 0..<count {
                let low = (index == 0 && leadingNonZero) ? 1 : 0
                text.append(String(Int.random(in: low...9, using: &random)))
            }
            return text
        }
        for _ in 0..<5_000 {
            var text = Bool.random(using: &random) ? "-" : ""
            if Int.random(in: 0..<5, using: &random) == 0 {
                text += "0"
            } else {
                text += digits(Int.random(in: 1...22, using: &random), leadingNonZero: true)
            }
            if Bool.random(using: &random) {
                text += "." + digits(Int.random(in: 1...22, using: &random), leadingNonZero: false)
            }
            if Bool.random(using: &random) {
                text += ["e", "E"].randomElement(using: &random)! + ["", "+", "-"].randomElement(using: &random)!
                text += String(Int.random(in: 0...40, using: &random))
            }
            let expected = try #require(Double(text), "Swift rejects \(text)")
            let parsed = try json(text)
            guard case .number(let value) = parsed else {
                Issue.record("\(text) parsed as \(parsed)")
                continue
            }
            #expect(value.bitPattern == expected.bitPattern, "\(text): got \(value), expected \(expected)")
        }
    }

    // MARK: Errors

    @Test(arguments: [
        // empty / truncated
        "", " ", "\n\t",
        // trailing data
        "1 2", "[] x", "{}}", "[1]]", "true false", "nullx", "\"a\"\"b\"",
        // leading zeros and malformed numbers
        "01", "-01", "00", "00.5", "1.", ".5", "-", "+1", "1e", "1e+", "1E-", "1.e3", "-.5", "--1", "0x10",
        // literals
        "tru", "nul", "fals", "True", "NULL", "Nan", "nan", "inf", "-Inf", "-NaN", "Infinit", "undefined",
        // strings
        "\"abc", "\"a\\", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\uZZZZ\"", "\"\\ud83d\"", "\"\\ude00\"",
        "\"\\ud83d\\u0041\"", "\"\\ud83dx\"", "'single'", "\"line\nbreak\"", "\"tab\there\"", "\"nul\u{0}\"",
        "\"bell\u{07}\"",
        // arrays
        "[", "[1", "[1,", "[1,]", "[,1]", "[1 2]", "[1;2]", "]",
        // objects
        "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{1:2}",
        "{\"a\":1 \"b\":2}", "}", "{\"a\"::1}",
    ])
    func syntaxErrorsAreInvalidJSON(text: String) {
        let error = parseError(text)
        #expect(error?.code == .invalidJSON, "'\(text)' gave \(String(describing: error))")
    }

    @Test(arguments: [
        ("[1] x", "unexpected data after the JSON value"),
        ("01", "leading zero"),
        ("-012", "leading zero"),
        ("\"a\u{01}\"", "control character in string"),
        ("\"a\\n\u{01}\"", "control character in string"),
        ("\"abc", "unterminated string"),
        ("\"ab\\tc", "unterminated string"),
        ("[1, 2", "unterminated array"),
        ("{\"a\": 1", "unterminated object"),
        ("\"\\q\"", "invalid escape"),
        ("\"\\ud83d\"", "unpaired surrogate"),
        ("\"\\ude00\"", "unpaired surrogate"),
        ("\"\\ud83d\\u0041\"", "invalid surrogate pair"),
        ("\"\\u00\"", "short unicode escape"),
        ("[1.]", "invalid number"),
        ("", "unexpected end of input"),
    ])
    func errorMessages(text: String, fragment: String) {
        let error = parseError(text)
        #expect(error?.code == .invalidJSON)
        #expect(error?.message.contains(fragment) == true, "'\(text)' gave \(String(describing: error))")
    }

    @Test func errorMessageNamesTheBytePosition() {
        #expect(parseError("[1,2] !")?.message == "unexpected data after the JSON value at byte 6")
    }

    @Test func nestingDepthLimit() throws {
        let depth = JSONParser.maxDepth
        #expect(depth == 64)
        let deepestArray = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(parseError(deepestArray) == nil)
        let tooDeepArray = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
        let arrayError = parseError(tooDeepArray)
        #expect(arrayError?.code == .invalidJSON)
        #expect(arrayError?.message.contains("nesting deeper than 64") == true)

        let deepestObject =
            String(repeating: "{\"a\":", count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1)
        #expect(parseError(deepestObject) == nil)
        let tooDeepObject = String(repeating: "{\"a\":", count: depth) + "{}" + String(repeating: "}", count: depth)
        #expect(parseError(tooDeepObject)?.code == .invalidJSON)

        // Depth is released when a container closes: many siblings at depth 64 are fine.
        let inner = String(repeating: "[", count: depth - 1) + "[],[],[]" + String(repeating: "]", count: depth - 1)
        #expect(parseError(inner) == nil)
    }

    // MARK: Prefixes

    @Test func everyStrictPrefixFailsAndTheWholeSucceeds() throws {
        let document =
            #"{"type":"telemetry","id":"m-1","ts":1732240000000,"metrics":{"temp":21.5,"neg":-0.25,"exp":1.5e-3},"samples":[{"metric":"x","value":-3,"ok":true,"none":null,"f":false}],"s":"\u00e9\ud83d\ude00\n\"q\""}"#
        let bytes = Array(document.utf8)
        for length in 0..<bytes.count {
            do {
                let value = try JSONParser.parse(bytes[0..<length])
                Issue.record(
                    "prefix of \(length) bytes parsed as \(value): \(String(decoding: bytes[0..<length], as: UTF8.self))"
                )
            } catch {
                #expect(error.code == .invalidJSON)
            }
        }
        let whole = try JSONParser.parse(bytes)
        #expect(whole["id"] == .string("m-1"))
        #expect(whole["ts"] == .number(1_732_240_000_000))
        #expect(whole["metrics"]?["exp"] == .number(0.0015))
        #expect(whole["s"] == .string("é😀\n\"q\""))
        #expect(try JSONParser.parse(document) == whole)
    }

    @Test func parsesNonContiguousCollections() throws {
        let bytes = Array(#"{"a":[1,"b"]}"#.utf8)
        let lazy = bytes.lazy.map { $0 }
        #expect(try JSONParser.parse(lazy) == object(("a", .array([.number(1), .string("b")]))))
        #expect(throws: ProtocolError.self) { try JSONParser.parse(bytes.dropLast().lazy.map { $0 }) }
        // A slice that does not start at index 0.
        let padded = Array("xx[true]".utf8)
        #expect(try JSONParser.parse(padded[2...]) == .array([.bool(true)]))
    }
}
