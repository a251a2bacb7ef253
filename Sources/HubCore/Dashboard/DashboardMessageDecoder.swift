/// One element of a decoded dashboard frame: a message, or the error to answer it with.
public enum DashboardDecodedItem: Equatable, Sendable {
    case message(DashboardMessage)
    case failure(id: MessageID?, ProtocolError)

    /// The id of the message, when it had one.
    public var id: MessageID? {
        switch self {
        case .message(let message): message.id
        case .failure(let id, _): id
        }
    }
}

/// Decodes dashboard frames into ``DashboardMessage`` values with precise errors.
///
/// A frame is one JSON object or an array of them; each element is decoded on its own.
///
/// ```swift
/// let decoder = DashboardMessageDecoder(configuration: DashboardConfiguration())
/// for item in decoder.decode(frame: bytes) { ... }
/// ```
public struct DashboardMessageDecoder: Sendable {
    /// Longest subscription name.
    public static let maxSubscriptionName = 64
    /// Largest `rate_ms`: one batch an hour.
    public static let maxRateMs: Int64 = 3_600_000
    /// Smallest non-zero `rate_ms`.
    public static let minRateMs: Int64 = 10
    /// `rate_ms` when a subscribe leaves it out.
    public static let defaultRateMs: Int64 = 1_000

    let maxSelectors: Int
    let maxHistoryMs: Int64
    let maxBatchMessages: Int
    let commands: CommandConfiguration

    /// Creates a decoder enforcing `configuration`'s selector and history limits and `commands`' timeout and TTL
    /// bounds.
    public init(
        configuration: DashboardConfiguration, maxBatchMessages: Int = 1_000,
        commands: CommandConfiguration = CommandConfiguration()
    ) {
        self.commands = commands
        self.maxSelectors = configuration.maxSelectors
        self.maxHistoryMs = configuration.maxHistoryMs
        self.maxBatchMessages = maxBatchMessages
    }

    /// Decodes one frame into its messages (or failures), in order.
    public func decode(frame: some Collection<UInt8>) -> [DashboardDecodedItem] {
        let document: JSONValue
        do {
            document = try JSONParser.parse(frame)
        } catch {
            return [.failure(id: nil, error)]
        }
        return FrameDecoding.items(
            document: document, maxBatchMessages: maxBatchMessages,
            decode: { object, id throws(ProtocolError) in .message(try decodeMessage(object, id: id)) },
            failure: { id, error in .failure(id: id, error) })
    }

    /// Decodes one message object.
    public func decodeMessage(_ object: JSONObject, id: MessageID?) throws(ProtocolError) -> DashboardMessage {
        guard let typeValue = object["type"] else { throw .invalidMessage("missing field 'type'") }
        guard case .string(let type) = typeValue else { throw .invalidMessage("'type' must be a string") }
        switch type {
        case "subscribe":
            return .subscribe(
                .init(
                    id: id, sub: try subscriptionName(object), selectors: try selectors(object),
                    rateMs: try rate(object, required: false), historyMs: try history(object)))
        case "resume":
            guard let value = object["after_seq"] else { throw .invalidMessage("missing field 'after_seq'") }
            let afterSeq = try integer(value, field: "after_seq", range: 0...9_007_199_254_740_991)
            return .resume(
                .init(
                    id: id, sub: try subscriptionName(object), selectors: try selectors(object),
                    rateMs: try rate(object, required: false), afterSeq: UInt64(afterSeq),
                    historyMs: try history(object)))
        case "set_rate":
            return .setRate(id: id, sub: try subscriptionName(object), rateMs: try rate(object, required: true))
        case "unsubscribe":
            return .unsubscribe(id: id, sub: try subscriptionName(object))
        case "subscribe_devices":
            return .subscribeDevices(id: id)
        case "unsubscribe_devices":
            return .unsubscribeDevices(id: id)
        case "ping":
            return .ping(id: id)
        case "subscribe_alerts":
            return .subscribeAlerts(
                id: id,
                filter: try AlertFilter(
                    severity: try optionalString(object, "severity"), match: try optionalString(object, "match"),
                    rule: try optionalString(object, "rule"), silenced: try optionalBool(object, "silenced")))
        case "unsubscribe_alerts":
            return .unsubscribeAlerts(id: id)
        case "ack_alert":
            guard case .string(let alert)? = object["alert"], !alert.isEmpty, alert.utf8.count <= 128 else {
                throw .invalidMessage("'alert' must be an alert id such as al-17")
            }
            let comment = try optionalString(object, "comment") ?? ""
            guard comment.utf8.count <= 4_096 else { throw .invalidMessage("'comment' is over 4096 bytes") }
            return .ackAlert(id: id, alert: alert, comment: comment)
        case "command":
            return .command(id: id, try CommandRequest(json: object, room: nil, configuration: commands))
        default:
            throw .unknownType(type)
        }
    }

