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
    /// Most series the hub holds in all (default 1,000,000).
    public var maxSeries: Int

    /// Creates a configuration.
    public init(
        ringCapacity: Int = 3_600,
        lateToleranceMs: Int64 = 300_000,
        maxFutureSkewMs: Int64 = 300_000,
        maxSeriesPerDevice: Int = 1_000,
        maxSeries: Int = 1_000_000
    ) {
        self.ringCapacity = ringCapacity
        self.lateToleranceMs = lateToleranceMs
        self.maxFutureSkewMs = maxFutureSkewMs
        self.maxSeriesPerDevice = maxSeriesPerDevice
        self.maxSeries = maxSeries
    }
}
