import Foundation
import HubCore
import HubServer
import Synchronization
import Testing

/// The alert commands as a user runs them: `alerts tail` as a subprocess, `rules apply` with a broken file, and
/// `serve --rules` refusing a broken rule file.
@Suite("telemetryhub alerts and rules commands against a live hub")
struct AlertCommandLiveTests {
    /// Runs the built executable with `arguments`; returns its exit status, stdout and stderr.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String, String)
    {
        let executable = try #require(SimulateCommandLiveTests.executable, "build the telemetryhub executable first")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return await RawSocket.offPool {
            let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, out, err)
        }
    }

    @Test func alertsTailShowsCurrentAlertsThenEachEvent() async throws {
        let executable = try #require(SimulateCommandLiveTests.executable, "build the telemetryhub executable first")
        try await LiveHub.run { live in
            let rule =
                #"{"id":"hot","name":"Room too hot","match":"thermo-*/temp","when":{"op":">","value":30},"severity":"critical"}"#
            #expect(try await live.http(.admin).send("POST", "/api/rules", body: rule).status == 200)
            try await AlertLiveTests.send(live, "thermo-1", #"{"temp":35}"#)

            let process = Process()
            process.executableURL = executable
            process.arguments = ["alerts", "tail", "--url", live.httpBase, "--no-color"]
            process.environment = ProcessInfo.processInfo.environment.merging([
                "TELEMETRYHUB_TOKEN": try await live.token(.viewer)
            ]) { $1 }
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            let lines = Mutex<[String]>([])
            let reader = Thread {
                var pending = Data()
                while true {
                    let chunk = output.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        pending.removeSubrange(pending.startIndex...newline)
                        lines.withLock { $0.append(line) }
                    }
                }
            }
            reader.start()

            // The alert already firing comes first.
            #expect(
                try await live.eventually(10) {
                    lines.withLock { $0.contains { $0.contains("firing") && $0.contains("thermo-1/temp") } }
                }, "\(lines.withLock { $0 })")
            // Then a new crossing and its resolution, each on its own line with value vs threshold and the rule.
            try await AlertLiveTests.send(live, "thermo-2", #"{"temp":31.5}"#)
            #expect(
                try await live.eventually(10) {
                    lines.withLock { $0.contains { $0.contains("firing") && $0.contains("thermo-2/temp") } }
                }, "\(lines.withLock { $0 })")
            try await AlertLiveTests.send(live, "thermo-2", #"{"temp":20}"#)
            #expect(
                try await live.eventually(10) {
                    lines.withLock { $0.contains { $0.contains("resolved") && $0.contains("thermo-2/temp") } }
                }, "\(lines.withLock { $0 })")
            let all = lines.withLock { $0 }
            let firing = try #require(all.first { $0.contains("firing") && $0.contains("thermo-2/temp") })
            #expect(firing.contains("critical"))
            #expect(firing.contains("31.5 > 30"))
            #expect(firing.contains("hot"))
            #expect(!firing.contains("\u{1B}["), "no colour codes with --no-color")
            process.terminate()
        }
    }

    @Test func rulesApplyReportsEachBadFieldAndChangesNothing() async throws {
        let folder = NSTemporaryDirectory() + "telemetryhub-rules-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let good = folder + "/good.json"
        let bad = folder + "/bad.json"
        try Data(#"{"rules":[{"id":"hot","match":"thermo-*/temp","when":{"op":">","value":30}}]}"#.utf8)
            .write(to: URL(fileURLWithPath: good))
        try Data(
            #"{"rules":[{"id":"cold","match":"thermo-*/temp","when":{"op":"<<","value":5}},{"id":"x","when":{"op":">","value":1}}]}"#
                .utf8
        )
        .write(to: URL(fileURLWithPath: bad))
        try await LiveHub.run { live in
            let token = ["TELEMETRYHUB_TOKEN": try await live.token(.admin)]
            let (status, out, err) = try await Self.run(
                ["rules", "apply", good, "--url", live.httpBase], environment: token)
            #expect(status == 0, "\(out)\(err)")
            #expect(live.hub.alertRules.map(\.id) == ["hot"])

            let (badStatus, badOut, badErr) = try await Self.run(
                ["rules", "apply", bad, "--url", live.httpBase], environment: token)
            #expect(badStatus == 1)
            #expect(badErr.contains("rules[0].when.op"), "\(badOut)\(badErr)")
            #expect(badErr.contains("rules[1].match"), "\(badOut)\(badErr)")
            #expect(live.hub.alertRules.map(\.id) == ["hot"])

            let (listStatus, listed, _) = try await Self.run(
                ["rules", "list", "--url", live.httpBase], environment: token)
            #expect(listStatus == 0)
            #expect(listed.contains("hot"))
            let (deleteStatus, _, _) = try await Self.run(
                ["rules", "delete", "hot", "--url", live.httpBase], environment: token)
            #expect(deleteStatus == 0)
            #expect(live.hub.alertRules.isEmpty)
        }
    }

    @Test func serveRefusesABrokenRuleFileNamingTheField() async throws {
        let folder = NSTemporaryDirectory() + "telemetryhub-serve-rules-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/rules.json"
        try Data(
            #"{"rules":[{"id":"hot","match":"thermo-*/temp","when":{"op":">","value":30},"severity":"loud"}]}"#.utf8
        )
        .write(to: URL(fileURLWithPath: file))
        let (status, out, err) = try await Self.run([
            "serve", "--port", "0", "--storage", "memory", "--no-auth", "--data-dir", folder, "--rules", file,
        ])
        #expect(status == 1)
        #expect(err.contains("rules[0].severity"), "\(out)\(err)")
        #expect(!out.contains("listening"))
    }
}
