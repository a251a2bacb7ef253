import HubCore
import Logging
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// Runs the alert engine's clock: every `tick_ms` the time-driven transitions (`for_ms`, `clear_for_ms`,
/// `nodata_ms`, silences ending), then writes what changed to the alert archive (on the thread pool, never on an
/// event loop). Prunes history past `history_retention_ms` hourly, and reloads the rule file on SIGHUP. On graceful shutdown it writes everything that is left.
///
/// Put it before the application in the `ServiceGroup`, so it stops after the server.
public struct AlertService: Service {
    let hub: Hub

    /// Creates the service for `hub`.
    public init(hub: Hub) {
        self.hub = hub
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            let hub = self.hub
            group.addTask {
                // Trapped even without a rule file, so a stray SIGHUP never stops the hub.
                for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                    hub.logger.notice("SIGHUP: reloading the rule file")
                    hub.reloadRuleFile()
                }
            }
            group.addTask { await ticks() }
            await group.next()
            group.cancelAll()
        }
        await write()
    }

    private func ticks() async {
        let hub = self.hub
        await FixedBeat.run(every: .milliseconds(hub.configuration.alerts.tickMs), now: { hub.now }) {
            hub.alertTick()
            await write()
        } hourly: {
            await prune()
        }
    }

    private func write() async {
        let hub = self.hub
        do {
            try await NIOThreadPool.singleton.runIfActive { try hub.flushAlertWrites() }
        } catch {
            hub.metrics.alertWriteErrors.increment()
            hub.logger.error("alert events not written; will retry", metadata: ["error": "\(error)"])
        }
    }

    private func prune() async {
        let hub = self.hub
        let before = hub.now - hub.configuration.alerts.historyRetentionMs
        do {
            let removed = try await NIOThreadPool.singleton.runIfActive { try hub.alertArchive.prune(before: before) }
            if removed > 0 { hub.logger.info("alert history pruned", metadata: ["events": "\(removed)"]) }
        } catch {
            hub.logger.error("alert history not pruned", metadata: ["error": "\(error)"])
        }
    }
}
