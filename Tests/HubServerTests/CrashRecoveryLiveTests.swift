import Foundation
import HubCore
import HubServer
import Synchronization
import Testing

/// Kills a real `telemetryhub serve` process with SIGKILL while a device streams acknowledged telemetry, restarts
/// it on the same data directory, and looks for every acknowledged sample.
@Suite("Crash recovery (SIGKILL) of the built hub")
struct CrashRecoveryLiveTests {
    /// A `telemetryhub serve` child process on a free port.
    final class HubProcess: Sendable {
        let process: Process
        let port: Int

        init(executable: URL, dataDir: String, config: String) async throws {
            let process = Process()
            process.executableURL = executable
            process.arguments = [
                "serve", "--port", "0", "--data-dir", dataDir, "--config", config, "--log-level", "warning",
            ]
            var environment = ProcessInfo.processInfo.environment
            environment["TELEMETRYHUB_SECRET"] = LiveHub.secret
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let line = await RawSocket.offPool { () -> String in
                var text = ""
                while !text.contains("\n") {
                    let chunk = output.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                return text
            }
            guard let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                let port = Int(line[range].split(separator: ":").last ?? "")
            else {
                process.terminate()
                throw TestFailure("the hub did not say where it listens: \(line)")
            }
            self.process = process
            self.port = port
        }

        func kill() async {
            Foundation.kill(process.processIdentifier, SIGKILL)
            await RawSocket.offPool { self.process.waitUntilExit() }
        }

        func stop() async {
            process.interrupt()
            await RawSocket.offPool { self.process.waitUntilExit() }
        }
    }

    @Test func everyAcknowledgedSampleSurvivesSIGKILL() async throws {
        let executable = try #require(
            SimulateCommandLiveTests.executable, "build the telemetryhub executable first (swift build)")
        let directory = NSTemporaryDirectory() + "telemetryhub-crash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/config.json"
        // Short flushes and small chunks, so the kill lands with samples both sealed and staged.
        try Data(#"{"storage":{"flush_interval_ms":100,"chunk_max_samples":50},"store":{"ring_capacity":200}}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let authority = await TokenAuthority(secret: LiveHub.secret)
        let token = try await authority.issue(role: .device, subject: "test", devicePattern: "crash-*", ttl: 600)
        let viewer = try await authority.issue(role: .viewer, subject: "test", devicePattern: nil, ttl: 600)

        let first = try await HubProcess(executable: executable, dataDir: directory, config: config)
        let socket = try await TestSocket.connect("ws://127.0.0.1:\(first.port)/ws/device", token: token)
        _ = try await socket.request(#"{"type":"register","id":"r","device":"crash-1"}"#)
        let base: Int64 = 1_700_000_000_000
        let acked = Mutex<Set<Int64>>([])
        let receiver = Task {
            while let text = await socket.receive(timeout: .seconds(3)) {
                guard let reply = try? JSONParser.parse(text), reply["type"] == .string("ack"),
                    let id = reply["id"]?.numberValue
                else { continue }
                _ = acked.withLock { $0.insert(Int64(id)) }
            }
        }
        // Stream for about 1.5 s (many commits), then kill the hub while still sending.
        var sent: Int64 = 0
        let started = ContinuousClock.now
        while started.duration(to: .now) < .milliseconds(1_500) {
            for _ in 0..<20 {
                try await socket.send(
                    #"{"type":"telemetry","id":\#(sent),"ts":\#(base + sent * 100),"metrics":{"v":\#(Double(sent) / 4)}}"#
                )
                sent += 1
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        await first.kill()
        await receiver.value
        await socket.close()
        let acknowledged = acked.withLock { $0 }
        #expect(acknowledged.count > 100, "only \(acknowledged.count) of \(sent) acknowledged before the kill")

        let second = try await HubProcess(executable: executable, dataDir: directory, config: config)
        let http = HTTPTester(base: "http://127.0.0.1:\(second.port)", token: viewer)
        // The ring is warm at once: the newest acknowledged sample is there without touching the disk.
        let device = try await http.device("crash-1")
        let latest = device?["metrics"]?["v"]
        let newestAcked = try #require(acknowledged.max())
        if case .array(let pair)? = latest, let ts = pair.first?.numberValue {
            #expect(Int64(ts) >= base + newestAcked * 100)
        } else {
            Issue.record("no latest value for crash-1/v after restart: \(String(describing: latest))")
        }
        let reply = try await http.get("/api/series/crash-1/v?from=0&limit=1000000")
        guard case .array(let items)? = reply.json?["points"] else { throw TestFailure("no points: \(reply.body)") }
        var found: [Int64: Double] = [:]
        for item in items {
            guard case .array(let pair) = item, let ts = pair.first?.numberValue, let value = pair.last?.numberValue
            else { continue }
            found[(Int64(ts) - base) / 100] = value
        }
        let missing = acknowledged.filter { found[$0] != Double($0) / 4 }
        #expect(missing.isEmpty, "\(missing.count) acknowledged samples lost, e.g. \(missing.sorted().prefix(5))")
        await second.stop()
        #expect(second.process.terminationStatus == 0)
    }
}
