import ArgumentParser
import Foundation
import HubClient
import HubCore
import HubSQLite

extension Bench {
    /// `bench store`: the write-behind and SQLite alone, over simulated time.
    struct Store: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Persist simulated devices' readings through the write-behind into SQLite over simulated time; report samples/s, writer CPU and bytes per sample."
        )

        @Option(help: "Profile file or folder.")
        var profile: String = "Devices/thermostat.json"
        @Option(help: "Simulated devices.")
        var devices: Int = 100
        @Option(help: "Simulated hours at one reading per metric per second.")
        var hours: Double = 24
        @Option(help: "Samples per flush (one transaction each).")
        var flushSamples: Int = 100_000
        @Option(help: "Data directory for telemetry.db (default: a fresh temporary one, removed afterwards).")
        var dataDir: String?
        @Flag(help: "Keep the database (for `bench startup --data-dir` or `db stats`).")
        var keep = false

        func validate() throws {
            guard (1...100_000).contains(devices) else { throw ValidationError("--devices must be 1 to 100000") }
            guard hours > 0, hours <= 24 * 365 else { throw ValidationError("--hours must be above 0, at most 8760") }
            guard (1...10_000_000).contains(flushSamples) else {
                throw ValidationError("--flush-samples must be 1 to 10000000")
            }
        }

        func run() async throws {
            let profiles = try ProfileLoader.load(path: profile)
            let directory = dataDir ?? NSTemporaryDirectory() + "telemetryhub-bench-store-\(UUID().uuidString)"
            defer { if !keep && dataDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
            let archive = try SQLiteArchive(dataDirectory: directory)
            let defaults = HubConfigurationDefaults()
            var writer = ArchiveWriter(
                configuration: .init(
                    chunkMaxSamples: defaults.storage.chunkMaxSamples, chunkMaxAgeMs: defaults.storage.chunkMaxAgeMs,
                    stagingMaxRows: defaults.storage.stagingMaxRows, lateToleranceMs: defaults.store.lateToleranceMs),
                recovery: try archive.recover(), now: 0)
            var simulated = (0..<devices).map {
                SimulatedDevice(profile: profiles[$0 % profiles.count], index: $0 / profiles.count + 1, seed: 42)
            }
            let start: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
            let seconds = Int64(hours * 3_600)
            var batch: [ArchiveSample] = []
            batch.reserveCapacity(flushSamples + 1_000)
            var persisted = 0
            var flushes = 0
            var busy: Duration = .zero
            let cpuBefore = threadCPUSeconds()
            let wallStart = ContinuousClock.now
            var keys: [[String: SeriesKey]] = Array(repeating: [:], count: devices)
            func flush(now: Int64, sealAll: Bool) throws {
                let started = ContinuousClock.now
                let write = try writer.step(batch, now: now, sealAll: sealAll) { id, from, to in
                    try archive.sealedSamples(seriesID: id, from: from, to: to)
                }
                try archive.apply(write)
                busy += started.duration(to: .now)
                persisted += batch.count
                flushes += 1
                batch.removeAll(keepingCapacity: true)
            }
            for second in 0..<seconds {
                let now = start + second * 1_000
                for index in simulated.indices {
                    for (metric, value) in simulated[index].readings(now: now) {
                        let key: SeriesKey
                        if let known = keys[index][metric] {
                            key = known
                        } else {
                            key = SeriesKey(device: simulated[index].id, metric: metric)
                            keys[index][metric] = key
                        }
                        batch.append(ArchiveSample(series: key, ts: now, value: value))
                    }
                }
                if batch.count >= flushSamples { try flush(now: now, sealAll: false) }
            }
            try flush(now: start + seconds * 1_000, sealAll: true)
            let cpu = threadCPUSeconds() - cpuBefore
            let wall = wallStart.duration(to: .now).inSeconds
            let stats = try archive.stats()
            let raw = stats.tier("raw")
            let allBytes = stats.tiers.reduce(Int64(0)) { $0 + $1.bytes }
            say(
                """
                bench store: \(devices) devices (\(profiles.map(\.kind).joined(separator: ", "))) x \(String(format: "%g", hours)) h at 1 Hz, \(flushSamples) samples per flush
                  samples persisted : \(persisted) in \(flushes) transactions
                  write-behind rate : \(Int(Double(persisted) / busy.inSeconds)) samples/s (time in step + commit: \(String(format: "%.1f", busy.inSeconds)) s; wall incl. generating \(String(format: "%.1f", wall)) s)
                  process CPU       : \(String(format: "%.1f", cpu)) s
                  raw tier          : \(raw?.rows ?? 0) chunks, \(mebibytes(raw?.bytes ?? 0)), \(String(format: "%.3f", raw?.bytesPerSample ?? 0)) bytes/sample (table + index)
                  1m / 1h tiers     : \(stats.tier("1m")?.samples ?? 0) / \(stats.tier("1h")?.samples ?? 0) points, \(mebibytes((stats.tier("1m")?.bytes ?? 0) + (stats.tier("1h")?.bytes ?? 0)))
                  all tiers         : \(String(format: "%.3f", Double(allBytes) / Double(max(persisted, 1)))) bytes/sample; files \(mebibytes(stats.fileBytes))
                  database          : \(archive.path)\(keep || dataDir != nil ? "" : " (removed)")
                """)
        }
    }
}

/// The defaults a hub starts with (the bench uses the same sealing settings).
private struct HubConfigurationDefaults {
    let storage = StorageConfiguration()
    let store = StoreConfiguration()
}

/// CPU time of the whole process, in seconds.
func threadCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
