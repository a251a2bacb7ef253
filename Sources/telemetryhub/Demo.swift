import ArgumentParser
import Foundation
import HubClient
import HubCore
import HubServer
import Logging
import ServiceLifecycle

/// `telemetryhub demo`: the hub plus simulated devices in one process (what `make run` starts).
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the hub with simulated devices attached and print the URLs and tokens to use it.")

    @OptionGroup var hub: HubOptions
    @Option(help: "Number of simulated devices.")
    var devices: Int = 20
    @Option(help: "Profile file or folder for the simulated devices.")
    var profiles: String = "Devices"
    @Option(help: "Telemetry messages per second per simulated device.")
    var rate: Double = 1
    @OptionGroup var logging: LoggingOptions

    /// The demo's alert rules, used unless `--rules` names others.
    static let defaultRules = "Devices/rules/demo-alerts.json"

    func validate() throws {
        guard (0...100_000).contains(devices) else { throw ValidationError("--devices must be 0 to 100000") }
        guard rate > 0, rate <= 100_000 else { throw ValidationError("--rate must be above 0 and at most 100000") }
    }

    func run() async throws {
        var configuration = try hub.configuration()
        if configuration.alerts.rulesFile.isEmpty, FileManager.default.fileExists(atPath: Self.defaultRules) {
            configuration.alerts.rulesFile = Self.defaultRules
        }
        let logger = try logging.makeLogger(label: "telemetryhub")
        let deviceProfiles: [DeviceProfile]
        do { deviceProfiles = try ProfileLoader.load(path: profiles) } catch { throw CLIError(message: "\(error)") }
        if !configuration.auth.enabled { warnNoAuth() }
        let state = try await makeHub(configuration, logger: logger)

        var tokens: (viewer: String, operator: String, device: String)?
        if configuration.auth.enabled {
            let authority = try await TokenAuthority(configuration: configuration)
            tokens = (
                try await authority.issue(role: .viewer, subject: "demo-viewer", ttl: 86_400),
                try await authority.issue(role: .operator, subject: "demo-operator", ttl: 86_400),
                try await authority.issue(role: .device, subject: "demo-simulator", ttl: 30 * 86_400)
            )
            for (name, token) in [("viewer", tokens!.viewer), ("operator", tokens!.operator)] {
                let path = (configuration.dataDir as NSString).appendingPathComponent("\(name).token")
                _ = FileManager.default.createFile(
                    atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
            }
        }

        let issued = tokens
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let host = configuration.host
        let dataDir = configuration.dataDir
        let rulesFile = configuration.alerts.rulesFile
        let kinds = deviceProfiles.map(\.kind).joined(separator: ", ")
        let deviceCount = devices
        let app = HubApplication.makeApplication(hub: state) { port in
            let base = "http://\(host):\(port)"
            var lines = [
                "",
                "TelemetryHub is running (ready \(Int(millisecondsSinceStart())) ms after start)",
                "  dashboard : \(base)/" + (issued.map { "?token=\($0.viewer)" } ?? ""),
                "  health    : \(base)/healthz",
            ]
            if let tokens = issued {
                lines += [
                    "  viewer token   (\(dataDir)/viewer.token)  : \(tokens.viewer)",
                    "  operator token (\(dataDir)/operator.token): \(tokens.operator)",
                    "  try: curl -H \"Authorization: Bearer $(cat \(dataDir)/operator.token)\" \(base)/api/devices",
                    "       curl -H \"Authorization: Bearer $(cat \(dataDir)/viewer.token)\" '\(base)/api/series?match=*/temp'",
                ]
            } else {
                lines.append("  try: curl \(base)/api/devices")
            }
            if !rulesFile.isEmpty {
                let token = issued == nil ? "" : "TELEMETRYHUB_TOKEN=$(cat \(dataDir)/viewer.token) "
                lines += [
                    "  alert rules: \(rulesFile) (\(state.alertRules.count) rules; edit it and send SIGHUP to reload)",
                    "  tail alerts: \(token).build/debug/telemetryhub alerts tail --url \(base)",
                ]
            }
            let operatorToken = issued == nil ? "" : "TELEMETRYHUB_TOKEN=$(cat \(dataDir)/operator.token) "
            lines += [
                "  send a command: \(operatorToken).build/debug/telemetryhub send --room kind:thermostat setpoint value=21 --url \(base)",
                "  simulating \(deviceCount) devices (\(kinds)); Ctrl-C stops everything", "",
            ]
            say(lines.joined(separator: "\n"))
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let simulationOptions = SimulationOptions(
            token: tokens?.device, profiles: deviceProfiles, count: devices, rate: rate, jitter: 0.2, seed: 42)
        let simulator = SimulatorService(options: simulationOptions, host: host, ports: ports, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: try HubApplication.services(
                    hub: state, app: app,
                    extra: [simulator] + bridgeServices(configuration, hub: state, logger: logger)
                ).map {
                    .init(service: $0)
                },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Runs a simulation once the hub listens; stops on graceful shutdown.
struct SimulatorService: Service {
    let options: SimulationOptions
    let host: String
    let ports: AsyncStream<Int>
    let logger: Logger

    func run() async throws {
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { return }
        var options = options
        options.url = "ws://\(host):\(port)"
        let simulation = Simulation(options: options, logger: logger)
        let logger = logger
        await cancelWhenGracefulShutdown {
            await simulation.run { line in
                let seconds = Int(Date().timeIntervalSince1970)
                if seconds % 30 == 0 { logger.info("simulator: \(line)") }
            }
        }
    }
}
