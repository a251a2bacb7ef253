import ArgumentParser
import Foundation
import HubCore
import HubSQLite

/// `telemetryhub db`: inspect and maintain the on-disk store.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Inspect and maintain the on-disk store (<data-dir>/telemetry.db).",
        subcommands: [Stats.self, Compact.self])

    struct Location: ParsableArguments {
        @Option(help: "Data directory holding telemetry.db (default .telemetryhub).")
        var dataDir: String = ".telemetryhub"

        func open() throws -> SQLiteArchive {
            let path = (dataDir as NSString).appendingPathComponent(SQLiteArchive.fileName)
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError(message: "no store at \(path) (is --data-dir right?)")
            }
            do { return try SQLiteArchive(path: path) } catch {
                throw CLIError(message: "cannot open \(path): \(error)")
            }
        }
    }

    /// `db stats`: series, samples and bytes per tier.
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print series, samples, bytes per tier and bytes per sample (works while the hub runs).")

        @OptionGroup var location: Location
        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() async throws {
            let stats: ArchiveStats
            do { stats = try location.open().stats() } catch let error as CLIError { throw error } catch {
                throw CLIError(message: "cannot read the store: \(error)")
            }
            say(json ? Self.json(stats) : Self.table(stats))
        }

        static func table(_ stats: ArchiveStats) -> String {
            var lines = [
                "store   : \(stats.location)",
                "files   : \(mebibytes(stats.fileBytes)) (database, WAL and shared memory)",
                "series  : \(stats.series)    devices: \(stats.devices)",
                "",
                "tier      rows        samples/points  bytes (table+index)  bytes/sample",
            ]
            for tier in stats.tiers {
                lines.append(
                    tier.name.padding(toLength: 10, withPad: " ", startingAt: 0)
                        + "\(tier.rows)".padding(toLength: 12, withPad: " ", startingAt: 0)
                        + "\(tier.samples)".padding(toLength: 16, withPad: " ", startingAt: 0)
                        + mebibytes(tier.bytes).padding(toLength: 21, withPad: " ", startingAt: 0)
                        + String(format: "%.3f", tier.bytesPerSample))
            }
            let stored = (stats.tier("raw")?.samples ?? 0) + (stats.tier("staging")?.samples ?? 0)
            let allBytes = stats.tiers.reduce(Int64(0)) { $0 + $1.bytes }
            if stored > 0 {
                lines.append("")
                lines.append(
                    "all tiers: \(String(format: "%.3f", Double(allBytes) / Double(stored))) bytes per raw sample stored"
                )
            }
            return lines.joined(separator: "\n")
        }

        static func json(_ stats: ArchiveStats) -> String {
            var json = JSONWriter()
            json.raw("{\"location\":")
            json.string(stats.location)
            json.raw(",\"file_bytes\":")
            json.int(stats.fileBytes)
            json.raw(",\"series\":")
            json.int(stats.series)
            json.raw(",\"devices\":")
            json.int(stats.devices)
            json.raw(",\"tiers\":{")
            for (index, tier) in stats.tiers.enumerated() {
                if index > 0 { json.raw(",") }
                json.key(tier.name)
                json.raw("{\"rows\":")
                json.int(tier.rows)
                json.raw(",\"samples\":")
                json.int(tier.samples)
                json.raw(",\"bytes\":")
                json.int(tier.bytes)
                json.raw(",\"bytes_per_sample\":")
                json.number(tier.bytesPerSample)
                json.raw("}")
            }
            json.raw("}}")
            return json.string
        }
    }

    /// `db compact`: VACUUM.
    struct Compact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give free pages back to the file system (VACUUM). Stop the hub first.")

        @OptionGroup var location: Location

        func run() async throws {
            let archive = try location.open()
            let before = try archive.stats().fileBytes
            let started = ContinuousClock.now
            do {
                try archive.compact()
            } catch let error as SQLiteError where error.isBusy {
                throw CLIError(message: "the store is in use (is the hub running?); stop the hub and try again")
            } catch {
                throw CLIError(message: "compaction failed: \(error)")
            }
            let after = try archive.stats().fileBytes
            say(
                "compacted \(archive.path): \(mebibytes(before)) -> \(mebibytes(after)) in \(Int(started.duration(to: .now).inMilliseconds)) ms"
            )
        }
    }
}

/// `n` bytes as MiB with two decimals.
func mebibytes(_ bytes: Int64) -> String {
    String(format: "%.2f MiB", Double(bytes) / 1_048_576)
}
