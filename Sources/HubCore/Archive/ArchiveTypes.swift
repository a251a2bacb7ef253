/// A rollup tier: fixed-step aggregates kept longer than raw samples.
public enum RollupTier: Int64, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    /// One-minute buckets.
    case minute = 60_000
    /// One-hour buckets.
    case hour = 3_600_000

    /// The bucket width in milliseconds.
    public var stepMs: Int64 { rawValue }
    /// `1m` or `1h`, as configuration and `db stats` name the tier.
    public var description: String { self == .minute ? "1m" : "1h" }

    public static func < (lhs: RollupTier, rhs: RollupTier) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A sample the hub accepted, on its way to the archive.
public struct ArchiveSample: Sendable, Equatable {
    /// The series it belongs to.
    public var series: SeriesKey
    /// The stored timestamp (receive time already filled in).
    public var ts: Int64
    /// The value.
    public var value: Double
    /// Whether it replaced a held sample with the same timestamp (last write wins).
    public var replaced: Bool

    /// Creates an archive sample.
    public init(series: SeriesKey, ts: Int64, value: Double, replaced: Bool = false) {
        self.series = series
        self.ts = ts
        self.value = value
        self.replaced = replaced
    }
}

/// A series as the archive numbers it, with how far its rollups are written.
public struct ArchivedSeries: Sendable, Equatable {
    /// The archive's id for the series.
    public var id: Int64
    /// The series.
    public var key: SeriesKey
    /// Every 1-minute bucket starting before this is final and written.
    public var rolledMinute: Int64
    /// Every 1-hour bucket starting before this is final and written.
    public var rolledHour: Int64

    /// Creates a record.
    public init(id: Int64, key: SeriesKey, rolledMinute: Int64 = .min, rolledHour: Int64 = .min) {
        self.id = id
        self.key = key
        self.rolledMinute = rolledMinute
        self.rolledHour = rolledHour
    }

    /// The watermark of `tier`.
    public func rolled(_ tier: RollupTier) -> Int64 { tier == .minute ? rolledMinute : rolledHour }
}

/// Samples of one series staged by one flush: accepted and durable, not yet sealed into a chunk.
///
/// One row per series per flush (not per sample) keeps the staging area cheap at high rates.
public struct StagedRun: Sendable, Equatable {
    /// Position in the staging area (increasing; sealing releases a prefix).
    public var seq: Int64
    /// The series id.
    public var seriesID: Int64
    /// The samples in acceptance order (a later one wins on an equal timestamp).
    public var samples: [Sample]

    /// Creates a staged run.
    public init(seq: Int64, seriesID: Int64, samples: [Sample]) {
        self.seq = seq
        self.seriesID = seriesID
        self.samples = samples
    }
}

/// A sealed, compressed run of one series' samples (``ChunkCodec``).
public struct ArchiveChunk: Sendable, Equatable {
    /// The series id.
    public var seriesID: Int64
    /// First and last timestamp held.
    public var startTs: Int64
    public var endTs: Int64
    /// Samples held.
    public var count: Int
    /// The encoded samples.
    public var bytes: [UInt8]

    /// Encodes time-ordered, de-duplicated samples (at least one).
    public init(seriesID: Int64, samples: [Sample]) {
        precondition(!samples.isEmpty)
        self.seriesID = seriesID
        self.startTs = samples[0].ts
        self.endTs = samples[samples.count - 1].ts
        self.count = samples.count
        self.bytes = ChunkCodec.encode(samples)
    }
}

/// A compressed run of one series' rollup points of one tier (``RollupCodec``).
public struct RollupBlock: Sendable, Equatable {
    /// The series id.
    public var seriesID: Int64
    /// The tier.
    public var tier: RollupTier
    /// Start of the first and last bucket held.
    public var startTs: Int64
    public var endTs: Int64
    /// Points held.
    public var count: Int
    /// The encoded points.
    public var bytes: [UInt8]

    /// Encodes time-ordered points (at least one).
    public init(seriesID: Int64, tier: RollupTier, points: [RollupPoint]) {
        precondition(!points.isEmpty)
        self.seriesID = seriesID
        self.tier = tier
        self.startTs = points[0].ts
        self.endTs = points[points.count - 1].ts
        self.count = points.count
        self.bytes = RollupCodec.encode(points)
    }
}

