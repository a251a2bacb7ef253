import Foundation
import HubCore
import Logging
import ServiceLifecycle
import Synchronization

/// The write-behind: drains accepted samples from the hub into the archive on its own thread, so ingest never
/// waits on disk and no event loop or task ever blocks on SQLite.
///
/// Each flush (at least every `flush_interval_ms`, earlier when `flush_max_samples` wait) runs ``ArchiveWriter``
/// and applies its write in one transaction; then the batch's tickets are durable and acknowledgements go out.
/// Retention runs on the same thread every `retention_interval_ms`. On graceful shutdown it flushes everything
/// accepted and seals every series, so the staging area is empty and the next start is quick.
///
/// Put it first in the `ServiceGroup`: services stop in reverse order, so it stops last, after the server.
public final class StorageService: Service, Sendable {
    let hub: Hub
    let archive: any SampleArchive
    let policy: RetentionPolicy
    private let flags = Flags()

    /// The writer thread's flags, in a class of their own: the Swift 6.3 optimizer crashes on a throwing
    /// initializer of a class that holds atomics directly.
    private final class Flags: Sendable {
        let stopRequested = Atomic<Bool>(false)
        let threadCPUNanos = Atomic<Int64>(0)
    }

    /// Creates the service for `hub`, writing to the hub's archive.
    public init(hub: Hub) throws {
        let policy: RetentionPolicy
        do {
            policy = try hub.configuration.retention.policy()
        } catch {
            throw ConfigurationError(message: "retention: \(error.message)")
        }
        self.hub = hub
        self.archive = hub.archive
        self.policy = policy
    }

    /// CPU time the writer thread has used, in seconds.
    public var cpuSeconds: Double { Double(flags.threadCPUNanos.load(ordering: .relaxed)) / 1e9 }

    public func run() async throws {
        let finished = AsyncStream.makeStream(of: Void.self)
        let thread = Thread { [self] in
            writerLoop()
            finished.continuation.yield()
            finished.continuation.finish()
        }
        thread.name = "telemetryhub-storage"
        thread.start()
        try? await gracefulShutdown()
        flags.stopRequested.store(true, ordering: .releasing)
        hub.storageSignal.signal()
        for await _ in finished.stream {}
        // Stopped last: every other service that writes (alerts, commands, the server) has stopped already.
        hub.closeArchives()
    }

    // MARK: The writer thread

    private func writerLoop() {
        let configuration = hub.configuration
        let interval = configuration.storage.flushIntervalMs
        var writer: ArchiveWriter
        do {
            let recovery = try archive.recover()
            writer = ArchiveWriter(
                configuration: ArchiveWriter.Configuration(
                    chunkMaxSamples: min(configuration.storage.chunkMaxSamples, configuration.store.ringCapacity),
                    chunkMaxAgeMs: configuration.storage.chunkMaxAgeMs,
                    stagingMaxRows: configuration.storage.stagingMaxRows,
                    lateToleranceMs: configuration.store.lateToleranceMs),
                recovery: recovery, now: hub.now)
            hub.logger.info(
                "storage ready",
                metadata: [
                    "archive": "\(archive.location)", "series": "\(recovery.series.count)",
                    "staged": "\(recovery.staged.count)",
                ])
        } catch {
            hub.logger.critical("storage cannot start; nothing will be persisted", metadata: ["error": "\(error)"])
            hub.durability.fail(error)
            hub.storageFailed.store(true, ordering: .relaxed)
            return
        }
        var nextRetention = hub.now + min(configuration.storage.retentionIntervalMs, 60_000)
        var failures = 0
        while true {
            let stopping = flags.stopRequested.load(ordering: .acquiring)
            let now = hub.now
            if stopping || hub.isFlushDue(now: now) {
                if let batch = hub.takeBatch() {
                    if flush(batch, writer: &writer, sealAll: false) {
                        if failures >= Hub.storageFailureThreshold {
                            hub.logger.notice("storage writes again", metadata: ["failed_flushes": "\(failures)"])
                        }
                        failures = 0
                        hub.storageWrote()
                    } else {
                        failures += 1
                        if stopping && failures >= 5 {
                            hub.logger.critical("giving up on the last batch at shutdown")
                            hub.durability.fail(StorageUnavailable())
                            break
                        }
                        Thread.sleep(forTimeInterval: min(0.05 * Double(1 << min(failures, 5)), 1))
                        continue
                    }
                }
            }
            if stopping {
                if hub.hasPendingWrites { continue }
                // Everything accepted is written; seal what is staged so the next start reads little.
                _ = flush(nil, writer: &writer, sealAll: true)
                break
            }
            if now >= nextRetention {
                enforceRetention(now: now)
                nextRetention = now + configuration.storage.retentionIntervalMs
            }
            let due = hub.flushDueAt ?? (now + interval)
            let wait = max(1, min(due - now, nextRetention - now, interval))
            hub.storageSignal.wait(milliseconds: wait) { !flags.stopRequested.load(ordering: .acquiring) }
        }
        recordCPU()
    }

    /// Writes one batch (or, with nil, only seals); false when the archive refused it (the batch is put back).
    private func flush(_ batch: WriteBehindBuffer.Batch?, writer: inout ArchiveWriter, sealAll: Bool) -> Bool {
        let started = ContinuousClock.now
        let before = writer
        let archive = self.archive
        do {
            var write = try writer.step(batch?.samples ?? [], now: hub.now, sealAll: sealAll) { id, from, to in
                try archive.sealedSamples(seriesID: id, from: from, to: to)
            }
            if let batch { (write.devices, write.forgottenDevices) = hub.deviceRecords(batch.devices) }
            try archive.apply(write)
            if let batch { hub.committed(batch) }
            let metrics = hub.metrics
            metrics.storageFlushes.increment()
            metrics.samplesPersisted.increment(by: Int64(batch?.samples.count ?? 0))
            if !write.chunks.isEmpty { metrics.chunksSealed.increment(by: Int64(write.chunks.count)) }
            metrics.storageStagedRows.record(writer.stagedRows)
            metrics.storageFlushSeconds.recordNanoseconds(
                Int64(started.duration(to: .now).inSeconds * 1e9))
            recordCPU()
            return true
        } catch {
            writer = before
            if let batch { hub.failed(batch) }
            hub.metrics.storageErrors.increment()
            hub.storageFailing(error)
            hub.logger.error("storage write failed; retrying", metadata: ["error": "\(error)"])
            recordCPU()
            return false
        }
    }

    private func enforceRetention(now: Int64) {
        do {
            let report = try archive.enforceRetention(policy, now: now)
            if !report.isEmpty {
                hub.logger.info(
                    "retention removed expired data",
                    metadata: [
                        "chunks": "\(report.chunks)", "samples": "\(report.samples)",
                        "rollup_blocks": "\(report.rollupBlocks.values.reduce(0, +))",
                    ])
            }
        } catch {
            hub.metrics.storageErrors.increment()
            hub.logger.error("retention failed", metadata: ["error": "\(error)"])
        }
    }

    private func recordCPU() {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        let nanos = Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
        flags.threadCPUNanos.store(nanos, ordering: .relaxed)
        hub.metrics.storageCPUSeconds.record(Double(nanos) / 1e9)
    }
}

/// The archive could not take the last batch at shutdown.
struct StorageUnavailable: Error, CustomStringConvertible {
    var description: String { "the hub's storage is unavailable" }
}
