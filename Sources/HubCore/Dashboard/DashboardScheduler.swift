/// The decisions of one dashboard connection, free of sockets and clocks: which series each subscription carries,
/// what waits to be sent, when each subscription's next batch is due, and what to drop while the client is slow.
///
/// The adapter feeds it samples (``offer(_:ts:value:now:buffered:)``), replies (``enqueue(_:)``) and the
/// connection's buffered amount, and asks ``poll(now:buffered:)`` what to write and when to ask again.
///
/// Backpressure: while the buffered amount is at or over the high-water mark nothing is sent and every
/// subscription keeps only the newest sample per series, counting what it dropped; the next batch carries that
/// count as `coalesced`. Sending resumes once the buffered amount is at or under the low-water mark. A connection
/// over the mark for longer than the slow-consumer deadline is to be closed (``Poll/close``).
///
/// ```swift
/// var scheduler = DashboardScheduler(configuration: DashboardConfiguration())
/// try scheduler.subscribe("s1", selectors: [selector], rateMs: 250, now: now)
/// let routes = try scheduler.add(keys, to: "s1")           // route these handles' samples here
/// scheduler.activate("s1", reply: ack, snapshot: snapshot, floors: [:], now: now)
/// _ = scheduler.offer(handle, ts: ts, value: value, now: now, buffered: 0)
/// let poll = scheduler.poll(now: now, buffered: 0)       // write poll.frames, ask again at poll.wakeAt
/// ```
public struct DashboardScheduler: Sendable {
    /// A series as this connection numbers it; routes carry it so a delivery costs no hashing.
    public struct Handle: Hashable, Sendable {
        let index: Int32
        let generation: UInt32
    }

    /// What to do now.
    public struct Poll: Sendable {
        /// Text frames to write, in order.
        public var frames: [[UInt8]] = []
        /// When to poll again (Unix ms) unless woken earlier; nil when only new input can make anything due.
        public var wakeAt: Int64?
        /// Close the connection with 4008: it stayed over the high-water mark past the deadline, or too much
        /// waited in its queue.
        public var close = false
    }

    /// Totals since the connection opened, for metrics.
    public struct Counters: Sendable, Equatable {
        /// Samples sent in batches (replays included).
        public var samplesSent = 0
        /// Samples dropped by coalescing.
        public var samplesCoalesced = 0
        /// Batches sent.
        public var batches = 0
        /// Times the connection went over the high-water mark.
        public var stalls = 0
    }

    struct Entry {
        var key: SeriesKey
        var generation: UInt32
        /// Slots of the subscriptions carrying this series.
        var subscriptions: [Int]
    }

    struct Pending {
        var series: Int32
        var ts: Int64
        var value: Double
    }

    /// The configuration in force.
    public let configuration: DashboardConfiguration
    private var entries: [Entry] = []
    private var freeEntries: [Int32] = []
    private var handles: [SeriesKey: Int32] = [:]
    private var subscriptions: [Subscription?] = []
    private var slotByName: [String: Int] = [:]
    private var queue: [[UInt8]] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var overHigh = false
    private var overSince: Int64 = 0
    private var mustClose = false
    /// Totals for metrics.
    public private(set) var counters = Counters()
    /// Whether `device` presence events go to this connection.
    public var wantsPresence = false
    /// Which alert events go to this connection (nil: none).
    public var alertFilter: AlertFilter?
    /// The number of the last alert event the subscription's snapshot of active alerts already reflects; events up
    /// to it are not sent again.
    public var alertsShownThrough: UInt64 = 0

    /// Creates the scheduler of a new connection.
    public init(configuration: DashboardConfiguration) {
        self.configuration = configuration
    }

    // MARK: Subscriptions

