import ArgumentParser
import HubCore
import HubServer
import Logging
import ServiceLifecycle

/// `telemetryhub serve`: runs the hub.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the hub.")

    @OptionGroup var hub: HubOptions
    @OptionGroup var logging: LoggingOptions
    @Flag(help: "Serve /ws/echo for the WebSocket conformance suite.")
    var conformanceEcho = false

    func run() async throws {
        var configuration = try hub.configuration()
        if conformanceEcho { configuration.conformanceEcho = true }
        let logger = try logging.makeLogger(label: "telemetryhub")
        if !configuration.auth.enabled { warnNoAuth() }
        let state = try await makeHub(configuration, logger: logger)
        let host = configuration.host
        let app = HubApplication.makeApplication(hub: state) { port in
            say(
                "telemetryhub listening on http://\(host):\(port) (ready \(Int(millisecondsSinceStart())) ms after start)"
            )
        }
        let group = ServiceGroup(
            configuration: .init(
                services: try HubApplication.services(
                    hub: state, app: app, extra: bridgeServices(configuration, hub: state, logger: logger)
                ).map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
