import HubCore
import Logging
import NIOPosix
import ServiceLifecycle

/// Runs the command tracker's clock: every `tick_ms` deadlines and TTLs are applied (answering senders whose
/// timeout passed) and what changed is written to the command archive, on the thread pool. Prunes the audit past
/// `audit_retention_ms` hourly. On graceful shutdown it answers every waiting sender at once (pending deliveries
/// become queued when their TTL allows, else offline) and writes everything.
///
/// Put it after the application and before the session drain in the `ServiceGroup`: it stops after the device
/// sessions closed (recording what they answered meanwhile) and before the server, so waiting requests get their
/// answers.
public struct CommandService: Service {
    let hub: Hub

    /// Creates the service for `hub`.
    public init(hub: Hub) {
        self.hub = hub
    }

    public func run() async throws {
        let hub = self.hub
        await FixedBeat.run(every: .milliseconds(hub.configuration.commands.tickMs), now: { hub.now }) {
            hub.commandTick()
            try? await hub.writeCommands()
        } hourly: {
            await prune()
        }
        hub.shutdownCommands()
        try? await hub.writeCommands()
    }

    private func prune() async {
        let hub = self.hub
        let before = hub.now - hub.configuration.commands.auditRetentionMs
        do {
            let removed = try await NIOThreadPool.singleton.runIfActive { try hub.commandArchive.prune(before: before) }
            if removed > 0 { hub.logger.info("command audit pruned", metadata: ["commands": "\(removed)"]) }
        } catch {
            hub.logger.error("command audit not pruned", metadata: ["error": "\(error)"])
        }
    }
}