    /// Starts subscription `name` (replacing one of that name) with no series yet and not yet active: samples
    /// offered meanwhile wait for ``activate(_:reply:snapshot:floors:now:)``.
    ///
    /// Returns the series no subscription carries any more (their routes can go). Throws `too_large` over the
    /// subscription limit.
    public mutating func subscribe(
        _ name: String, selectors: [SeriesSelector], rateMs: Int64, now: Int64, seq: UInt64 = 0
    ) throws(ProtocolError) -> [SeriesKey] {
        var released: [SeriesKey] = []
        if slotByName[name] != nil {
            released = removeSubscription(name)
        } else if slotByName.count >= configuration.maxSubscriptions {
            throw .tooLarge(
                "this connection has \(slotByName.count) subscriptions; the limit is \(configuration.maxSubscriptions)")
        }
        let subscription = Subscription(name: name, selectors: selectors, rateMs: rateMs, seq: seq, now: now)
        if let free = subscriptions.firstIndex(where: { $0 == nil }) {
            subscriptions[free] = subscription
            slotByName[name] = free
        } else {
            subscriptions.append(subscription)
            slotByName[name] = subscriptions.count - 1
        }
        return released
    }

    /// Adds series to subscription `name` (those it already carries are skipped). Returns the series that had no
    /// handle on this connection before, with their new handles: route their samples here. Throws `too_large`
    /// (adding nothing) when the subscription would carry more than the limit, `not_found` for no such
    /// subscription.
    public mutating func add(_ keys: [SeriesKey], to name: String) throws(ProtocolError) -> [(SeriesKey, Handle)] {
        guard let slot = slotByName[name] else { throw .notFound("no subscription '\(name)'") }
        var seen = Set<SeriesKey>()
        let fresh = keys.filter { key in
            guard seen.insert(key).inserted else { return false }
            guard let index = handles[key] else { return true }
            return !entries[Int(index)].subscriptions.contains(slot)
        }
        let limit = configuration.maxSeriesPerSubscription
        guard subscriptions[slot]!.seriesCount + fresh.count <= limit else {
            throw .tooLarge(
                "subscription '\(name)' would carry \(subscriptions[slot]!.seriesCount + fresh.count) series; the limit is \(limit)"
            )
        }
        var routes: [(SeriesKey, Handle)] = []
        for key in fresh {
            let (handle, isNew) = handle(for: key)
            entries[Int(handle.index)].subscriptions.append(slot)
            subscriptions[slot]!.seriesCount += 1
            if isNew { routes.append((key, handle)) }
        }
        return routes
    }

    /// A series that just appeared in the hub: joins every subscription whose selectors match it and that has
    /// room. Returns its new handle when it should be routed here, nil when no subscription wants it.
    public mutating func seriesAppeared(_ key: SeriesKey) -> Handle? {
        guard handles[key] == nil else { return nil }
        let limit = configuration.maxSeriesPerSubscription
        let wanting = subscriptions.indices.filter { slot in
            guard let subscription = subscriptions[slot] else { return false }
            return subscription.seriesCount < limit && subscription.selectors.contains { $0.matches(key) }
        }
        guard !wanting.isEmpty else { return nil }
        let (handle, _) = handle(for: key)
        entries[Int(handle.index)].subscriptions = wanting
        for slot in wanting { subscriptions[slot]!.seriesCount += 1 }
        return handle
    }

    /// Makes subscription `name` active: queues `reply` (its ack) and `snapshot`, and drops samples offered
    /// meanwhile that the snapshot already holds (per series, those not newer than `floors[key]`).
    public mutating func activate(
        _ name: String, reply: [UInt8], snapshot: [UInt8]?, floors: [SeriesKey: Int64], now: Int64
    ) {
        guard let slot = slotByName[name] else { return }
        enqueue(reply)
        if let snapshot { enqueue(snapshot) }
        let entries = self.entries
        subscriptions[slot]!.activate(now: now) { series, ts in
            guard let floor = floors[entries[Int(series)].key] else { return false }
            return ts <= floor
        }
    }

