/// The alert engine: one state machine per (rule, series), driven by samples and by clock ticks.
///
/// A value type with no clock: every call takes `now` (hub time, Unix ms) and returns the ``AlertEvent``s it caused.
/// Timers (`for_ms`, `clear_for_ms`, `nodata_ms`) run on hub time, so a device's clock cannot fire or hide an
/// alert. A sample costs a dictionary lookup plus the rules that match its series: the index from series to
/// matching rules is built when a series is first seen and rebuilt when the rules change.
///
/// ```
/// ok ──when──▶ pending ──for_ms──▶ firing ──clear (for clear_for_ms)──▶ resolved (back to ok)
///  ▲             │ when stops
///  └──── ok ◀────┘                    any state ──no sample for nodata_ms──▶ nodata ──data──▶ (re-judged)
/// ```
public struct AlertEngine: Sendable {
    /// The rules in force, in the order they were given.
    public private(set) var rules: [AlertRule] = []
    /// The active silences.
    public private(set) var silences: [Silence] = []
    /// Most samples a smoothing window holds.
    public let maxWindowSamples: Int
    private var ruleIndex: [String: Int] = [:]
    /// Series → slot in `slots`, or -1 when no rule matches it.
    private var slotIndex: [SeriesKey: Int32] = [:]
    private var slots: [Slot] = []
    private var nextAlert: UInt64 = 1
    private var nextSilence: UInt64 = 1
    /// Set by ``restore``: the next tick re-checks which silence covers each alert (some may have ended while the
    /// hub was down, and the archive no longer lists them).
    private var silencesToCheck = false
    /// Instances whose persisted state changed since ``takeDirty()``.
    private var dirty: Set<AlertInstanceKey> = []

    struct Entry: Sendable {
        var rule: Int
        var instance: AlertInstance
        var window: SmoothingWindow?
    }

    struct Slot: Sendable {
        let key: SeriesKey
        /// Hub time of the last sample (or when the series came under a rule).
        var lastSeen: Int64
        /// The newest sample judged.
        var last: Sample?
        var entries: [Entry]
    }

    /// Creates an engine with no rules.
    public init(maxWindowSamples: Int = 10_000) {
        self.maxWindowSamples = maxWindowSamples
    }

    /// True when there are no rules: samples cost nothing.
    public var isIdle: Bool { rules.isEmpty }

    /// Alert instances held (one per rule and matching series).
    public var instanceCount: Int { slots.reduce(0) { $0 + $1.entries.count } }

    /// The rule with `id`.
    public func rule(_ id: String) -> AlertRule? { ruleIndex[id].map { rules[$0] } }

    // MARK: Restoring

