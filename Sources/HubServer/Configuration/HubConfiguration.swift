import Foundation
import HubCore

/// Everything the hub can be told at start; every field has a default.
///
/// Loaded from a JSON file (`serve --config FILE`) whose keys are the snake_case names of these fields; keys left
/// out keep their defaults, unknown keys are an error.
public struct HubConfiguration: Codable, Sendable, Equatable {
    /// Address to listen on (default `127.0.0.1`).
    public var host = "127.0.0.1"
    /// Port to listen on (default 8080; 0 picks a free port).
    public var port = 8080
    /// Where the hub keeps its secret and data (default `.telemetryhub`).
    public var dataDir = ".telemetryhub"
    /// Folder served at `/` (default `Dashboards`).
    public var dashboardsDir = "Dashboards"
    /// The system JavaScript directory served under `/vendor/` (Debian's convention; default
    /// `/usr/share/javascript`, where `libjs-dygraphs` puts dygraphs).
    public var javascriptDir = "/usr/share/javascript"
    /// Heartbeat interval announced to devices; silent for 3 of these means offline (default 15 s).
    public var heartbeatMs: Int64 = 15_000
    /// Authentication settings.
    public var auth = AuthConfiguration()
    /// Limits on connections and messages.
    public var limits = LimitsConfiguration()
    /// The in-memory series store.
    public var store = StoreConfiguration()
    /// The durable store: engine, flushing, chunks.
    public var storage = StorageConfiguration()
    /// How long each tier keeps data, size caps and per-selector overrides.
    public var retention = RetentionConfiguration()
    /// Dashboard connections: backpressure marks, slow-consumer deadline, limits, resume.
    public var dashboards = DashboardConfiguration()
    /// Alert rules: the rule file, the evaluation tick, limits and history retention.
    public var alerts = AlertConfiguration()
    /// Commands to rooms: timeouts, TTLs, per-user rate limits, queue and audit limits.
    public var commands = CommandConfiguration()
    /// The MQTT bridge: broker, credentials, TLS, client id, topic prefix, keepalive, inactivity (off by default).
    public var mqtt = MQTTConfiguration()
    /// Serve the `/ws/echo` route used by the WebSocket conformance suite (default off).
    public var conformanceEcho = false

    /// Creates the default configuration.
    public init() {}

    /// Authentication settings.
    public struct AuthConfiguration: Codable, Sendable, Equatable {
        /// Require tokens (default true). `serve --no-auth` turns this off.
        public var enabled = true
        /// Origins allowed on WebSocket upgrades besides same-origin and requests without `Origin`; `*` allows any.
        public var allowedOrigins: [String] = []
        /// Serve `/metrics` without a token (default false).
        public var metricsOpen = false
        /// The HS256 secret; when empty it is read from (or generated into) `<data_dir>/secret` with mode 0600.
        /// The `TELEMETRYHUB_SECRET` environment variable overrides both.
        public var secret = ""

        public init() {}
    }

    /// Limits; each is enforced per connection unless it says otherwise.
    public struct LimitsConfiguration: Codable, Sendable, Equatable {
        /// Largest WebSocket frame or message in bytes (default 1 MiB); larger closes with 1009.
        public var maxFrameBytes = 1 << 20
        /// Most messages in one batch frame (default 1,000).
        public var maxBatchMessages = 1_000
        /// Most samples in one telemetry message (default 10,000).
        public var maxSamplesPerMessage = 10_000
        /// Messages per second allowed on one connection (default 1,000) ...
        public var messagesPerSecond: Double = 1_000
        /// ... with bursts up to this many (default 2,000); over it a message is answered with `rate_limited`.
        public var messageBurst: Double = 2_000
        /// Most concurrent WebSocket connections on the hub (default 15,000); more get HTTP 503.
        public var maxConnections = 15_000
        /// Consecutive bad messages after which the connection is closed with 4000 (default 10).
        public var maxConsecutiveErrors = 10
        /// Largest HTTP request body in bytes (default 1 MiB).
        public var maxBodyBytes = 1 << 20
        /// Largest `meta` object a device may register, in bytes of JSON (default 4 KiB).
        public var maxMetaBytes = 4_096
        /// Most devices the hub knows (default 100,000); registering or sending for one more is `too_large`.
        public var maxDevices = 100_000
        /// Most devices one device token restricted to a pattern (by subject and pattern) may bring into the hub
        /// (default 10,000); 0 means no quota. Unrestricted device tokens, admin tokens, `--no-auth` and the MQTT
        /// bridge are not counted.
        public var maxDevicesPerToken = 10_000
        /// Most series the devices one token brought in may have in all (default 100,000); 0 means no quota.
        public var maxSeriesPerToken = 100_000
        /// Most rooms one device may declare (default 64).
        public var maxRoomsPerDevice = 64
        /// Most frames (the first and its continuations) one WebSocket message may be sent in (default 256);
        /// more closes the connection with 1009.
        public var maxFragmentsPerMessage = 256
        /// A connection must have sent a complete HTTP request head within this time of connecting (default 10 s).
        public var headerTimeoutMs: Int64 = 10_000
        /// An HTTP connection (not a WebSocket session) that sends nothing for this long is closed (default 60 s).
        public var idleTimeoutMs: Int64 = 60_000
        /// An HTTP request must arrive whole (head and body) within this time, or its connection is closed; an HTTP
        /// telemetry POST waits at most this long for its samples to be committed (default 30 s).
        public var requestTimeoutMs: Int64 = 30_000
        /// Most connections on the hub that have not yet become an authenticated WebSocket session (plain HTTP
        /// requests, and upgrades still being decided), in all (default 1,024) ...
        public var maxPendingConnections = 1_024
        /// ... and from one IP address (default 128). Over either, a new connection is closed at once.
        public var maxPendingConnectionsPerAddress = 128
        /// Offline devices not heard of for this long are forgotten: their registry record, their series in the
        /// rings and their quota (default 30 days; 0 keeps them forever; at least twice
        /// `storage.chunk_max_age_ms`, so their samples are sealed on disk by then). Stored samples stay until
        /// retention removes them; operators' room decisions stay too, for when the device comes back.
        public var deviceExpiryMs: Int64 = 30 * 86_400_000