    /// Makes a resumed subscription active: queues `reply`, then the missed samples as batches numbered from
    /// `afterSeq + 1` (at most `max_batch_samples` each), and drops samples offered meanwhile that the replay
    /// already holds.
    public mutating func activateResumed(
        _ name: String, reply: [UInt8], replay: [(SeriesKey, [Sample])], now: Int64
    ) {
        guard let slot = slotByName[name] else { return }
        enqueue(reply)
        var floors: [SeriesKey: Int64] = [:]
        var samples: [(key: SeriesKey, sample: Sample)] = []
        for (key, list) in replay {
            if let last = list.last { floors[key] = last.ts }
            for sample in list { samples.append((key, sample)) }
        }
        samples.sort { $0.sample.ts < $1.sample.ts }
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + configuration.maxBatchSamples)
            var writer = JSONWriter(capacity: (end - start) * 40 + 96)
            let seq = subscriptions[slot]!.nextSeq()
            Self.writeBatchHead(name: name, seq: seq, to: &writer)
            var minTs = Int64.max
            for index in start..<end {
                if index > start { writer.byte(UInt8(ascii: ",")) }
                let (key, sample) = samples[index]
                writer.byte(UInt8(ascii: "["))
                writer.string(key.description)
                writer.byte(UInt8(ascii: ","))
                writer.int(sample.ts)
                writer.byte(UInt8(ascii: ","))
                writer.number(sample.value)
                writer.byte(UInt8(ascii: "]"))
                minTs = min(minTs, sample.ts)
                if let index = handles[key], entries[Int(index)].subscriptions.contains(slot) {
                    subscriptions[slot]!.noteDelivered(index, ts: sample.ts)
                }
            }
            writer.raw("],\"coalesced\":0}")
            subscriptions[slot]!.log(seq: seq, minTs: minTs, limit: configuration.resumeBatches)
            enqueue(writer.bytes)
            counters.samplesSent += end - start
            counters.batches += 1
            start = end
        }
        let entries = self.entries
        subscriptions[slot]!.activate(now: now) { series, ts in
            guard let floor = floors[entries[Int(series)].key] else { return false }
            return ts <= floor
        }
    }

    /// Changes the rate of subscription `name`; throws `not_found` when there is none.
    public mutating func setRate(_ name: String, rateMs: Int64) throws(ProtocolError) {
        guard let slot = slotByName[name] else { throw .notFound("no subscription '\(name)'") }
        subscriptions[slot]!.rateMs = rateMs
    }

    /// Ends subscription `name`; returns the series no subscription carries any more. Throws `not_found`.
    public mutating func unsubscribe(_ name: String) throws(ProtocolError) -> [SeriesKey] {
        guard slotByName[name] != nil else { throw .notFound("no subscription '\(name)'") }
        return removeSubscription(name)
    }

    /// Whether subscription `name` exists.
    public func hasSubscription(_ name: String) -> Bool { slotByName[name] != nil }

    /// How many series subscription `name` carries.
    public func seriesCount(of name: String) -> Int {
        slotByName[name].flatMap { subscriptions[$0]?.seriesCount } ?? 0
    }

    /// The series subscription `name` carries, sorted.
    public func series(of name: String) -> [SeriesKey] {
        guard let slot = slotByName[name] else { return [] }
        return entries.filter { $0.subscriptions.contains(slot) }.map(\.key).sorted()
    }

    /// The subscription names, sorted.
    public var subscriptionNames: [String] { slotByName.keys.sorted() }

    /// Samples waiting in all subscriptions (bounded by the batch and series limits).
    public var pendingSamples: Int { subscriptions.reduce(0) { $0 + ($1?.pending.count ?? 0) } }

    /// Bytes of replies, snapshots and events waiting.
    public var queuedByteCount: Int { queuedBytes }

    // MARK: Input

    /// Offers one sample of the series `handle`; returns true when the writer should be woken (a subscription
    /// that had nothing waiting now has something).
    public mutating func offer(_ handle: Handle, ts: Int64, value: Double, now: Int64, buffered: Int) -> Bool {
        let index = Int(handle.index)
        guard index < entries.count, entries[index].generation == handle.generation else { return false }
        note(buffered: buffered, now: now)
        var wake = false
        let cap = configuration.maxBatchSamples
        let coalesce = overHigh
        for slot in entries[index].subscriptions {
            let result = subscriptions[slot]!.add(
                Pending(series: handle.index, ts: ts, value: value), coalesce: coalesce, cap: cap)
            counters.samplesCoalesced += result.dropped
            wake = wake || result.wake
        }
        return wake
    }

    /// Queues a reply, snapshot or event frame; returns true (wake the writer). Past `max_queued_bytes` the
    /// connection is to be closed as a slow consumer.
    @discardableResult
    public mutating func enqueue(_ frame: [UInt8]) -> Bool {
        queue.append(frame)
        queuedBytes += frame.count
        if queuedBytes > configuration.maxQueuedBytes { mustClose = true }
        return true
    }

    // MARK: Output

    /// What to write now, given the connection's buffered amount.
    public mutating func poll(now: Int64, buffered: Int) -> Poll {
        note(buffered: buffered, now: now)
        var poll = Poll()
        if mustClose || (overHigh && now - overSince >= configuration.slowConsumerMs) {
            mustClose = true
            poll.close = true
            return poll
        }
        if overHigh {
            poll.wakeAt = overSince + configuration.slowConsumerMs
            return poll
        }
        while queueHead < queue.count {
            poll.frames.append(queue[queueHead])
            queuedBytes -= queue[queueHead].count
            queueHead += 1
        }
        queue.removeAll(keepingCapacity: queue.capacity <= 64)
        queueHead = 0
        for slot in subscriptions.indices {
            guard let subscription = subscriptions[slot], subscription.active, !subscription.pending.isEmpty else {
                continue
            }
            let due = subscription.lastBatchAt + subscription.rateMs
            if due <= now {
                poll.frames.append(batch(slot: slot, now: now))
            } else {
                poll.wakeAt = min(poll.wakeAt ?? .max, due)
            }
        }
        return poll
    }

    /// Whether the connection has been over the high-water mark past the slow-consumer deadline, or has too much
    /// queued: it is to be closed with 4008.
    public mutating func isStuck(now: Int64, buffered: Int) -> Bool {
        note(buffered: buffered, now: now)
        if overHigh && now - overSince >= configuration.slowConsumerMs { mustClose = true }
        return mustClose
    }

    /// The active subscriptions as the resume journal keeps them once the connection is gone.
    public func remembered(now: Int64) -> [RememberedSubscription] {
        subscriptions.compactMap { subscription -> RememberedSubscription? in
            guard let subscription, subscription.active else { return nil }
            var delivered: [SeriesKey: Int64] = [:]
            for (index, ts) in subscription.delivered.enumerated() where ts != .min {
                delivered[entries[index].key] = ts
            }
            return RememberedSubscription(
                sub: subscription.name, selectors: subscription.selectors, rateMs: subscription.rateMs,
                lastSeq: subscription.seq, delivered: delivered, batches: subscription.orderedLog,
                subscribedAt: subscription.subscribedAt, detachedAt: now)
        }
    }

    // MARK: Internals

    private mutating func note(buffered: Int, now: Int64) {
        if buffered >= configuration.highWaterBytes {
            if !overHigh {
                overHigh = true
                overSince = now
                counters.stalls += 1
            }
        } else if buffered <= configuration.lowWaterBytes, overHigh {
            overHigh = false
            for slot in subscriptions.indices where subscriptions[slot]?.coalescing == true {
                subscriptions[slot]!.stopCoalescing(cap: configuration.maxBatchSamples)
            }
        }
    }

    private mutating func handle(for key: SeriesKey) -> (Handle, isNew: Bool) {
        if let index = handles[key] {
            return (Handle(index: index, generation: entries[Int(index)].generation), false)
        }
        let index: Int32
        if let free = freeEntries.popLast() {
            index = free
            entries[Int(index)].key = key
            entries[Int(index)].generation &+= 1
            entries[Int(index)].subscriptions = []
        } else {
            index = Int32(entries.count)
            entries.append(Entry(key: key, generation: 0, subscriptions: []))
        }
        handles[key] = index
        return (Handle(index: index, generation: entries[Int(index)].generation), true)
    }

    private mutating func removeSubscription(_ name: String) -> [SeriesKey] {
        guard let slot = slotByName.removeValue(forKey: name) else { return [] }
        subscriptions[slot] = nil
        var released: [SeriesKey] = []
        for index in entries.indices {
            guard let position = entries[index].subscriptions.firstIndex(of: slot) else { continue }
            entries[index].subscriptions.remove(at: position)
            if entries[index].subscriptions.isEmpty {
                let key = entries[index].key
                handles[key] = nil
                entries[index].generation &+= 1
                freeEntries.append(Int32(index))
                released.append(key)
            }
        }
        return released
    }

    private mutating func batch(slot: Int, now: Int64) -> [UInt8] {
        let subscription = subscriptions[slot]!
        var writer = JSONWriter(capacity: subscription.pending.count * 40 + 96)
        let seq = subscription.seq + 1
        Self.writeBatchHead(name: subscription.name, seq: seq, to: &writer)
        var minTs = Int64.max
        for (position, pending) in subscription.pending.enumerated() {
            if position > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.byte(UInt8(ascii: "["))
            writer.string(entries[Int(pending.series)].key.description)
            writer.byte(UInt8(ascii: ","))
            writer.int(pending.ts)
            writer.byte(UInt8(ascii: ","))
            writer.number(pending.value)
            writer.byte(UInt8(ascii: "]"))
            minTs = min(minTs, pending.ts)
        }
        writer.raw("],\"coalesced\":")
        writer.int(Int64(subscription.coalesced))
        writer.byte(UInt8(ascii: "}"))
        counters.samplesSent += subscription.pending.count
        counters.batches += 1
        subscriptions[slot]!.sent(seq: seq, minTs: minTs, now: now, logLimit: configuration.resumeBatches)
        return writer.bytes
    }

    static func writeBatchHead(name: String, seq: UInt64, to writer: inout JSONWriter) {
        writer.raw("{\"type\":\"batch\",\"sub\":")
        writer.string(name)
        writer.raw(",\"seq\":")
        writer.int(Int64(seq))
        writer.raw(",\"samples\":[")
    }
}

