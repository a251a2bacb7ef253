/// A rule or rule set that cannot be used: one `field: problem` line per problem found, each naming the field
/// (`rules[2].when.op: must be one of > >= < <= == !=`).
public struct RuleProblems: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every problem found, in document order.
    public var problems: [String]

    /// Creates the error.
    public init(_ problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "; ") }
}

/// Reads alert rules from JSON, checking every field and collecting every problem with the field's path.
public struct AlertRuleParser: Sendable {
    /// Most rules in one set.
    public var maxRules: Int
    /// Longest smoothing window.
    public var maxWindowMs: Int64 = 86_400_000
    /// Longest `for_ms`, `clear_for_ms` and `nodata_ms`.
    public var maxDurationMs: Int64 = 31_536_000_000

    /// Creates a parser allowing `maxRules` rules in a set.
    public init(maxRules: Int = 10_000) {
        self.maxRules = maxRules
    }

    /// The placeholders a description may use.
    public static let placeholders: Set<String> = [
        "series", "device", "metric", "value", "threshold", "rule", "severity",
    ]

    static let ruleKeys: Set<String> = [
        "id", "name", "match", "when", "over", "for_ms", "clear", "clear_for_ms", "nodata_ms", "severity", "labels",
        "description", "source",
    ]

    /// Parses a rule set: `{"rules":[…]}`, a bare array of rules, or (when `allowSingle`) one rule object.
    /// Ids must be unique within the set.
    public func parseSet(_ bytes: some Collection<UInt8>, source: RuleSource, allowSingle: Bool = false)
        throws(RuleProblems) -> [AlertRule]
    {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw RuleProblems(["\(error.message)"])
        }
        return try parseSet(document, source: source, allowSingle: allowSingle)
    }

    /// Parses a rule set from a parsed document.
    public func parseSet(_ document: JSONValue, source: RuleSource, allowSingle: Bool = false) throws(RuleProblems)
        -> [AlertRule]
    {
        let elements: [JSONValue]
        let prefix: String
        switch document {
        case .array(let array):
            elements = array
            prefix = "rules"
        case .object(let object) where object["rules"] != nil:
            guard case .array(let array)? = object["rules"] else {
                throw RuleProblems(["rules: must be an array of rules"])
            }
            for member in object.members where member.key != "rules" {
                throw RuleProblems(["\(member.key): unknown field (a rule set has only 'rules')"])
            }
            elements = array
            prefix = "rules"
        case .object where allowSingle:
            return [try parse(document, path: "", source: source)]
        default:
            throw RuleProblems(["a rule set must be {\"rules\":[…]} or an array of rules"])
        }
        guard elements.count <= maxRules else {
            throw RuleProblems(["rules: \(elements.count) rules; the limit is \(maxRules)"])
        }
        var rules: [AlertRule] = []
        var problems: [String] = []
        var seen: [String: Int] = [:]
        for (index, element) in elements.enumerated() {
            let path = "\(prefix)[\(index)]"
            do {
                let rule = try parse(element, path: path, source: source)
                if let first = seen[rule.id] {
                    problems.append("\(path).id: '\(rule.id)' is already used by \(prefix)[\(first)]")
                } else {
                    seen[rule.id] = index
                    rules.append(rule)
                }
            } catch {
                problems += error.problems
            }
        }
        guard problems.isEmpty else { throw RuleProblems(problems) }
        return rules
    }

    /// Parses one rule; `path` prefixes field names in problems (empty for a lone rule).
    public func parse(_ value: JSONValue, path: String = "", source: RuleSource) throws(RuleProblems) -> AlertRule {
        func field(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
        guard case .object(let object) = value else {
            throw RuleProblems(["\(path.isEmpty ? "rule" : path): must be an object, not \(value.typeName)"])
        }
        var problems: [String] = []
        for member in object.members where !Self.ruleKeys.contains(member.key) {
            problems.append("\(field(member.key)): unknown field")
        }

        var id = ""
        switch object["id"] {
        case .string(let text)? where Names.isValidName(text): id = text
        case nil: problems.append("\(field("id")): is required")
        default: problems.append("\(field("id")): must be a name of 1 to 128 of A-Z a-z 0-9 . _ : -")
        }
        var name: String?
        switch object["name"] {
        case nil: break
        case .string(let text) where text.utf8.count <= 256: name = text
        default: problems.append("\(field("name")): must be a string of at most 256 bytes")
        }
        var match: SeriesSelector?
        switch object["match"] {
        case .string(let text)?:
            do { match = try SeriesSelector(parsing: text) } catch {
                problems.append("\(field("match")): \(error.message)")
            }
        case nil: problems.append("\(field("match")): is required (a series selector such as thermo-*/temp)")
        default: problems.append("\(field("match")): must be a series selector string such as thermo-*/temp")
        }
        var when: AlertCondition?
        if let value = object["when"] {
            when = condition(value, field: field("when"), problems: &problems)
        } else {
            problems.append("\(field("when")): is required, e.g. {\"op\":\">\",\"value\":30}")
        }
        var clear: AlertCondition?
        if let value = object["clear"], value != .null {
            clear = condition(value, field: field("clear"), problems: &problems)
        }
        if let when, let clear, Self.overlaps(when, clear) {
            problems.append(
                "\(field("clear")): \(clear.op.rawValue) \(AlertEngine.text(clear.value)) can hold together with when \(when.op.rawValue) \(AlertEngine.text(when.value)); the alert would flap"
            )
        }
        var over: AlertSmoothing?
        if let value = object["over"], value != .null {
            if case .object(let window) = value {
                for member in window.members where member.key != "fn" && member.key != "window_ms" {
                    problems.append("\(field("over")).\(member.key): unknown field")
                }
                let fn: SmoothingFunction?
                if case .string(let text)? = window["fn"], let parsed = SmoothingFunction(rawValue: text) {
                    fn = parsed
                } else {
                    fn = nil
                    problems.append("\(field("over")).fn: must be one of avg, min, max")
                }
                let windowMs = duration(
                    window["window_ms"], field: "\(field("over")).window_ms", range: 1...maxWindowMs,
                    required: true, problems: &problems)
                if let fn, let windowMs { over = AlertSmoothing(fn: fn, windowMs: windowMs) }
            } else {
                problems.append("\(field("over")): must be an object such as {\"fn\":\"avg\",\"window_ms\":60000}")
            }
        }
        let forMs =
            duration(object["for_ms"], field: field("for_ms"), range: 0...maxDurationMs, problems: &problems) ?? 0
        let clearForMs =
            duration(
                object["clear_for_ms"], field: field("clear_for_ms"), range: 0...maxDurationMs, problems: &problems)
            ?? 0
        let nodataMs =
            duration(object["nodata_ms"], field: field("nodata_ms"), range: 0...maxDurationMs, problems: &problems)
            ?? 0
        var severity = AlertSeverity.warning
        switch object["severity"] {
        case nil: break
        case .string(let text)? where AlertSeverity(rawValue: text) != nil: severity = AlertSeverity(rawValue: text)!
        default: problems.append("\(field("severity")): must be one of info, warning, critical")
        }
        var labels: [String: String] = [:]
        switch object["labels"] {
        case nil, .null?: break
        case .object(let members)?:
            for member in members.members {
                if case .string(let text) = member.value, !member.key.isEmpty, member.key.utf8.count <= 128,
                    text.utf8.count <= 1_024
                {
                    labels[member.key] = text
                } else {
                    problems.append(
                        "\(field("labels")).\(member.key): must be a string (keys up to 128 bytes, values up to 1024)")
                }
            }
            if members.count > 64 { problems.append("\(field("labels")): at most 64 labels") }
        default: problems.append("\(field("labels")): must be an object of strings")
        }
        var description = ""
        switch object["description"] {
        case nil, .null?: break
        case .string(let text)? where text.utf8.count <= 4_096:
            description = text
            for placeholder in DescriptionTemplate.placeholders(in: text) where !Self.placeholders.contains(placeholder)
            {
                problems.append(
                    "\(field("description")): unknown placeholder {{\(placeholder)}}; use \(Self.placeholders.sorted().map { "{{\($0)}}" }.joined(separator: ", "))"
                )
            }
        default: problems.append("\(field("description")): must be a string of at most 4096 bytes")
        }
        guard problems.isEmpty, let match, let when else { throw RuleProblems(problems) }
        return AlertRule(
            id: id, name: name ?? id, match: match, when: when, over: over, forMs: forMs, clear: clear,
            clearForMs: clearForMs, nodataMs: nodataMs, severity: severity, labels: labels, description: description,
            source: source)
    }

    private func condition(_ value: JSONValue, field: String, problems: inout [String]) -> AlertCondition? {
        guard case .object(let object) = value else {
            problems.append("\(field): must be an object such as {\"op\":\">\",\"value\":30}")
            return nil
        }
        for member in object.members where member.key != "op" && member.key != "value" {
            problems.append("\(field).\(member.key): unknown field")
        }
        var op: ComparisonOperator?
        if case .string(let text)? = object["op"], let parsed = ComparisonOperator(rawValue: text) {
            op = parsed
        } else {
            problems.append("\(field).op: must be one of > >= < <= == !=")
        }
        var threshold: Double?
        if case .number(let number)? = object["value"], number.isFinite {
            threshold = number
        } else {
            problems.append("\(field).value: must be a finite number")
        }
        guard let op, let threshold else { return nil }
        return AlertCondition(op, threshold)
    }

    private func duration(
        _ value: JSONValue?, field: String, range: ClosedRange<Int64>, required: Bool = false,
        problems: inout [String]
    ) -> Int64? {
        guard let value, value != .null else {
            if required { problems.append("\(field): is required (milliseconds)") }
            return nil
        }
        guard case .number(let number) = value, number.isFinite, number == number.rounded(),
            number >= Double(range.lowerBound), number <= Double(range.upperBound)
        else {
            problems.append(
                "\(field): must be a whole number of milliseconds from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return Int64(number)
    }

    /// Whether some value satisfies both conditions (a clear that can hold while `when` holds makes an alert
    /// resolve and re-fire on one value).
    static func overlaps(_ when: AlertCondition, _ clear: AlertCondition) -> Bool {
        // Each condition is an interval (or its complement for !=); probe the values around both thresholds.
        let points = [when.value, clear.value]
        var probes: [Double] = []
        for point in points {
            probes += [point, point.nextUp, point.nextDown, point + 1, point - 1]
        }
        probes += [(when.value + clear.value) / 2, -.greatestFiniteMagnitude, .greatestFiniteMagnitude]
        return probes.contains { when.holds($0) && clear.holds($0) }
    }
}

/// `{{name}}` placeholders in rule descriptions.
public enum DescriptionTemplate {
    /// The placeholder names used in `text`, in order.
    public static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " "))
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// `text` with each `{{name}}` replaced by `values[name]` (unknown names are left as written).
    public static func render(_ text: String, _ values: (String) -> String?) -> String {
        guard text.contains("{{") else { return text }
        var output = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            output += rest[..<open.lowerBound]
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " ")
            output += values(name) ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        output += rest
        return output
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var slice = self[...]
        while slice.first == character { slice = slice.dropFirst() }
        while slice.last == character { slice = slice.dropLast() }
        return String(slice)
    }
}
