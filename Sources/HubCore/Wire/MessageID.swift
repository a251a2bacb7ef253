/// The `id` a client puts on a message that wants an answer; echoed back exactly.
public enum MessageID: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case number(Double)

    /// Reads an id from a JSON value; nil when the value is neither a string nor a number.
    public init?(_ value: JSONValue) {
        switch value {
        case .string(let text): self = .string(text)
        case .number(let number) where number.isFinite: self = .number(number)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .string(let text): text
        case .number(let number):
            number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : number.description
        }
    }

    /// Writes the id as JSON.
    public func write(to writer: inout JSONWriter) {
        switch self {
        case .string(let text): writer.string(text)
        case .number(let number): writer.number(number)
        }
    }
}