/// A subscription's own state inside a ``DashboardScheduler``.
struct Subscription: Sendable {
    let name: String
    let selectors: [SeriesSelector]
    var rateMs: Int64
    /// The seq of the last batch sent.
    var seq: UInt64
    /// Snapshot sent; batches may flow.
    var active = false
    var seriesCount = 0
    var pending: [DashboardScheduler.Pending] = []
    /// By series index: the position in `pending` of its sample while coalescing, -1 when none.
    var slots: [Int32] = []
    var coalescing = false
    /// Samples dropped since the last batch.
    var coalesced = 0
    var lastBatchAt: Int64
    let subscribedAt: Int64
    /// By series index: the newest ts sent, `.min` when none.
    var delivered: [Int64] = []
    /// The last batches sent (seq and oldest ts), a ring.
    var batchLog: [BatchMark] = []
    var batchLogHead = 0

    init(name: String, selectors: [SeriesSelector], rateMs: Int64, seq: UInt64, now: Int64) {
        self.name = name
        self.selectors = selectors
        self.rateMs = rateMs
        self.seq = seq
        self.lastBatchAt = now
        self.subscribedAt = now
    }

    /// Adds a sample; `wake` when the subscription had nothing waiting, `dropped` samples coalesced away.
    mutating func add(_ sample: DashboardScheduler.Pending, coalesce: Bool, cap: Int) -> (wake: Bool, dropped: Int) {
        let wasEmpty = pending.isEmpty
        var dropped = 0
        if !coalescing && (coalesce || pending.count >= cap) { dropped += startCoalescing() }
        if coalescing {
            let series = Int(sample.series)
            if series >= slots.count { slots.append(contentsOf: repeatElement(-1, count: series + 1 - slots.count)) }
            let position = slots[series]
            if position >= 0 {
                // The newest timestamp wins; a late sample arriving after a newer one is the one dropped.
                if sample.ts >= pending[Int(position)].ts { pending[Int(position)] = sample }
                coalesced += 1
                return (false, dropped + 1)
            }
            slots[series] = Int32(pending.count)
        }
        pending.append(sample)
        return (wasEmpty && active, dropped)
    }

