import Synchronization

/// Counters shared by all simulated devices of a run.
public final class SimulationStats: Sendable {
    /// Devices currently registered.
    public let connected = Atomic<Int>(0)
    /// Devices that registered at least once.
    public let everConnected = Atomic<Int>(0)
    /// Samples sent.
    public let samplesSent = Atomic<Int>(0)
    /// Telemetry messages sent.
    public let messagesSent = Atomic<Int>(0)
    /// Errors: `error` messages from the hub and failed connection attempts.
    public let errors = Atomic<Int>(0)
    /// Reconnections after a lost or refused session.
    public let reconnects = Atomic<Int>(0)
    /// Commands answered.
    public let commandsAnswered = Atomic<Int>(0)
    /// The last error text seen, for the progress line.
    public let lastError = Mutex<String?>(nil)

    public init() {}

    func error(_ text: String) {
        errors.add(1, ordering: .relaxed)
        lastError.withLock { $0 = text }
    }

    /// A point-in-time copy of the counters.
    public var snapshot: Snapshot {
        Snapshot(
            connected: connected.load(ordering: .relaxed), everConnected: everConnected.load(ordering: .relaxed),
            samplesSent: samplesSent.load(ordering: .relaxed), messagesSent: messagesSent.load(ordering: .relaxed),
            errors: errors.load(ordering: .relaxed), reconnects: reconnects.load(ordering: .relaxed),
            commandsAnswered: commandsAnswered.load(ordering: .relaxed), lastError: lastError.withLock { $0 })
    }

    /// Counter values at one moment.
    public struct Snapshot: Sendable {
        public var connected: Int
        public var everConnected: Int
        public var samplesSent: Int
        public var messagesSent: Int
        public var errors: Int
        public var reconnects: Int
        public var commandsAnswered: Int
        public var lastError: String?
    }
}