        public init() {}
    }

    /// Problems that make the configuration unusable, as `field: problem` lines.
    public func problems() -> [String] {
        var problems: [String] = []
        if !(0...65_535).contains(port) { problems.append("port: must be 0...65535") }
        if store.ringCapacity < 1 { problems.append("store.ring_capacity: must be positive") }
        if store.maxSeriesPerDevice < 1 { problems.append("store.max_series_per_device: must be positive") }
        if limits.maxFrameBytes < 1_024 { problems.append("limits.max_frame_bytes: must be at least 1024") }
        if limits.maxBatchMessages < 1 { problems.append("limits.max_batch_messages: must be positive") }
        if limits.maxSamplesPerMessage < 1 { problems.append("limits.max_samples_per_message: must be positive") }
        if !(limits.messagesPerSecond > 0) { problems.append("limits.messages_per_second: must be positive") }
        if limits.messageBurst < 1 { problems.append("limits.message_burst: must be at least 1") }
        if limits.maxConnections < 1 { problems.append("limits.max_connections: must be positive") }
        if limits.maxConsecutiveErrors < 1 { problems.append("limits.max_consecutive_errors: must be positive") }
        if limits.maxBodyBytes < 1 { problems.append("limits.max_body_bytes: must be positive") }
        if limits.maxMetaBytes < 2 { problems.append("limits.max_meta_bytes: must be at least 2") }
        if limits.maxDevices < 1 { problems.append("limits.max_devices: must be positive") }
        if limits.maxDevicesPerToken < 0 {
            problems.append("limits.max_devices_per_token: must be 0 (no quota) or positive")
        }
        if limits.maxSeriesPerToken < 0 {
            problems.append("limits.max_series_per_token: must be 0 (no quota) or positive")
        }
        if !(1...10_000).contains(limits.maxRoomsPerDevice) {
            problems.append("limits.max_rooms_per_device: must be 1 to 10000")
        }
        if !(1...1_000_000).contains(limits.maxFragmentsPerMessage) {
            problems.append("limits.max_fragments_per_message: must be 1 to 1000000")
        }
        if !(100...3_600_000).contains(limits.headerTimeoutMs) {
            problems.append("limits.header_timeout_ms: must be 100 to 3600000")
        }
        if !(100...86_400_000).contains(limits.idleTimeoutMs) {
            problems.append("limits.idle_timeout_ms: must be 100 to 86400000")
        }
        if !(100...3_600_000).contains(limits.requestTimeoutMs) {
            problems.append("limits.request_timeout_ms: must be 100 to 3600000")
        }
        if limits.maxPendingConnections < 1 { problems.append("limits.max_pending_connections: must be positive") }
        if limits.maxPendingConnectionsPerAddress < 1 {
            problems.append("limits.max_pending_connections_per_address: must be positive")
        }
        if !(0...3_153_600_000_000).contains(limits.deviceExpiryMs) {
            problems.append("limits.device_expiry_ms: must be 0 (never) to 3153600000000 (100 years)")
        } else if limits.deviceExpiryMs > 0, limits.deviceExpiryMs < 2 * storage.chunkMaxAgeMs {
            // By then every sample of the device is sealed on disk, where history queries find it without its ring.
            problems.append("limits.device_expiry_ms: must be 0 or at least twice storage.chunk_max_age_ms")
        }
        if store.maxSeries < 0 { problems.append("store.max_series: must be 0 (sized from memory) or positive") }
        if !(0...31_536_000_000).contains(store.lateToleranceMs) {
            problems.append("store.late_tolerance_ms: must be 0 to 31536000000 (a year)")
        }
        if !(0...31_536_000_000).contains(store.maxFutureSkewMs) {
            problems.append("store.max_future_skew_ms: must be 0 to 31536000000 (a year)")
        }
        if !(10...86_400_000).contains(heartbeatMs) { problems.append("heartbeat_ms: must be 10 to 86400000") }
        if !(10...600_000).contains(storage.flushIntervalMs) {
            problems.append("storage.flush_interval_ms: must be 10 to 600000")
        }
        if storage.flushMaxSamples < 1 { problems.append("storage.flush_max_samples: must be positive") }
        if storage.maxPendingSamples < storage.flushMaxSamples {
            problems.append("storage.max_pending_samples: must be at least storage.flush_max_samples")
        }
        if !(1...1_000_000).contains(storage.chunkMaxSamples) {
            problems.append("storage.chunk_max_samples: must be 1 to 1000000")
        }
        if storage.chunkMaxAgeMs < 1_000 { problems.append("storage.chunk_max_age_ms: must be at least 1000") }
        if storage.stagingMaxRows < 2 { problems.append("storage.staging_max_rows: must be at least 2") }
        if storage.retentionIntervalMs < 1_000 {
            problems.append("storage.retention_interval_ms: must be at least 1000")
        }
        for (index, rule) in retention.overrides.enumerated() {
            if (try? SeriesSelector(parsing: rule.match)) == nil {
                problems.append("retention.overrides[\(index)].match: '\(rule.match)' is not a series selector")
            }
        }
        for (name, bytes) in [
            ("raw", retention.maxBytes.raw), ("1m", retention.maxBytes.minute), ("1h", retention.maxBytes.hour),
        ]
        where bytes < 0 {
            problems.append("retention.max_bytes.\(name): must be 0 (no limit) or positive")
        }
        problems += dashboards.problems()
        problems += alerts.problems()
        problems += commands.problems()
        problems += mqtt.problems()
        return problems
    }

