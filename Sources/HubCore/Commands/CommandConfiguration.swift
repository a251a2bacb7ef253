/// How commands are sent, waited for and kept; the hub configuration's `commands` block overrides these by
/// snake_case name.
public struct CommandConfiguration: Sendable, Equatable, Codable {
    /// `timeout_ms` when a command leaves it out (default 5 s).
    public var defaultTimeoutMs: Int64
    /// Largest `timeout_ms` a command may ask for (default 60 s).
    public var maxTimeoutMs: Int64
    /// Largest `ttl_ms` a command may ask for (default 7 days).
    public var maxTTLMs: Int64
    /// Commands each user (token subject) may send per second (default 5) ...
    public var perUserPerSecond: Double
    /// ... with bursts up to this many (default 20); over it a command is refused with `rate_limited`.
    public var perUserBurst: Double
    /// Most commands open at once (waiting for answers or holding queued deliveries; default 10,000); more are
    /// refused with `rate_limited`.
    public var maxOpenCommands: Int
    /// Most commands queued for one offline device (default 100); past it the device's result is `offline`.
    public var maxQueuedPerDevice: Int
    /// Most member devices one command may address (default 100,000).
    public var maxMembers: Int
    /// How long a finished command still takes late answers (default 10 min).
    public var lateResultWindowMs: Int64
    /// How often deadlines and TTLs are checked (default 50 ms).
    public var tickMs: Int64
    /// How long the audit keeps commands (default 90 days).
    public var auditRetentionMs: Int64

    /// Creates a configuration; every parameter has the documented default.
    public init(
        defaultTimeoutMs: Int64 = 5_000, maxTimeoutMs: Int64 = 60_000, maxTTLMs: Int64 = 7 * 86_400_000,
        perUserPerSecond: Double = 5, perUserBurst: Double = 20, maxOpenCommands: Int = 10_000,
        maxQueuedPerDevice: Int = 100, maxMembers: Int = 100_000, lateResultWindowMs: Int64 = 600_000,
        tickMs: Int64 = 50, auditRetentionMs: Int64 = 90 * 86_400_000
    ) {
        self.defaultTimeoutMs = defaultTimeoutMs
        self.maxTimeoutMs = maxTimeoutMs
        self.maxTTLMs = maxTTLMs
        self.perUserPerSecond = perUserPerSecond
        self.perUserBurst = perUserBurst
        self.maxOpenCommands = maxOpenCommands
        self.maxQueuedPerDevice = maxQueuedPerDevice
        self.maxMembers = maxMembers
        self.lateResultWindowMs = lateResultWindowMs
        self.tickMs = tickMs
        self.auditRetentionMs = auditRetentionMs
    }

    enum CodingKeys: String, CodingKey {
        case defaultTimeoutMs, maxTimeoutMs
        case maxTTLMs = "maxTtlMs"
        case perUserPerSecond, perUserBurst, maxOpenCommands, maxQueuedPerDevice, maxMembers, lateResultWindowMs
        case tickMs, auditRetentionMs
    }

    /// Problems that make the configuration unusable, as `commands.field: problem` lines.
    public func problems() -> [String] {
        var problems: [String] = []
        if !(1...3_600_000).contains(maxTimeoutMs) { problems.append("commands.max_timeout_ms: must be 1 to 3600000") }
        if !(1...maxTimeoutMs).contains(defaultTimeoutMs) {
            problems.append("commands.default_timeout_ms: must be 1 to commands.max_timeout_ms")
        }
        if !(0...31_536_000_000).contains(maxTTLMs) { problems.append("commands.max_ttl_ms: must be 0 to 31536000000") }
        if !(perUserPerSecond > 0) { problems.append("commands.per_user_per_second: must be positive") }
        if perUserBurst < 1 { problems.append("commands.per_user_burst: must be at least 1") }
        if maxOpenCommands < 1 { problems.append("commands.max_open_commands: must be positive") }
        if maxQueuedPerDevice < 0 { problems.append("commands.max_queued_per_device: must not be negative") }
        if maxMembers < 1 { problems.append("commands.max_members: must be positive") }
        if lateResultWindowMs < 0 { problems.append("commands.late_result_window_ms: must not be negative") }
        if !(10...10_000).contains(tickMs) { problems.append("commands.tick_ms: must be 10 to 10000") }
        if auditRetentionMs < 60_000 { problems.append("commands.audit_retention_ms: must be at least 60000") }
        return problems
    }
}
