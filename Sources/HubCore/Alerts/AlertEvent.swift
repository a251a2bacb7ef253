/// What kind of change an ``AlertEvent`` reports.
public enum AlertEventKind: String, Sendable, Codable {
    /// A replay of an alert that was active when the client subscribed (or asked).
    case current
    /// The state changed.
    case transition
    /// Someone acknowledged the alert.
    case ack
    /// A silence began to cover it.
    case silence
    /// The silence that covered it ended.
    case unsilence
}

/// One alert event: the `alert` message of the protocol, a line of history.
public struct AlertEvent: Sendable, Equatable {
    /// The episode id (`al-N`).
    public var alert: String
    /// The rule id.
    public var rule: String
    /// The rule's name.
    public var name: String
    /// The series.
    public var series: SeriesKey
    /// The state after the event.
    public var state: AlertState
    /// The state before (for transitions).
    public var previous: AlertState?
    /// What happened.
    public var event: AlertEventKind
    /// Why (`threshold`, `clear`, `for_elapsed`, `clear_for_elapsed`, `nodata`, `data_returned`, `rule_changed`,
    /// `rule_deleted`, `condition_ended`, `ack`, `silence`, `unsilence`).
    public var reason: String
    /// The rule's severity.
    public var severity: AlertSeverity
    /// The judged value, when there is one.
    public var value: Double?
    /// The threshold compared with.
    public var threshold: Double?
    /// The comparison.
    public var op: ComparisonOperator?
    /// When the event happened.
    public var ts: Int64
    /// When the alert entered its state.
    public var since: Int64
    /// When the episode began.
    public var started: Int64
    /// The ack, while the episode is acked.
    public var ack: AlertAck?
    /// The silence covering it, if any.
    public var silence: String?
    /// The rule's labels.
    public var labels: [String: String]
    /// The rule's description, rendered.
    public var description: String

    /// Whether a silence covers it.
    public var silenced: Bool { silence != nil }

    /// The `alert` message.
    public func write(to writer: inout JSONWriter) {
        writer.raw("{\"type\":\"alert\",\"alert\":")
        writer.string(alert)
        writer.raw(",\"rule\":")
        writer.string(rule)
        writer.raw(",\"name\":")
        writer.string(name)
        writer.raw(",\"series\":")
        writer.string(series.description)
        writer.raw(",\"device\":")
        writer.string(series.device)
        writer.raw(",\"metric\":")
        writer.string(series.metric)
        writer.raw(",\"state\":")
        writer.string(state.rawValue)
        if let previous {
            writer.raw(",\"previous\":")
            writer.string(previous.rawValue)
        }
        writer.raw(",\"event\":")
        writer.string(event.rawValue)
        writer.raw(",\"reason\":")
        writer.string(reason)
        writer.raw(",\"severity\":")
        writer.string(severity.rawValue)
        if let value {
            writer.raw(",\"value\":")
            writer.number(value)
        }
        if let threshold {
            writer.raw(",\"threshold\":")
            writer.number(threshold)
        }
        if let op {
            writer.raw(",\"op\":")
            writer.string(op.rawValue)
        }
        writer.raw(",\"ts\":")
        writer.int(ts)
        writer.raw(",\"since\":")
        writer.int(since)
        writer.raw(",\"started\":")
        writer.int(started)
        writer.raw(",\"acked\":")
        writer.bool(ack != nil)
        if let ack {
            writer.raw(",\"acked_by\":")
            writer.string(ack.by)
            writer.raw(",\"ack_comment\":")
            writer.string(ack.comment)
            writer.raw(",\"acked_at\":")
            writer.int(ack.at)
        }
        writer.raw(",\"silenced\":")
        writer.bool(silence != nil)
        if let silence {
            writer.raw(",\"silence\":")
            writer.string(silence)
        }
        writer.raw(",\"labels\":")
        AlertRule.writeLabels(labels, to: &writer)
        writer.raw(",\"description\":")
        writer.string(description)
        writer.byte(UInt8(ascii: "}"))
    }

    /// The `alert` message as bytes.
    public var encoded: [UInt8] {
        var writer = JSONWriter(capacity: 384)
        write(to: &writer)
        return writer.bytes
    }
}

/// Which alerts or events a client wants: the filters of `GET /api/alerts`, `/ws/alerts` and `alerts tail`.
public struct AlertFilter: Sendable, Equatable {
    /// Only these states (empty: any).
    public var states: Set<AlertState> = []
    /// Only this severity or worse.
    public var minimumSeverity: AlertSeverity?
    /// Only series matching this.
    public var match: SeriesSelector?
    /// Only this rule.
    public var rule: String?
    /// Include silenced events (default true).
    public var includeSilenced = true

    /// Creates a filter that lets everything through.
    public init() {}

    /// Creates a filter from the texts of query parameters or message fields: `state` (comma-separated states),
    /// `severity` (that severity or worse), `match` (a series selector), `rule`, `silenced` (false: leave out
    /// silenced events). Throws `invalid_message` naming the bad one.
    public init(
        state: String? = nil, severity: String? = nil, match: String? = nil, rule: String? = nil,
        silenced: Bool? = nil
    ) throws(ProtocolError) {
        if let state, !state.isEmpty {
            for name in state.split(separator: ",") {
                guard let parsed = AlertState(rawValue: String(name)) else {
                    throw .invalidMessage("state: '\(name)' is not one of ok, pending, firing, resolved, nodata")
                }
                states.insert(parsed)
            }
        }
        if let severity, !severity.isEmpty {
            guard let parsed = AlertSeverity(rawValue: severity) else {
                throw .invalidMessage("severity: '\(severity)' is not one of info, warning, critical")
            }
            minimumSeverity = parsed
        }
        if let match, !match.isEmpty {
            do { self.match = try SeriesSelector(parsing: match) } catch {
                throw .invalidMessage("match: \(error.message)")
            }
        }
        if let rule, !rule.isEmpty { self.rule = rule }
        if let silenced { includeSilenced = silenced }
    }

    /// Whether `event` passes.
    public func admits(_ event: AlertEvent) -> Bool {
        if !states.isEmpty, !states.contains(event.state) { return false }
        if let minimumSeverity, event.severity < minimumSeverity { return false }
        if let match, !match.matches(event.series) { return false }
        if let rule, rule != event.rule { return false }
        if !includeSilenced, event.silenced { return false }
        return true
    }
}