    /// Loads a configuration: the defaults with the JSON file's keys laid over them.
    public static func load(jsonFile path: String) throws -> HubConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(message: "cannot read configuration file \(path)")
        }
        return try load(json: data, source: path)
    }

    /// Loads a configuration from JSON text; `source` names it in errors.
    public static func load(json data: Data, source: String = "configuration") throws -> HubConfiguration {
        let overrides: Any
        do {
            overrides = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigurationError(message: "\(source) is not valid JSON: \(error.localizedDescription)")
        }
        guard var overrideObject = overrides as? [String: Any] else {
            throw ConfigurationError(message: "\(source) must hold a JSON object")
        }
        // `"retention": [...]` is shorthand for `"retention": {"overrides": [...]}`.
        if let rules = overrideObject["retention"] as? [Any] { overrideObject["retention"] = ["overrides": rules] }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let defaults = try JSONSerialization.jsonObject(with: encoder.encode(HubConfiguration())) as! [String: Any]
        let merged = try merge(overrideObject, into: defaults, path: "")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let configuration: HubConfiguration
        do {
            configuration = try decoder.decode(
                HubConfiguration.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(type, context) {
            throw ConfigurationError(message: "\(source): \(Self.path(context.codingPath)) must be \(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigurationError(
                message: "\(source): \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw ConfigurationError(message: "\(source): \(error)")
        }
        let problems = configuration.problems()
        guard problems.isEmpty else {
            throw ConfigurationError(message: "\(source): " + problems.joined(separator: "; "))
        }
        return configuration
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.stringValue }.joined(separator: ".")
    }

    private static func merge(_ overrides: [String: Any], into defaults: [String: Any], path: String) throws
        -> [String: Any]
    {
        var result = defaults
        for (key, value) in overrides {
            let fullKey = path.isEmpty ? key : "\(path).\(key)"
            guard let current = defaults[key] else {
                throw ConfigurationError(message: "unknown configuration key '\(fullKey)'")
            }
            if let nestedDefaults = current as? [String: Any], !nestedDefaults.isEmpty {
                guard let nested = value as? [String: Any] else {
                    throw ConfigurationError(message: "'\(fullKey)' must be an object")
                }
                result[key] = try merge(nested, into: nestedDefaults, path: fullKey)
            } else {
                result[key] = value
            }
        }
        return result
    }
}

extension HubConfiguration {
    /// The limits the device message decoder enforces.
    var decoderLimits: DecoderLimits {
        DecoderLimits(
            maxBatchMessages: limits.maxBatchMessages, maxSamplesPerMessage: limits.maxSamplesPerMessage,
            maxMetaBytes: limits.maxMetaBytes, maxRooms: limits.maxRoomsPerDevice)
    }
}

/// A configuration that cannot be used, with a message naming the field.
public struct ConfigurationError: Error, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    public var description: String { message }
}
