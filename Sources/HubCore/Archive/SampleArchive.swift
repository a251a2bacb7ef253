/// Where accepted samples are kept beyond the in-memory rings: staging, sealed chunks, rollup tiers, devices.
///
/// The hub talks to storage only through this protocol. ``MemoryArchive`` implements it in memory
/// (`--storage memory`); `SQLiteArchive` (module HubSQLite) on disk. Implementations carry out decisions made by
/// ``ArchiveWriter`` and ``RetentionPolicy``; they decide nothing themselves.
///
/// Threading: ``apply(_:)``, ``recover()`` and ``enforceRetention(_:now:)`` are called by one writer at a time;
/// the read methods may be called concurrently with them and with each other.
public protocol SampleArchive: AnyObject, Sendable {
    /// Where the archive lives (a file path or `memory`).
    var location: String { get }

    /// What the hub loads before listening: device records and up to `ringCapacity` newest samples per series.
    func startup(ringCapacity: Int) throws -> ArchiveStartup

    /// The state the write-behind needs to continue: series, watermarks, staging, unrolled data.
    func recover() throws -> ArchiveRecovery

    /// Applies one batch, all or nothing.
    func apply(_ write: ArchiveWrite) throws

    /// Sealed samples of one series with `from <= ts <= to`, time-ordered; a later chunk wins on equal timestamps.
    func sealedSamples(seriesID: Int64, from: Int64, to: Int64) throws -> [Sample]

    /// Sealed samples of one series by key (empty when the archive does not know it).
    func sealedSamples(_ key: SeriesKey, from: Int64, to: Int64) throws -> [Sample]

    /// Written rollup points of `tier` with `from <= ts <= to`, and the tier's watermark for the series (points at
    /// or after it are not written yet); nil when the archive does not know the series.
    func rollups(_ key: SeriesKey, tier: RollupTier, from: Int64, to: Int64) throws -> (
        points: [RollupPoint], rolledUntil: Int64
    )?

    /// Removes what `policy` says has expired at `now`.
    func enforceRetention(_ policy: RetentionPolicy, now: Int64) throws -> RetentionReport

    /// Sizes per tier.
    func stats() throws -> ArchiveStats

    /// Gives free space back (SQLite `VACUUM`); a no-op in memory.
    func compact() throws

    /// Closes the store at shutdown, after its last write (a no-op in memory). For SQLite this checkpoints the
    /// write-ahead log and removes it, so a stopped hub leaves one compact file per database. Calls after it fail.
    func close()
}

extension SampleArchive {
    /// Nothing to close.
    public func close() {}
}

/// Merges time-ordered runs of samples where later runs win on equal timestamps; the result is time-ordered and
/// has one sample per timestamp.
public enum SampleMerge {
    /// Merges `runs` (each time-ordered) giving priority to later runs.
    public static func merge(_ runs: [[Sample]]) -> [Sample] {
        let nonEmpty = runs.filter { !$0.isEmpty }
        if nonEmpty.count <= 1 { return dedupe(nonEmpty.first ?? []) }
        var all: [(Sample, Int)] = []
        all.reserveCapacity(nonEmpty.reduce(0) { $0 + $1.count })
        for (priority, run) in nonEmpty.enumerated() {
            for sample in run { all.append((sample, priority)) }
        }
        all.sort { $0.0.ts != $1.0.ts ? $0.0.ts < $1.0.ts : $0.1 < $1.1 }
        var result: [Sample] = []
        result.reserveCapacity(all.count)
        for (sample, _) in all {
            if let last = result.last, last.ts == sample.ts {
                result[result.count - 1] = sample
            } else {
                result.append(sample)
            }
        }
        return result
    }

    /// Sorts samples in arrival order by timestamp, keeping the last arrival of each timestamp.
    public static func dedupe(_ samples: [Sample]) -> [Sample] {
        var sorted = true
        for index in samples.indices.dropFirst() where samples[index].ts <= samples[index - 1].ts {
            sorted = false
            break
        }
        if sorted { return samples }
        let ordered = samples.enumerated().sorted {
            $0.element.ts != $1.element.ts ? $0.element.ts < $1.element.ts : $0.offset < $1.offset
        }
        var result: [Sample] = []
        result.reserveCapacity(ordered.count)
        for (_, sample) in ordered {
            if let last = result.last, last.ts == sample.ts {
                result[result.count - 1] = sample
            } else {
                result.append(sample)
            }
        }
        return result
    }
}
