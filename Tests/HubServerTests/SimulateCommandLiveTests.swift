import Foundation
import HubCore
import HubServer
import Testing

@Suite("telemetryhub simulate against a live hub")
struct SimulateCommandLiveTests {
    /// The built `telemetryhub` executable next to the test bundle's build products.
    static var executable: URL? {
        if let path = ProcessInfo.processInfo.environment["TELEMETRYHUB_BIN"] { return URL(fileURLWithPath: path) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for configuration in ["debug", "release"] {
            let candidate = root.appendingPathComponent(".build/\(configuration)/telemetryhub")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    static var devicesFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Devices").path
    }

    @Test func fiftyDevicesForThreeSecondsAreAllSeen() async throws {
        let executable = try #require(Self.executable, "build the telemetryhub executable first (swift build)")
        try await LiveHub.run { live in
            let process = Process()
            process.executableURL = executable
            process.arguments = [
                "simulate", "--profile", Self.devicesFolder, "--count", "50", "--rate", "5", "--duration", "3s",
                "--url", live.wsBase, "--token", try await live.token(.device),
            ]
            let output = Pipe()
            process.standardOutput = output
            let progress = Pipe()
            process.standardError = progress
            try process.run()
            let summary = await RawSocket.offPool {
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                return text
            }
            #expect(process.terminationStatus == 0)
            let lines = String(decoding: progress.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(summary.contains("50 connected"), "\(summary)\n\(lines)")
            #expect(summary.contains(" 0 errors"), "\(summary)\n\(lines)")
            let devices = try await live.http(.viewer).get("/api/devices")
            guard case .array(let list)? = devices.json?["devices"] else { throw TestFailure("no device list") }
            #expect(list.count == 50)
            #expect(list.allSatisfy { ($0["series"]?.numberValue ?? 0) == 4 })
            let kinds = Set(list.compactMap { $0["kind"]?.stringValue })
            #expect(kinds == ["thermostat", "power-meter", "air-quality"])
            // The processes ended, so every device went offline with reason closed.
            #expect(
                try await live.eventually {
                    let now = try await live.http(.viewer).get("/api/devices").json?["devices"]
                    guard case .array(let list)? = now else { return false }
                    return list.allSatisfy { $0["state"] == .string("offline") }
                })
        }
    }

    @Test func badArgumentsExitNonZeroWithAMessage() async throws {
        let executable = try #require(Self.executable)
        for arguments in [
            ["simulate", "--count", "0"], ["simulate", "--profile", "/nonexistent"],
            ["token", "create", "--role", "king"],
        ] {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = await RawSocket.offPool {
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                return text
            }
            #expect(process.terminationStatus != 0, "\(arguments)")
            #expect(text.lowercased().contains("error"), "\(arguments): \(text)")
        }
    }

    @Test func tokenCreatePrintsATokenTheHubAccepts() async throws {
        let executable = try #require(Self.executable)
        let dataDir = NSTemporaryDirectory() + "telemetryhub-token-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["token", "create", "--role", "operator", "--ttl", "1h", "--data-dir", dataDir]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let token = await RawSocket.offPool {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(process.terminationStatus == 0)
        #expect(token.split(separator: ".").count == 3)
        let attributes = try FileManager.default.attributesOfItem(atPath: dataDir + "/secret")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let secret = try String(contentsOfFile: dataDir + "/secret", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let principal = try await TokenAuthority(secret: secret).verify(token)
        #expect(principal.role == .operator)
    }
}
