/// A subscription of a dropped dashboard connection, as kept for `resume`.
public struct RememberedSubscription: Equatable, Sendable {
    /// The client's name for it.
    public var sub: String
    public var selectors: [SeriesSelector]
    public var rateMs: Int64
    /// The seq of the last batch sent.
    public var lastSeq: UInt64
    /// Per series, the newest timestamp sent.
    public var delivered: [SeriesKey: Int64]
    /// The last batches sent, oldest first.
    public var batches: [BatchMark]
    /// When the subscription started (Unix ms): its snapshot holds what came before.
    public var subscribedAt: Int64
    /// When the connection went away.
    public var detachedAt: Int64

    /// Creates a record.
    public init(
        sub: String, selectors: [SeriesSelector], rateMs: Int64, lastSeq: UInt64, delivered: [SeriesKey: Int64],
        batches: [BatchMark], subscribedAt: Int64, detachedAt: Int64
    ) {
        self.sub = sub
        self.selectors = selectors
        self.rateMs = rateMs
        self.lastSeq = lastSeq
        self.delivered = delivered
        self.batches = batches
        self.subscribedAt = subscribedAt
        self.detachedAt = detachedAt
    }

    /// Whether a client that received every batch up to `afterSeq` can be told exactly what it missed: the seq
    /// is one the hub sent, and every batch after it is still remembered.
    public func canResume(afterSeq: UInt64) -> Bool {
        guard afterSeq <= lastSeq else { return false }
        if afterSeq == lastSeq { return true }
        guard let oldest = batches.first?.seq else { return false }
        return oldest <= afterSeq + 1
    }

    /// The timestamp from which samples of `key` must be replayed to a client that received every batch up to
    /// `afterSeq`: just after the newest one sent, or earlier when later batches (which the client missed) held
    /// older samples. Replaying from there may repeat a few samples, never skips one.
    public func replayFrom(_ key: SeriesKey, afterSeq: UInt64) -> Int64 {
        var from = delivered[key].map { $0 == .max ? $0 : $0 + 1 } ?? subscribedAt
        for mark in batches where mark.seq > afterSeq { from = min(from, mark.minTs) }
        return from
    }

    /// The samples of `key` a client that received every batch up to `afterSeq` missed, taken from the series'
    /// ring; nil when the ring no longer holds all of them (it is full and its oldest sample is newer).
    public func missed(_ key: SeriesKey, in ring: SeriesRing, afterSeq: UInt64) -> [Sample]? {
        let from = replayFrom(key, afterSeq: afterSeq)
        if let oldest = ring.oldest, oldest.ts > from, ring.count >= ring.capacity { return nil }
        return ring.range(from: from, to: .max)
    }
}

/// The subscriptions of recently dropped dashboard connections, by owner (the token's subject) and name, so a
/// client that reconnects can `resume` without losing or repeating samples.
///
/// A value type with no clock: callers pass `now`. Records older than the window, and the oldest beyond the
/// limit, are forgotten.
public struct ResumeJournal: Sendable {
    struct Record: Sendable {
        var owner: String
        var subscription: RememberedSubscription
    }

    /// How long a record is kept (ms).
    public let windowMs: Int64
    /// Most records kept.
    public let limit: Int
    private var records: [Record] = []

    /// Creates an empty journal.
    public init(windowMs: Int64, limit: Int) {
        self.windowMs = windowMs
        self.limit = limit
    }

    /// Records kept.
    public var count: Int { records.count }

    /// Keeps the subscriptions of a connection that went away.
    public mutating func remember(_ subscriptions: [RememberedSubscription], owner: String, now: Int64) {
        expire(now: now)
        guard limit > 0, windowMs > 0 else { return }
        for subscription in subscriptions {
            records.append(Record(owner: owner, subscription: subscription))
        }
        if records.count > limit { records.removeFirst(records.count - limit) }
    }

    /// Takes the newest record of `owner`'s subscription `sub` with the same selectors that can resume after
    /// `afterSeq`; nil when there is none (the caller sends a fresh snapshot).
    public mutating func claim(owner: String, sub: String, selectors: [SeriesSelector], afterSeq: UInt64, now: Int64)
        -> RememberedSubscription?
    {
        expire(now: now)
        let wanted = Set(selectors)
        guard
            let index = records.lastIndex(where: {
                $0.owner == owner && $0.subscription.sub == sub && Set($0.subscription.selectors) == wanted
                    && $0.subscription.canResume(afterSeq: afterSeq)
            })
        else { return nil }
        return records.remove(at: index).subscription
    }

    /// Forgets records older than the window.
    public mutating func expire(now: Int64) {
        let cutoff = now - windowMs
        if let keep = records.firstIndex(where: { $0.subscription.detachedAt > cutoff }) {
            if keep > 0 { records.removeFirst(keep) }
        } else {
            records.removeAll()
        }
    }
}
