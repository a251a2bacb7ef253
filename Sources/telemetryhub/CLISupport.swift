import ArgumentParser
import Foundation
import HubClient
import HubCore
import HubSQLite
import HubServer
import Logging

/// When the process started, for "ready in … ms".
let processStart = ContinuousClock.now

/// A failure the CLI reports as `error: …` with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Common logging flags.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func makeLogger(label: String) throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// Flags shared by `serve` and `demo` that shape the hub.
struct HubOptions: ParsableArguments {
    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?
    @Option(help: "Port to listen on (default 8080; 0 picks a free port).")
    var port: Int?
    @Option(help: "Data directory (default .telemetryhub).")
    var dataDir: String?
    @Option(help: "JSON configuration file; flags given on the command line win over it.")
    var config: String?
    @Option(help: "Heartbeat interval, e.g. 15s (silent for 3 intervals means offline).")
    var heartbeat: String?
    @Flag(help: "Turn authentication off. For local experiments only: anyone can send and read.")
    var noAuth = false
    @Option(help: "Where samples are kept: sqlite (default; <data-dir>/telemetry.db) or memory (lost on exit).")
    var storage: String?
    @Option(help: "Alert rule file, loaded at start and again on SIGHUP.")
    var rules: String?
    @OptionGroup(title: "MQTT bridge") var mqtt: MQTTOptions

    func configuration() throws -> HubConfiguration {
        var configuration = HubConfiguration()
        if let config {
            do {
                configuration = try HubConfiguration.load(jsonFile: config)
            } catch {
                throw CLIError(message: "\(error)")
            }
        }
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let dataDir { configuration.dataDir = dataDir }
        if let heartbeat {
            guard let seconds = DurationText.seconds(heartbeat), seconds >= 0.01, seconds <= 86_400 else {
                throw ValidationError("--heartbeat must be a duration from 10ms to 24h, such as 15s or 500ms")
            }
            configuration.heartbeatMs = Int64(seconds * 1_000)
        }
        if noAuth { configuration.auth.enabled = false }
        if let rules { configuration.alerts.rulesFile = rules }
        if let storage {
            guard let engine = StorageEngine(rawValue: storage) else {
                throw ValidationError("--storage must be sqlite or memory")
            }
            configuration.storage.engine = engine
        }
        try mqtt.apply(to: &configuration.mqtt)
        let problems = configuration.problems()
        guard problems.isEmpty else { throw CLIError(message: problems.joined(separator: "; ")) }
        return configuration
    }
}

/// Opens the archive the configuration names.
func openArchive(_ configuration: HubConfiguration) throws -> any SampleArchive {
    do {
        return try HubStorage.open(engine: configuration.storage.engine, dataDirectory: configuration.dataDir)
    } catch {
        throw CLIError(message: "cannot open the store in \(configuration.dataDir): \(error)")
    }
}

/// Opens the alert store the configuration names (`<data-dir>/alerts.db`, or memory with `--storage memory`).
func openAlertArchive(_ configuration: HubConfiguration) throws -> any AlertArchive {
    do {
        return try HubAlertStorage.open(engine: configuration.storage.engine, dataDirectory: configuration.dataDir)
    } catch {
        throw CLIError(message: "cannot open the alert store in \(configuration.dataDir): \(error)")
    }
}

/// Opens the command store the configuration names (`<data-dir>/commands.db`, or memory with `--storage memory`).
func openCommandArchive(_ configuration: HubConfiguration) throws -> any CommandArchive {
    do {
        return try HubCommandStorage.open(engine: configuration.storage.engine, dataDirectory: configuration.dataDir)
    } catch {
        throw CLIError(message: "cannot open the command store in \(configuration.dataDir): \(error)")
    }
}

/// Creates the hub, turning a rule file's problems into a CLI error that names each bad field.
func makeHub(_ configuration: HubConfiguration, logger: Logger) async throws -> Hub {
    do {
        try DataDirectory.prepare(configuration.dataDir)
        return try await HubApplication.makeHub(
            configuration: configuration, archive: try openArchive(configuration),
            alertArchive: try openAlertArchive(configuration), commandArchive: try openCommandArchive(configuration),
            logger: logger)
    } catch let problems as RuleProblems {
        throw CLIError(
            message: "the rule file cannot be used:\n" + problems.problems.map { "  \($0)" }.joined(separator: "\n"))
    }
}

/// Prints the loud warning for `--no-auth`.
func warnNoAuth() {
    let banner = """
        ************************************************************************
        *  AUTHENTICATION IS OFF (--no-auth): anyone who can reach this hub    *
        *  can send telemetry, read every series and act as any device.        *
        *  Use it for local experiments only.                                  *
        ************************************************************************

        """
    FileHandle.standardError.write(Data(banner.utf8))
}

/// Milliseconds since the process started.
func millisecondsSinceStart() -> Double {
    processStart.duration(to: .now).inMilliseconds
}

/// Prints a line to standard output at once.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Parses a duration option.
func durationSeconds(_ text: String, option: String) throws -> Double {
    guard let seconds = DurationText.seconds(text), seconds <= 315_360_000 else {
        throw ValidationError("\(option) must be a duration up to 10 years, such as 30s, 5m, 24h or 500ms")
    }
    return seconds
}

/// The token from an option or `TELEMETRYHUB_TOKEN`.
func tokenFromEnvironment(_ option: String?) -> String? {
    if let option, !option.isEmpty { return option }
    if let token = ProcessInfo.processInfo.environment["TELEMETRYHUB_TOKEN"], !token.isEmpty { return token }
    return nil
}
