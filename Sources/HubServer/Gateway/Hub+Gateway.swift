import HubCore

/// The hub as the MQTT bridge (or any adapter outside the server) sees it: its devices register, send telemetry and
/// answer commands through the same paths as WebSocket sessions.
extension Hub: DeviceGateway {
    public var decoderLimits: DecoderLimits { configuration.decoderLimits }

    public var maxDevices: Int { configuration.limits.maxDevices }

    public func makeSession() -> SessionID { sessions.makeID() }

    public func deviceOnline(
        _ device: String, meta: DeviceMessage.Register?, session: SessionID, reason: PresenceReason,
        link: any DeviceLink
    ) throws(ProtocolError) {
        let registration =
            meta
            ?? read { _, registry in
                registry[device].map {
                    DeviceMessage.Register(
                        id: nil, device: device, kind: $0.kind, rooms: $0.rooms, meta: $0.meta, commands: $0.commands)
                }
            } ?? DeviceMessage.Register(id: nil, device: device, kind: "generic", rooms: [], meta: JSONObject())
        let outcome = try register(registration, session: session, transport: link.transport, reason: reason)
        if let replaced = outcome.replacedSession, let old = self.sessions[replaced] {
            // The device's WebSocket session, taken over by its MQTT connection: closed as a WebSocket takeover is.
            Task { await old.close(code: DeviceEndpoint.closeReplaced, reason: "replaced by a newer session") }
        }
        deviceLinked(device, link: link, key: session)
    }

    public func deviceUpdated(_ meta: DeviceMessage.Register, session: SessionID, transport: String)
        throws(ProtocolError)
    {
        _ = try register(meta, session: session, transport: transport)
    }

    public func deviceOffline(_ device: String, session: SessionID, reason: PresenceReason) {
        deviceUnlinked(device, key: session)
        sessionEnded(device: device, session: session, reason: reason)
    }

    public func telemetry(device: String, samples: [MetricSample], transport: String) throws(ProtocolError) {
        _ = try ingest(device: device, samples: samples, transport: transport)
    }

    public func attach(_ status: any GatewayStatus) {
        gatewayStatuses.withLock { $0.append(status) }
    }

    /// The attached gateways' statuses.
    var gateways: [any GatewayStatus] { gatewayStatuses.withLock { $0 } }
}
