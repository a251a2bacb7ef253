import ArgumentParser
import HubCore
import HubMQTT
import HubServer
import Logging
import ServiceLifecycle

/// `serve --mqtt …`: the MQTT bridge's options (they override the configuration file's `mqtt` block).
struct MQTTOptions: ParsableArguments {
    @Option(name: .customLong("mqtt"), help: "Bridge MQTT devices from this broker: mqtt://host[:port] or mqtts://….")
    var url: String?
    @Option(name: .customLong("mqtt-username"), help: "User name on the broker.")
    var username: String?
    @Option(
        name: .customLong("mqtt-password-file"),
        help: "File whose first line is the broker password (or set TELEMETRYHUB_MQTT_PASSWORD).")
    var passwordFile: String?
    @Option(
        name: .customLong("mqtt-client-id"),
        help: "The hub's client id (default: generated once and kept in <data-dir>/mqtt-client-id).")
    var clientID: String?
    @Option(name: .customLong("mqtt-prefix"), help: "Topic prefix (default telemetryhub/).")
    var prefix: String?
    @Option(name: .customLong("mqtt-keepalive"), help: "Keepalive interval, e.g. 30s (at least 5s).")
    var keepalive: String?
    @Option(
        name: .customLong("mqtt-inactivity"),
        help: "An MQTT device silent this long goes offline (reason inactive), e.g. 10m; 0 turns it off.")
    var inactivity: String?
    @Option(name: .customLong("mqtt-ca-file"), help: "TLS: CA certificates to trust (mqtts:// uses the system's).")
    var caFile: String?
    @Option(name: .customLong("mqtt-cert-file"), help: "TLS: client certificate.")
    var certFile: String?
    @Option(name: .customLong("mqtt-key-file"), help: "TLS: client key.")
    var keyFile: String?

    /// Lays the options over `configuration`.
    func apply(to configuration: inout MQTTConfiguration) throws {
        if let url { configuration.url = url }
        if let username { configuration.username = username }
        if let passwordFile { configuration.passwordFile = passwordFile }
        if let clientID { configuration.clientId = clientID }
        if let prefix { configuration.topicPrefix = prefix }
        if let keepalive {
            configuration.keepaliveSeconds = Int(try durationSeconds(keepalive, option: "--mqtt-keepalive").rounded())
        }
        if let inactivity {
            configuration.inactivityMs = Int64(try durationSeconds(inactivity, option: "--mqtt-inactivity") * 1_000)
        }
        if let caFile { configuration.caFile = caFile }
        if let certFile { configuration.certFile = certFile }
        if let keyFile { configuration.keyFile = keyFile }
    }
}

/// The MQTT bridge as a service of `hub`, when the configuration names a broker.
func bridgeServices(_ configuration: HubConfiguration, hub: Hub, logger: Logger) throws -> [any Service] {
    guard configuration.mqtt.enabled else { return [] }
    do {
        return [
            try MQTTBridge(
                configuration: configuration.mqtt, dataDirectory: configuration.dataDir, gateway: hub, logger: logger)
        ]
    } catch {
        throw CLIError(message: "MQTT bridge: \(error)")
    }
}