/// Everything one write-behind batch changes, applied by a ``SampleArchive`` in one transaction.
public struct ArchiveWrite: Sendable, Equatable {
    /// Series seen for the first time.
    public var newSeries: [ArchivedSeries] = []
    /// Runs to add to the staging area (one per series in the batch).
    public var staged: [StagedRun] = []
    /// Chunks sealed from the staging area.
    public var chunks: [ArchiveChunk] = []
    /// Rollup points that became final.
    public var rollups: [RollupBlock] = []
    /// New rollup watermarks: series id → (tier → until).
    public var watermarks: [Int64: [RollupTier: Int64]] = [:]
    /// Staged samples with `seq` below this are sealed and can be deleted.
    public var releaseStagingBelow: Int64?
    /// Device records to save (new registrations, last-seen times).
    public var devices: [DeviceRecord] = []
    /// Devices the hub forgot (they expired): their records are deleted; their samples stay until retention.
    public var forgottenDevices: [String] = []

    /// Creates an empty write.
    public init() {}

    /// Whether the write changes nothing.
    public var isEmpty: Bool {
        newSeries.isEmpty && staged.isEmpty && chunks.isEmpty && rollups.isEmpty && watermarks.isEmpty
            && releaseStagingBelow == nil && devices.isEmpty && forgottenDevices.isEmpty
    }
}

/// What the archive holds for the write-behind to carry on where it stopped.
public struct ArchiveRecovery: Sendable, Equatable {
    /// Every series with its watermarks.
    public var series: [ArchivedSeries] = []
    /// The staging area in `seq` order.
    public var staged: [StagedRun] = []
    /// The next staging `seq` to use.
    public var nextStagingSeq: Int64 = 1
    /// Per series id: sealed samples at or after its 1-minute watermark (time-ordered, de-duplicated).
    public var unrolledRaw: [Int64: [Sample]] = [:]
    /// Per series id: written 1-minute points at or after its 1-hour watermark.
    public var unrolledMinutes: [Int64: [RollupPoint]] = [:]

    /// Creates an empty recovery (a new archive).
    public init() {}
}

/// What the hub loads before it listens: the device registry and the newest samples of every series.
public struct ArchiveStartup: Sendable {
    /// Stored device records.
    public var devices: [DeviceRecord] = []
    /// Per series, its newest samples (time-ordered, at most the ring capacity asked for).
    public var newest: [(SeriesKey, [Sample])] = []

    /// Creates an empty start-up state.
    public init() {}
}

/// Sizes of one storage tier.
public struct ArchiveTierStats: Sendable, Equatable {
    /// `raw`, `staging`, `1m` or `1h`.
    public var name: String
    /// Rows (chunks, blocks or staged runs).
    public var rows: Int64
    /// Samples (raw, staging) or points (rollup tiers) held.
    public var samples: Int64
    /// Bytes on disk, table and indexes (for the memory archive: encoded bytes).
    public var bytes: Int64

    /// Creates tier stats.
    public init(name: String, rows: Int64, samples: Int64, bytes: Int64) {
        self.name = name
        self.rows = rows
        self.samples = samples
        self.bytes = bytes
    }

    /// Bytes per sample or point, or 0 when empty.
    public var bytesPerSample: Double { samples == 0 ? 0 : Double(bytes) / Double(samples) }
}

/// Sizes of the whole archive.
public struct ArchiveStats: Sendable, Equatable {
    /// Series known.
    public var series: Int64 = 0
    /// Devices stored.
    public var devices: Int64 = 0
    /// Per tier: `raw`, `staging`, `1m`, `1h`.
    public var tiers: [ArchiveTierStats] = []
    /// Bytes of the database files (0 for memory).
    public var fileBytes: Int64 = 0
    /// Where the archive lives.
    public var location: String = ""

    /// Creates empty stats.
    public init() {}

    /// Stats of one tier by name.
    public func tier(_ name: String) -> ArchiveTierStats? { tiers.first { $0.name == name } }
}

/// What one retention pass removed.
public struct RetentionReport: Sendable, Equatable {
    /// Chunks removed and the samples they held.
    public var chunks = 0
    public var samples = 0
    /// Rollup blocks removed per tier.
    public var rollupBlocks: [RollupTier: Int] = [:]

    /// Creates an empty report.
    public init() {}

    /// Whether anything was removed.
    public var isEmpty: Bool { chunks == 0 && rollupBlocks.values.allSatisfy { $0 == 0 } }
}
