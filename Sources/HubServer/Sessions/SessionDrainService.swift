import HubCore
import ServiceLifecycle

/// Closes every device session and dashboard connection with 1001 when the hub begins a graceful shutdown, before the HTTP server stops.
///
/// Run it after the application in the same `ServiceGroup`: services shut down in reverse order, so this one goes
/// first, marks every device offline with reason `shutdown`, says goodbye with 1001, and waits (at most `grace`) for
/// the connections to finish before the server's own shutdown begins.
public struct SessionDrainService: Service {
    let hub: Hub
    let grace: Duration

    /// Creates the service for `hub`.
    public init(hub: Hub, grace: Duration = .seconds(3)) {
        self.hub = hub
        self.grace = grace
    }

    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: nothing to drain
        }
        hub.markAllOffline()
        let sessions = hub.sessions.all
        hub.logger.info("closing device sessions for shutdown", metadata: ["count": "\(sessions.count)"])
        let dashboards = hub.fanout.connections
        await withTaskGroup(of: Void.self) { group in
            for session in sessions {
                group.addTask { await session.close(code: DeviceEndpoint.closeGoingAway, reason: "hub shutting down") }
            }
            for dashboard in dashboards {
                group.addTask {
                    await dashboard.close(code: DeviceEndpoint.closeGoingAway, reason: "hub shutting down")
                }
            }
        }
        let deadline = ContinuousClock.now + grace
        while hub.sessions.count + hub.fanout.connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
