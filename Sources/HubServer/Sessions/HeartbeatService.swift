import HubCore
import ServiceLifecycle

/// Pings every device session each heartbeat interval and takes offline the ones silent for 3 intervals
/// (reason `heartbeat_timeout`). On graceful shutdown it marks every device offline with reason `shutdown`.
struct HeartbeatService: Service {
    let hub: Hub

    func run() async throws {
        let policy = HeartbeatPolicy(intervalMs: hub.configuration.heartbeatMs)
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(policy.intervalMs))
                    await tick(policy: policy)
                }
            }
        } catch is CancellationError {}
        hub.markAllOffline()
    }

    func tick(policy: HeartbeatPolicy) async {
        let now = Hub.systemMilliseconds()
        for session in hub.sessions.all {
            switch policy.verdict(lastActivity: session.lastActivity.load(ordering: .relaxed), now: now) {
            case .ping:
                await session.ping()
            case .expire:
                if let device = session.device {
                    hub.sessionEnded(device: device, session: session.id, reason: .heartbeatTimeout)
                }
                hub.logger.info("closing silent session", metadata: ["session.id": "\(session.id)"])
                session.channel.close(promise: nil)
            }
        }
    }
}
