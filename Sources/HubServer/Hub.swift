import Foundation
import HubCore
import Logging
import Synchronization

/// The running hub's shared state: the series store and the device registry (behind one lock, so a message costs
/// one lock round), the live device sessions and the metrics.
///
/// Decisions are made by HubCore values (``SeriesStore``, ``DeviceRegistry``); this class only serialises access.
public final class Hub: Sendable {
    /// The configuration in force.
    public let configuration: HubConfiguration
    /// The metrics `/metrics` shows.
    public let metrics = HubMetrics()
    let logger: Logger
    let authority: TokenAuthority?
    let startedAt: Int64
    private let clock: @Sendable () -> Int64
    let state: Mutex<State>
    let sessions = SessionTable()
    /// Where samples go beyond the rings.
    public let archive: any SampleArchive
    /// Tickets of accepted messages that are durable.
    let durability = Durability()
    /// Wakes the write-behind early.
    let storageSignal = StorageSignal()
    /// Set when the archive could not be opened for writing.
    let storageFailed = Atomic<Bool>(false)
    /// Why the write-behind is failing, after ``storageFailureThreshold`` flushes in a row failed; nil while it
    /// writes. `/healthz` says `degraded` with it.
    let storageProblem = Mutex<String?>(nil)
    /// Failed flushes in a row.
    let storageFailures = Atomic<Int>(0)
    /// Failed flushes in a row after which `/healthz` reports the storage problem.
    static let storageFailureThreshold = 3
    /// Routes stored samples to dashboard connections.
    let fanout = Fanout()
    /// Every series by device and metric, for selectors: behind its own lock, so subscribes and `/api/series`
    /// never hold the state lock that ingest needs. `generation` counts changes.
    let seriesIndex = Mutex<(index: SeriesIndex, generation: UInt64)>((SeriesIndex(), 0))
    /// Subscriptions of dropped dashboard connections, for `resume`.
    let resumeJournal: Mutex<ResumeJournal>
    /// Where alert rules, state, silences and history are kept.
    public let alertArchive: any AlertArchive
    /// Alert events so far.
    let alertEventCount = Atomic<Int>(0)
    /// Serialises writes to the alert archive, so they land in order.
    let alertWriter = Mutex(())
    /// Serialises rule-set changes (the API and the rule-file reload), so each is checked against the set in force.
    let ruleChanges = Mutex(())
    /// Where commands (the audit and queued deliveries) and room membership decisions are kept.
    public let commandArchive: any CommandArchive
    /// The command tracker, the per-user rate limits and the senders waiting for answers.
    let commands: Mutex<CommandDesk>
    /// How each connected device is reached.
    let links = DeviceLinks()
    /// Serialises writes to the command archive, so they land in order; holds what a failed write left.
    let commandWriter = Mutex<[String: CommandRecord]>([:])
    /// Adapters that carry devices into the hub from outside its server (the MQTT bridge), for `/healthz` and
    /// `/metrics`.
    let gatewayStatuses = Mutex<[any GatewayStatus]>([])

    struct State: Sendable {
        var store: SeriesStore
        var registry = DeviceRegistry()
        /// Devices and series per token.
        var quotas: TokenQuotas
        var writeBehind: WriteBehindBuffer
        var alerts: AlertEngine
        /// Rooms: operators' membership decisions over the registry's declared rooms.
        var rooms = RoomDirectory()
        /// Alert events and changes waiting to be written to the alert archive.
        var alertWrites = AlertWrite()
        /// The number of the last alert event recorded: a subscription skips the events its snapshot already
        /// shows, even when they are pushed after it was taken.
        var alertSeq: UInt64 = 0

        /// Copies the device's quota owner into its record (saved with the next flush), once it has one.
        mutating func keepQuotaOwner(of device: String) {
            guard let owner = quotas.owner(of: device), registry[device]?.quotaOwner != owner else { return }
            registry.setQuotaOwner(owner, of: device)
        }

        /// Records events to write; returns the number of the first.
        mutating func recordAlerts(_ events: [AlertEvent]) -> UInt64 {
            alertWrites.events += events
            alertSeq += UInt64(events.count)
            return alertSeq - UInt64(events.count) + 1
        }
    }

