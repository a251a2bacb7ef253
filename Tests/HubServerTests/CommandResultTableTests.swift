import Foundation
import HubClient
import HubCore
import Testing

@Suite("Command answers in the terminal: the results table, the exit status, key=value arguments")
struct CommandResultTableTests {
    /// The answer of the interface spec, one device of each status.
    static let answerText = #"""
        {"command":"cmd-12","room":"floor:3","name":"setpoint","args":{"value":21},"sender":"alice","source":"api",
         "ts":1764640000000,"timeout_ms":5000,"ttl_ms":0,"answered_at":1764640005000,"open":false,
         "summary":{"ok":1,"error":1,"timeout":1,"offline":1,"queued":1},
         "results":[
          {"device":"thermo-1","status":"ok","result":{"value":21,"mode":"heat"},"latency_ms":12},
          {"device":"thermo-2","status":"error","error":"value out of range","latency_ms":30},
          {"device":"thermo-3","status":"timeout"},
          {"device":"thermo-4","status":"offline","error":"the device is offline"},
          {"device":"thermo-5","status":"queued"}]}
        """#

    static func answer(_ results: [(String, String)], timeoutMs: Int64? = 5_000) -> CommandAnswer {
        CommandAnswer(
            command: "cmd-1", room: "r", name: "n", timeoutMs: timeoutMs,
            results: results.map { CommandAnswer.Result(device: $0.0, status: $0.1) })
    }

    // MARK: - Parsing

    @Test func parsesTheSpecAnswer() throws {
        let answer = try CommandAnswer.parse(Self.answerText)
        #expect(answer.command == "cmd-12")
        #expect(answer.room == "floor:3")
        #expect(answer.name == "setpoint")
        #expect(answer.args["value"] == .number(21))
        #expect(answer.sender == "alice")
        #expect(answer.source == "api")
        #expect(answer.ts == 1_764_640_000_000)
        #expect(answer.timeoutMs == 5_000)
        #expect(answer.ttlMs == 0)
        #expect(answer.answeredAt == 1_764_640_005_000)
        #expect(!answer.open)
        #expect(answer.summary.map(\.status) == ["ok", "error", "timeout", "offline", "queued"])
        #expect(answer.results.count == 5)
        #expect(answer.results[0].latencyMs == 12)
        #expect(answer.results[0].result?["mode"] == .string("heat"))
        #expect(answer.results[1].error == "value out of range")
        #expect(answer.results[2].latencyMs == nil)
        #expect(answer.counts == ["ok": 1, "error": 1, "timeout": 1, "offline": 1, "queued": 1])
    }

    @Test func notACommandIsRejected() {
        #expect(throws: ProtocolError.self) { try CommandAnswer.parse(#"{"error":{"code":"x","message":"y"}}"#) }
        #expect(throws: ProtocolError.self) { try CommandAnswer.parse("not json") }
        #expect(CommandAnswer(json: .array([])) == nil)
    }

    @Test func detailedResultsAndLateAnswersAreRead() throws {
        let text = #"""
            {"command":"cmd-3","results":[{"device":"d-1","status":"ok","result":null,"late":true,"attempts":2,
             "delivery":"cmd-3.1","sent_at":10,"answered_at":40,"latency_ms":30}]}
            """#
        let result = try #require(try CommandAnswer.parse(text).results.first)
        #expect(result.late)
        #expect(result.attempts == 2)
        #expect(result.result == nil)
        #expect(result.latencyMs == 30)
    }

    @Test func countsComeFromTheSummaryWhenThereAreNoResults() throws {
        let answer = try CommandAnswer.parse(#"{"command":"cmd-4","summary":{"ok":3,"timeout":2},"results":[]}"#)
        #expect(answer.counts == ["ok": 3, "timeout": 2])
        #expect(answer.deviceCount == 5)
        #expect(CommandResultTable.exitStatus(answer) == 2)
    }

    // MARK: - The table

    @Test func tableOfTheSpecAnswer() throws {
        let lines = CommandResultTable().render(try CommandAnswer.parse(Self.answerText))
        #expect(
            lines == [
                "DEVICE    STATUS   LATENCY  RESULT",
                #"thermo-1  ok       12 ms    {"value":21,"mode":"heat"}"#,
                "thermo-2  error    30 ms    value out of range",
                "thermo-3  timeout  -        -",
                "thermo-4  offline  -        the device is offline",
                "thermo-5  queued   -        -",
                "5 devices: 1 ok, 1 error, 1 timeout, 1 offline, 1 queued (cmd-12, 5.0 s timeout)",
            ])
    }

    @Test func columnsAlignToTheLongestCell() {
        var answer = Self.answer([("a", "ok"), ("a-much-longer-device", "ok")])
        answer.results[0].latencyMs = 1_234
        answer.results[1].latencyMs = 5
        let lines = CommandResultTable().table(answer.results)
        #expect(lines[0] == "DEVICE                STATUS  LATENCY  RESULT")
        #expect(lines[1] == "a                     ok      1234 ms  -")
        #expect(lines[2] == "a-much-longer-device  ok      5 ms     -")
    }

    @Test func lateAnswersAreMarked() {
        var answer = Self.answer([("d-1", "ok"), ("d-2", "timeout")])
        answer.results[0].late = true
        answer.results[0].result = .object(JSONObject([("done", .bool(true))]))
        let lines = CommandResultTable().render(answer)
        #expect(lines[1].hasPrefix("d-1     ok (late)  -        {\"done\":true}"))
        #expect(lines.last == "2 devices: 1 ok, 1 timeout (cmd-1, 5.0 s timeout, 1 late)")
    }

    @Test func colourIsOnlyOnTheStatusAndKeepsTheAlignment() {
        let answer = Self.answer([("d-1", "ok"), ("d-2", "error"), ("d-3", "mystery")])
        let plain = CommandResultTable(color: false).table(answer.results)
        let coloured = CommandResultTable(color: true).table(answer.results)
        #expect(!plain.joined().contains("\u{1B}"))
        #expect(coloured[0] == plain[0])
        #expect(coloured[1] == "d-1     \u{1B}[32mok       \u{1B}[0m-        -")
        #expect(coloured[2].contains("\u{1B}[31merror    \u{1B}[0m"))
        #expect(coloured[3] == plain[3])
        let stripped = coloured.map {
            $0.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        }
        #expect(stripped == plain)
    }

    @Test func attemptsColumnForCommandsShow() {
        var answer = Self.answer([("d-1", "ok")])
        answer.results[0].attempts = 2
        let lines = CommandResultTable(attempts: true).table(answer.results)
        #expect(lines == ["DEVICE  STATUS  LATENCY  ATTEMPTS  RESULT", "d-1     ok      -        2         -"])
    }

    @Test func deviceTextCannotDriveTheTerminal() {
        var answer = Self.answer([("d-1", "error")])
        answer.results[0].error = "bad\u{1B}[2Jthing\nsecond line"
        let lines = CommandResultTable().table(answer.results)
        #expect(lines[1].hasSuffix("bad?[2Jthing second line"))
        answer.results[0] = CommandAnswer.Result(device: "d-1", status: "ok", result: .string("x\u{9B}y"))
        #expect(CommandResultTable().table(answer.results)[1].hasSuffix(#""x?y""#))
    }

    @Test func noResultsGiveOnlyTheSummary() {
        let answer = Self.answer([])
        #expect(CommandResultTable().render(answer) == ["0 devices (cmd-1, 5.0 s timeout)"])
    }

    // MARK: - The summary line

    @Test func summaryLine() {
        var results: [(String, String)] = (1...9).map { ("t-\($0)", "ok") }
        results += [("t-10", "error"), ("t-11", "timeout"), ("t-12", "offline")]
        var answer = Self.answer(results)
        answer.command = "cmd-12"
        #expect(
            CommandResultTable.summaryLine(answer)
                == "12 devices: 9 ok, 1 error, 1 timeout, 1 offline (cmd-12, 5.0 s timeout)")
    }

    @Test func summaryOrdersStatusesAndNotesTTLAndOpen() {
        var answer = Self.answer([("a", "pending"), ("b", "queued"), ("c", "expired"), ("d", "ok"), ("e", "odd")])
        answer.ttlMs = 600_000
        answer.open = true
        answer.timeoutMs = 250
        #expect(
            CommandResultTable.summaryLine(answer)
                == "5 devices: 1 ok, 1 expired, 1 queued, 1 pending, 1 odd (cmd-1, 0.25 s timeout, kept 10m, still open)"
        )
        #expect(CommandResultTable.summaryLine(Self.answer([("a", "ok")], timeoutMs: nil)) == "1 device: 1 ok (cmd-1)")
    }

    @Test func secondsText() {
        #expect(CommandResultTable.seconds(5_000) == "5.0 s")
        #expect(CommandResultTable.seconds(250) == "0.25 s")
        #expect(CommandResultTable.seconds(12_500) == "12.5 s")
        #expect(CommandResultTable.seconds(1) == "0.001 s")
        #expect(CommandResultTable.seconds(60_000) == "60.0 s")
    }

    // MARK: - Exit status

    @Test func exitStatusIsZeroWhenEveryDeviceIsOkOrQueued() {
        #expect(CommandResultTable.exitStatus(Self.answer([("a", "ok"), ("b", "ok")])) == 0)
        #expect(CommandResultTable.exitStatus(Self.answer([("a", "ok"), ("b", "queued")])) == 0)
        #expect(CommandResultTable.exitStatus(Self.answer([("a", "queued")])) == 0)
        #expect(CommandResultTable.exitStatus(Self.answer([])) == 0)
    }

    @Test(arguments: ["error", "timeout", "offline", "expired"])
    func exitStatusIsTwoWhenAnyDeviceFailed(status: String) {
        #expect(CommandResultTable.exitStatus(Self.answer([("a", "ok"), ("b", status), ("c", "queued")])) == 2)
        #expect(CommandResultTable.hasFailures(Self.answer([("b", status)])))
        #expect(CommandStatus.isFailure(status))
    }

    @Test func pendingAndUnknownStatusesAreNotFailures() {
        #expect(CommandResultTable.exitStatus(Self.answer([("a", "pending"), ("b", "something-new")])) == 0)
        #expect(!CommandStatus.isFailure("queued"))
        #expect(!CommandStatus.isFailure("ok"))
    }

    @Test func theSpecAnswerFails() throws {
        #expect(CommandResultTable.exitStatus(try CommandAnswer.parse(Self.answerText)) == 2)
    }

    // MARK: - key=value arguments

    @Test func valuesThatAreJSONAreSentAsJSON() throws {
        let args = try CommandArguments.parse([
            "value=21", "ratio=-0.5", "on=true", "off=false", "nothing=null", "text=\"21\"", #"obj={"a":[1,2]}"#,
            "list=[1,\"x\"]",
        ])
        #expect(args["value"] == .number(21))
        #expect(args["ratio"] == .number(-0.5))
        #expect(args["on"] == .bool(true))
        #expect(args["off"] == .bool(false))
        #expect(args["nothing"] == .null)
        #expect(args["text"] == .string("21"))
        #expect(args["obj"] == .object(JSONObject([("a", .array([.number(1), .number(2)]))])))
        #expect(args["list"] == .array([.number(1), .string("x")]))
        #expect(args.members.map(\.key) == ["value", "ratio", "on", "off", "nothing", "text", "obj", "list"])
    }

    @Test func otherValuesAreStrings() throws {
        let args = try CommandArguments.parse([
            "mode=eco", "empty=", "eq=a=b", "nan=NaN", "inf=Infinity", "broken={\"a\":", "spaced=hello world",
            "version=1.2.3", "lead=021",
        ])
        #expect(args["mode"] == .string("eco"))
        #expect(args["empty"] == .string(""))
        #expect(args["eq"] == .string("a=b"))
        #expect(args["nan"] == .string("NaN"))
        #expect(args["inf"] == .string("Infinity"))
        #expect(args["broken"] == .string("{\"a\":"))
        #expect(args["spaced"] == .string("hello world"))
        #expect(args["version"] == .string("1.2.3"))
        #expect(args["lead"] == .string("021"))
    }

    @Test(arguments: ["value", "=21", "bad key=1", "a/b=1", "a*=1", String(repeating: "k", count: 129) + "=1"])
    func badPairsAreRefused(pair: String) {
        #expect(throws: CommandArguments.Problem.self) { try CommandArguments.parse([pair]) }
    }

    @Test func aKeyGivenTwiceIsRefused() {
        #expect(throws: CommandArguments.Problem("argument 'value' is given twice")) {
            try CommandArguments.parse(["value=1", "value=2"])
        }
    }

    @Test func pairsGoOnTopOfArgs() throws {
        let base = try CommandArguments.object(#"{"value":20,"mode":"eco"}"#)
        let args = try CommandArguments.parse(["value=21"], base: base)
        #expect(args == JSONObject([("mode", .string("eco")), ("value", .number(21))]))
        #expect(try CommandArguments.parse([]) == JSONObject())
    }

    @Test func argsMustBeAnObject() {
        #expect(throws: CommandArguments.Problem.self) { try CommandArguments.object("[1]") }
        #expect(throws: CommandArguments.Problem.self) { try CommandArguments.object("{") }
        #expect(throws: CommandArguments.Problem.self) { try CommandArguments.object(#"{"a":NaN}"#) }
    }

    @Test func requestBody() throws {
        let body = CommandArguments.body(
            name: "setpoint", args: JSONObject([("value", .number(21))]), timeoutMs: 5_000, ttlMs: 600_000)
        #expect(
            String(decoding: body, as: UTF8.self)
                == #"{"name":"setpoint","args":{"value":21},"timeout_ms":5000,"ttl_ms":600000}"#)
        #expect(
            String(decoding: CommandArguments.body(name: "reboot", args: JSONObject()), as: UTF8.self)
                == #"{"name":"reboot","args":{}}"#)
    }
}
