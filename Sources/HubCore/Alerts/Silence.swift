/// A silence: alerts whose series matches (and whose rule is `rule`, when given) are marked `silenced` until
/// `until`. Their events are still recorded and pushed, flagged, so notifiers can hold them back.
public struct Silence: Sendable, Codable, Equatable {
    /// `sil-N`.
    public var id: String
    /// The series selector.
    public var match: String
    /// Only this rule, when set.
    public var rule: String?
    /// When the silence ends (Unix ms).
    public var until: Int64
    /// Why.
    public var comment: String
    /// The token subject that created it.
    public var createdBy: String
    /// When it was created.
    public var createdAt: Int64

    /// Creates a silence.
    public init(
        id: String, match: String, rule: String? = nil, until: Int64, comment: String, createdBy: String,
        createdAt: Int64
    ) {
        self.id = id
        self.match = match
        self.rule = rule
        self.until = until
        self.comment = comment
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    /// Whether the silence covers `key` at `now`.
    public func covers(_ key: AlertInstanceKey, now: Int64) -> Bool {
        guard until > now else { return false }
        if let rule, rule != key.rule { return false }
        return (try? SeriesSelector(parsing: match))?.matches(key.series) ?? false
    }

    /// Writes the silence as JSON.
    public func write(to writer: inout JSONWriter) {
        writer.raw("{\"id\":")
        writer.string(id)
        writer.raw(",\"match\":")
        writer.string(match)
        if let rule {
            writer.raw(",\"rule\":")
            writer.string(rule)
        }
        writer.raw(",\"until\":")
        writer.int(until)
        writer.raw(",\"comment\":")
        writer.string(comment)
        writer.raw(",\"created_by\":")
        writer.string(createdBy)
        writer.raw(",\"created_at\":")
        writer.int(createdAt)
        writer.byte(UInt8(ascii: "}"))
    }
}
