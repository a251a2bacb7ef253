import Foundation
import HubCore
import Logging
import NIOPosix

/// The hub's alert side: the ``AlertEngine`` lives in the hub state (so samples are judged in the ingest pass),
/// events are pushed at once to subscribers and written to the alert archive by ``AlertService``.
extension Hub {
    // MARK: Start-up

    /// Loads the alert archive's state, then the rule file (when configured). A rule file that cannot be used
    /// stops the start with its problems.
    func restoreAlerts() throws {
        let alerts = configuration.alerts
        let startup = try alertArchive.startup(parser: alerts.parser)
        let now = self.now
        state.withLock { state in
            state.alerts.restore(
                rules: startup.rules, instances: startup.instances, silences: startup.silences,
                lastAlertNumber: startup.lastAlertNumber, series: Self.seriesWithLatest(state.store), now: now)
        }
        logger.info(
            "alert state restored",
            metadata: [
                "rules": "\(startup.rules.count)", "active": "\(startup.instances.count)",
                "silences": "\(startup.silences.count)", "archive": "\(alertArchive.location)",
            ])
        if !alerts.rulesFile.isEmpty {
            let fileRules = try readRuleFile(alerts.rulesFile)
            try applyRuleSet(source: "rule file \(alerts.rulesFile)") { current in
                AlertRuleSet.loadingFile(fileRules, into: current)
            }
        }
        recordAlertGauges()
    }

    static func seriesWithLatest(_ store: SeriesStore) -> [(SeriesKey, Sample?)] {
        store.series(matching: Self.everySeries).map { ($0, store.latest($0)) }
    }

    private static let everySeries = try! SeriesSelector(parsing: "*/*")

    // MARK: Rules

    /// The rules in force.
    public var alertRules: [AlertRule] { state.withLock { $0.alerts.rules } }

