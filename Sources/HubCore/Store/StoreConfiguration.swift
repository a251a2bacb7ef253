/// How the in-memory series store behaves.
public struct StoreConfiguration: Sendable, Equatable, Codable {
    /// Samples kept per series in the ring (default 3,600: an hour at 1 Hz).
    public var ringCapacity: Int
    /// How much older than a series' newest sample a late sample may be and still be inserted (default 5 min).
    public var lateToleranceMs: Int64
    /// How far ahead of the hub's clock a timestamp may be before the message is rejected (default 5 min).
    public var maxFutureSkewMs: Int64
    /// Most series one device may have (default 1,000).
    public var maxSeriesPerDevice: Int
    /// Most series the hub holds in all; 0 (the default) sizes it from memory with ``seriesFitting(memoryBytes:)``
    /// when the hub starts (a ``SeriesStore`` given 0 has no limit).
    public var maxSeries: Int

    /// Creates a configuration.
    public init(
        ringCapacity: Int = 3_600,
        lateToleranceMs: Int64 = 300_000,
        maxFutureSkewMs: Int64 = 300_000,
        maxSeriesPerDevice: Int = 1_000,
        maxSeries: Int = 0
    ) {
        self.ringCapacity = ringCapacity
        self.lateToleranceMs = lateToleranceMs
        self.maxFutureSkewMs = maxFutureSkewMs
        self.maxSeriesPerDevice = maxSeriesPerDevice
        self.maxSeries = maxSeries
    }

    /// What one full series costs in memory at most, in bytes: its ring (16 bytes a sample, grown in powers of
    /// two), what the write-behind stages of it until a chunk is sealed, its rollup state and index entries.
    /// Measured at 90–175 KB for 3,600-sample rings; taken as 48 bytes per ring sample plus 2 KiB.
    public var bytesPerFullSeries: Int { 48 * ringCapacity + 2_048 }

    /// The series limit for a machine with `memoryBytes` of memory: as many full series as fit in half of it,
    /// between 1,000 and 1,000,000. With 3,600-sample rings that is 73,692 series for 24 GiB and 12,282 for 4 GiB.
    public func seriesFitting(memoryBytes: UInt64) -> Int {
        let fitting = memoryBytes / 2 / UInt64(Swift.max(1, bytesPerFullSeries))
        return Int(Swift.min(Swift.max(fitting, 1_000), 1_000_000))
    }

    /// This configuration with `maxSeries` sized from `memoryBytes` when it is 0.
    public func resolved(memoryBytes: UInt64) -> StoreConfiguration {
        var resolved = self
        if maxSeries == 0 { resolved.maxSeries = seriesFitting(memoryBytes: memoryBytes) }
        return resolved
    }
}
