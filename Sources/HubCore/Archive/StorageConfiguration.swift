/// Where the hub keeps samples beyond the in-memory rings.
public enum StorageEngine: String, Sendable, Equatable, Codable {
    /// SQLite in `<data_dir>/telemetry.db` (WAL).
    case sqlite
    /// In memory only: nothing survives a restart.
    case memory
}

/// How the durable store behaves (the `storage` block of the configuration).
public struct StorageConfiguration: Sendable, Equatable, Codable {
    /// `sqlite` (default) or `memory`.
    public var engine: StorageEngine = .sqlite
    /// Accepted samples are committed at least this often, in one transaction per flush (default 1 s).
    public var flushIntervalMs: Int64 = 1_000
    /// A flush starts early once this many samples wait (default 200,000).
    public var flushMaxSamples = 200_000
    /// Over this many samples waiting for the disk (the batch being written included), telemetry is refused with
    /// `rate_limited` (HTTP 503) instead of memory growing (default 1,000,000: a waiting sample takes 56 bytes, and
    /// a full disk measured +185 MB of RSS with array growth and retry copies; at 300,000 samples/s that is 3 s of a
    /// stalled disk).
    public var maxPendingSamples = 1_000_000
    /// A series' staged samples are sealed into a compressed chunk at this many samples (default 2,048; at most
    /// the ring capacity) ...
    public var chunkMaxSamples = 2_048
    /// ... or when the oldest has waited this long (default 30 min).
    public var chunkMaxAgeMs: Int64 = 1_800_000
    /// Over this many staged rows (one per series per flush) the series holding the oldest ones are sealed early
    /// (default 4,000,000).
    public var stagingMaxRows = 4_000_000
    /// How often retention runs (default 10 min).
    public var retentionIntervalMs: Int64 = 600_000

    /// Creates the default configuration.
    public init() {}
}

/// Retention as configured (the `retention` block): ages per tier, size caps, and per-selector overrides.
///
/// ```json
/// "retention": {"raw": "7d", "1m": "90d", "1h": "2y", "max_bytes": {"raw": 0},
///               "overrides": [{"match": "*/debug_*", "raw": "1h"}]}
/// ```
/// A bare array is read as the overrides: `"retention": [{"match": "*/debug_*", "raw": "1h"}]`.
public struct RetentionConfiguration: Sendable, Equatable, Codable {
    /// Raw samples (default 7 days).
    public var raw = RetentionAge(milliseconds: 7 * 86_400_000)
    /// 1-minute rollups (default 90 days).
    public var minute = RetentionAge(milliseconds: 90 * 86_400_000)
    /// 1-hour rollups (default 2 years).
    public var hour = RetentionAge(milliseconds: 730 * 86_400_000)
    /// Most bytes per tier; 0 means no limit.
    public var maxBytes = TierBytes()
    /// Per-selector overrides; the first match wins.
    public var overrides: [RetentionOverride] = []

    enum CodingKeys: String, CodingKey {
        case raw
        case minute = "1m"
        case hour = "1h"
        case maxBytes
        case overrides
    }

    /// Byte caps per tier.
    public struct TierBytes: Sendable, Equatable, Codable {
        public var raw: Int64 = 0
        public var minute: Int64 = 0
        public var hour: Int64 = 0

        enum CodingKeys: String, CodingKey {
            case raw
            case minute = "1m"
            case hour = "1h"
        }

        public init() {}
    }

    /// Creates the default retention.
    public init() {}

    /// The policy this configuration describes.
    public func policy() throws(ProtocolError) -> RetentionPolicy {
        try RetentionPolicy(
            defaults: TierRetention(raw: raw, minute: minute, hour: hour),
            maxBytes: ["raw": maxBytes.raw, "1m": maxBytes.minute, "1h": maxBytes.hour], overrides: overrides)
    }
}