    /// Keeps only the newest sample per series (in arrival order of the kept ones); returns how many went.
    private mutating func startCoalescing() -> Int {
        coalescing = true
        var kept: [DashboardScheduler.Pending] = []
        kept.reserveCapacity(min(pending.count, seriesCount))
        for sample in pending {
            let series = Int(sample.series)
            if series >= slots.count { slots.append(contentsOf: repeatElement(-1, count: series + 1 - slots.count)) }
            let position = slots[series]
            if position >= 0 {
                if sample.ts >= kept[Int(position)].ts { kept[Int(position)] = sample }
            } else {
                slots[series] = Int32(kept.count)
                kept.append(sample)
            }
        }
        let dropped = pending.count - kept.count
        coalesced += dropped
        pending = kept
        return dropped
    }

    /// Keeps every sample again once the client has caught up, unless the cap still calls for coalescing.
    mutating func stopCoalescing(cap: Int) {
        guard pending.count < cap else { return }
        for sample in pending { slots[Int(sample.series)] = -1 }
        coalescing = false
    }

    /// Marks the subscription active, dropping waiting samples `covered` says a snapshot or replay holds (what was
    /// coalesced before is covered too: the snapshot is newer).
    mutating func activate(now: Int64, covered: (Int32, Int64) -> Bool) {
        if coalescing {
            for sample in pending { slots[Int(sample.series)] = -1 }
            coalescing = false
        }
        coalesced = 0
        pending.removeAll { covered($0.series, $0.ts) }
        active = true
        lastBatchAt = now
    }