    /// Creates a hub over `archive`, `alertArchive` and `commandArchive`. `authority` is nil when auth is disabled.
    public init(
        configuration: HubConfiguration, authority: TokenAuthority?, archive: any SampleArchive,
        alertArchive: any AlertArchive = MemoryAlertArchive(),
        commandArchive: any CommandArchive = MemoryCommandArchive(), logger: Logger,
        clock: @escaping @Sendable () -> Int64 = Hub.systemMilliseconds
    ) {
        self.configuration = configuration
        self.commandArchive = commandArchive
        self.commands = Mutex(CommandDesk(configuration: configuration.commands))
        self.authority = authority
        self.archive = archive
        self.alertArchive = alertArchive
        self.logger = logger
        self.clock = clock
        self.startedAt = clock()
        self.resumeJournal = Mutex(
            ResumeJournal(
                windowMs: configuration.dashboards.resumeWindowMs, limit: configuration.dashboards.maxRemembered))
        let storage = configuration.storage
        self.state = Mutex(
            State(
                store: SeriesStore(
                    configuration: configuration.store.resolved(memoryBytes: ProcessInfo.processInfo.physicalMemory)),
                quotas: TokenQuotas(
                    maxDevices: configuration.limits.maxDevicesPerToken,
                    maxSeries: configuration.limits.maxSeriesPerToken),
                writeBehind: WriteBehindBuffer(
                    flushIntervalMs: storage.flushIntervalMs, flushMaxSamples: storage.flushMaxSamples,
                    maxPendingSamples: storage.maxPendingSamples),
                alerts: AlertEngine(maxWindowSamples: configuration.alerts.maxWindowSamples)))
    }

    /// Loads what the archive keeps for start-up: the device registry (every device offline) and warm rings. Series
    /// of devices without a record (forgotten when they expired) stay on disk only.
    public func restore(_ startup: ArchiveStartup) {
        let now = clock()
        let known = Set(startup.devices.map(\.device))
        let newest = startup.newest.filter { known.contains($0.0.device) }
        let (devices, series) = state.withLock { state in
            state.registry.restore(startup.devices, now: now)
            for (key, samples) in newest { state.store.warm(key, samples: samples) }
            // Quotas go on where they were: each device counts again for the token that brought it in.
            for record in startup.devices {
                guard let owner = record.quotaOwner else { continue }
                state.quotas.record(
                    device: record.device, existingSeries: state.store.seriesCount(of: record.device), newSeries: 0,
                    claimant: owner)
            }
            return (state.registry.count, state.store.seriesCount)
        }
        let index = SeriesIndex(keys: newest.map(\.0))
        seriesIndex.withLock { $0 = (index, $0.generation + 1) }
        metrics.devicesKnown.record(devices)
        metrics.series.record(series)
    }

    /// The wall clock in Unix milliseconds.
    @Sendable public static func systemMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// The hub's notion of now, in Unix milliseconds.
    public var now: Int64 { clock() }

