import Testing

@testable import HubCore

@Suite("AlertRuleSet: how API changes and rule-file loads combine with the rules in force")
struct AlertRuleSetTests {
    static func rule(_ id: String, _ source: RuleSource, threshold: Double = 30) -> AlertRule {
        AlertRule(
            id: id, match: try! SeriesSelector(parsing: "*/temp"), when: AlertCondition(.greater, threshold),
            source: source)
    }

    static let current = [rule("f1", .file), rule("a1", .api), rule("f2", .file), rule("a2", .api)]

    @Test func upsertReplacesInPlaceAndAppendsNewOnes() {
        let result = AlertRuleSet.upserting(
            [Self.rule("a1", .api, threshold: 40), Self.rule("a3", .api)], into: Self.current)
        #expect(result.map(\.id) == ["f1", "a1", "f2", "a2", "a3"])
        #expect(result[1].when.value == 40)
    }

    @Test func anAPIEditOfAFileRuleMakesItTheAPIs() {
        let result = AlertRuleSet.upserting([Self.rule("f2", .api, threshold: 50)], into: Self.current)
        #expect(result.map(\.id) == ["f1", "a1", "f2", "a2"])
        #expect(result[2].source == .api)
    }

    @Test func replacingAPIRulesKeepsTheFilesUnlessNamed() {
        let result = AlertRuleSet.replacingAPIRules(
            with: [Self.rule("a9", .api), Self.rule("f2", .api)], in: Self.current)
        #expect(result.map(\.id) == ["f1", "a9", "f2"])
        #expect(result.map(\.source) == [.file, .api, .api])
    }

    @Test func aFileLoadReplacesTheFilesRulesAndWinsOverTheAPIOnItsIds() {
        let result = AlertRuleSet.loadingFile(
            [Self.rule("f3", .file), Self.rule("a2", .file, threshold: 10)], into: Self.current)
        #expect(result.map(\.id) == ["f3", "a2", "a1"])
        #expect(result.map(\.source) == [.file, .file, .api])
        #expect(result[1].when.value == 10)
    }

    @Test func removingDropsOnlyThatID() {
        #expect(AlertRuleSet.removing("a1", from: Self.current).map(\.id) == ["f1", "f2", "a2"])
        #expect(AlertRuleSet.removing("nope", from: Self.current).count == 4)
    }
}
