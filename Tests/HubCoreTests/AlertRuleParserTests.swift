import Testing

@testable import HubCore

@Suite("AlertRuleParser")
struct AlertRuleParserTests {
    private static let valid = #"{"id":"ok-rule","match":"a/b","when":{"op":">","value":1}}"#

    private func parse(
        _ text: String, allowSingle: Bool = false, parser: AlertRuleParser = AlertRuleParser(),
        source: RuleSource = .api
    ) throws(RuleProblems) -> [AlertRule] {
        try parser.parseSet(Array(text.utf8), source: source, allowSingle: allowSingle)
    }

    /// The problems `text` gives (empty when it parses).
    private func problems(
        _ text: String, allowSingle: Bool = false, parser: AlertRuleParser = AlertRuleParser()
    ) -> [String] {
        do {
            _ = try parse(text, allowSingle: allowSingle, parser: parser)
            return []
        } catch {
            return error.problems
        }
    }

    /// The problems of `rule` placed second in a `{"rules":[…]}` set after a valid rule.
    private func problemsAsSecond(_ rule: String) -> [String] {
        problems(#"{"rules":["# + Self.valid + "," + rule + "]}")
    }

    // MARK: Valid rules

    @Test func fullRule() throws {
        let text = """
            {"rules":[{"id":"hot-rooms","name":"Room too hot","match":"thermo-*/temp",
             "when":{"op":">","value":30},
             "over":{"fn":"avg","window_ms":60000},
             "for_ms":10000,
             "clear":{"op":"<","value":28},
             "clear_for_ms":5000,
             "nodata_ms":30000,
             "severity":"critical",
             "labels":{"team":"facilities","floor":"2"},
             "description":"{{series}} is {{value}} °C (threshold {{threshold}})"}]}
            """
        let rules = try parse(text, source: .file)
        #expect(rules.count == 1)
        let rule = try #require(rules.first)
        #expect(rule.id == "hot-rooms")
        #expect(rule.name == "Room too hot")
        #expect(rule.match == (try SeriesSelector(parsing: "thermo-*/temp")))
        #expect(rule.when == AlertCondition(.greater, 30))
        #expect(rule.over == AlertSmoothing(fn: .avg, windowMs: 60_000))
        #expect(rule.forMs == 10_000)
        #expect(rule.clear == AlertCondition(.less, 28))
        #expect(rule.clearCondition == AlertCondition(.less, 28))
        #expect(rule.clearForMs == 5_000)
        #expect(rule.nodataMs == 30_000)
        #expect(rule.severity == .critical)
        #expect(rule.labels == ["team": "facilities", "floor": "2"])
        #expect(rule.description == "{{series}} is {{value}} °C (threshold {{threshold}})")
        #expect(rule.source == .file)
    }

    @Test func defaults() throws {
        let rule = try #require(try parse("[" + Self.valid + "]").first)
        #expect(rule.id == "ok-rule")
        #expect(rule.name == "ok-rule")
        #expect(rule.severity == .warning)
        #expect(rule.clear == nil)
        #expect(rule.clearCondition == AlertCondition(.lessOrEqual, 1))
        #expect(rule.over == nil)
        #expect(rule.forMs == 0)
        #expect(rule.clearForMs == 0)
        #expect(rule.nodataMs == 0)
        #expect(rule.labels.isEmpty)
        #expect(rule.description == "")
        #expect(rule.source == .api)
    }

    @Test func nullOptionalFieldsMeanAbsent() throws {
        let text = """
            [{"id":"r","match":"a/b","when":{"op":"<","value":-5},"clear":null,"over":null,"for_ms":null,
              "clear_for_ms":null,"nodata_ms":null,"labels":null,"description":null}]
            """
        let rule = try #require(try parse(text).first)
        #expect(rule.clear == nil)
        #expect(rule.clearCondition == AlertCondition(.greaterOrEqual, -5))
        #expect(rule.over == nil)
        #expect(rule.forMs == 0)
        #expect(rule.nodataMs == 0)
    }

    @Test(arguments: ComparisonOperator.allCases)
    func everyOperatorAndItsNegation(op: ComparisonOperator) throws {
        let rule = try #require(
            try parse(#"[{"id":"r","match":"a/b","when":{"op":"\#(op.rawValue)","value":2}}]"#).first)
        #expect(rule.when.op == op)
        for x in [1.0, 2, 3] {
            #expect(rule.when.holds(x) != rule.clearCondition.holds(x), "\(op.rawValue) at \(x)")
        }
        #expect(op.negated.negated == op)
    }

    @Test func ruleSetForms() throws {
        let two = Self.valid + #",{"id":"second","match":"*/*","when":{"op":"==","value":0}}"#
        #expect(try parse(#"{"rules":["# + two + "]}").map(\.id) == ["ok-rule", "second"])
        #expect(try parse("[" + two + "]").map(\.id) == ["ok-rule", "second"])
        #expect(try parse(#"{"rules":[]}"#).isEmpty)
        #expect(try parse("[]").isEmpty)
        // A lone rule only where allowed.
        #expect(try parse(Self.valid, allowSingle: true).map(\.id) == ["ok-rule"])
        #expect(problems(Self.valid) == [#"a rule set must be {"rules":[…]} or an array of rules"#])
        #expect(problems("42") == [#"a rule set must be {"rules":[…]} or an array of rules"#])
        #expect(problems(#""rules""#, allowSingle: true) == [#"a rule set must be {"rules":[…]} or an array of rules"#])
        // The set form wins over a lone rule even when a lone rule is allowed.
        #expect(try parse(#"{"rules":["# + two + "]}", allowSingle: true).count == 2)
        #expect(problems(#"{"rules":{}}"#) == ["rules: must be an array of rules"])
        #expect(problems(#"{"rules":null}"#) == ["rules: must be an array of rules"])
        #expect(problems(#"{"rules":[],"version":2}"#) == ["version: unknown field (a rule set has only 'rules')"])
    }

    @Test func invalidJSONIsOneProblem() {
        let found = problems(#"{"rules":["#)
        #expect(found.count == 1)
        #expect(found.first?.contains("unexpected end of input") == true)
    }

    // MARK: Invalid fields

    /// A bad rule (second in the set) and the start of the one problem it must give.
    static let invalidCases: [(rule: String, problem: String)] = [
        (#"{"id":"r","match":"a/b","when":{"op":"=>","value":1}}"#, "rules[1].when.op: must be one of > >= < <= == !="),
        (#"{"id":"r","match":"a/b","when":{"value":1}}"#, "rules[1].when.op: must be one of"),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":"30"}}"#, "rules[1].when.value: must be a finite number"),
        (#"{"id":"r","match":"a/b","when":{"op":">"}}"#, "rules[1].when.value: must be a finite number"),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":NaN}}"#, "rules[1].when.value: must be a finite number"),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":Infinity}}"#,
            "rules[1].when.value: must be a finite number"
        ),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":-Infinity}}"#, "rules[1].when.value: must be a finite"),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":1,"unit":"C"}}"#, "rules[1].when.unit: unknown field"),
        (#"{"id":"r","match":"a/b","when":[">",1]}"#, "rules[1].when: must be an object such as"),
        (#"{"id":"r","match":"a/b"}"#, "rules[1].when: is required"),
        (#"{"match":"a/b","when":{"op":">","value":1}}"#, "rules[1].id: is required"),
        (#"{"id":"a b","match":"a/b","when":{"op":">","value":1}}"#, "rules[1].id: must be a name of 1 to 128"),
        (#"{"id":"","match":"a/b","when":{"op":">","value":1}}"#, "rules[1].id: must be a name"),
        (#"{"id":7,"match":"a/b","when":{"op":">","value":1}}"#, "rules[1].id: must be a name"),
        (
            #"{"id":""# + String(repeating: "x", count: 129) + #"","match":"a/b","when":{"op":">","value":1}}"#,
            "rules[1].id: must be a name"
        ),
        (#"{"id":"r","name":5,"match":"a/b","when":{"op":">","value":1}}"#, "rules[1].name: must be a string"),
        (
            #"{"id":"r","name":""# + String(repeating: "n", count: 257)
                + #"","match":"a/b","when":{"op":">","value":1}}"#,
            "rules[1].name: must be a string of at most 256 bytes"
        ),
        (#"{"id":"r","when":{"op":">","value":1}}"#, "rules[1].match: is required"),
        (
            #"{"id":"r","match":"thermo","when":{"op":">","value":1}}"#,
            "rules[1].match: selector 'thermo' must have the form device/metric"
        ),
        (#"{"id":"r","match":"a b/c","when":{"op":">","value":1}}"#, "rules[1].match: selector 'a b/c' has an invalid"),
        (
            #"{"id":"r","match":["a/b"],"when":{"op":">","value":1}}"#,
            "rules[1].match: must be a series selector string"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"over":{"fn":"median","window_ms":1000}}"#,
            "rules[1].over.fn: must be one of avg, min, max"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"over":{"fn":"avg","window_ms":0}}"#,
            "rules[1].over.window_ms: must be a whole number of milliseconds from 1 to 86400000"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"over":{"fn":"avg","window_ms":86400001}}"#,
            "rules[1].over.window_ms: must be a whole number"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"over":{"fn":"avg","window_ms":1.5}}"#,
            "rules[1].over.window_ms: must be a whole number"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"over":{"fn":"avg"}}"#,
            "rules[1].over.window_ms: is required"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"over":{"fn":"max","window_ms":10,"step":1}}"#,
            "rules[1].over.step: unknown field"
        ),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":1},"over":"avg"}"#, "rules[1].over: must be an object"),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"for_ms":-1}"#,
            "rules[1].for_ms: must be a whole number of milliseconds from 0 to 31536000000"
        ),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":1},"for_ms":"10s"}"#, "rules[1].for_ms: must be a whole"),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":1},"clear_for_ms":2.5}"#, "rules[1].clear_for_ms: must be"),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":1},"nodata_ms":1e12}"#, "rules[1].nodata_ms: must be"),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":1},"nodata_ms":NaN}"#, "rules[1].nodata_ms: must be"),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":30},"clear":{"op":"<","value":31}}"#,
            "rules[1].clear: < 31"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">=","value":30},"clear":{"op":"<=","value":30}}"#,
            "rules[1].clear: <= 30"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":30},"clear":{"op":">","value":40}}"#,
            "rules[1].clear: > 40"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":"!=","value":0},"clear":{"op":"<","value":-1}}"#,
            "rules[1].clear: < -1"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":"==","value":3},"clear":{"op":"!=","value":4}}"#,
            "rules[1].clear: != 4"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"clear":{"op":"~","value":0}}"#,
            "rules[1].clear.op: must be one of"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"clear":5}"#,
            "rules[1].clear: must be an object such as"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"severity":"fatal"}"#,
            "rules[1].severity: must be one of info, warning, critical"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"severity":2}"#,
            "rules[1].severity: must be one of info, warning, critical"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"labels":{"team":5}}"#,
            "rules[1].labels.team: must be a string"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"labels":["team"]}"#,
            "rules[1].labels: must be an object of strings"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"description":"{{host}} is down"}"#,
            "rules[1].description: unknown placeholder {{host}}; use {{device}}, {{metric}}, {{rule}}, {{series}}, {{severity}}, {{threshold}}, {{value}}"
        ),
        (
            #"{"id":"r","match":"a/b","when":{"op":">","value":1},"description":42}"#,
            "rules[1].description: must be a string of at most 4096 bytes"
        ),
        (#"{"id":"r","match":"a/b","when":{"op":">","value":1},"threshold":30}"#, "rules[1].threshold: unknown field"),
        ("5", "rules[1]: must be an object, not "),
        ("[]", "rules[1]: must be an object, not "),
        (Self.valid, "rules[1].id: 'ok-rule' is already used by rules[0]"),
    ]

    @Test(arguments: invalidCases)
    func invalidFieldIsNamed(rule: String, problem: String) {
        let found = problemsAsSecond(rule)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix(problem) == true, "\(found) should start with \(problem)")
    }

    @Test func tooManyLabels() {
        let labels = (0..<65).map { #""k\#($0)":"v""# }.joined(separator: ",")
        let found = problemsAsSecond(#"{"id":"r","match":"a/b","when":{"op":">","value":1},"labels":{\#(labels)}}"#)
        #expect(found == ["rules[1].labels: at most 64 labels"])
    }

    @Test func overlappingClearSaysItWouldFlap() {
        let found = problems(#"[{"id":"r","match":"a/b","when":{"op":">","value":30},"clear":{"op":"<","value":31}}]"#)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("rules[0].clear: ") == true)
        #expect(found.first?.contains("can hold together with when >") == true)
        #expect(found.first?.hasSuffix("the alert would flap") == true)
    }

    @Test func clearsThatCannotFlapAreAccepted() throws {
        let pairs: [(String, String)] = [
            (#"{"op":">","value":30}"#, #"{"op":"<","value":28}"#),
            (#"{"op":">","value":30}"#, #"{"op":"<=","value":30}"#),
            (#"{"op":">=","value":30}"#, #"{"op":"<","value":30}"#),
            (#"{"op":"<","value":5}"#, #"{"op":">","value":10}"#),
            (#"{"op":"==","value":1}"#, #"{"op":"!=","value":1}"#),
            (#"{"op":"!=","value":0}"#, #"{"op":"==","value":0}"#),
            (#"{"op":">","value":30}"#, #"{"op":"<","value":30.000000000000004}"#),
        ]
        for (when, clear) in pairs {
            let text = #"[{"id":"r","match":"a/b","when":\#(when),"clear":\#(clear)}]"#
            #expect(problems(text).isEmpty, "\(when) / \(clear): \(problems(text))")
        }
    }

    @Test func problemsOfALoneRuleHaveNoPrefix() {
        let found = problems(#"{"id":"r","match":"a/b","when":{"op":"=>","value":1},"x":1}"#, allowSingle: true)
        #expect(found == ["x: unknown field", "when.op: must be one of > >= < <= == !="])
    }

    @Test func problemsInABareArrayAreNamedByIndex() {
        // The bare array form has no `rules` key to name; problems start at the index.
        let found = problems("[" + Self.valid + #",{"id":"r","match":"a/b","when":{"op":"=>","value":1}}]"#)
        #expect(found == ["rules[1].when.op: must be one of > >= < <= == !="])
    }

    @Test func everyProblemIsCollected() {
        let text = """
            {"rules":[
              {"id":"a","match":"a/b","when":{"op":"=>","value":NaN},"severity":"fatal","colour":"red",
               "over":{"fn":"mean","window_ms":0}},
              {"id":"b","match":"a/b","when":{"op":">","value":1}},
              {"id":"c","match":"nope","when":{"op":">","value":1},"for_ms":-5},
              {"id":"b","match":"a/b","when":{"op":">","value":1}}
            ]}
            """
        let found = problems(text)
        #expect(
            found == [
                "rules[0].colour: unknown field",
                "rules[0].when.op: must be one of > >= < <= == !=",
                "rules[0].when.value: must be a finite number",
                "rules[0].over.fn: must be one of avg, min, max",
                "rules[0].over.window_ms: must be a whole number of milliseconds from 1 to 86400000",
                "rules[0].severity: must be one of info, warning, critical",
                "rules[2].match: selector 'nope' must have the form device/metric",
                "rules[2].for_ms: must be a whole number of milliseconds from 0 to 31536000000",
                "rules[3].id: 'b' is already used by rules[1]",
            ])
        do {
            _ = try parse(text)
            Issue.record("parsed")
        } catch {
            #expect(error.description == found.joined(separator: "; "))
        }
    }

    @Test func maxRules() throws {
        let parser = AlertRuleParser(maxRules: 2)
        let rules = (0..<3).map { #"{"id":"r\#($0)","match":"a/b","when":{"op":">","value":1}}"# }
        #expect(try parse("[" + rules[0..<2].joined(separator: ",") + "]", parser: parser).count == 2)
        #expect(
            problems(#"{"rules":["# + rules.joined(separator: ",") + "]}", parser: parser)
                == ["rules: 3 rules; the limit is 2"])
        #expect(
            problems("[" + rules.joined(separator: ",") + "]", parser: parser) == ["rules: 3 rules; the limit is 2"])
    }

    @Test func durationLimits() throws {
        var parser = AlertRuleParser()
        parser.maxDurationMs = 1_000
        parser.maxWindowMs = 100
        let ok =
            #"[{"id":"r","match":"a/b","when":{"op":">","value":1},"for_ms":1000,"over":{"fn":"min","window_ms":100}}]"#
        #expect(try parse(ok, parser: parser).first?.forMs == 1_000)
        let over =
            #"[{"id":"r","match":"a/b","when":{"op":">","value":1},"for_ms":1001,"over":{"fn":"min","window_ms":101}}]"#
        #expect(
            problems(over, parser: parser) == [
                "rules[0].over.window_ms: must be a whole number of milliseconds from 1 to 100",
                "rules[0].for_ms: must be a whole number of milliseconds from 0 to 1000",
            ])
    }

    // MARK: Round trip

    static let roundTripRules: [AlertRule] = [
        AlertRule(id: "minimal", match: try! SeriesSelector(parsing: "a/b"), when: AlertCondition(.greater, 1)),
        AlertRule(
            id: "hot-rooms", name: "Room \"too\" hot\n", match: try! SeriesSelector(parsing: "thermo-*/temp"),
            when: AlertCondition(.greater, 30.5), over: AlertSmoothing(fn: .avg, windowMs: 60_000), forMs: 10_000,
            clear: AlertCondition(.less, 28.25), clearForMs: 5_000, nodataMs: 30_000, severity: .critical,
            labels: ["team": "facilities", "é": "ü\\", "z": ""],
            description: "{{series}} is {{value}} °C (threshold {{threshold}}) \u{1F525}", source: .file),
        AlertRule(
            id: "tiny", match: try! SeriesSelector(parsing: "*/*"), when: AlertCondition(.lessOrEqual, -1e-7),
            over: AlertSmoothing(fn: .min, windowMs: 1), severity: .info),
        AlertRule(
            id: "huge", match: try! SeriesSelector(parsing: "m*/x"), when: AlertCondition(.greaterOrEqual, 1e21),
            over: AlertSmoothing(fn: .max, windowMs: 86_400_000), clear: AlertCondition(.less, 0.1)),
        AlertRule(id: "eq", match: try! SeriesSelector(parsing: "d/m"), when: AlertCondition(.equal, 0)),
        AlertRule(
            id: "ne", match: try! SeriesSelector(parsing: "d/m"), when: AlertCondition(.notEqual, 123_456.789),
            forMs: 31_536_000_000),
    ]

    @Test func jsonRoundTrip() throws {
        for rule in Self.roundTripRules {
            var writer = JSONWriter()
            rule.write(to: &writer)
            let parsed = try parse(writer.string, allowSingle: true, source: rule.source)
            #expect(parsed == [rule], "\(writer.string)")
            #expect(rule.json == writer.string)
            // Without `source` too.
            var bare = JSONWriter()
            rule.write(to: &bare, includeSource: false)
            #expect(!bare.string.contains("\"source\""))
            #expect(try parse("[" + bare.string + "]", source: rule.source) == [rule])
        }
        // A whole set.
        let set = #"{"rules":["# + Self.roundTripRules.map(\.json).joined(separator: ",") + "]}"
        let parsed = try parse(set, source: .api)
        #expect(parsed.map(\.id) == Self.roundTripRules.map(\.id))
        for (got, expected) in zip(parsed, Self.roundTripRules) {
            var expected = expected
            expected.source = .api  // the parser's caller says where rules come from
            #expect(got == expected)
        }
    }
}
