// Fuzz target: AlertRuleParser.parseSet on arbitrary bytes: as the rule file is read (`source: .file`, a set only)
// and as the API reads a body (`source: .api`, a single rule allowed), with the default parser and one allowing only
// two rules.
//
// Properties: parsing never traps; a refusal names at least one problem; what the file reading accepts, the API
// reading accepts too (the same rules, from another source); every accepted rule set holds what the parser promises:
// at most `maxRules` rules with unique valid ids; names of at most 256 bytes; selectors that re-parse from their text
// and match as a reference glob matcher does; finite thresholds; a `clear` that cannot hold together with `when`;
// windows of 1...`maxWindowMs`; durations of 0...`maxDurationMs`; at most 64 labels (keys 1 to 128 bytes, values at
// most 1,024); descriptions of at most 4,096 bytes using only known placeholders, which render back unchanged when
// no placeholder has a value.
import HubCore

private let parsers = [AlertRuleParser(), AlertRuleParser(maxRules: 2)]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let document = try? JSONParser.parse(bytes)
    for parser in parsers {
        var fromFile: [AlertRule]?
        do {
            fromFile = try parser.parseSet(bytes, source: .file)
        } catch {
            require(!error.problems.isEmpty, "refused without a problem")
        }
        guard let document else {
            require(fromFile == nil, "accepted a document JSONParser refuses")
            continue
        }
        var fromAPI: [AlertRule]?
        do {
            fromAPI = try parser.parseSet(document, source: .api, allowSingle: true)
        } catch {
            require(!error.problems.isEmpty, "refused without a problem")
        }
        if let fromFile {
            guard let fromAPI else {
                require(false, "the rule file accepts what the API refuses")
                return 0
            }
            require(fromFile.count == fromAPI.count, "file and API readings differ in count")
            for (file, api) in zip(fromFile, fromAPI) {
                var relabelled = file
                relabelled.source = .api
                require(relabelled == api, "file and API readings of rule '\(file.id)' differ")
            }
            check(fromFile, parser, source: .file)
        }
        if let fromAPI { check(fromAPI, parser, source: .api) }
    }
    return 0
}

private func check(_ rules: [AlertRule], _ parser: AlertRuleParser, source: RuleSource) {
    require(rules.count <= parser.maxRules, "\(rules.count) rules over the limit of \(parser.maxRules)")
    require(Set(rules.map(\.id)).count == rules.count, "duplicate ids")
    for rule in rules {
        require(rule.source == source, "source \(rule.source)")
        require(Names.isValidName(rule.id), "id '\(rule.id)'")
        require(rule.name.utf8.count <= 256, "name of \(rule.name.utf8.count) bytes")
        checkSelector(rule.match)
        require(rule.when.value.isFinite, "when.value \(rule.when.value)")
        if let clear = rule.clear {
            require(clear.value.isFinite, "clear.value \(clear.value)")
            require(!canHoldTogether(rule.when, clear), "clear \(clear) can hold together with when \(rule.when)")
        }
        if let over = rule.over {
            require((1...parser.maxWindowMs).contains(over.windowMs), "window_ms \(over.windowMs)")
        }
        for duration in [rule.forMs, rule.clearForMs, rule.nodataMs] {
            require((0...parser.maxDurationMs).contains(duration), "duration \(duration)")
        }
        require(rule.labels.count <= 64, "\(rule.labels.count) labels")
        for (key, value) in rule.labels {
            require(!key.isEmpty && key.utf8.count <= 128 && value.utf8.count <= 1_024, "label '\(key)'")
        }
        require(rule.description.utf8.count <= 4_096, "description of \(rule.description.utf8.count) bytes")
        for placeholder in DescriptionTemplate.placeholders(in: rule.description) {
            require(AlertRuleParser.placeholders.contains(placeholder), "unknown placeholder '\(placeholder)'")
        }
        require(
            DescriptionTemplate.render(rule.description) { _ in nil } == rule.description,
            "rendering without values changed the description")
        _ = DescriptionTemplate.render(rule.description) { "<\($0)>" }
    }
}

/// Whether some double satisfies both conditions. Each is an interval of the reals (or, for `!=`, the complement of
/// a point) bounded by its threshold, so if the intersection holds a double it holds one of these.
private func canHoldTogether(_ a: AlertCondition, _ b: AlertCondition) -> Bool {
    var probes: [Double] = [-.greatestFiniteMagnitude, .greatestFiniteMagnitude, a.value / 2 + b.value / 2]
    for threshold in [a.value, b.value] {
        probes += [threshold, threshold.nextUp, threshold.nextDown]
    }
    return probes.contains { $0.isFinite && a.holds($0) && b.holds($0) }
}