    private func optionalString(_ object: JSONObject, _ field: String) throws(ProtocolError) -> String? {
        switch object[field] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw .invalidMessage("'\(field)' must be a string")
        }
    }

    private func optionalBool(_ object: JSONObject, _ field: String) throws(ProtocolError) -> Bool? {
        switch object[field] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        default: throw .invalidMessage("'\(field)' must be true or false")
        }
    }

    private func subscriptionName(_ object: JSONObject) throws(ProtocolError) -> String {
        guard let value = object["sub"] else { throw .invalidMessage("missing field 'sub'") }
        guard case .string(let name) = value, !name.isEmpty, name.utf8.count <= Self.maxSubscriptionName,
            name.utf8.allSatisfy(Names.isNameByte)
        else {
            throw .invalidMessage("'sub' must match [A-Za-z0-9._:-]{1,\(Self.maxSubscriptionName)}")
        }
        return name
    }

    private func selectors(_ object: JSONObject) throws(ProtocolError) -> [SeriesSelector] {
        guard let value = object["series"] else { throw .invalidMessage("missing field 'series'") }
        let texts: [JSONValue]
        switch value {
        case .string: texts = [value]
        case .array(let elements): texts = elements
        default: throw .invalidMessage("'series' must be an array of selectors such as \"thermo-*/temp\"")
        }
        guard !texts.isEmpty else { throw .invalidMessage("'series' needs at least one selector") }
        guard texts.count <= maxSelectors else {
            throw .tooLarge("\(texts.count) selectors exceed the limit of \(maxSelectors) per subscription")
        }
        var selectors: [SeriesSelector] = []
        for text in texts {
            guard case .string(let pattern) = text else {
                throw .invalidMessage("'series' must hold strings, got \(text.typeName)")
            }
            let selector = try SeriesSelector(parsing: pattern)
            if !selectors.contains(selector) { selectors.append(selector) }
        }
        return selectors
    }

    private func rate(_ object: JSONObject, required: Bool) throws(ProtocolError) -> Int64 {
        guard let value = object["rate_ms"] else {
            if required { throw .invalidMessage("missing field 'rate_ms'") }
            return Self.defaultRateMs
        }
        let rate = try integer(value, field: "rate_ms", range: 0...Self.maxRateMs)
        guard rate == 0 || rate >= Self.minRateMs else {
            throw .invalidMessage("'rate_ms' must be 0 (as soon as possible) or \(Self.minRateMs) to \(Self.maxRateMs)")
        }
        return rate
    }

    private func history(_ object: JSONObject) throws(ProtocolError) -> Int64 {
        guard let value = object["history_ms"], value != .null else { return 0 }
        return try integer(value, field: "history_ms", range: 0...maxHistoryMs)
    }

    private func integer(_ value: JSONValue, field: String, range: ClosedRange<Int64>) throws(ProtocolError) -> Int64 {
        guard case .number(let number) = value, number.isFinite, number == number.rounded(),
            number >= Double(range.lowerBound), number <= Double(range.upperBound)
        else {
            throw .invalidMessage("'\(field)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int64(number)
    }
}
