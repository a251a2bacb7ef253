import Foundation
import HubClient
import HubCore
import Testing

@Suite("Alert lines of alerts tail")
struct AlertLineFormatTests {
    /// The `alert` message of the interface spec.
    static let firingMessage = #"""
        {"type":"alert","alert":"al-17","rule":"hot-rooms","name":"Room too hot","series":"thermo-1/temp",
         "device":"thermo-1","metric":"temp","state":"firing","previous":"pending","event":"transition",
         "reason":"threshold","severity":"critical","value":31.2,"threshold":30,"op":">",
         "ts":1764640000000,"since":1764640000000,"started":1764639990000,
         "acked":false,"silenced":false,"labels":{"team":"facilities"},
         "description":"thermo-1/temp is 31.2 °C (threshold 30)"}
        """#

    static let utcZone = TimeZone(secondsFromGMT: 0)!
    static let plain = AlertLineFormat(color: false, utc: false, timeZone: utcZone)

    static func parse(_ text: String) throws -> AlertLine {
        let document = try JSONParser.parse(text)
        return try #require(AlertLine(json: document))
    }

    @Test func parsesTheSpecMessage() throws {
        let line = try Self.parse(Self.firingMessage)
        #expect(line.alert == "al-17")
        #expect(line.rule == "hot-rooms")
        #expect(line.name == "Room too hot")
        #expect(line.series == "thermo-1/temp")
        #expect(line.state == "firing")
        #expect(line.previous == "pending")
        #expect(line.event == "transition")
        #expect(line.reason == "threshold")
        #expect(line.severity == "critical")
        #expect(line.value == 31.2)
        #expect(line.threshold == 30)
        #expect(line.op == ">")
        #expect(line.ts == 1_764_640_000_000)
        #expect(line.since == 1_764_640_000_000)
        #expect(line.started == 1_764_639_990_000)
        #expect(!line.acked)
        #expect(!line.silenced)
        #expect(line.labels == ["team": "facilities"])
        #expect(line.summary == "thermo-1/temp is 31.2 °C (threshold 30)")
        #expect(line.condition == "31.2 > 30")
    }

    @Test func otherMessagesAreNotAlerts() throws {
        for text in [#"{"type":"pong"}"#, #"{"type":"error","code":"x","message":"y"}"#, "[1,2]"] {
            let document = try JSONParser.parse(text)
            #expect(AlertLine(json: document) == nil)
        }
        // The ack answer wraps the alert: the inner object is the alert.
        let answer = try JSONParser.parse(#"{"alert":{"alert":"al-3","state":"firing","ts":1}}"#)
        #expect(AlertLine(json: answer) == nil)
        let inner = try #require(answer["alert"])
        #expect(AlertLine(json: inner)?.alert == "al-3")
    }

    @Test func firingLine() throws {
        let line = try Self.parse(Self.firingMessage)
        #expect(
            Self.plain.render(line)
                == "01:46:40.000 critical firing   al-17 thermo-1/temp 31.2 > 30 hot-rooms (Room too hot)")
    }

    @Test func resolvedLine() {
        let line = AlertLine(
            alert: "al-17", rule: "hot-rooms", name: "Room too hot", series: "thermo-1/temp", state: "resolved",
            previous: "firing", event: "transition", reason: "clear", severity: "critical", value: 27.5,
            threshold: 28, op: "<", ts: 1_764_640_123_456)
        #expect(
            Self.plain.render(line)
                == "01:48:43.456 critical resolved al-17 thermo-1/temp 27.5 < 28 hot-rooms (Room too hot)")
    }

    @Test func ackLineNamesWhoAndTheEventKind() {
        let line = AlertLine(
            alert: "al-17", rule: "hot-rooms", series: "thermo-1/temp", state: "firing", event: "ack",
            reason: "ack", severity: "critical", value: 31.2, threshold: 30, op: ">", ts: 1_764_640_000_000,
            acked: true, ackedBy: "alice", ackComment: "on it")
        let text = Self.plain.render(line)
        #expect(text == "01:46:40.000 critical firing   al-17 thermo-1/temp 31.2 > 30 hot-rooms acked by alice (ack)")
    }

    @Test func silencedAndCurrentAreShown() {
        let line = AlertLine(
            alert: "al-4", rule: "r", series: "d/m", state: "pending", event: "current", severity: "info",
            value: 1, threshold: 0.5, op: ">=", ts: 0, silenced: true, silence: "sil-3")
        #expect(Self.plain.render(line) == "00:00:00.000 info     pending  al-4 d/m 1 >= 0.5 r silenced (current)")
    }

    @Test func nodataWithoutValue() throws {
        let line = try Self.parse(
            #"""
            {"type":"alert","alert":"al-18","rule":"hot-rooms","series":"thermo-2/temp","state":"nodata",
             "previous":"firing","event":"transition","reason":"nodata","severity":"warning",
             "ts":1764640000000,"acked":false,"silenced":false}
            """#)
        #expect(line.value == nil)
        #expect(line.condition == nil)
        #expect(Self.plain.render(line) == "01:46:40.000 warning  nodata   al-18 thermo-2/temp hot-rooms")
    }

    @Test func colorsOnlyWhenAsked() throws {
        let line = try Self.parse(Self.firingMessage)
        let plain = Self.plain.render(line)
        #expect(!plain.contains("\u{1B}"))
        let colored = AlertLineFormat(color: true, timeZone: Self.utcZone).render(line)
        #expect(colored.contains("\u{1B}[31mcritical\u{1B}[0m"))
        #expect(colored.contains("\u{1B}[1;31mfiring  \u{1B}[0m"))
        // Without the escape sequences the colored line is the plain one.
        #expect(colored.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression) == plain)
    }

    @Test func stateAndSeverityColors() {
        #expect(AlertLineFormat.style(state: "firing") == .boldRed)
        #expect(AlertLineFormat.style(state: "resolved") == .green)
        #expect(AlertLineFormat.style(state: "ok") == .green)
        #expect(AlertLineFormat.style(state: "pending") == .yellow)
        #expect(AlertLineFormat.style(state: "nodata") == .magenta)
        #expect(AlertLineFormat.style(severity: "critical") == .red)
        #expect(AlertLineFormat.style(severity: "warning") == .yellow)
        #expect(AlertLineFormat.style(severity: "info") == .cyan)
        #expect(AlertLineFormat.style(severity: "bogus") == nil)
    }

    @Test func utcTimesAreISO8601() throws {
        let line = try Self.parse(Self.firingMessage)
        let text = AlertLineFormat(utc: true).render(line)
        #expect(text.hasPrefix("2025-12-02T01:46:40.000Z critical firing "))
        #expect(AlertLineFormat.iso8601(1_764_640_123_456) == "2025-12-02T01:48:43.456Z")
        #expect(AlertLineFormat.iso8601(0) == "1970-01-01T00:00:00.000Z")
        #expect(AlertLineFormat.iso8601(-1) == "1969-12-31T23:59:59.999Z")
        #expect(AlertLineFormat.iso8601(951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }

    @Test func localTimesFollowTheZone() {
        let paris = AlertLineFormat(timeZone: TimeZone(secondsFromGMT: 3_600)!)
        #expect(paris.time(1_764_640_000_000) == "02:46:40.000")
        #expect(paris.dateTime(1_764_640_000_000) == "2025-12-02 02:46:40")
    }

    @Test func numbers() {
        #expect(AlertLineFormat.number(30) == "30")
        #expect(AlertLineFormat.number(31.2) == "31.2")
        #expect(AlertLineFormat.number(-4) == "-4")
        #expect(AlertLineFormat.number(31.233333333) == "31.2333")
        #expect(AlertLineFormat.number(0.1234567) == "0.123457")
        #expect(AlertLineFormat.number(1223.26667) == "1223.27")
    }

    @Test func streamURLCarriesTheFilters() {
        let all = AlertStreamClient(url: "http://127.0.0.1:8080/", token: nil)
        #expect(all.streamURL == "ws://127.0.0.1:8080/ws/alerts")
        let some = AlertStreamClient(
            url: "https://hub:8443", token: "t", severity: "warning", match: "thermo-*/temp", includeSilenced: false)
        #expect(some.streamURL == "wss://hub:8443/ws/alerts?severity=warning&match=thermo-*/temp&silenced=0")
        #expect(HubQuery.string([("match", "a b&c"), ("rule", nil), ("state", "")]) == "?match=a%20b%26c")
    }
}