    /// Stores a message's samples for `device` in the rings and hands them to the write-behind, counting a new
    /// device and new series against the quota of the token `quota` names (nil: no quota).
    ///
    /// The result's ticket is durable once ``waitDurable(_:)`` returns for it.
    public func ingest(device: String, samples: [MetricSample], transport: String, quota: String? = nil)
        throws(ProtocolError) -> Ingested
    {
        let now = clock()
        let maxDevices = configuration.limits.maxDevices
        let flushMax = configuration.storage.flushMaxSamples
        let publishing = fanout.hasConnections
        var published: [(metric: String, sample: Sample)] = []
        var alertEvents: [AlertEvent] = []
        var firstAlertSeq: UInt64 = 0
        var appeared: PresenceEvent?
        let (result, ticket, seriesCount, wake) = try state.withLock {
            state throws(ProtocolError) -> (IngestResult, UInt64, Int, Bool) in
            if state.registry[device] == nil, state.registry.count >= maxDevices {
                throw .tooLarge("the hub knows \(state.registry.count) devices; the limit is \(maxDevices)")
            }
            if state.writeBehind.isFull {
                throw .rateLimited(
                    "the hub's storage is behind (\(state.writeBehind.pendingCount) samples wait); retry shortly")
            }
            // Moved out for the duration, so the store can append to it while it is being mutated itself.
            var buffer = WriteBehindBuffer(flushIntervalMs: 0, flushMaxSamples: 0, maxPendingSamples: 0)
            swap(&buffer, &state.writeBehind)
            defer { swap(&buffer, &state.writeBehind) }
            // The alert engine too, when it has rules: each stored sample is judged in the same pass.
            let judging = !state.alerts.isIdle
            var engine = AlertEngine(maxWindowSamples: 1)
            if judging { swap(&engine, &state.alerts) }
            defer {
                if judging {
                    swap(&engine, &state.alerts)
                    if !alertEvents.isEmpty { firstAlertSeq = state.recordAlerts(alertEvents) }
                }
            }
            let before = buffer.samples.count
            let existingSeries = state.store.seriesCount(of: device)
            let allowance = try state.quotas.allowance(device: device, existingSeries: existingSeries, claimant: quota)
            let result = try state.store.ingest(
                device: device, samples: samples, now: now, seriesAllowance: allowance
            ) { key, sample, outcome in
                buffer.append(
                    ArchiveSample(series: key, ts: sample.ts, value: sample.value, replaced: outcome == .replaced),
                    now: now)
                if publishing { published.append((key.metric, sample)) }
                if judging { engine.observe(key, sample, now: now, events: &alertEvents) }
            }
            state.quotas.record(
                device: device, existingSeries: existingSeries, newSeries: result.newSeries.count, claimant: quota)
            appeared = state.registry.touch(device: device, transport: transport, now: now)
            state.keepQuotaOwner(of: device)
            let ticket = buffer.endMessage(device: device, now: now)
            return (result, ticket, state.store.seriesCount, before < flushMax && buffer.samples.count >= flushMax)
        }
        if wake { storageSignal.signal() }
        if let appeared { announce(appeared, kind: "generic", rooms: []) }
        if !result.newSeries.isEmpty {
            // Indexed before the dashboards hear of them: a subscribe that read the index without them is already
            // registered, so `seriesAppeared` adds them to it.
            seriesIndex.withLock { entry in
                for key in result.newSeries { entry.index.insert(key) }
                entry.generation += 1
            }
            fanout.seriesAppeared(result.newSeries)
        }
        if !published.isEmpty { fanout.publish(device: device, samples: published, now: now) }
        if !alertEvents.isEmpty { alertsHappened(alertEvents, firstSeq: firstAlertSeq) }
        metrics.samplesIngested.increment(by: Int64(result.accepted))
        if result.droppedLate > 0 { metrics.samplesDroppedLate.increment(by: Int64(result.droppedLate)) }
        if !result.newSeries.isEmpty { metrics.series.record(seriesCount) }
        return Ingested(result: result, ticket: ticket)
    }

    /// Returns once the message with `ticket` is durable (committed by the write-behind); with a `timeout`, throws
    /// when it passes first (the samples are still accepted and will be written).
    public func waitDurable(_ ticket: UInt64, timeout: Duration? = nil) async throws {
        try await durability.wait(for: ticket, timeout: timeout)
    }

    // MARK: Write-behind hand-over

    /// When the next flush is due.
    var flushDueAt: Int64? { state.withLock { $0.writeBehind.flushDueAt } }

    /// Whether a flush is due at `now`.
    func isFlushDue(now: Int64) -> Bool { state.withLock { $0.writeBehind.isFlushDue(now: now) } }

    /// Whether the write-behind holds `max_pending_samples`, so telemetry is refused.
    var storageBacklogFull: Bool { state.withLock { $0.writeBehind.isFull } }

    /// Whether anything waits to be written.
    var hasPendingWrites: Bool { state.withLock { !$0.writeBehind.isEmpty } }

    /// Takes what waits to be written.
    func takeBatch() -> WriteBehindBuffer.Batch? {
        let (batch, committed) = state.withLock { state in
            let batch = state.writeBehind.take()
            metrics.storagePending.record(state.writeBehind.pendingCount)
            return (batch, state.writeBehind.committedTicket)
        }
        if batch == nil { durability.commit(through: committed) }
        return batch
    }

    /// Closes the archives once nothing writes to them any more (at the end of shutdown), so SQLite checkpoints
    /// and removes every write-ahead log.
    func closeArchives() {
        commandArchive.close()
        alertArchive.close()
        archive.close()
    }

    /// Marks a batch written: its tickets are durable.
    func committed(_ batch: WriteBehindBuffer.Batch) {
        let committed = state.withLock { state in
            state.writeBehind.committed(batch)
            return state.writeBehind.committedTicket
        }
        durability.commit(through: committed)
    }

    /// Puts a batch the archive refused back in front.
    func failed(_ batch: WriteBehindBuffer.Batch) {
        state.withLock { $0.writeBehind.failed(batch) }
    }

