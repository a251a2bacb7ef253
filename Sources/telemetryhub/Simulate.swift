import ArgumentParser
import Foundation
import HubClient
import HubCore
import HubMQTT
import Logging
import UnixSignals

/// `telemetryhub simulate`: attaches simulated devices to a hub.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach simulated devices from a profile to a hub, over WebSocket or through an MQTT broker.")

    @Option(help: "A profile file, or a folder of them (devices are spread over its profiles).")
    var profile: String = "Devices"
    @Option(help: "Number of devices.")
    var count: Int = 10
    @Option(help: "Telemetry messages per second per device (0: connect and stay idle).")
    var rate: Double = 1
    @Option(help: "Relative jitter of the send interval, 0 to 0.9.")
    var jitter: Double = 0.1
    @Option(help: "Seed for repeatable signals, jitter and backoff.")
    var seed: UInt64 = 1
    @Option(help: "Messages per frame; more than 1 sends JSON array batches.")
    var batch: Int = 1
    @Option(help: "Index of the first device (to run disjoint fleets from several processes).")
    var startIndex: Int = 0
    @Option(help: "How devices connect: ws (the hub's WebSocket endpoint) or mqtt (through --broker).")
    var via: Transport = .ws
    @Option(help: "Hub WebSocket base URL (--via ws).")
    var url: String = "ws://127.0.0.1:8080"
    @Option(help: "MQTT broker (--via mqtt): mqtt://host[:port] or mqtts://host[:port].")
    var broker: String = "mqtt://127.0.0.1:1883"
    @Option(name: .customLong("mqtt-username"), help: "User name on the broker (--via mqtt).")
    var mqttUsername: String?
    @Option(
        name: .customLong("mqtt-password-file"),
        help: "File whose first line is the broker password (or set TELEMETRYHUB_MQTT_PASSWORD).")
    var mqttPasswordFile: String?
    @Option(name: .customLong("mqtt-prefix"), help: "Topic prefix (--via mqtt).")
    var mqttPrefix: String = "telemetryhub/"
    @Option(name: .customLong("mqtt-ca-file"), help: "TLS: CA certificates to trust (mqtts:// uses the system's).")
    var mqttCAFile: String?
    @Option(help: "Device token (or set TELEMETRYHUB_TOKEN); not needed when the hub runs with --no-auth.")
    var token: String?
    @Option(help: "Stop after this long, e.g. 30s (default: run until interrupted).")
    var duration: String?
    @Flag(help: "Print no progress lines, only the final summary.")
    var quiet = false
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1 to 100000") }
        guard startIndex >= 0, startIndex <= 1_000_000_000 else {
            throw ValidationError("--start-index must be 0 to 1000000000")
        }
        guard rate >= 0, rate <= 100_000 else { throw ValidationError("--rate must be between 0 and 100000") }
        guard (0..<1).contains(jitter) else { throw ValidationError("--jitter must be in [0, 1)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard url.hasPrefix("ws://") || url.hasPrefix("wss://") else {
            throw ValidationError("--url must start with ws:// or wss://")
        }
        if via == .mqtt {
            do { _ = try MQTTEndpoint(url: broker) } catch { throw ValidationError("--broker: \(error.message)") }
            guard count <= 5_000 else { throw ValidationError("--via mqtt runs at most 5000 devices per process") }
            guard batch == 1 else { throw ValidationError("--batch applies to --via ws only") }
        }
    }

    static func progressPrinter(interactive: Bool) -> @Sendable (String) -> Void {
        { line in
            let text: String = interactive ? "\r\u{1B}[K" + line : line + "\n"
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Devices connect by WebSocket or MQTT.
    enum Transport: String, ExpressibleByArgument, CaseIterable {
        case ws, mqtt
    }

    /// The MQTT settings, with `--via mqtt`.
    func mqttSimulation() throws -> MQTTSimulation? {
        guard via == .mqtt else { return nil }
        let password: String?
        do {
            password = try MQTTPassword.resolve(
                file: mqttPasswordFile, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CLIError(message: error.message)
        }
        return MQTTSimulation(
            endpoint: try MQTTEndpoint(url: broker), username: mqttUsername, password: password, caFile: mqttCAFile,
            prefix: mqttPrefix)
    }

    func run() async throws {
        var logger = try logging.makeLogger(label: "telemetryhub.simulate")
        if logger.logLevel == .info { logger.logLevel = .warning }
        let profiles: [DeviceProfile]
        do { profiles = try ProfileLoader.load(path: profile) } catch { throw CLIError(message: "\(error)") }
        let seconds = try duration.map { try durationSeconds($0, option: "--duration") }
        let options = SimulationOptions(
            url: url.hasSuffix("/") ? String(url.dropLast()) : url, token: tokenFromEnvironment(token),
            profiles: profiles, count: count, startIndex: startIndex, rate: rate, jitter: jitter, seed: seed,
            batch: batch, durationSeconds: seconds, mqtt: try mqttSimulation())
        let simulation = Simulation(options: options, logger: logger)
        let interactive = isatty(STDERR_FILENO) == 1
        let started = ContinuousClock.now
        let signals = SignalStopper()
        let progress: (@Sendable (String) -> Void)? = quiet ? nil : Self.progressPrinter(interactive: interactive)
        await signals.run {
            await simulation.run(progress: progress)
        }
        let final = simulation.stats.snapshot
        let elapsed = started.duration(to: .now)
        let elapsedSeconds = elapsed.inSeconds
        if interactive && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        say(
            "simulated \(count) devices for \(String(format: "%.1f", elapsedSeconds)) s: \(final.everConnected) connected, "
                + "\(final.samplesSent) samples (\(Int(Double(final.samplesSent) / max(elapsedSeconds, 0.001)))/s), "
                + "\(final.errors) errors, \(final.reconnects) reconnects, \(final.commandsAnswered) commands answered")
    }
}

/// Runs work until it finishes or SIGINT/SIGTERM arrives.
struct SignalStopper {
    func run(_ work: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await work() }
            group.addTask {
                await SignalStopper.waitForSignal()
            }
            await group.next()
            group.cancelAll()
        }
    }

    static func waitForSignal() async {
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return }
    }
}
