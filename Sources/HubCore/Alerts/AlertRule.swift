/// How bad an alert is; ordered `info` < `warning` < `critical`.
public enum AlertSeverity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, warning, critical

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool { lhs.rank < rhs.rank }
}

/// A comparison in a rule's `when` or `clear`.
public enum ComparisonOperator: String, Sendable, Codable, CaseIterable {
    case greater = ">"
    case greaterOrEqual = ">="
    case less = "<"
    case lessOrEqual = "<="
    case equal = "=="
    case notEqual = "!="

    /// The operator that holds exactly when this one does not.
    public var negated: ComparisonOperator {
        switch self {
        case .greater: .lessOrEqual
        case .greaterOrEqual: .less
        case .less: .greaterOrEqual
        case .lessOrEqual: .greater
        case .equal: .notEqual
        case .notEqual: .equal
        }
    }
}

/// `{"op":">","value":30}`: a value compared with a threshold.
public struct AlertCondition: Sendable, Equatable, Codable {
    /// The comparison.
    public var op: ComparisonOperator
    /// The threshold.
    public var value: Double

    /// Creates a condition.
    public init(_ op: ComparisonOperator, _ value: Double) {
        self.op = op
        self.value = value
    }

    /// Whether `x` satisfies the condition.
    @inline(__always)
    public func holds(_ x: Double) -> Bool {
        switch op {
        case .greater: x > value
        case .greaterOrEqual: x >= value
        case .less: x < value
        case .lessOrEqual: x <= value
        case .equal: x == value
        case .notEqual: x != value
        }
    }

    /// The condition that holds exactly when this one does not.
    public var negated: AlertCondition { AlertCondition(op.negated, value) }
}

/// The function a rule's `over` window applies.
public enum SmoothingFunction: String, Sendable, Codable, CaseIterable {
    case avg, min, max
}

/// `{"fn":"avg","window_ms":60000}`: judge the function of the last `window_ms` of samples instead of the sample.
public struct AlertSmoothing: Sendable, Equatable, Codable {
    /// avg, min or max.
    public var fn: SmoothingFunction
    /// The window, by sample timestamps.
    public var windowMs: Int64

    /// Creates a smoothing.
    public init(fn: SmoothingFunction, windowMs: Int64) {
        self.fn = fn
        self.windowMs = windowMs
    }
}

/// Where a rule came from: the rule file (replaced on every reload) or the API (kept across reloads).
public enum RuleSource: String, Sendable, Codable {
    case file, api
}

/// A threshold alert rule. Built by ``AlertRuleParser``, which checks every field.
public struct AlertRule: Sendable, Equatable {
    /// Unique id, a name (`[A-Za-z0-9._:-]{1,128}`).
    public var id: String
    /// Human name (default: the id).
    public var name: String
    /// The series the rule covers.
    public var match: SeriesSelector
    /// Fires when this holds (for `forMs`).
    public var when: AlertCondition
    /// Judge a smoothed value instead of each sample.
    public var over: AlertSmoothing?
    /// How long `when` must hold before firing (0: at once).
    public var forMs: Int64
    /// Resolves when this holds (for `clearForMs`); nil means the negation of `when`.
    public var clear: AlertCondition?
    /// How long `clear` must hold before resolving.
    public var clearForMs: Int64
    /// No sample for this long means `nodata`; 0 turns it off.
    public var nodataMs: Int64
    /// How bad it is.
    public var severity: AlertSeverity
    /// Free-form labels, carried on every event.
    public var labels: [String: String]
    /// Text for humans; may use `{{series}}`, `{{device}}`, `{{metric}}`, `{{value}}`, `{{threshold}}`, `{{rule}}`,
    /// `{{severity}}`.
    public var description: String
    /// Where it came from.
    public var source: RuleSource

    /// Creates a rule; ``AlertRuleParser`` is the checked way in.
    public init(
        id: String, name: String? = nil, match: SeriesSelector, when: AlertCondition, over: AlertSmoothing? = nil,
        forMs: Int64 = 0, clear: AlertCondition? = nil, clearForMs: Int64 = 0, nodataMs: Int64 = 0,
        severity: AlertSeverity = .warning, labels: [String: String] = [:], description: String = "",
        source: RuleSource = .api
    ) {
        self.id = id
        self.name = name ?? id
        self.match = match
        self.when = when
        self.over = over
        self.forMs = forMs
        self.clear = clear
        self.clearForMs = clearForMs
        self.nodataMs = nodataMs
        self.severity = severity
        self.labels = labels
        self.description = description
        self.source = source
    }

    /// The condition that resolves a firing alert.
    public var clearCondition: AlertCondition { clear ?? when.negated }

    /// Whether two rules judge the same way (everything but name, labels, description, severity and source), so
    /// an edit of only those keeps alert state and smoothing windows as they are.
    public func judgesLike(_ other: AlertRule) -> Bool {
        match == other.match && when == other.when && over == other.over && forMs == other.forMs
            && clearCondition == other.clearCondition && clearForMs == other.clearForMs && nodataMs == other.nodataMs
    }

    /// Writes the rule as JSON (the form ``AlertRuleParser`` reads, plus `source`).
    public func write(to writer: inout JSONWriter, includeSource: Bool = true) {
        writer.raw("{\"id\":")
        writer.string(id)
        writer.raw(",\"name\":")
        writer.string(name)
        writer.raw(",\"match\":")
        writer.string(match.description)
        writer.raw(",\"when\":")
        Self.write(when, to: &writer)
        if let over {
            writer.raw(",\"over\":{\"fn\":")
            writer.string(over.fn.rawValue)
            writer.raw(",\"window_ms\":")
            writer.int(over.windowMs)
            writer.byte(UInt8(ascii: "}"))
        }
        writer.raw(",\"for_ms\":")
        writer.int(forMs)
        if let clear {
            writer.raw(",\"clear\":")
            Self.write(clear, to: &writer)
        }
        writer.raw(",\"clear_for_ms\":")
        writer.int(clearForMs)
        if nodataMs > 0 {
            writer.raw(",\"nodata_ms\":")
            writer.int(nodataMs)
        }
        writer.raw(",\"severity\":")
        writer.string(severity.rawValue)
        writer.raw(",\"labels\":")
        Self.writeLabels(labels, to: &writer)
        writer.raw(",\"description\":")
        writer.string(description)
        if includeSource {
            writer.raw(",\"source\":")
            writer.string(source.rawValue)
        }
        writer.byte(UInt8(ascii: "}"))
    }

    /// The rule as JSON text.
    public var json: String {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.string
    }

    static func write(_ condition: AlertCondition, to writer: inout JSONWriter) {
        writer.raw("{\"op\":")
        writer.string(condition.op.rawValue)
        writer.raw(",\"value\":")
        writer.number(condition.value)
        writer.byte(UInt8(ascii: "}"))
    }

    static func writeLabels(_ labels: [String: String], to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        for (index, (key, value)) in labels.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.key(key)
            writer.string(value)
        }
        writer.byte(UInt8(ascii: "}"))
    }
}
