/// The MQTT bridge's settings: the hub configuration's `mqtt` block (snake_case keys) and `serve --mqtt…`.
/// Every field has a default; an empty `url` leaves the bridge off.
public struct MQTTConfiguration: Codable, Sendable, Equatable {
    /// The broker, `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (TLS, default port 8883);
    /// empty: no bridge (default).
    public var url = ""
    /// The user name the hub logs in with (empty: none).
    public var username = ""
    /// A file holding the password (its first line). The `TELEMETRYHUB_MQTT_PASSWORD` environment variable wins.
    public var passwordFile = ""
    /// The hub's client id. Empty (default): a stable id generated once and kept in `<data_dir>/mqtt-client-id`,
    /// so the broker keeps the hub's session (subscriptions, queued QoS 1 messages) across restarts.
    public var clientId = ""
    /// The topic prefix (default `telemetryhub/`).
    public var topicPrefix = "telemetryhub/"
    /// Seconds between keepalive pings (default 30; at least 5).
    public var keepaliveSeconds = 30
    /// An online MQTT device that sends nothing for this long goes offline with reason `inactive` (default 10 min;
    /// 0 turns it off).
    public var inactivityMs: Int64 = 600_000
    /// TLS: the CA certificates to trust (a file); with `mqtts://` and no file, the system's (`/etc/ssl/certs`).
    public var caFile = ""
    /// TLS: a client certificate and its key, for brokers that require one.
    public var certFile = ""
    public var keyFile = ""
    /// Reconnect back-off: from this many seconds, doubling up to `reconnect_max_seconds` (defaults 1 and 30).
    public var reconnectMinSeconds = 1
    public var reconnectMaxSeconds = 30

    /// Creates the default configuration (bridge off).
    public init() {}

    /// Whether a broker is configured.
    public var enabled: Bool { !url.isEmpty }

    /// What is wrong with the settings, one line per field (empty when they can be used).
    public func problems() -> [String] {
        guard enabled else { return [] }
        var problems: [String] = []
        do { _ = try MQTTEndpoint(url: url) } catch { problems.append("mqtt.url: \(error.message)") }
        if keepaliveSeconds < 5 || keepaliveSeconds > 65_535 {
            problems.append("mqtt.keepalive_seconds: must be 5 to 65535")
        }
        if inactivityMs != 0 && !(1_000...31_536_000_000).contains(inactivityMs) {
            problems.append("mqtt.inactivity_ms: must be 0 (off) or 1000 to 31536000000")
        }
        if !(1...3_600).contains(reconnectMinSeconds) {
            problems.append("mqtt.reconnect_min_seconds: must be 1 to 3600")
        }
        if !(reconnectMinSeconds...3_600).contains(reconnectMaxSeconds) {
            problems.append("mqtt.reconnect_max_seconds: must be reconnect_min_seconds to 3600")
        }
        if topicPrefix.contains("+") || topicPrefix.contains("#") {
            problems.append("mqtt.topic_prefix: must not contain MQTT wildcards (+ or #)")
        }
        if !clientId.isEmpty && (clientId.utf8.count > 65_535 || clientId.contains(where: \.isNewline)) {
            problems.append("mqtt.client_id: must be one line")
        }
        if certFile.isEmpty != keyFile.isEmpty { problems.append("mqtt.cert_file and mqtt.key_file go together") }
        if username.isEmpty && !passwordFile.isEmpty { problems.append("mqtt.password_file needs mqtt.username") }
        return problems
    }
}

/// A broker address parsed from `mqtt://host[:port]` or `mqtts://host[:port]`.
public struct MQTTEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// `mqtts://`: connect with TLS.
    public var tls: Bool

    /// Parses `url`.
    ///
    /// - Throws: ``ProtocolError`` `invalid_message` naming what is wrong.
    public init(url: String) throws(ProtocolError) {
        let tls: Bool
        let rest: Substring
        if url.hasPrefix("mqtt://") {
            tls = false
            rest = url.dropFirst("mqtt://".count)
        } else if url.hasPrefix("mqtts://") {
            tls = true
            rest = url.dropFirst("mqtts://".count)
        } else {
            throw .invalidMessage("'\(url)' must start with mqtt:// or mqtts://")
        }
        var authority = rest
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains("/"), !authority.contains("?") else {
            throw .invalidMessage("'\(url)' must be mqtt://host[:port] with no path")
        }
        guard !authority.contains("@") else {
            throw .invalidMessage("put credentials in the username and password settings, not in the URL")
        }
        var host = String(authority)
        var port = tls ? 8883 : 1883
        if authority.hasPrefix("[") {
            // [v6]:port
            guard let close = authority.firstIndex(of: "]") else { throw .invalidMessage("'\(url)': unclosed [") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidMessage("'\(url)': bad port") }
                port = try Self.port(after.dropFirst(), url: url)
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard !host.contains(":") else {
                throw .invalidMessage("'\(url)': put an IPv6 address in brackets, as in mqtt://[::1]:1883")
            }
            port = try Self.port(authority[authority.index(after: colon)...], url: url)
        }
        guard !host.isEmpty else { throw .invalidMessage("'\(url)' names no host") }
        guard (1...65_535).contains(port) else { throw .invalidMessage("'\(url)': the port must be 1 to 65535") }
        self.host = host
        self.port = port
        self.tls = tls
    }

    private static func port(_ text: Substring, url: String) throws(ProtocolError) -> Int {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(text)
        else { throw .invalidMessage("'\(url)': the port must be a number") }
        return number
    }

    /// The URL form, `mqtt://host:port`.
    public var url: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "\(tls ? "mqtts" : "mqtt")://\(shown):\(port)"
    }
}