    /// Loads persisted state: the rules, the instances (with their timers), the silences, and the highest alert
    /// number ever used. `series` are the series the hub knows, with their newest sample; no-data clocks start at
    /// `now`, since the hub heard nothing while it was down.
    public mutating func restore(
        rules: [AlertRule], instances: [AlertInstance], silences: [Silence], lastAlertNumber: UInt64,
        series: [(SeriesKey, Sample?)], now: Int64
    ) {
        self.rules = rules
        ruleIndex = Dictionary(rules.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.silences = silences
        silencesToCheck = true
        nextAlert = lastAlertNumber + 1
        for instance in instances {
            if let number = Self.number(instance.alert, prefix: "al-") { nextAlert = max(nextAlert, number + 1) }
        }
        for silence in silences {
            if let number = Self.number(silence.id, prefix: "sil-") { nextSilence = max(nextSilence, number + 1) }
        }
        slots = []
        slotIndex = [:]
        guard !rules.isEmpty else { return }
        var latest: [SeriesKey: Sample?] = [:]
        for (key, sample) in series { latest[key] = sample }
        // `.some(nil)`: a known series without a sample (assigning `.none` would remove the key instead).
        for instance in instances where latest[instance.key.series] == nil {
            latest[instance.key.series] = .some(nil)
        }
        var restored: [AlertInstanceKey: AlertInstance] = [:]
        for instance in instances { restored[instance.key] = instance }
        for (key, sample) in latest.sorted(by: { $0.key < $1.key }) {
            guard let slot = makeSlot(key, now: now) else { continue }
            slots[slot].last = sample
            for index in slots[slot].entries.indices {
                let instanceKey = slots[slot].entries[index].instance.key
                if let instance = restored.removeValue(forKey: instanceKey) {
                    slots[slot].entries[index].instance = instance
                }
            }
        }
        // Instances whose rule is gone or no longer matches are dropped: their end was recorded when it happened.
        for key in restored.keys { dirty.insert(key) }
    }

    // MARK: Rules

    /// Replaces the rule set. Instances of rules that stay (and still match) keep their state; when a rule now
    /// judges differently its instances are judged again at once against the newest sample. Active alerts of rules
    /// that are gone, or no longer match their series, resolve. `series` are the series the hub knows (with their
    /// newest sample), so rules cover series that already exist.
    public mutating func setRules(_ newRules: [AlertRule], series: [(SeriesKey, Sample?)], now: Int64) -> [AlertEvent] {
        var events: [AlertEvent] = []
        let oldRules = rules
        let oldSlots = slots
        let oldKeys = slotIndex.keys
        rules = newRules
        ruleIndex = Dictionary(newRules.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        slots = []
        slotIndex = [:]
        // Old instances: keep, re-judge or end.
        var kept: [SeriesKey: (slot: Slot, entries: [String: Entry])] = [:]
        for slot in oldSlots {
            var entries: [String: Entry] = [:]
            for entry in slot.entries {
                let old = oldRules[entry.rule]
                if let index = ruleIndex[old.id], newRules[index].match.matches(slot.key) {
                    entries[old.id] = entry
                } else if entry.instance.state.isActive {
                    var instance = entry.instance
                    let reason = ruleIndex[old.id] == nil ? "rule_deleted" : "rule_changed"
                    events.append(end(&instance, rule: old, to: .resolved, reason: reason, now: now))
                    dirty.insert(instance.key)
                } else {
                    dirty.insert(entry.instance.key)
                }
            }
            kept[slot.key] = (slot, entries)
        }
        guard !newRules.isEmpty else { return events }
        var known: [SeriesKey: Sample?] = [:]
        for (key, sample) in series { known[key] = sample }
        // `.some(nil)`: a known series without a sample (assigning `.none` would remove the key instead).
        for key in oldKeys where known[key] == nil { known[key] = .some(nil) }
        for (key, latest) in known.sorted(by: { $0.key < $1.key }) {
            guard let slot = makeSlot(key, now: now) else { continue }
            let previous = kept[key]
            if let previous {
                slots[slot].lastSeen = previous.slot.lastSeen
                slots[slot].last = previous.slot.last
            } else {
                slots[slot].last = latest
            }
            for index in slots[slot].entries.indices {
                let rule = rules[slots[slot].entries[index].rule]
                if let old = previous?.entries[rule.id] {
                    let oldRule = oldRules[old.rule]
                    slots[slot].entries[index].instance = old.instance
                    if oldRule.judgesLike(rule) {
                        slots[slot].entries[index].window = old.window
                        continue
                    }
                }
                // A new or changed rule: judge the newest sample now; unless the series is still silent for
                // the rule's no-data check, when that sample is not data returning.
                let silent = rule.nodataMs > 0 && now - slots[slot].lastSeen >= rule.nodataMs
                if let sample = slots[slot].last, !(silent && slots[slot].entries[index].instance.state == .nodata) {
                    judge(slot: slot, entry: index, sample: sample, now: now, events: &events)
                }
                dirty.insert(slots[slot].entries[index].instance.key)
            }
        }
        return events
    }

    /// Creates the slot of `key` (nil when no rule matches it).
    private mutating func makeSlot(_ key: SeriesKey, now: Int64) -> Int? {
        var entries: [Entry] = []
        for (index, rule) in rules.enumerated() where rule.match.matches(key) {
            entries.append(
                Entry(
                    rule: index, instance: AlertInstance(key: AlertInstanceKey(rule: rule.id, series: key), since: now),
                    window: rule.over.map { SmoothingWindow($0, maxSamples: maxWindowSamples) }))
        }
        guard !entries.isEmpty else {
            slotIndex[key] = -1
            return nil
        }
        slotIndex[key] = Int32(slots.count)
        slots.append(Slot(key: key, lastSeen: now, last: nil, entries: entries))
        return slots.count - 1
    }

    // MARK: Samples and ticks

    /// Judges a stored sample of `key` received at `now`, appending what it caused to `events`. Samples older than
    /// the newest one judged for the series only refresh its no-data clock.
    @inline(__always)
    public mutating func observe(_ key: SeriesKey, _ sample: Sample, now: Int64, events: inout [AlertEvent]) {
        guard !rules.isEmpty else { return }
        let slot: Int
        if let found = slotIndex[key] {
            guard found >= 0 else { return }
            slot = Int(found)
        } else {
            guard let made = makeSlot(key, now: now) else { return }
            slot = made
        }
        slots[slot].lastSeen = now
        if let last = slots[slot].last, sample.ts < last.ts { return }
        slots[slot].last = sample
        for index in slots[slot].entries.indices {
            judge(slot: slot, entry: index, sample: sample, now: now, events: &events)
        }
    }

    private mutating func judge(slot: Int, entry index: Int, sample: Sample, now: Int64, events: inout [AlertEvent]) {
        let ruleIndex = slots[slot].entries[index].rule
        let value: Double
        if slots[slot].entries[index].window != nil {
            value = slots[slot].entries[index].window!.add(sample)
        } else {
            value = sample.value
        }
        // The common cases change nothing but the value: judged in place, without copying the rule or the
        // instance.
        slots[slot].entries[index].instance.value = value
        slots[slot].entries[index].instance.valueTs = sample.ts
        switch slots[slot].entries[index].instance.state {
        case .ok where !rules[ruleIndex].when.holds(value):
            return
        case .firing
        where slots[slot].entries[index].instance.clearingSince == nil
            && !(rules[ruleIndex].clear ?? rules[ruleIndex].when.negated).holds(value):
            return
        case .pending
        where rules[ruleIndex].when.holds(value)
            && now - slots[slot].entries[index].instance.since < rules[ruleIndex].forMs:
            return
        default: break
        }
        let rule = rules[ruleIndex]
        var instance = slots[slot].entries[index].instance
        instance.value = value
        instance.valueTs = sample.ts
        step(&instance, rule: rule, value: value, now: now, events: &events)
        slots[slot].entries[index].instance = instance
    }

    /// The sample-driven transitions of one instance.
    private mutating func step(
        _ instance: inout AlertInstance, rule: AlertRule, value: Double, now: Int64, events: inout [AlertEvent]
    ) {
        switch instance.state {
        case .ok, .resolved:
            guard rule.when.holds(value) else { return }
            begin(&instance, now: now)
            events.append(
                transition(
                    &instance, rule: rule, to: rule.forMs == 0 ? .firing : .pending, reason: "threshold", now: now))
        case .pending:
            if !rule.when.holds(value) {
                events.append(end(&instance, rule: rule, to: .ok, reason: "condition_ended", now: now))
            } else if now - instance.since >= rule.forMs {
                events.append(transition(&instance, rule: rule, to: .firing, reason: "for_elapsed", now: now))
            }
        case .firing:
            if rule.clearCondition.holds(value) {
                if rule.clearForMs == 0 {
                    events.append(end(&instance, rule: rule, to: .resolved, reason: "clear", now: now))
                } else if let clearing = instance.clearingSince {
                    if now - clearing >= rule.clearForMs {
                        events.append(end(&instance, rule: rule, to: .resolved, reason: "clear_for_elapsed", now: now))
                    }
                } else {
                    instance.clearingSince = now
                    dirty.insert(instance.key)
                }
            } else if instance.clearingSince != nil {
                instance.clearingSince = nil
                dirty.insert(instance.key)
            }
        case .nodata:
            let clears = rule.clearCondition.holds(value)
            if instance.wasFiring {
                if clears && rule.clearForMs == 0 {
                    events.append(end(&instance, rule: rule, to: .resolved, reason: "data_returned", now: now))
                } else {
                    events.append(transition(&instance, rule: rule, to: .firing, reason: "data_returned", now: now))
                    instance.clearingSince = clears ? now : nil
                }
            } else if rule.when.holds(value) {
                events.append(
                    transition(
                        &instance, rule: rule, to: rule.forMs == 0 ? .firing : .pending, reason: "data_returned",
                        now: now))
            } else {
                events.append(end(&instance, rule: rule, to: .ok, reason: "data_returned", now: now))
            }
        }
    }

    /// The time-driven transitions at `now`: pending alerts whose `for_ms` is up fire, clearing alerts whose
    /// `clear_for_ms` is up resolve, series silent for `nodata_ms` go to `nodata`, and silences that ended are
    /// announced.
    public mutating func tick(now: Int64) -> [AlertEvent] {
        var events: [AlertEvent] = []
        if silencesToCheck || silences.contains(where: { $0.until <= now }) {
            silencesToCheck = false
            let ended = Set(silences.filter { $0.until <= now }.map(\.id))
            silences.removeAll { $0.until <= now }
            events += resilence(ending: ended, now: now)
        }
        guard !rules.isEmpty else { return events }
        for slot in slots.indices {
            let lastSeen = slots[slot].lastSeen
            for index in slots[slot].entries.indices {
                let rule = rules[slots[slot].entries[index].rule]
                var instance = slots[slot].entries[index].instance
                let before = instance
                switch instance.state {
                case .pending where now - instance.since >= rule.forMs:
                    events.append(transition(&instance, rule: rule, to: .firing, reason: "for_elapsed", now: now))
                case .firing:
                    if let clearing = instance.clearingSince, now - clearing >= rule.clearForMs {
                        events.append(end(&instance, rule: rule, to: .resolved, reason: "clear_for_elapsed", now: now))
                    }
                default: break
                }
                if rule.nodataMs > 0, instance.state != .nodata, now - lastSeen >= rule.nodataMs {
                    let wasFiring = instance.state == .firing
                    if instance.state == .ok { begin(&instance, now: now) }
                    instance.wasFiring = wasFiring
                    instance.clearingSince = nil
                    events.append(transition(&instance, rule: rule, to: .nodata, reason: "nodata", now: now))
                }
                if instance != before { slots[slot].entries[index].instance = instance }
            }
        }
        return events
    }

    // MARK: Transitions

    private mutating func begin(_ instance: inout AlertInstance, now: Int64) {
        instance.alert = "al-\(nextAlert)"
        nextAlert += 1
        instance.started = now
        instance.ack = nil
        instance.wasFiring = false
        instance.clearingSince = nil
    }

    /// Moves `instance` to `state` (within its episode) and returns the event.
    private mutating func transition(
        _ instance: inout AlertInstance, rule: AlertRule, to state: AlertState, reason: String, now: Int64
    ) -> AlertEvent {
        let previous = instance.state
        instance.state = state
        instance.since = now
        if state != .firing { instance.clearingSince = nil }
        instance.silence = silence(covering: instance.key, now: now)?.id
        dirty.insert(instance.key)
        return event(instance, rule: rule, kind: .transition, previous: previous, reason: reason, now: now)
    }

    /// Ends the episode with a `resolved` or `ok` event; the instance rests in `ok`.
    private mutating func end(
        _ instance: inout AlertInstance, rule: AlertRule, to state: AlertState, reason: String, now: Int64
    ) -> AlertEvent {
        let event = transition(&instance, rule: rule, to: state, reason: reason, now: now)
        instance.state = .ok
        instance.alert = nil
        instance.started = nil
        instance.ack = nil
        instance.wasFiring = false
        instance.silence = nil
        return event
    }

    private func event(
        _ instance: AlertInstance, rule: AlertRule, kind: AlertEventKind, previous: AlertState?, reason: String,
        now: Int64
    ) -> AlertEvent {
        let condition: AlertCondition? =
            switch instance.state {
            case .nodata: nil
            case .resolved: rule.clearCondition
            // `ok` ends an episode because `when` stopped holding: the condition that holds now is its negation.
            case .ok: rule.when.negated
            case .pending, .firing: rule.when
            }
        let value = instance.state == .nodata ? nil : instance.value
        let series = instance.key.series
        let description = DescriptionTemplate.render(rule.description) { name in
            switch name {
            case "series": series.description
            case "device": series.device
            case "metric": series.metric
            case "value": value.map(Self.text) ?? "no data"
            case "threshold": condition.map { Self.text($0.value) } ?? ""
            case "rule": rule.name
            case "severity": rule.severity.rawValue
            default: nil
            }
        }
        return AlertEvent(
            alert: instance.alert ?? "", rule: rule.id, name: rule.name, series: series, state: instance.state,
            previous: previous, event: kind, reason: reason, severity: rule.severity, value: value,
            threshold: condition?.value, op: condition?.op, ts: now, since: instance.since,
            started: instance.started ?? instance.since, ack: instance.ack, silence: instance.silence,
            labels: rule.labels, description: description)
    }

    static func text(_ value: Double) -> String {
        var writer = JSONWriter(capacity: 24)
        writer.number(value)
        return writer.string
    }

    // MARK: Ack and silence

    /// Acknowledges the active alert `alert` until its episode ends; acking again replaces the comment.
    public mutating func ack(alert: String, by: String, comment: String, now: Int64) throws(ProtocolError)
        -> AlertEvent
    {
        guard let (slot, index) = locate(alert: alert) else {
            throw .notFound("no active alert '\(alert)'")
        }
        let rule = rules[slots[slot].entries[index].rule]
        slots[slot].entries[index].instance.ack = AlertAck(by: by, comment: comment, at: now)
        let instance = slots[slot].entries[index].instance
        dirty.insert(instance.key)
        return event(instance, rule: rule, kind: .ack, previous: nil, reason: "ack", now: now)
    }

    /// Adds a silence and returns it with a `silence` event for every active alert it now covers.
    public mutating func addSilence(
        match: String, rule: String?, until: Int64, comment: String, by: String, now: Int64, maxSilences: Int = 10_000
    ) throws(ProtocolError) -> (Silence, [AlertEvent]) {
        _ = try SeriesSelector(parsing: match)
        guard until > now else { throw .invalidMessage("until: must be in the future") }
        guard silences.count < maxSilences else {
            throw .tooLarge("the hub holds \(silences.count) silences; the limit is \(maxSilences)")
        }
        let silence = Silence(
            id: "sil-\(nextSilence)", match: match, rule: rule, until: until, comment: comment, createdBy: by,
            createdAt: now)
        nextSilence += 1
        silences.append(silence)
        return (silence, resilence(ending: [], now: now))
    }

    /// Ends silence `id` before its time; returns an `unsilence` event for every alert no longer covered.
    public mutating func removeSilence(_ id: String, now: Int64) throws(ProtocolError) -> [AlertEvent] {
        guard silences.contains(where: { $0.id == id }) else { throw .notFound("no active silence '\(id)'") }
        silences.removeAll { $0.id == id }
        return resilence(ending: [id], now: now)
    }

    /// Re-computes which silence covers each active alert; announces those that changed between silenced and not.
    private mutating func resilence(ending: Set<String>, now: Int64) -> [AlertEvent] {
        var events: [AlertEvent] = []
        for slot in slots.indices {
            for index in slots[slot].entries.indices where slots[slot].entries[index].instance.state.isActive {
                let instance = slots[slot].entries[index].instance
                let covering = silence(covering: instance.key, now: now)?.id
                guard (covering == nil) != (instance.silence == nil) else {
                    if covering != instance.silence { slots[slot].entries[index].instance.silence = covering }
                    continue
                }
                slots[slot].entries[index].instance.silence = covering
                let rule = rules[slots[slot].entries[index].rule]
                let kind: AlertEventKind = covering == nil ? .unsilence : .silence
                dirty.insert(instance.key)
                events.append(
                    event(
                        slots[slot].entries[index].instance, rule: rule, kind: kind, previous: nil,
                        reason: kind.rawValue, now: now))
            }
        }
        return events
    }

    private func silence(covering key: AlertInstanceKey, now: Int64) -> Silence? {
        silences.isEmpty ? nil : silences.first { $0.covers(key, now: now) }
    }

    // MARK: Reading

    private func locate(alert: String) -> (Int, Int)? {
        for slot in slots.indices {
            for index in slots[slot].entries.indices where slots[slot].entries[index].instance.alert == alert {
                return (slot, index)
            }
        }
        return nil
    }

    /// The active alert `alert` as a `current` event, if it is active.
    public func current(alert: String, now: Int64) -> AlertEvent? {
        guard let (slot, index) = locate(alert: alert) else { return nil }
        let entry = slots[slot].entries[index]
        return event(
            entry.instance, rule: rules[entry.rule], kind: .current, previous: nil, reason: "current", now: now)
    }

    /// Every active alert that passes `filter`, as `current` events: firing first, then by severity (worst first),
    /// then oldest first.
    public func active(_ filter: AlertFilter = AlertFilter(), now: Int64) -> [AlertEvent] {
        var result: [AlertEvent] = []
        for slot in slots {
            for entry in slot.entries where entry.instance.state.isActive {
                let event = event(
                    entry.instance, rule: rules[entry.rule], kind: .current, previous: nil, reason: "current", now: now)
                if filter.admits(event) { result.append(event) }
            }
        }
        return result.sorted { lhs, rhs in
            if (lhs.state == .firing) != (rhs.state == .firing) { return lhs.state == .firing }
            if lhs.severity != rhs.severity { return lhs.severity > rhs.severity }
            if lhs.since != rhs.since { return lhs.since < rhs.since }
            return lhs.alert < rhs.alert
        }
    }

    /// Counts of active alerts by state.
    public var activeCounts: [AlertState: Int] {
        var counts: [AlertState: Int] = [:]
        for slot in slots {
            for entry in slot.entries where entry.instance.state.isActive {
                counts[entry.instance.state, default: 0] += 1
            }
        }
        return counts
    }

    /// The persisted state that changed since the last call: instances to save (every one not in `ok`) and keys to
    /// forget (instances back in `ok`, or gone with their rule).
    public mutating func takeDirty() -> (save: [AlertInstance], forget: [AlertInstanceKey]) {
        guard !dirty.isEmpty else { return ([], []) }
        var save: [AlertInstance] = []
        var forget: [AlertInstanceKey] = []
        for key in dirty {
            if let found = slotIndex[key.series], found >= 0,
                let entry = slots[Int(found)].entries.first(where: { rules[$0.rule].id == key.rule }),
                entry.instance.state != .ok
            {
                save.append(entry.instance)
            } else {
                forget.append(key)
            }
        }
        dirty.removeAll(keepingCapacity: true)
        return (save, forget)
    }

    static func number(_ id: String?, prefix: String) -> UInt64? {
        guard let id, id.hasPrefix(prefix) else { return nil }
        return UInt64(id.dropFirst(prefix.count))
    }
}