    /// Clears the failure count after a flush that wrote.
    func storageWrote() {
        guard storageFailures.exchange(0, ordering: .relaxed) > 0 else { return }
        storageProblem.withLock { $0 = nil }
    }

    /// Counts a failed flush; from ``storageFailureThreshold`` in a row on, `/healthz` reports `error`.
    func storageFailing(_ error: any Error) {
        let failures = storageFailures.add(1, ordering: .relaxed).newValue
        guard failures >= Self.storageFailureThreshold else { return }
        storageProblem.withLock { $0 = "storage writes are failing (\(failures) in a row): \(error)" }
    }

    /// The current records of `devices` (to save with a batch), and those of them the hub forgot (expired).
    func deviceRecords(_ devices: Set<String>) -> (records: [DeviceRecord], forgotten: [String]) {
        guard !devices.isEmpty else { return ([], []) }
        return state.withLock { state in
            var records: [DeviceRecord] = []
            var forgotten: [String] = []
            for device in devices {
                if let record = state.registry[device] { records.append(record) } else { forgotten.append(device) }
            }
            return (records, forgotten)
        }
    }

    /// Forgets the offline devices not heard of for `limits.device_expiry_ms`: their records (here and, with the
    /// next flush, in the archive), their series in the rings and their quota. Returns how many.
    @discardableResult
    func expireDevices() -> Int {
        let expiry = configuration.limits.deviceExpiryMs
        guard expiry > 0 else { return 0 }
        let now = clock()
        let (expired, known, series) = state.withLock { state in
            let expired = state.registry.expire(lastSeenBefore: now - expiry)
            for device in expired {
                let removed = state.store.removeDevice(device)
                if !removed.isEmpty {
                    seriesIndex.withLock { entry in
                        for key in removed { entry.index.remove(key) }
                        entry.generation += 1
                    }
                }
                state.quotas.forget(device: device)
                state.writeBehind.changed(device: device, now: now)
            }
            return (expired, state.registry.count, state.store.seriesCount)
        }
        guard !expired.isEmpty else { return 0 }
        metrics.devicesExpired.increment(by: Int64(expired.count))
        metrics.devicesKnown.record(known)
        metrics.series.record(series)
        logger.info("forgot expired devices", metadata: ["count": "\(expired.count)", "first": "\(expired[0])"])
        return expired.count
    }

    /// Records a registration; returns the outcome (including a session to close as replaced).
    func register(
        _ message: DeviceMessage.Register, session: SessionID, transport: String, reason: PresenceReason = .registered,
        quota: String? = nil
    ) throws(ProtocolError) -> RegistrationOutcome {
        let now = clock()
        let maxDevices = configuration.limits.maxDevices
        let (outcome, online, known) = try state.withLock { state throws(ProtocolError) in
            if state.registry[message.device] == nil, state.registry.count >= maxDevices {
                throw .tooLarge("the hub knows \(state.registry.count) devices; the limit is \(maxDevices)")
            }
            let existingSeries = state.store.seriesCount(of: message.device)
            _ = try state.quotas.allowance(device: message.device, existingSeries: existingSeries, claimant: quota)
            state.quotas.record(device: message.device, existingSeries: existingSeries, newSeries: 0, claimant: quota)
            let outcome = state.registry.register(
                message, session: session, transport: transport, now: now, reason: reason)
            state.keepQuotaOwner(of: message.device)
            state.writeBehind.changed(device: message.device, now: now)
            return (outcome, state.registry.onlineCount, state.registry.count)
        }
        metrics.devicesOnline.record(online)
        metrics.devicesKnown.record(known)
        announce(outcome.event, kind: message.kind, rooms: message.rooms)
        logger.info(
            "device online",
            metadata: [
                "device.id": "\(message.device)", "session.id": "\(session)", "reason": "\(outcome.event.reason)",
            ])
        return outcome
    }

    /// Marks a device offline if `session` is still its session.
    @discardableResult
    func sessionEnded(device: String, session: SessionID, reason: PresenceReason) -> PresenceEvent? {
        let now = clock()
        let (event, online) = state.withLock { state in
            state.writeBehind.changed(device: device, now: now)
            return (
                state.registry.sessionEnded(device: device, session: session, reason: reason, now: now),
                state.registry.onlineCount
            )
        }
        if let event {
            announce(event, kind: nil, rooms: nil)
            metrics.devicesOnline.record(online)
            logger.info("device offline", metadata: ["device.id": "\(device)", "reason": "\(event.reason.rawValue)"])
        }
        return event
    }

