/// Decides, from the time a session was last heard from, whether to ping it or declare it gone.
///
/// The hub pings every `intervalMs`; any frame from the device (a pong included) counts as activity. A device
/// silent for `missedLimit` intervals goes offline with reason `heartbeat_timeout`.
public struct HeartbeatPolicy: Sendable, Equatable {
    /// The heartbeat interval announced to devices (`heartbeat_ms`).
    public var intervalMs: Int64
    /// How many silent intervals make a device offline (3).
    public var missedLimit: Int64

    /// Creates a policy.
    public init(intervalMs: Int64 = 15_000, missedLimit: Int64 = 3) {
        self.intervalMs = intervalMs
        self.missedLimit = missedLimit
    }

    /// What to do with a session.
    public enum Verdict: Equatable, Sendable {
        case ping
        case expire
    }

    /// The verdict for a session last active at `lastActivity`.
    public func verdict(lastActivity: Int64, now: Int64) -> Verdict {
        now - lastActivity >= intervalMs * missedLimit ? .expire : .ping
    }

    /// What a heartbeat tick does with a session.
    public enum Assessment: Equatable, Sendable {
        /// Alive: send a ping.
        case ping
        /// Silent for `missedLimit` intervals: offline with `heartbeat_timeout`, drop the connection.
        case expire
        /// A write to it has been stuck for `missedLimit` intervals: offline with `slow_consumer`, drop it.
        case stalled
        /// Its token expired: close with 1008.
        case tokenExpired
    }

    /// Assesses a session from its last activity, the start of a write still in progress (nil when none) and its
    /// token's expiry.
    public func assess(lastActivity: Int64, writeStartedAt: Int64?, tokenExpiresAt: Int64, now: Int64) -> Assessment {
        if now >= tokenExpiresAt { return .tokenExpired }
        if let writeStartedAt, now - writeStartedAt >= intervalMs * missedLimit { return .stalled }
        return verdict(lastActivity: lastActivity, now: now) == .expire ? .expire : .ping
    }
}
