/// How a change combines with the rules in force, decided in one place for the API and the rule file.
///
/// Rules from the file are the file's: each load replaces them all, and puts back any the API changed. Rules from
/// the API stay across loads.
public enum AlertRuleSet {
    /// `rules` added at the end, or in place of the rule with the same id.
    public static func upserting(_ rules: [AlertRule], into current: [AlertRule]) -> [AlertRule] {
        var result = current
        for rule in rules {
            if let index = result.firstIndex(where: { $0.id == rule.id }) {
                result[index] = rule
            } else {
                result.append(rule)
            }
        }
        return result
    }

    /// Every rule from the API replaced by `rules`; the file's rules stay, except those whose id `rules` names.
    public static func replacingAPIRules(with rules: [AlertRule], in current: [AlertRule]) -> [AlertRule] {
        let named = Set(rules.map(\.id))
        return current.filter { $0.source == .file && !named.contains($0.id) } + rules
    }

    /// The file's rules in its order, then the API's rules it does not name.
    public static func loadingFile(_ fileRules: [AlertRule], into current: [AlertRule]) -> [AlertRule] {
        let named = Set(fileRules.map(\.id))
        return fileRules + current.filter { $0.source == .api && !named.contains($0.id) }
    }

    /// The rules without the one with `id`.
    public static func removing(_ id: String, from current: [AlertRule]) -> [AlertRule] {
        current.filter { $0.id != id }
    }
}
