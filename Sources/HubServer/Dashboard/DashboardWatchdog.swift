import HubCore
import ServiceLifecycle

/// Closes dashboard connections that stayed over the high-water mark past the deadline (4008) or whose token
/// expired (1008). The writer notices a stuck client itself when idle; this catches one whose writer waits on a
/// full socket.
struct DashboardWatchdog: Service {
    let hub: Hub

    func run() async throws {
        let deadline = hub.configuration.dashboards.slowConsumerMs
        let interval = max(50, min(1_000, deadline / 4))
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(interval))
                    check()
                }
            }
        } catch is CancellationError {}
    }

    func check() {
        let now = Hub.systemMilliseconds()
        for connection in hub.fanout.connections where !connection.isClosing {
            if connection.isStuck(now: now) {
                hub.logger.info("closing slow dashboard", metadata: ["dashboard.id": "\(connection.id)"])
                Task {
                    await connection.close(
                        code: DashboardConnection.closeSlowConsumer, reason: "slow consumer", grace: .seconds(10))
                }
            } else if connection.tokenExpiresAt <= now {
                Task { await connection.close(code: DeviceEndpoint.closePolicy, reason: "token expired") }
            }
        }
    }
}
