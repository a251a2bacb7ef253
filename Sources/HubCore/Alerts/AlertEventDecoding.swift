extension AlertEvent {
    /// Reads an `alert` message back: the fields ``write(to:)`` writes.
    ///
    /// Required: `alert`, `rule`, `name`, `device` and `metric` (or `series`), `state`, `event`, `reason`,
    /// `severity`, `ts`, `since`, `started`; with `"acked":true` also `acked_by`, `ack_comment` and `acked_at`; with
    /// `"silenced":true` also `silence`. `previous`, `value`, `threshold`, `op`, `labels` and `description` may be
    /// absent (or null). `type`, when present, must be `alert`; unknown fields are ignored.
    ///
    /// - Throws: ``ProtocolError`` `invalid_message` naming the first field that is missing or malformed.
    public init(json: JSONValue) throws(ProtocolError) {
        guard case .object(let object) = json else {
            throw .invalidMessage("an alert event must be an object, not \(json.typeName)")
        }
        let fields = AlertEventFields(object)
        if let type = try fields.optionalString("type"), type != "alert" {
            throw .invalidMessage("type: must be 'alert', not '\(type)'")
        }
        let alert = try fields.string("alert")
        let rule = try fields.string("rule")
        let name = try fields.string("name")
        let series = try fields.series()
        let states = "ok, pending, firing, resolved, nodata"
        let state: AlertState = try fields.enumeration("state", states)
        let previous: AlertState? = try fields.optionalEnumeration("previous", states)
        let kind: AlertEventKind = try fields.enumeration("event", "current, transition, ack, silence, unsilence")
        let reason = try fields.string("reason")
        let severity: AlertSeverity = try fields.enumeration("severity", "info, warning, critical")
        let value = try fields.optionalNumber("value")
        let threshold = try fields.optionalNumber("threshold")
        let op: ComparisonOperator? = try fields.optionalEnumeration("op", "> >= < <= == !=")
        let ts = try fields.integer("ts")
        let since = try fields.integer("since")
        let started = try fields.integer("started")
        var ack: AlertAck?
        if try fields.optionalBool("acked") == true {
            ack = AlertAck(
                by: try fields.string("acked_by", because: "acked is true"),
                comment: try fields.string("ack_comment", because: "acked is true"),
                at: try fields.integer("acked_at", because: "acked is true"))
        }
        var silence = try fields.optionalString("silence")
        switch try fields.optionalBool("silenced") {
        case true?:
            if silence == nil { throw .invalidMessage("silence: is required when silenced is true") }
        case false?:
            silence = nil
        case nil:
            break
        }
        let labels = try fields.labels("labels")
        let description = try fields.optionalString("description") ?? ""
        self.init(
            alert: alert, rule: rule, name: name, series: series, state: state, previous: previous, event: kind,
            reason: reason, severity: severity, value: value, threshold: threshold, op: op, ts: ts, since: since,
            started: started, ack: ack, silence: silence, labels: labels, description: description)
    }

    /// Parses an `alert` message from UTF-8 JSON (see ``init(json:)``).
    ///
    /// - Throws: ``ProtocolError`` `invalid_json` when the bytes are not JSON, `invalid_message` when a field is
    ///   missing or malformed.
    public init(parsing bytes: some Collection<UInt8>) throws(ProtocolError) {
        try self.init(json: JSONParser.parse(bytes))
    }
}

/// Typed access to the members of an `alert` message, with errors naming the field.
private struct AlertEventFields {
    let object: JSONObject

    init(_ object: JSONObject) { self.object = object }

    /// The member `name`, treating null as absent.
    private func member(_ name: String) -> JSONValue? {
        switch object[name] {
        case nil, .null?: nil
        case let value?: value
        }
    }

    private static func required(_ name: String, because condition: String?) -> ProtocolError {
        .invalidMessage("\(name): is required" + (condition.map { " when \($0)" } ?? ""))
    }

    func string(_ name: String, because condition: String? = nil) throws(ProtocolError) -> String {
        guard let value = try optionalString(name) else { throw Self.required(name, because: condition) }
        return value
    }

    func optionalString(_ name: String) throws(ProtocolError) -> String? {
        guard let value = member(name) else { return nil }
        guard case .string(let text) = value else {
            throw .invalidMessage("\(name): must be a string, not \(value.typeName)")
        }
        return text
    }

    func optionalBool(_ name: String) throws(ProtocolError) -> Bool? {
        guard let value = member(name) else { return nil }
        guard case .bool(let flag) = value else {
            throw .invalidMessage("\(name): must be true or false, not \(value.typeName)")
        }
        return flag
    }

    func optionalNumber(_ name: String) throws(ProtocolError) -> Double? {
        guard let value = member(name) else { return nil }
        guard case .number(let number) = value, number.isFinite else {
            throw .invalidMessage("\(name): must be a finite number, not \(value.typeName)")
        }
        return number
    }

    func integer(_ name: String, because condition: String? = nil) throws(ProtocolError) -> Int64 {
        guard let value = member(name) else { throw Self.required(name, because: condition) }
        guard case .number(let number) = value, let integer = Int64(exactly: number) else {
            throw .invalidMessage("\(name): must be a whole number of milliseconds")
        }
        return integer
    }

    func enumeration<Value: RawRepresentable<String>>(_ name: String, _ allowed: String) throws(ProtocolError)
        -> Value
    {
        guard let value: Value = try optionalEnumeration(name, allowed) else {
            throw Self.required(name, because: nil)
        }
        return value
    }

    func optionalEnumeration<Value: RawRepresentable<String>>(_ name: String, _ allowed: String)
        throws(ProtocolError) -> Value?
    {
        guard let text = try optionalString(name) else { return nil }
        guard let value = Value(rawValue: text) else {
            throw .invalidMessage("\(name): must be one of \(allowed), not '\(text)'")
        }
        return value
    }

    /// `device` and `metric`; when both are absent, `series` (`device/metric`).
    func series() throws(ProtocolError) -> SeriesKey {
        let device = try optionalString("device")
        let metric = try optionalString("metric")
        if device == nil, metric == nil, let text = try optionalString("series") {
            guard let key = SeriesKey(parsing: text) else {
                throw .invalidMessage("series: must be device/metric, not '\(text)'")
            }
            return key
        }
        guard let device else { throw Self.required("device", because: nil) }
        guard let metric else { throw Self.required("metric", because: nil) }
        return SeriesKey(device: device, metric: metric)
    }

    func labels(_ name: String) throws(ProtocolError) -> [String: String] {
        guard let value = member(name) else { return [:] }
        guard case .object(let members) = value else {
            throw .invalidMessage("\(name): must be an object of strings, not \(value.typeName)")
        }
        var labels: [String: String] = [:]
        for member in members.members {
            guard case .string(let text) = member.value else {
                throw .invalidMessage("\(name).\(member.key): must be a string, not \(member.value.typeName)")
            }
            labels[member.key] = text
        }
        return labels
    }
}