    /// Reads and checks a rule file; throws ``RuleProblems`` naming each bad field.
    func readRuleFile(_ path: String) throws -> [AlertRule] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuleProblems(["\(path): cannot be read"])
        }
        do {
            return try configuration.alerts.parser.parseSet(Array(data), source: .file)
        } catch {
            throw RuleProblems(error.problems.map { "\(path): \($0)" })
        }
    }

    /// Reloads the rule file (SIGHUP). Problems are logged and returned; the rules in force then stay as they are.
    @discardableResult
    public func reloadRuleFile() -> [String] {
        let path = configuration.alerts.rulesFile
        guard !path.isEmpty else {
            logger.notice("no rule file configured (--rules); nothing to reload")
            return []
        }
        do {
            let fileRules = try readRuleFile(path)
            let rules = try applyRuleSet(source: "rule file \(path)") { current in
                AlertRuleSet.loadingFile(fileRules, into: current)
            }
            logger.notice("rule file reloaded", metadata: ["file": "\(path)", "rules": "\(rules.count)"])
            return []
        } catch let problems as RuleProblems {
            for problem in problems.problems {
                logger.error("rule file not reloaded; the rules in force stay", metadata: ["problem": "\(problem)"])
            }
            return problems.problems
        } catch {
            logger.error("rule file not reloaded; the rules in force stay", metadata: ["error": "\(error)"])
            return ["\(error)"]
        }
    }

    /// Computes a new rule set from the one in force, stores it, and puts it in force. Throws ``RuleProblems``
    /// (nothing changes) when the result is over the limit, or the store's error when it cannot be written.
    @discardableResult
    public func applyRuleSet(source: String, _ change: ([AlertRule]) throws -> [AlertRule]) throws -> [AlertRule] {
        try ruleChanges.withLock { _ in
            let current = state.withLock { $0.alerts.rules }
            let rules = try change(current)
            let limit = configuration.alerts.maxRules
            guard rules.count <= limit else {
                throw RuleProblems(["rules: \(rules.count) rules; the limit is \(limit)"])
            }
            guard rules != current else { return rules }
            var write = AlertWrite()
            write.rules = rules
            try alertArchive.apply(write)
            let now = self.now
            let (events, firstSeq) = state.withLock { state in
                let events = state.alerts.setRules(rules, series: Self.seriesWithLatest(state.store), now: now)
                return (events, state.recordAlerts(events))
            }
            logger.info("alert rules changed", metadata: ["by": "\(source)", "rules": "\(rules.count)"])
            if !events.isEmpty { alertsHappened(events, firstSeq: firstSeq) }
            recordAlertGauges()
            return rules
        }
    }

    // MARK: Events

    /// Pushes events (numbered from `firstSeq`) to the connections that want them (``AlertService`` writes them
    /// within a tick).
    func alertsHappened(_ events: [AlertEvent], firstSeq: UInt64) {
        metrics.alertEvents.increment(by: Int64(events.count))
        alertEventCount.add(events.count, ordering: .relaxed)
        guard fanout.hasConnections else { return }
        let connections = fanout.connections
        for (offset, event) in events.enumerated() {
            var frame: [UInt8]?
            let seq = firstSeq + UInt64(offset)
            for connection in connections { connection.alert(event, seq: seq, frame: &frame) }
        }
        for event in events where event.event == .transition {
            logger.debug(
                "alert",
                metadata: [
                    "alert": "\(event.alert)", "rule": "\(event.rule)", "series": "\(event.series)",
                    "state": "\(event.state.rawValue)", "reason": "\(event.reason)",
                ])
        }
    }

    /// Runs the time-driven transitions at the hub's now.
    public func alertTick() {
        let now = self.now
        let (events, firstSeq) = state.withLock { state in
            let events = state.alerts.tick(now: now)
            return (events, state.recordAlerts(events))
        }
        if !events.isEmpty { alertsHappened(events, firstSeq: firstSeq) }
        recordAlertGauges()
    }

    func recordAlertGauges() {
        let (rules, counts) = alertSummary
        metrics.alertRules.record(rules)
        for state in [AlertState.pending, .firing, .nodata] { metrics.alertsActive(state).record(counts[state] ?? 0) }
    }

    /// How many rules there are, and the active alerts per state.
    var alertSummary: (rules: Int, active: [AlertState: Int]) {
        state.withLock { ($0.alerts.rules.count, $0.alerts.activeCounts) }
    }

    /// Writes what waits for the alert archive; on failure it is kept for the next try (the oldest events beyond
    /// `max_pending_events` are dropped from the write and counted). Serialised, so writes keep their order.
    func flushAlertWrites() throws {
        try alertWriter.withLock { _ in
            let write = state.withLock { state -> AlertWrite in
                var write = state.alertWrites
                state.alertWrites = AlertWrite()
                let dirty = state.alerts.takeDirty()
                write.append(AlertWrite(save: dirty.save, forget: dirty.forget))
                return write
            }
            guard !write.isEmpty else { return }
            do {
                try alertArchive.apply(write)
            } catch {
                let limit = configuration.alerts.maxPendingEvents
                let dropped = state.withLock { state -> Int in
                    var retry = write
                    retry.append(state.alertWrites)
                    let excess = max(0, retry.events.count - limit)
                    if excess > 0 { retry.events.removeFirst(excess) }
                    state.alertWrites = retry
                    return excess
                }
                if dropped > 0 { metrics.alertEventsDropped.increment(by: Int64(dropped)) }
                throw error
            }
        }
    }

    // MARK: Ack and silences

    /// Acknowledges active alert `alert` as `by`. Throws `not_found` for an unknown id, `conflict` for one that
    /// already ended.
    func ackAlert(_ alert: String, by: String, comment: String) throws(ProtocolError) -> AlertEvent {
        let now = self.now
        let result = state.withLock { state -> Result<(AlertEvent, UInt64), ProtocolError> in
            do throws(ProtocolError) {
                let event = try state.alerts.ack(alert: alert, by: by, comment: comment, now: now)
                return .success((event, state.recordAlerts([event])))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let (event, seq)):
            alertsHappened([event], firstSeq: seq)
            return event
        case .failure(let error):
            var query = AlertHistoryQuery()
            query.alert = alert
            query.limit = 1
            if let ended = try? alertHistory(query), !ended.isEmpty {
                throw .conflict("alert '\(alert)' has already ended; only active alerts can be acked")
            }
            throw error
        }
    }

    /// Adds a silence; returns it. Alerts it covers are announced as silenced.
    func addSilence(match: String, rule: String?, until: Int64, comment: String, by: String) throws(ProtocolError)
        -> Silence
    {
        let now = self.now
        let maxSilences = configuration.alerts.maxSilences
        let (silence, events, firstSeq) = try state.withLock { state throws(ProtocolError) in
            let (silence, events) = try state.alerts.addSilence(
                match: match, rule: rule, until: until, comment: comment, by: by, now: now, maxSilences: maxSilences)
            state.alertWrites.silences.append(silence)
            return (silence, events, state.recordAlerts(events))
        }
        writeSoon()
        alertsHappened(events, firstSeq: firstSeq)
        return silence
    }

    /// Ends a silence early.
    func removeSilence(_ id: String) throws(ProtocolError) {
        let now = self.now
        let (events, firstSeq) = try state.withLock { state throws(ProtocolError) in
            let events = try state.alerts.removeSilence(id, now: now)
            state.alertWrites.silencesRemoved.append(id)
            return (events, state.recordAlerts(events))
        }
        writeSoon()
        alertsHappened(events, firstSeq: firstSeq)
    }

    /// Writes what waits now; a failure is logged and the write is kept for ``AlertService``'s next try.
    private func writeSoon() {
        do {
            try flushAlertWrites()
        } catch {
            metrics.alertWriteErrors.increment()
            logger.error("alert change not written yet; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// The active silences.
    var silences: [Silence] {
        let now = self.now
        return state.withLock { $0.alerts.silences.filter { $0.until > now } }
    }

    // MARK: Reading

    /// The active alerts passing `filter`, firing first.
    public func activeAlerts(_ filter: AlertFilter = AlertFilter()) -> [AlertEvent] {
        let now = self.now
        return state.withLock { $0.alerts.active(filter, now: now) }
    }

    /// Active alert `alert` as a `current` event.
    func activeAlert(_ alert: String) -> AlertEvent? {
        let now = self.now
        return state.withLock { $0.alerts.current(alert: alert, now: now) }
    }

    /// Recorded events (what waits to be written is written first, so the answer includes it).
    func alertHistory(_ query: AlertHistoryQuery) throws -> [StoredAlertEvent] {
        try? flushAlertWrites()
        return try alertArchive.history(query)
    }

    /// Starts sending alerts to `connection`: the active ones passing `filter` now, then every change. The
    /// snapshot and the switch happen under the hub's lock, so no event falls between them.
    func subscribeAlerts(
        _ connection: DashboardConnection, filter: AlertFilter, reply: ((_ count: Int) -> [UInt8])?
    ) {
        let now = self.now
        state.withLock { state in
            let active = state.alerts.active(filter, now: now)
            let shown = state.alertSeq
            connection.withScheduler { scheduler in
                scheduler.alertFilter = filter
                scheduler.alertsShownThrough = shown
                if let reply { scheduler.enqueue(reply(active.count)) }
                for event in active { scheduler.enqueue(event.encoded) }
                return ((), true)
            }
        }
    }
}

extension AlertWrite {
    init(save: [AlertInstance], forget: [AlertInstanceKey]) {
        self.init()
        self.save = save
        self.forget = forget
    }
}

extension Hub {
    /// For benchmarks without a write-behind: takes what waits to be written (and forgets it).
    public func takeBenchBatch() -> Int {
        let batch = takeBatch()
        if let batch { committed(batch) }
        let events = state.withLock { state in
            let count = state.alertWrites.events.count
            state.alertWrites = AlertWrite()
            _ = state.alerts.takeDirty()
            return count
        }
        return (batch?.samples.count ?? 0) + events
    }

    /// Alert instances held, and alert events so far (for benchmarks).
    public var alertFigures: (instances: Int, events: Int) {
        (state.withLock { $0.alerts.instanceCount }, alertEventCount.load(ordering: .relaxed))
    }
}