    mutating func nextSeq() -> UInt64 {
        seq += 1
        return seq
    }

    mutating func noteDelivered(_ index: Int32, ts: Int64) {
        let series = Int(index)
        if series >= delivered.count {
            delivered.append(contentsOf: repeatElement(.min, count: series + 1 - delivered.count))
        }
        if ts > delivered[series] { delivered[series] = ts }
    }

    /// A batch holding `pending` went out as `seq`.
    mutating func sent(seq: UInt64, minTs: Int64, now: Int64, logLimit: Int) {
        self.seq = seq
        for sample in pending {
            let series = Int(sample.series)
            if series >= delivered.count {
                delivered.append(contentsOf: repeatElement(.min, count: series + 1 - delivered.count))
            }
            if sample.ts > delivered[series] { delivered[series] = sample.ts }
            if coalescing { slots[series] = -1 }
        }
        pending.removeAll(keepingCapacity: true)
        coalescing = false
        coalesced = 0
        lastBatchAt = now
        log(seq: seq, minTs: minTs, limit: logLimit)
    }

    mutating func log(seq: UInt64, minTs: Int64, limit: Int) {
        let mark = BatchMark(seq: seq, minTs: minTs)
        if batchLog.count < limit {
            batchLog.append(mark)
        } else {
            batchLog[batchLogHead] = mark
            batchLogHead = (batchLogHead + 1) % limit
        }
    }

    var orderedLog: [BatchMark] {
        Array(batchLog[batchLogHead...] + batchLog[..<batchLogHead])
    }
}

/// A batch as the resume journal remembers it: its seq and the oldest timestamp in it.
public struct BatchMark: Equatable, Sendable {
    public var seq: UInt64
    public var minTs: Int64
}
