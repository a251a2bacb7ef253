/// How a transport adapter outside the hub's own server (the MQTT bridge) hands its devices to the hub, without
/// knowing the hub: the hub implements it, the adapter calls it. Devices that arrive this way are registered,
/// stored, shown, alerted on and commanded exactly like WebSocket devices.
///
/// Calls may come from any thread and must not block for long: the adapter calls them as messages arrive.
public protocol DeviceGateway: Sendable {
    /// The hub's clock, in Unix milliseconds.
    var now: Int64 { get }

    /// The limits WebSocket messages are held to, for decoding the adapter's payloads the same way.
    var decoderLimits: DecoderLimits { get }

    /// Most devices the hub knows.
    var maxDevices: Int { get }

    /// A new session number, unique among all of the hub's sessions.
    func makeSession() -> SessionID

    /// `device` came online under `session`: registers it with `meta` (when nil, with what the hub already knows of
    /// the device, or as a `generic` device) and links it, so commands waiting for it are handed over.
    ///
    /// - Throws: ``ProtocolError`` when the hub refuses the device (`too_large`: it knows too many).
    func deviceOnline(
        _ device: String, meta: DeviceMessage.Register?, session: SessionID, reason: PresenceReason,
        link: any DeviceLink
    ) throws(ProtocolError)

    /// An online device's meta changed: registers it again under the same `session`.
    func deviceUpdated(_ meta: DeviceMessage.Register, session: SessionID, transport: String) throws(ProtocolError)

    /// `device` went offline: ends `session` (when it is still the device's session) and unlinks it.
    func deviceOffline(_ device: String, session: SessionID, reason: PresenceReason)

    /// Stores a telemetry message's samples.
    ///
    /// - Throws: ``ProtocolError`` as ingest over WebSocket would (`rate_limited` when storage is behind: try again).
    func telemetry(device: String, samples: [MetricSample], transport: String) throws(ProtocolError)

    /// Records a device's command result.
    ///
    /// - Throws: ``ProtocolError`` `not_found` when it answers no delivery the hub knows for the device.
    func commandResult(_ result: DeviceMessage.CommandResult, from device: String) throws(ProtocolError)

    /// Shows `status` in `/healthz` (under its name) and `/metrics`.
    func attach(_ status: any GatewayStatus)
}

/// What a gateway adapter reports about itself in `/healthz` and `/metrics`.
public protocol GatewayStatus: Sendable {
    /// The key in `/healthz` (`mqtt`).
    var name: String { get }
    /// Whether it is working (connected); `/healthz` says `degraded` when not.
    var isHealthy: Bool { get }
    /// Writes its `/healthz` object (braces included).
    func writeHealth(to json: inout JSONWriter)
    /// Its Prometheus text-format lines, `# HELP` and `# TYPE` included.
    func prometheusText() -> String
}
