import ArgumentParser
import HubServer

/// The `telemetryhub` command line.
struct TelemetryHubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telemetryhub",
        abstract: "A real-time metrics and IoT telemetry hub.",
        version: TelemetryHubVersion.current,
        subcommands: [
            Serve.self, Simulate.self, Watch.self, TokenCommand.self, Demo.self, DatabaseCommand.self, Bench.self,
            AlertsCommand.self, RulesCommand.self, SendCommand.self, RoomsCommand.self, CommandsCommand.self,
        ]
    )

    /// Parses the arguments and runs the chosen command.
    static func start() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
