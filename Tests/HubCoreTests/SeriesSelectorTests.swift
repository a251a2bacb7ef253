import Testing

@testable import HubCore

@Suite("SeriesSelector")
struct SeriesSelectorTests {
    @Test func parsesParts() throws {
        let selector = try SeriesSelector(parsing: "thermo-*/temp")
        #expect(selector.device == GlobPattern("thermo-*"))
        #expect(selector.metric == GlobPattern("temp"))
        #expect(selector.metric.isLiteral)
        #expect(!selector.device.isLiteral)
        #expect(selector.description == "thermo-*/temp")
    }

    @Test(arguments: [
        "a/b", "*/*", "**/x", "*/hum", "thermo-1/*", "a*b*c/x.y_z:1-2", "\(String(repeating: "d", count: 128))/m",
    ])
    func validSelectorsRoundTrip(text: String) throws {
        let selector = try SeriesSelector(parsing: text)
        #expect(selector.description == text)
    }

    @Test(arguments: [
        "", "a", "*", "thermo-1", "/", "a/", "/b", "a/b/c", "*/*/*", "//", "a b/c", "a/b!", "é/x", "a/b c", "a\\/b",
        "\(String(repeating: "d", count: 129))/m", "d/\(String(repeating: "m", count: 129))",
    ])
    func invalidSelectors(text: String) {
        #expect(throws: ProtocolError.self, "\(text)") { try SeriesSelector(parsing: text) }
        do {
            _ = try SeriesSelector(parsing: text)
        } catch {
            #expect(error.code == .invalidMessage)
            #expect(error.message.contains("selector '"))
        }
    }

    @Test func matching() throws {
        let keys = [
            SeriesKey(device: "thermo-1", metric: "temp"), SeriesKey(device: "thermo-2", metric: "hum"),
            SeriesKey(device: "meter-1", metric: "temp"), SeriesKey(device: "thermo-10", metric: "temp_out"),
        ]
        func matched(_ text: String) throws -> [String] {
            let selector = try SeriesSelector(parsing: text)
            return keys.filter(selector.matches).map(\.description)
        }
        #expect(try matched("*/*") == keys.map(\.description))
        #expect(try matched("thermo-*/temp") == ["thermo-1/temp"])
        #expect(try matched("thermo-*/temp*") == ["thermo-1/temp", "thermo-10/temp_out"])
        #expect(try matched("*/temp") == ["thermo-1/temp", "meter-1/temp"])
        #expect(try matched("*-1/*") == ["thermo-1/temp", "meter-1/temp"])
        #expect(try matched("thermo-2/hum") == ["thermo-2/hum"])
        #expect(try matched("thermo-2/temp") == [])
    }

    @Test func seriesKeyParsing() {
        #expect(SeriesKey(parsing: "d/m") == SeriesKey(device: "d", metric: "m"))
        #expect(SeriesKey(parsing: "d/m")?.description == "d/m")
        #expect(SeriesKey(parsing: "dm") == nil)
        #expect(SeriesKey(parsing: "/m") == nil)
        #expect(SeriesKey(parsing: "d/") == nil)
        #expect(SeriesKey(parsing: "d/m/x") == nil)
        #expect(SeriesKey(parsing: "d*/m") == nil)
        #expect(SeriesKey(device: "a", metric: "z") < SeriesKey(device: "b", metric: "a"))
        #expect(SeriesKey(device: "a", metric: "a") < SeriesKey(device: "a", metric: "b"))
    }

    @Test func names() {
        #expect(Names.isValidName("Az09._:-"))
        #expect(Names.isValidName(String(repeating: "x", count: 128)))
        #expect(!Names.isValidName(String(repeating: "x", count: 129)))
        #expect(!Names.isValidName(""))
        #expect(!Names.isValidName("a*"))
        #expect(!Names.isValidName("a/b"))
        #expect(!Names.isValidName("é"))
        #expect(Names.isValidRoom("floor:*"))
        #expect(!Names.isValidRoom(""))
        #expect(!Names.isValidRoom("a b"))
    }
}
