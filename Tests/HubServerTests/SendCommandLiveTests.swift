import Foundation
import HubCore
import HubServer
import Testing

/// `telemetryhub send` as a subprocess against a live hub: its table and exit status.
@Suite("telemetryhub send against a live hub")
struct SendCommandLiveTests {
    /// Runs `telemetryhub send …` while `answer` plays the devices; returns the exit status, stdout and stderr.
    static func send(
        _ live: LiveHub, _ arguments: [String], answer: @escaping @Sendable () async throws -> Void
    ) async throws -> (status: Int32, output: String, errors: String) {
        let executable = try #require(
            SimulateCommandLiveTests.executable, "build the telemetryhub executable first (swift build)")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["send"] + arguments + ["--url", live.httpBase, "--token", try await live.token(.operator)]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try await answer()
        return await RawSocket.offPool {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text, problems)
        }
    }

    /// Answers the next command on `socket`.
    static func answer(_ socket: TestSocket, ok: Bool) async throws {
        let command = try await CommandLiveTests.nextCommand(socket, timeout: .seconds(10))
        let id = command["id"]?.stringValue ?? ""
        try await socket.send(
            ok
                ? #"{"type":"command_result","id":"\#(id)","ok":true,"result":{"set":\#(command["args"]?["value"]?.numberValue ?? 0)}}"#
                : #"{"type":"command_result","id":"\#(id)","ok":false,"error":"valve stuck"}"#)
    }

    @Test func aFailedDeviceMakesTheExitStatusTwoAndEveryDeviceHasARow() async throws {
        try await LiveHub.run { live in
            let good = try await CommandLiveTests.device(live, "cli-1", rooms: ["floor:3"])
            let bad = try await CommandLiveTests.device(live, "cli-2", rooms: ["floor:3"])
            let failing = try await Self.send(live, ["--room", "floor:3", "setpoint", "value=21", "--timeout", "5s"]) {
                try await Self.answer(good, ok: true)
                try await Self.answer(bad, ok: false)
            }
            #expect(failing.status == 2, "\(failing.output)\n\(failing.errors)")
            let rows = failing.output.split(separator: "\n").map(String.init)
            #expect(rows.contains { $0.contains("DEVICE") && $0.contains("STATUS") && $0.contains("LATENCY") })
            #expect(rows.contains { $0.hasPrefix("cli-1") && $0.contains("ok") && $0.contains("21") })
            #expect(rows.contains { $0.hasPrefix("cli-2") && $0.contains("error") && $0.contains("valve stuck") })

            let passing = try await Self.send(live, ["--room", "device:cli-1", "setpoint", "value=19", "--json"]) {
                try await Self.answer(good, ok: true)
            }
            #expect(passing.status == 0, "\(passing.output)\n\(passing.errors)")
            let answer = try JSONParser.parse(passing.output)
            #expect(CommandLiveTests.statuses(answer) == ["ok": 1])
            #expect(answer["args"]?["value"] == .number(19))

            let nobody = try await Self.send(live, ["--room", "floor:9", "setpoint", "value=1"]) {}
            #expect(nobody.status == 1)
            #expect(nobody.errors.contains("not_found"), "\(nobody.errors)")
            await good.close()
            await bad.close()
        }
    }
}
