import HubCore
import ServiceLifecycle

/// Each heartbeat interval, asks ``HeartbeatPolicy`` about every device session: pings the live ones, drops the
/// silent (`heartbeat_timeout`) and stalled (`slow_consumer`) ones, and closes those whose token expired (1008).
struct HeartbeatService: Service {
    let hub: Hub

    func run() async throws {
        let policy = HeartbeatPolicy(intervalMs: hub.configuration.heartbeatMs)
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(policy.intervalMs))
                    tick(policy: policy)
                }
            }
        } catch is CancellationError {}
    }

    func tick(policy: HeartbeatPolicy) {
        let now = Hub.systemMilliseconds()
        for session in hub.sessions.all where !session.isClosing {
            let writeStartedAt = session.writeStartedAt.load(ordering: .relaxed)
            let assessment = policy.assess(
                lastActivity: session.lastActivity.load(ordering: .relaxed),
                writeStartedAt: writeStartedAt == 0 ? nil : writeStartedAt, tokenExpiresAt: session.tokenExpiresAt,
                now: now)
            switch assessment {
            case .ping:
                session.ping()
            case .expire:
                takeOffline(session, reason: .heartbeatTimeout)
                session.abort()
            case .stalled:
                takeOffline(session, reason: .slowConsumer)
                session.abort()
            case .tokenExpired:
                takeOffline(session, reason: .tokenExpired)
                Task { await session.close(code: DeviceEndpoint.closePolicy, reason: "token expired") }
            }
        }
    }

    private func takeOffline(_ session: DeviceSession, reason: PresenceReason) {
        if let device = session.device { hub.sessionEnded(device: device, session: session.id, reason: reason) }
        hub.logger.info("closing session", metadata: ["session.id": "\(session.id)", "reason": "\(reason.rawValue)"])
    }
}