    /// The series `selectors` match, sorted, through the index and outside the state lock; stops looking once more
    /// than `limit` match (then `exceeded` is set). Also returns the index's generation, to tell whether a later
    /// lookup would find more.
    func series(matching selectors: [SeriesSelector], limit: Int) -> (match: SeriesMatch, generation: UInt64) {
        seriesIndex.withLock { ($0.index.series(matching: selectors, limit: limit), $0.generation) }
    }

    /// The index's generation now (see ``series(matching:limit:)``).
    var seriesIndexGeneration: UInt64 { seriesIndex.withLock { $0.generation } }

    /// Reads the store and the registry under the lock (keep `body` short: ingest waits for it).
    public func read<T: Sendable>(_ body: (SeriesStore, DeviceRegistry) throws -> T) rethrows -> T {
        try state.withLock { state in try body(state.store, state.registry) }
    }

    /// Every device record, sorted by id.
    public var devicesSnapshot: [DeviceRecord] {
        state.withLock { $0.registry.all }
    }

    /// Marks every online device offline with reason `shutdown`.
    func markAllOffline() {
        let now = clock()
        let events = state.withLock { state in
            let events = state.registry.allOffline(reason: .shutdown, now: now)
            for event in events { state.writeBehind.changed(device: event.device, now: now) }
            return events
        }
        metrics.devicesOnline.record(0)
        for event in events { announce(event, kind: nil, rooms: nil) }
        if !events.isEmpty {
            logger.info("devices marked offline for shutdown", metadata: ["count": "\(events.count)"])
        }
    }
}

extension Hub {
    /// Tells the dashboards that asked for presence about a change.
    func announce(_ event: PresenceEvent, kind: String?, rooms: [String]?) {
        guard fanout.hasConnections else { return }
        let frame = DashboardReply.device(event, kind: kind, rooms: rooms).encoded
        for connection in fanout.connections { connection.presence(frame) }
    }

    /// Keeps a dropped dashboard connection's subscriptions for `resume`.
    func rememberForResume(_ subscriptions: [RememberedSubscription], owner: String) {
        guard !subscriptions.isEmpty else { return }
        let now = clock()
        resumeJournal.withLock { $0.remember(subscriptions, owner: owner, now: now) }
    }

    /// The samples a resumed subscription missed, per series, when the hub still holds all of them in the rings;
    /// nil when it cannot tell (no remembered subscription, an unknown seq) or some were already evicted.
    func resumeReplay(
        owner: String, sub: String, selectors: [SeriesSelector], series: [SeriesKey], afterSeq: UInt64, now: Int64
    ) -> [(SeriesKey, [Sample])]? {
        var record = resumeJournal.withLock {
            $0.claim(owner: owner, sub: sub, selectors: selectors, afterSeq: afterSeq, now: now)
        }
        if record == nil {
            // The old connection may not be gone yet (a client that reconnects at once, or one whose old socket
            // is half dead): take the state of its subscription as it stands. A new subscription is not active
            // yet, so the asking connection never matches itself.
            let wanted = Set(selectors)
            record =
                fanout.connections.lazy.filter { $0.owner == owner }.compactMap { connection in
                    connection.remembered(now: now).first {
                        $0.sub == sub && Set($0.selectors) == wanted && $0.canResume(afterSeq: afterSeq)
                    }
                }.first
        }
        guard let record else { return nil }
        let limit = configuration.dashboards.maxSnapshotSamples
        return read { store, _ -> [(SeriesKey, [Sample])]? in
            var replay: [(SeriesKey, [Sample])] = []
            var total = 0
            for key in series {
                guard let ring = store.ring(key) else { continue }
                guard let samples = record.missed(key, in: ring, afterSeq: afterSeq) else { return nil }
                total += samples.count
                if total > limit { return nil }
                if !samples.isEmpty { replay.append((key, samples)) }
            }
            return replay
        }
    }
}

/// What ``Hub/ingest(device:samples:transport:)`` did, and the ticket that says when it is durable.
public struct Ingested: Sendable {
    /// What the store did.
    public var result: IngestResult
    /// Durable once ``Hub/waitDurable(_:)`` returns for it.
    public var ticket: UInt64
    /// Samples stored.
    public var accepted: Int { result.accepted }
}
