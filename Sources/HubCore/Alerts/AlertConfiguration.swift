/// How alerts are evaluated and kept; the hub configuration's `alerts` block overrides these by snake_case name.
public struct AlertConfiguration: Sendable, Equatable, Codable {
    /// A rule file loaded at start and on SIGHUP (default none). `serve --rules FILE` sets it.
    public var rulesFile: String
    /// How often time-driven transitions (`for_ms`, `clear_for_ms`, `nodata_ms`, silence ends) are checked
    /// (default 1 s).
    public var tickMs: Int64
    /// Most rules (default 10,000).
    public var maxRules: Int
    /// Most samples one smoothing window holds (default 10,000).
    public var maxWindowSamples: Int
    /// How long alert history is kept (default 30 days).
    public var historyRetentionMs: Int64
    /// Most active silences (default 10,000).
    public var maxSilences: Int
    /// Alert events that may wait to be written when the alert store cannot keep up (default 100,000); older ones
    /// are dropped from the write (not from what was pushed) past it, and counted.
    public var maxPendingEvents: Int

    /// Creates a configuration; every parameter has the documented default.
    public init(
        rulesFile: String = "", tickMs: Int64 = 1_000, maxRules: Int = 10_000, maxWindowSamples: Int = 10_000,
        historyRetentionMs: Int64 = 30 * 86_400_000, maxSilences: Int = 10_000, maxPendingEvents: Int = 100_000
    ) {
        self.rulesFile = rulesFile
        self.tickMs = tickMs
        self.maxRules = maxRules
        self.maxWindowSamples = maxWindowSamples
        self.historyRetentionMs = historyRetentionMs
        self.maxSilences = maxSilences
        self.maxPendingEvents = maxPendingEvents
    }

    /// Problems that make the configuration unusable, as `alerts.field: problem` lines.
    public func problems() -> [String] {
        var problems: [String] = []
        if !(10...60_000).contains(tickMs) { problems.append("alerts.tick_ms: must be 10 to 60000") }
        if !(1...1_000_000).contains(maxRules) { problems.append("alerts.max_rules: must be 1 to 1000000") }
        if !(1...1_000_000).contains(maxWindowSamples) {
            problems.append("alerts.max_window_samples: must be 1 to 1000000")
        }
        if historyRetentionMs < 60_000 { problems.append("alerts.history_retention_ms: must be at least 60000") }
        if maxSilences < 1 { problems.append("alerts.max_silences: must be positive") }
        if maxPendingEvents < 1 { problems.append("alerts.max_pending_events: must be positive") }
        return problems
    }

    /// The parser for rules under this configuration.
    public var parser: AlertRuleParser { AlertRuleParser(maxRules: maxRules) }
}
