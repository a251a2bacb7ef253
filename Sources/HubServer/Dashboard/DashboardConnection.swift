import HubCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// One live dashboard WebSocket connection: its ``DashboardScheduler`` behind a lock, the buffered amount, and the
/// one writer task that sends what the scheduler says.
///
/// Producers (the fan-out, presence, replies) only merge into the scheduler and ring the doorbell; they never
/// write, block or start a task.
final class DashboardConnection: Sendable {
    /// Close code for a client that stayed over the high-water mark too long.
    static let closeSlowConsumer: UInt16 = 4008

    let id: UInt64
    /// The token's subject: whose subscriptions `resume` may take over.
    let owner: String
    let tokenExpiresAt: Int64
    private let outbound: WebSocketOutboundWriter
    private let channel: any Channel
    private let scheduler: Mutex<DashboardScheduler>
    private let doorbell = Doorbell()
    let buffered: BufferedAmount
    private let clock: @Sendable () -> Int64
    private let closing = Atomic<Bool>(false)
    private let metrics: HubMetrics

    init(
        id: UInt64, owner: String, tokenExpiresAt: Int64?, outbound: WebSocketOutboundWriter, channel: any Channel,
        configuration: DashboardConfiguration, metrics: HubMetrics, clock: @escaping @Sendable () -> Int64
    ) {
        self.id = id
        self.owner = owner
        self.tokenExpiresAt = tokenExpiresAt ?? .max
        self.outbound = outbound
        self.channel = channel
        self.scheduler = Mutex(DashboardScheduler(configuration: configuration))
        self.metrics = metrics
        self.clock = clock
        let doorbell = self.doorbell
        self.buffered = BufferedAmount(lowWater: configuration.lowWaterBytes) { doorbell.ring() }
    }

    /// True once the hub decided to close the connection.
    var isClosing: Bool { closing.load(ordering: .relaxed) }

    /// Works on the scheduler under its lock; rings the doorbell when `body` says so.
    func withScheduler<T, E: Error>(_ body: (inout DashboardScheduler) throws(E) -> (T, wake: Bool)) throws(E) -> T {
        let (result, wake) = try scheduler.withLock { scheduler throws(E) in try body(&scheduler) }
        if wake { doorbell.ring() }
        return result
    }

    /// Queues a frame (reply or event) behind what is already queued.
    func enqueue(_ frame: [UInt8]) {
        scheduler.withLock { _ = $0.enqueue(frame) }
        doorbell.ring()
    }

    /// Offers samples of routed series.
    func offer(_ deliveries: [(DashboardScheduler.Handle, Sample)], now: Int64) {
        let buffered = self.buffered.value
        let wake = scheduler.withLock { scheduler in
            var wake = false
            for (handle, sample) in deliveries {
                if scheduler.offer(handle, ts: sample.ts, value: sample.value, now: now, buffered: buffered) {
                    wake = true
                }
            }
            return wake
        }
        if wake { doorbell.ring() }
    }

    /// Lets subscriptions take in new series; returns the routes to add.
    func seriesAppeared(_ keys: [SeriesKey]) -> [(SeriesKey, DashboardScheduler.Handle)] {
        scheduler.withLock { scheduler in
            keys.compactMap { key in scheduler.seriesAppeared(key).map { (key, $0) } }
        }
    }

    /// Queues a presence change when the client asked for them.
    func presence(_ frame: [UInt8]) {
        let wanted = scheduler.withLock { scheduler in
            guard scheduler.wantsPresence else { return false }
            scheduler.enqueue(frame)
            return true
        }
        if wanted { doorbell.ring() }
    }

    /// Queues alert event number `seq` when the client subscribed to alerts, its snapshot does not already show
    /// it, and its filter admits it; `frame` is the event encoded once for all connections.
    func alert(_ event: AlertEvent, seq: UInt64, frame: inout [UInt8]?) {
        let wanted = scheduler.withLock { scheduler in
            guard let filter = scheduler.alertFilter, seq > scheduler.alertsShownThrough, filter.admits(event) else {
                return false
            }
            if frame == nil { frame = event.encoded }
            scheduler.enqueue(frame!)
            return true
        }
        if wanted { doorbell.ring() }
    }

    /// Whether the client has been over the high-water mark past the deadline (checked by the watchdog, since the
    /// writer may itself be waiting on a full socket).
    func isStuck(now: Int64) -> Bool {
        let buffered = self.buffered.value
        return scheduler.withLock { $0.isStuck(now: now, buffered: buffered) }
    }

    /// The series routed here (to drop the routes when the connection ends).
    var routedSeries: [SeriesKey] {
        scheduler.withLock { scheduler in
            scheduler.subscriptionNames.flatMap { scheduler.series(of: $0) }
        }
    }

    /// The subscriptions to keep for `resume`.
    func remembered(now: Int64) -> [RememberedSubscription] {
        scheduler.withLock { $0.remembered(now: now) }
    }

    /// Sends what the scheduler says, one frame per batch, until the connection closes.
    func runWriter() async {
        while !isClosing && !Task.isCancelled {
            let now = clock()
            let buffered = self.buffered.value
            let (poll, counters) = scheduler.withLock { scheduler in
                let before = scheduler.counters
                let poll = scheduler.poll(now: now, buffered: buffered)
                return (poll, (before, scheduler.counters))
            }
            record(counters.0, counters.1)
            if poll.close {
                await close(code: Self.closeSlowConsumer, reason: "slow consumer", grace: .seconds(10))
                return
            }
            if !poll.frames.isEmpty {
                metrics.messagesOut.increment(by: Int64(poll.frames.count))
                do {
                    for frame in poll.frames {
                        self.buffered.add(frame.count)
                        metrics.dashboardBytesOut.increment(by: Int64(frame.count))
                        try await outbound.write(
                            .custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: frame))))
                    }
                } catch {
                    return
                }
                continue
            }
            var timer: Scheduled<Void>?
            if let wakeAt = poll.wakeAt {
                let doorbell = self.doorbell
                timer = channel.eventLoop.scheduleTask(in: .milliseconds(max(0, wakeAt - clock()))) { doorbell.ring() }
            }
            await doorbell.wait()
            timer?.cancel()
        }
    }

    private func record(_ before: DashboardScheduler.Counters, _ after: DashboardScheduler.Counters) {
        if after.samplesSent > before.samplesSent {
            metrics.dashboardSamplesSent.increment(by: Int64(after.samplesSent - before.samplesSent))
            metrics.dashboardBatches.increment(by: Int64(after.batches - before.batches))
        }
        if after.samplesCoalesced > before.samplesCoalesced {
            metrics.dashboardSamplesCoalesced.increment(by: Int64(after.samplesCoalesced - before.samplesCoalesced))
        }
        if after.stalls > before.stalls { metrics.dashboardStalls.increment(by: Int64(after.stalls - before.stalls)) }
    }

    /// Wakes the writer (e.g. to notice the connection is closing).
    func wake() { doorbell.ring() }

    /// Sends a close frame with `code` and drops the connection after `grace` whether or not the peer answers.
    func close(code: UInt16, reason: String, grace: TimeAmount = .seconds(2)) async {
        guard !closing.exchange(true, ordering: .relaxed) else { return }
        if code == Self.closeSlowConsumer { metrics.dashboardSlowCloses.increment() }
        doorbell.ring()
        let channel = self.channel
        channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
        try? await outbound.close(.unknown(code), reason: reason)
    }
}
