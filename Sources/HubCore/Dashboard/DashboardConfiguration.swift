/// How dashboard connections are served: backpressure marks, the slow-consumer deadline and per-connection limits.
///
/// Every field has a default; the hub configuration's `dashboards` block overrides them by snake_case name.
public struct DashboardConfiguration: Sendable, Equatable, Codable {
    /// Buffered bytes (handed to the socket, not yet written) at which the hub stops sending to a connection and
    /// starts coalescing (default 256 KiB).
    public var highWaterBytes: Int
    /// Buffered bytes under which sending resumes (default 64 KiB).
    public var lowWaterBytes: Int
    /// How long a connection may stay over the high-water mark before it is closed with 4008 (default 30 s).
    public var slowConsumerMs: Int64
    /// Most subscriptions on one connection (default 64).
    public var maxSubscriptions: Int
    /// Most selectors in one subscription (default 64).
    public var maxSelectors: Int
    /// Most series one subscription may carry (default 10,000); a subscribe matching more is `too_large`, series
    /// appearing later beyond it are not added.
    public var maxSeriesPerSubscription: Int
    /// Most samples a subscription holds between two batches before it keeps only the latest per series (default
    /// 10,000; never fewer than one per series).
    public var maxBatchSamples: Int
    /// Most samples in one snapshot or resume replay (default 200,000); longer histories are cut to the newest.
    public var maxSnapshotSamples: Int
    /// Longest `history_ms` a subscribe may ask for (default 7 days).
    public var maxHistoryMs: Int64
    /// How long the hub remembers a dropped connection's subscriptions for `resume` (default 5 min).
    public var resumeWindowMs: Int64
    /// Batches per subscription remembered for `resume` with an older `after_seq` (default 1,024).
    public var resumeBatches: Int
    /// Most dropped subscriptions remembered hub-wide (default 10,000; the oldest are forgotten first).
    public var maxRemembered: Int
    /// Bytes of replies, snapshots and presence events that may wait on one connection before it is closed as a
    /// slow consumer (default 32 MiB).
    public var maxQueuedBytes: Int
    /// Messages per second a dashboard connection may send (default 100, bursts of 200).
    public var messagesPerSecond: Double
    /// Burst allowance for ``messagesPerSecond``.
    public var messageBurst: Double
    /// The kernel send buffer of a dashboard socket (`SO_SNDBUF`, default 128 KiB; 0 keeps the system's). A small
    /// one lets the buffered amount see a slow client sooner, so coalescing starts before megabytes pile up in
    /// the kernel.
    public var socketSendBufferBytes: Int

    /// Creates a configuration; every parameter has the documented default.
    public init(
        highWaterBytes: Int = 256 * 1_024,
        lowWaterBytes: Int = 64 * 1_024,
        slowConsumerMs: Int64 = 30_000,
        maxSubscriptions: Int = 64,
        maxSelectors: Int = 64,
        maxSeriesPerSubscription: Int = 10_000,
        maxBatchSamples: Int = 10_000,
        maxSnapshotSamples: Int = 200_000,
        maxHistoryMs: Int64 = 7 * 86_400_000,
        resumeWindowMs: Int64 = 300_000,
        resumeBatches: Int = 1_024,
        maxRemembered: Int = 10_000,
        maxQueuedBytes: Int = 32 << 20,
        messagesPerSecond: Double = 100,
        messageBurst: Double = 200,
        socketSendBufferBytes: Int = 128 * 1_024
    ) {
        self.highWaterBytes = highWaterBytes
        self.lowWaterBytes = lowWaterBytes
        self.slowConsumerMs = slowConsumerMs
        self.maxSubscriptions = maxSubscriptions
        self.maxSelectors = maxSelectors
        self.maxSeriesPerSubscription = maxSeriesPerSubscription
        self.maxBatchSamples = maxBatchSamples
        self.maxSnapshotSamples = maxSnapshotSamples
        self.maxHistoryMs = maxHistoryMs
        self.resumeWindowMs = resumeWindowMs
        self.resumeBatches = resumeBatches
        self.maxRemembered = maxRemembered
        self.maxQueuedBytes = maxQueuedBytes
        self.messagesPerSecond = messagesPerSecond
        self.messageBurst = messageBurst
        self.socketSendBufferBytes = socketSendBufferBytes
    }

    /// Problems that make the configuration unusable, as `field: problem` lines (prefixed with `prefix`).
    public func problems(prefix: String = "dashboards.") -> [String] {
        var problems: [String] = []
        if highWaterBytes < 1_024 { problems.append("\(prefix)high_water_bytes: must be at least 1024") }
        if lowWaterBytes < 0 || lowWaterBytes >= highWaterBytes {
            problems.append("\(prefix)low_water_bytes: must be 0 or more and below high_water_bytes")
        }
        if slowConsumerMs < 100 { problems.append("\(prefix)slow_consumer_ms: must be at least 100") }
        if maxSubscriptions < 1 { problems.append("\(prefix)max_subscriptions: must be positive") }
        if maxSelectors < 1 { problems.append("\(prefix)max_selectors: must be positive") }
        if maxSeriesPerSubscription < 1 { problems.append("\(prefix)max_series_per_subscription: must be positive") }
        if maxBatchSamples < 1 { problems.append("\(prefix)max_batch_samples: must be positive") }
        if maxSnapshotSamples < 1 { problems.append("\(prefix)max_snapshot_samples: must be positive") }
        if maxHistoryMs < 0 { problems.append("\(prefix)max_history_ms: must not be negative") }
        if resumeWindowMs < 0 { problems.append("\(prefix)resume_window_ms: must not be negative") }
        if resumeBatches < 1 { problems.append("\(prefix)resume_batches: must be positive") }
        if maxRemembered < 0 { problems.append("\(prefix)max_remembered: must not be negative") }
        if maxQueuedBytes < 65_536 { problems.append("\(prefix)max_queued_bytes: must be at least 65536") }
        if !(messagesPerSecond > 0) { problems.append("\(prefix)messages_per_second: must be positive") }
        if messageBurst < 1 { problems.append("\(prefix)message_burst: must be at least 1") }
        if socketSendBufferBytes < 0 { problems.append("\(prefix)socket_send_buffer_bytes: must not be negative") }
        return problems
    }
}
