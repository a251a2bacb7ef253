/// Accepted samples waiting to be written, with the tickets that say when each message is durable.
///
/// A value type with no clock: callers pass `now`. Every ``append(_:devices:now:)`` gets the next ticket; a ticket
/// is durable once ``committedTicket`` reaches it.
public struct WriteBehindBuffer: Sendable {
    /// Flush at least this often (ms) while something waits.
    public let flushIntervalMs: Int64
    /// Flush early at this many samples.
    public let flushMaxSamples: Int
    /// Refuse more samples beyond this many waiting.
    public let maxPendingSamples: Int

    /// Samples waiting, in acceptance order.
    public private(set) var samples: [ArchiveSample] = []
    /// Devices whose records changed since the last flush.
    public private(set) var devices: Set<String> = []
    /// When the oldest waiting item was appended.
    public private(set) var oldestAt: Int64?
    /// The last ticket handed out.
    public private(set) var lastTicket: UInt64 = 0
    /// Every ticket up to this one is durable.
    public private(set) var committedTicket: UInt64 = 0

    /// A batch taken for writing.
    public struct Batch: Sendable, Equatable {
        /// The samples, in acceptance order.
        public var samples: [ArchiveSample]
        /// Devices whose records to save.
        public var devices: Set<String>
        /// Tickets up to this one are durable when the batch commits.
        public var throughTicket: UInt64
        /// When the oldest item was appended.
        public var oldestAt: Int64
    }

    /// Creates an empty buffer.
    public init(flushIntervalMs: Int64, flushMaxSamples: Int, maxPendingSamples: Int) {
        self.flushIntervalMs = flushIntervalMs
        self.flushMaxSamples = flushMaxSamples
        self.maxPendingSamples = maxPendingSamples
    }

    /// Whether more samples would exceed the pending limit.
    public var isFull: Bool { pendingCount >= maxPendingSamples }

    /// Samples waiting, those of the batch being written included (it comes back on a failed write).
    public var pendingCount: Int { samples.count + inFlight }

    /// Samples of the batch taken and not yet committed or failed.
    public private(set) var inFlight = 0

    /// Adds accepted samples and changed devices as one message; returns the ticket that is durable once they are
    /// written.
    @discardableResult
    public mutating func append(_ new: [ArchiveSample], devices changed: [String] = [], now: Int64) -> UInt64 {
        for sample in new { append(sample, now: now) }
        for device in changed { self.changed(device: device, now: now) }
        lastTicket += 1
        return lastTicket
    }

    /// Adds one accepted sample to the message being built; finish the message with ``endMessage(device:now:)``.
    public mutating func append(_ sample: ArchiveSample, now: Int64) {
        if isEmpty { oldestAt = now }
        samples.append(sample)
    }

    /// Notes that a device's record changed (registration, presence, last seen).
    public mutating func changed(device: String, now: Int64) {
        if isEmpty { oldestAt = now }
        devices.insert(device)
    }

    /// Ends a message whose samples were added with ``append(_:now:)``; returns its ticket.
    public mutating func endMessage(device: String?, now: Int64) -> UInt64 {
        if let device { changed(device: device, now: now) }
        lastTicket += 1
        return lastTicket
    }

    /// Whether anything waits.
    public var isEmpty: Bool { samples.isEmpty && devices.isEmpty }

    /// When the next flush is due (nil when nothing waits).
    public var flushDueAt: Int64? {
        guard let oldestAt, !isEmpty else { return nil }
        return samples.count >= flushMaxSamples ? oldestAt : oldestAt &+ flushIntervalMs
    }

    /// Whether a flush is due at `now`.
    public func isFlushDue(now: Int64) -> Bool {
        guard let due = flushDueAt else { return false }
        return now >= due
    }

    /// Takes everything waiting (even when no flush is due, e.g. on shutdown); nil when nothing waits.
    public mutating func take() -> Batch? {
        guard !isEmpty, let oldestAt else {
            // Tickets with nothing to write (e.g. an empty message) are durable at once.
            committedTicket = lastTicket
            return nil
        }
        let batch = Batch(samples: samples, devices: devices, throughTicket: lastTicket, oldestAt: oldestAt)
        inFlight = samples.count
        samples = []
        devices = []
        self.oldestAt = nil
        return batch
    }

    /// Records that `batch` committed: its tickets are durable.
    public mutating func committed(_ batch: Batch) {
        inFlight = 0
        committedTicket = max(committedTicket, batch.throughTicket)
        if isEmpty { committedTicket = max(committedTicket, lastTicket) }
    }

    /// Puts a batch that failed to write back in front of what arrived since, to be retried.
    public mutating func failed(_ batch: Batch) {
        inFlight = 0
        samples = batch.samples + samples
        devices.formUnion(batch.devices)
        oldestAt = min(oldestAt ?? batch.oldestAt, batch.oldestAt)
    }
}
