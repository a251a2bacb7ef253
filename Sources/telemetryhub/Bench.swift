import ArgumentParser
import Foundation
import HubClient
import HubCore
import HubServer
import Logging

/// `telemetryhub bench`: load generators that print figures (they assert nothing).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Measure the hub: ingest rate, dashboard fan-out, memory per connection, start-up time, the durable store, the MQTT bridge.",
        subcommands: [
            Ingest.self, Connections.self, Startup.self, Store.self, Fanout.self, Alerts.self, AlertLatency.self,
            Commands.self, MQTT.self,
        ])

    /// Options naming the hub to measure.
    struct Target: ParsableArguments {
        @Option(help: "Hub HTTP base URL.")
        var url: String = "http://127.0.0.1:8080"
        @Option(help: "Device token for the simulated devices (or TELEMETRYHUB_TOKEN; none with --no-auth).")
        var token: String?
        @Option(help: "Viewer token to read /metrics (none with --no-auth or open metrics).")
        var viewerToken: String?

        var webSocketURL: String {
            url.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://")
        }
        var http: HubHTTPClient { HubHTTPClient(baseURL: url, token: viewerToken) }
    }

    /// Reads the hub's process figures from `/metrics`.
    struct HubFigures {
        var cpuSeconds: Double
        var residentBytes: Double
        var samplesIngested: Double
        var samplesPersisted: Double
        var storageCPUSeconds: Double
        var openFDs: Double

        static func read(_ client: HubHTTPClient) async throws -> HubFigures {
            let reply = try await client.get("/metrics")
            guard reply.status == 200 else {
                throw CLIError(message: "GET /metrics answered \(reply.status): \(reply.text) (pass --viewer-token)")
            }
            let text = reply.text
            return HubFigures(
                cpuSeconds: HubHTTPClient.metric("process_cpu_seconds_total", in: text) ?? 0,
                residentBytes: HubHTTPClient.metric("process_resident_memory_bytes", in: text) ?? 0,
                samplesIngested: HubHTTPClient.metric("telemetryhub_samples_ingested_total", in: text) ?? 0,
                samplesPersisted: HubHTTPClient.metric("telemetryhub_samples_persisted_total", in: text) ?? 0,
                storageCPUSeconds: HubHTTPClient.metric("telemetryhub_storage_cpu_seconds_total", in: text) ?? 0,
                openFDs: HubHTTPClient.metric("process_open_fds", in: text) ?? 0)
        }
    }

    /// `bench ingest`: many devices streaming; client and hub rates, hub CPU and RSS.
    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream from simulated devices and report samples/s sent and ingested, hub CPU% and RSS.")

        @OptionGroup var target: Target
        @Option(help: "Profile file or folder.")
        var profile: String = "Devices/thermostat.json"
        @Option(help: "Simulated devices.")
        var devices: Int = 200
        @Option(help: "Messages per second per device.")
        var rate: Double = 100
        @Option(help: "Messages per frame.")
        var batch: Int = 1
        @Option(help: "How long to measure, in seconds, after a 3 s warm-up.")
        var seconds: Double = 20

        func validate() throws {
            guard (1...100_000).contains(devices) else { throw ValidationError("--devices must be 1 to 100000") }
            guard rate > 0, rate <= 100_000 else { throw ValidationError("--rate must be above 0, at most 100000") }
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
            guard seconds > 0, seconds <= 86_400 else {
                throw ValidationError("--seconds must be above 0, at most 86400")
            }
        }

        func run() async throws {
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let profiles = try ProfileLoader.load(path: profile)
            let warmup = 3.0
            let options = SimulationOptions(
                url: target.webSocketURL, token: tokenFromEnvironment(target.token), profiles: profiles,
                count: devices, rate: rate, jitter: 0, batch: batch, rampMs: 1)
            let simulation = Simulation(options: options, logger: logger)
            let run = Task { await simulation.run() }
            try await Task.sleep(for: .seconds(warmup))
            let clientBefore = simulation.stats.snapshot
            let hubBefore = try await HubFigures.read(target.http)
            let started = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(Int(seconds * 1_000)))
            let clientAfter = simulation.stats.snapshot
            let hubAfter = try await HubFigures.read(target.http)
            let elapsed = started.duration(to: .now)
            let wall = elapsed.inSeconds
            run.cancel()
            await run.value
            let sent = Double(clientAfter.samplesSent - clientBefore.samplesSent) / wall
            let ingested = (hubAfter.samplesIngested - hubBefore.samplesIngested) / wall
            let cpu = (hubAfter.cpuSeconds - hubBefore.cpuSeconds) / wall * 100
            let persisted = (hubAfter.samplesPersisted - hubBefore.samplesPersisted) / wall
            let storageCPU = (hubAfter.storageCPUSeconds - hubBefore.storageCPUSeconds) / wall * 100
            say(
                """
                bench ingest: \(devices) devices x \(rate) msg/s x \(profiles[0].metrics.count) metrics, \(batch) msg/frame, \(String(format: "%.1f", wall)) s measured
                  devices connected : \(clientAfter.connected)/\(devices)
                  client sent       : \(Int(sent)) samples/s (\(Int(Double(clientAfter.messagesSent - clientBefore.messagesSent) / wall)) msg/s)
                  hub ingested      : \(Int(ingested)) samples/s
                  hub persisted     : \(Int(persisted)) samples/s
                  write-behind CPU  : \(String(format: "%.1f", storageCPU)) % of one core
                  hub CPU           : \(String(format: "%.0f", cpu)) % of one core
                  hub RSS           : \(String(format: "%.1f", hubAfter.residentBytes / 1_048_576)) MiB
                  errors            : \(clientAfter.errors - clientBefore.errors)\(clientAfter.lastError.map { " (last: \($0))" } ?? "")
                """)
        }
    }

    /// `bench connections`: idle registered devices; RSS per connection.
    struct Connections: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open idle registered device sessions and report the hub's RSS per connection.")

        @OptionGroup var target: Target
        @Option(help: "Connections to open.")
        var count: Int = 1_000
        @Option(help: "Seconds to hold them before measuring.")
        var hold: Double = 5

        func validate() throws {
            guard (1...19_000).contains(count) else { throw ValidationError("--count must be 1 to 19000") }
            guard hold >= 0, hold <= 86_400 else { throw ValidationError("--hold must be 0 to 86400") }
        }

        func run() async throws {
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let profile = DeviceProfile(
                kind: "idle", idPrefix: "idle", metrics: [.init(name: "v", min: 0, max: 1, shape: .constant)])
            let before = try await HubFigures.read(target.http)
            let options = SimulationOptions(
                url: target.webSocketURL, token: tokenFromEnvironment(target.token), profiles: [profile], count: count,
                rate: 0, rampMs: 1)
            let simulation = Simulation(options: options, logger: logger)
            let run = Task { await simulation.run() }
            let deadline = ContinuousClock.now + .seconds(60)
            while simulation.stats.snapshot.connected < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            try await Task.sleep(for: .milliseconds(Int(hold * 1_000)))
            let connected = simulation.stats.snapshot.connected
            let after = try await HubFigures.read(target.http)
            run.cancel()
            await run.value
            let perConnection = (after.residentBytes - before.residentBytes) / Double(max(connected, 1))
            say(
                """
                bench connections: \(connected)/\(count) idle device sessions held \(hold) s
                  hub RSS before : \(String(format: "%.1f", before.residentBytes / 1_048_576)) MiB
                  hub RSS after  : \(String(format: "%.1f", after.residentBytes / 1_048_576)) MiB
                  per connection : \(String(format: "%.1f", perConnection / 1_024)) KiB
                  hub open fds   : \(Int(after.openFDs))
                """)
        }
    }

    /// `bench startup`: time from launching `serve` to listening.
    struct Startup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch `telemetryhub serve` repeatedly and time process start to listening socket.")

        @Option(help: "Number of launches.")
        var runs: Int = 5
        @Option(help: "Start on this data directory (e.g. one filled by `bench store --keep`) instead of an empty one.")
        var dataDir: String?

        func validate() throws {
            guard (1...1_000).contains(runs) else { throw ValidationError("--runs must be 1 to 1000") }
        }

        func run() async throws {
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            var times: [Double] = []
            for _ in 0..<runs {
                let fresh = NSTemporaryDirectory() + "telemetryhub-bench-\(UUID().uuidString)"
                let dataDir = self.dataDir ?? fresh
                defer { if self.dataDir == nil { try? FileManager.default.removeItem(atPath: fresh) } }
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["serve", "--port", "0", "--data-dir", dataDir, "--log-level", "error"]
                let output = Pipe()
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                let started = ContinuousClock.now
                try process.run()
                var buffer = Data()
                while !String(decoding: buffer, as: UTF8.self).contains("listening on") {
                    let chunk = output.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    buffer.append(chunk)
                }
                let elapsed = started.duration(to: .now)
                process.interrupt()
                process.waitUntilExit()
                times.append(elapsed.inMilliseconds)
            }
            times.sort()
            say(
                "bench startup: \(runs) launches of `serve`, launch to listening: min \(String(format: "%.1f", times.first!)) ms, median \(String(format: "%.1f", times[times.count / 2])) ms, max \(String(format: "%.1f", times.last!)) ms"
            )
        }
    }
}
