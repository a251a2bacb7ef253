import Foundation
import HTTPTypes
import HubCore
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A client of the hub's alert stream (`GET /ws/alerts`): connects, reconnects with exponential backoff and jitter,
/// and hands every `alert` message to a callback (``run(until:onEvent:)``) or an `AsyncStream` (``events(until:)``,
/// ``alerts(until:)``).
///
/// After each (re)connect the hub first replays the active alerts (`event: "current"`), then sends every change.
///
/// ```swift
/// let client = AlertStreamClient(url: "http://127.0.0.1:8080", token: viewerToken, severity: "warning")
/// for await alert in client.alerts() { print(AlertLineFormat().render(alert)) }
/// ```
public struct AlertStreamClient: Sendable {
    /// What the client saw.
    public enum Event: Sendable {
        /// The connection is up.
        case connected
        /// An `alert` message: parsed, and its JSON text as received.
        case alert(AlertLine, text: String)
        /// The hub answered with an `error` message.
        case error(code: String, message: String)
        /// The connection ended; the client retries after `retryInMs` (nil when it stops).
        case disconnected(reason: String, retryInMs: Int?)
    }

    /// The hub's base URL: `ws://`, `wss://`, `http://` or `https://` host and port (HTTP schemes are mapped).
    public var url: String
    /// Viewer (or stronger) token, sent as `Authorization: Bearer`.
    public var token: String?
    /// Only alerts of this severity or worse (`info`, `warning`, `critical`); nil for all.
    public var severity: String?
    /// Only alerts whose series match this selector, e.g. `thermo-*/temp`; nil for all.
    public var match: String?
    /// Whether events of silenced alerts are sent (`silenced=0` when false).
    public var includeSilenced: Bool
    /// Delays between reconnection attempts.
    public var backoff: Backoff
    /// How often a WebSocket ping checks that the connection is alive (a missing pong drops it); nil for never.
    public var pingInterval: Duration?
    /// Logger for the WebSocket client.
    public var logger: Logger

    /// Creates a client of the hub at `url`.
    public init(
        url: String, token: String?, severity: String? = nil, match: String? = nil, includeSilenced: Bool = true,
        backoff: Backoff = Backoff(initialMs: 500, maxMs: 15_000), pingInterval: Duration? = .seconds(30),
        logger: Logger = Logger(label: "telemetryhub.alerts")
    ) {
        self.url = url
        self.token = token
        self.severity = severity
        self.match = match
        self.includeSilenced = includeSilenced
        self.backoff = backoff
        self.pingInterval = pingInterval
        self.logger = logger
    }

    /// The full WebSocket URL: `ws://host:port/ws/alerts?severity=…&match=…&silenced=0`.
    public var streamURL: String {
        let silenced: String? = includeSilenced ? nil : "0"
        return Self.webSocketBase(url) + "/ws/alerts"
            + HubQuery.string([(name: "severity", value: severity), ("match", match), ("silenced", silenced)])
    }

    /// `url` with an `http(s)://` scheme turned into `ws(s)://` and without a trailing `/`.
    public static func webSocketBase(_ url: String) -> String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasPrefix("http://") { return "ws://" + base.dropFirst("http://".count) }
        if base.hasPrefix("https://") { return "wss://" + base.dropFirst("https://".count) }
        return base
    }

    /// Connects and follows the stream until `deadline` (or cancellation), reconnecting as needed.
    ///
    /// `onEvent` is called from one task at a time, in the order things happened.
    public func run(
        until deadline: ContinuousClock.Instant? = nil, onEvent: @escaping @Sendable (Event) -> Void
    ) async {
        var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max))
        var attempt = 0
        func stillRunning() -> Bool {
            !Task.isCancelled && (deadline.map { ContinuousClock.now < $0 } ?? true)
        }
        while stillRunning() {
            let started = ContinuousClock.now
            let (outcome, opened) = await session(deadline: deadline, onEvent: onEvent)
            guard stillRunning() else {
                onEvent(.disconnected(reason: outcome, retryInMs: nil))
                return
            }
            // A connection that held for a while starts the backoff over; one dropped at once keeps growing it.
            if opened && started.duration(to: .now) >= .seconds(5) { attempt = 0 }
            let delay = Int(backoff.delayMs(attempt: attempt, using: &random))
            attempt += 1
            onEvent(.disconnected(reason: outcome, retryInMs: delay))
            try? await Task.sleep(for: .milliseconds(delay))
        }
    }

    /// The events of ``run(until:onEvent:)`` as a stream; it finishes when the client stops, and ending the
    /// iteration stops the client.
    public func events(until deadline: ContinuousClock.Instant? = nil) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        let client = self
        let task = Task {
            await client.run(until: deadline) { event in _ = continuation.yield(event) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Only the alerts of ``events(until:)``, parsed.
    public func alerts(until deadline: ContinuousClock.Instant? = nil) -> AsyncStream<AlertLine> {
        let (stream, continuation) = AsyncStream.makeStream(of: AlertLine.self)
        let client = self
        let task = Task {
            await client.run(until: deadline) { event in
                if case .alert(let line, _) = event { _ = continuation.yield(line) }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// One connection: returns why it ended and whether it was ever open.
    private func session(
        deadline: ContinuousClock.Instant?, onEvent: @escaping @Sendable (Event) -> Void
    ) async -> (reason: String, opened: Bool) {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var configuration = WebSocketClientConfiguration(maxFrameSize: 16 << 20, additionalHeaders: headers)
        if let pingInterval { configuration.autoPing = .enabled(timePeriod: pingInterval) }
        let opened = Atomic<Bool>(false)
        do {
            let frame = try await WebSocketClient.connect(
                url: streamURL, configuration: configuration, logger: logger
            ) { inbound, outbound, _ in
                opened.store(true, ordering: .relaxed)
                onEvent(.connected)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if let deadline {
                        group.addTask {
                            try await Task.sleep(until: deadline)
                            try? await outbound.close(.normalClosure, reason: "done")
                        }
                    }
                    for try await message in inbound.messages(maxSize: 16 << 20) {
                        guard case .text(let text) = message, let document = try? JSONParser.parse(text) else {
                            continue
                        }
                        Self.dispatch(document, text: text, onEvent: onEvent)
                    }
                    group.cancelAll()
                }
            }
            let wasOpen = opened.load(ordering: .relaxed)
            if let frame, let code = Self.closeCode(frame) { return ("closed by the hub (\(code))", wasOpen) }
            return ("connection closed", wasOpen)
        } catch {
            return ("\(error)", opened.load(ordering: .relaxed))
        }
    }

    private static func closeCode(_ frame: WebSocketCloseFrame) -> String? {
        switch frame.closeCode {
        case .normalClosure: return nil
        case .unknown(let code): return "\(code)\(frame.reason.map { ": \($0)" } ?? "")"
        default: return "\(frame.closeCode)\(frame.reason.map { ": \($0)" } ?? "")"
        }
    }

    /// Turns one message from the hub into an event (`alert`, `error`; others such as `pong` are ignored).
    static func dispatch(_ document: JSONValue, text: String, onEvent: (Event) -> Void) {
        switch document["type"]?.stringValue {
        case "alert":
            guard let line = AlertLine(json: document) else { return }
            onEvent(.alert(line, text: text))
        case "error":
            onEvent(
                .error(
                    code: document["code"]?.stringValue ?? "error", message: document["message"]?.stringValue ?? ""))
        default:
            break
        }
    }
}

/// Builds URL query strings with percent-encoded values.
public enum HubQuery {
    /// `?name=value&…` for the items whose value is neither nil nor empty; `""` when there are none.
    public static func string(_ items: [(name: String, value: String?)]) -> String {
        let pairs = items.compactMap { item -> String? in
            guard let value = item.value, !value.isEmpty else { return nil }
            return escaped(item.name) + "=" + escaped(value)
        }
        return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
    }

    /// `text` with every byte but `A-Z a-z 0-9 - . _ ~ * / :` percent-encoded (UTF-8), safe in a query value.
    public static func escaped(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "*"), UInt8(ascii: "/"), UInt8(ascii: ":"):
                bytes.append(byte)
            default:
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One `alert` message (from `/ws/alerts`, `/ws/dashboard` or `GET /api/alerts`), with the fields a terminal
/// view needs.
///
/// `state`, `event` and `severity` are kept as the strings the hub sent so unknown future values still show.
public struct AlertLine: Sendable, Equatable {
    /// The alert (episode) id, e.g. `al-17`.
    public var alert: String
    /// The rule id.
    public var rule: String
    /// The rule's name, when it has one.
    public var name: String?
    /// The series, e.g. `thermo-1/temp`.
    public var series: String
    /// `pending`, `firing`, `resolved`, `nodata` or `ok`.
    public var state: String
    /// The state before a transition.
    public var previous: String?
    /// `current`, `transition`, `ack`, `silence` or `unsilence`.
    public var event: String
    /// Why a transition happened (`threshold`, `clear`, `nodata`, …).
    public var reason: String?
    /// `info`, `warning` or `critical`.
    public var severity: String
    /// The value judged, when there is one (no-data alerts have none).
    public var value: Double?
    /// The threshold of the rule's condition.
    public var threshold: Double?
    /// The comparison of the rule's condition (`>`, `>=`, `<`, `<=`, `==`, `!=`).
    public var op: String?
    /// When the event happened (ms since the epoch).
    public var ts: Int64
    /// When the alert entered its state (ms).
    public var since: Int64?
    /// When the episode began (ms).
    public var started: Int64?
    /// Whether someone acknowledged the alert.
    public var acked: Bool
    /// Who acknowledged it.
    public var ackedBy: String?
    /// The acknowledgement's comment.
    public var ackComment: String?
    /// Whether a silence applies.
    public var silenced: Bool
    /// The id of the silence that applies.
    public var silence: String?
    /// The rule's labels.
    public var labels: [String: String]
    /// The rule's rendered `description`.
    public var summary: String?

    /// Creates a line from its fields.
    public init(
        alert: String, rule: String, name: String? = nil, series: String, state: String, previous: String? = nil,
        event: String = "transition", reason: String? = nil, severity: String = "warning", value: Double? = nil,
        threshold: Double? = nil, op: String? = nil, ts: Int64, since: Int64? = nil, started: Int64? = nil,
        acked: Bool = false, ackedBy: String? = nil, ackComment: String? = nil, silenced: Bool = false,
        silence: String? = nil, labels: [String: String] = [:], summary: String? = nil
    ) {
        self.alert = alert
        self.rule = rule
        self.name = name
        self.series = series
        self.state = state
        self.previous = previous
        self.event = event
        self.reason = reason
        self.severity = severity
        self.value = value
        self.threshold = threshold
        self.op = op
        self.ts = ts
        self.since = since
        self.started = started
        self.acked = acked
        self.ackedBy = ackedBy
        self.ackComment = ackComment
        self.silenced = silenced
        self.silence = silence
        self.labels = labels
        self.summary = summary
    }

    /// Parses an `alert` object; nil when it is not one (another `type`, or no string `alert` id).
    ///
    /// Missing optional fields stay nil; a missing `state`, `event` or `rule` becomes `""`, a missing `severity`
    /// `warning`.
    public init?(json: JSONValue) {
        guard case .object(let object) = json, let id = object["alert"]?.stringValue else { return nil }
        if let type = object["type"], type.stringValue != "alert" { return nil }
        func string(_ key: String) -> String? { object[key]?.stringValue }
        func number(_ key: String) -> Double? {
            guard let found = object[key]?.numberValue, found.isFinite else { return nil }
            return found
        }
        func millis(_ key: String) -> Int64? {
            guard let found = number(key), abs(found) < 9.2e18 else { return nil }
            return Int64(found)
        }
        func flag(_ key: String) -> Bool {
            if case .bool(true) = object[key] { return true }
            return false
        }
        var labels: [String: String] = [:]
        if case .object(let members) = object["labels"] {
            for (key, value) in members.members {
                if let text = value.stringValue { labels[key] = text }
            }
        }
        self.init(
            alert: id, rule: string("rule") ?? "", name: string("name"), series: string("series") ?? "",
            state: string("state") ?? "", previous: string("previous"), event: string("event") ?? "",
            reason: string("reason"), severity: string("severity") ?? "warning", value: number("value"),
            threshold: number("threshold"), op: string("op"), ts: millis("ts") ?? 0, since: millis("since"),
            started: millis("started"), acked: flag("acked"), ackedBy: string("acked_by"),
            ackComment: string("ack_comment"), silenced: flag("silenced"), silence: string("silence"),
            labels: labels, summary: string("description"))
    }

    /// The condition as text: `31.2 > 30`, or just the value when there is no threshold, or nil without a value.
    public var condition: String? {
        guard let value else { return nil }
        guard let op, let threshold else { return AlertLineFormat.number(value) }
        return "\(AlertLineFormat.number(value)) \(op) \(AlertLineFormat.number(threshold))"
    }
}

/// Renders ``AlertLine``s as one terminal line each. Pure: the same line and format give the same text.
///
/// ```text
/// 01:46:40.000 critical firing   al-17 thermo-1/temp 31.2 > 30 hot-rooms (Room too hot) acked by alice
/// ```
public struct AlertLineFormat: Sendable, Equatable {
    /// Whether to use ANSI colors (the caller decides: a terminal, no `--no-color`, no `NO_COLOR`).
    public var color: Bool
    /// Show times as ISO 8601 in UTC instead of local clock times.
    public var utc: Bool
    /// The zone of local times.
    public var timeZone: TimeZone

    /// Creates a format.
    public init(color: Bool = false, utc: Bool = false, timeZone: TimeZone = .current) {
        self.color = color
        self.utc = utc
        self.timeZone = timeZone
    }

    /// ANSI select-graphic-rendition codes used.
    public enum Style: String, Sendable {
        case red = "31"
        case boldRed = "1;31"
        case green = "32"
        case yellow = "33"
        case magenta = "35"
        case cyan = "36"
        case bold = "1"
        case dim = "2"
    }

    /// One line for `alert`: time, severity, state, alert id, series, condition, rule, then `acked by …`,
    /// `silenced` and the event kind when it is not a transition.
    public func render(_ alert: AlertLine) -> String {
        var parts: [String] = [time(alert.ts)]
        parts.append(paint(Self.padded(alert.severity, 8), Self.style(severity: alert.severity)))
        parts.append(paint(Self.padded(alert.state, 8), Self.style(state: alert.state)))
        parts.append(alert.alert)
        if !alert.series.isEmpty { parts.append(alert.series) }
        if let condition = alert.condition { parts.append(condition) }
        if let rule = Self.rule(alert) { parts.append(rule) }
        if alert.acked { parts.append(paint(alert.ackedBy.map { "acked by \($0)" } ?? "acked", .bold)) }
        if alert.silenced { parts.append(paint("silenced", .dim)) }
        if !alert.event.isEmpty && alert.event != "transition" { parts.append(paint("(\(alert.event))", .dim)) }
        return parts.joined(separator: " ")
    }

    /// `text` in `style` when colors are on, else `text` itself.
    public func paint(_ text: String, _ style: Style?) -> String {
        guard color, let style else { return text }
        return "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m"
    }

    /// `HH:mm:ss.SSS` in the local zone, or `yyyy-MM-ddTHH:mm:ss.SSSZ` with ``utc``.
    public func time(_ ms: Int64) -> String {
        if utc { return Self.iso8601(ms) }
        let civil = Self.civil(ms + offsetMs(ms))
        return "\(Self.digits(civil.hour, 2)):\(Self.digits(civil.minute, 2)):\(Self.digits(civil.second, 2))."
            + Self.digits(civil.millisecond, 3)
    }

    /// `yyyy-MM-dd HH:mm:ss` in the local zone, or `yyyy-MM-ddTHH:mm:ss.SSSZ` with ``utc``.
    public func dateTime(_ ms: Int64) -> String {
        if utc { return Self.iso8601(ms) }
        let civil = Self.civil(ms + offsetMs(ms))
        return "\(Self.digits(civil.year, 4))-\(Self.digits(civil.month, 2))-\(Self.digits(civil.day, 2)) "
            + "\(Self.digits(civil.hour, 2)):\(Self.digits(civil.minute, 2)):\(Self.digits(civil.second, 2))"
    }

    /// `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC).
    public static func iso8601(_ ms: Int64) -> String {
        let parts = civil(ms)
        return "\(digits(parts.year, 4))-\(digits(parts.month, 2))-\(digits(parts.day, 2))T"
            + "\(digits(parts.hour, 2)):\(digits(parts.minute, 2)):\(digits(parts.second, 2))."
            + "\(digits(parts.millisecond, 3))Z"
    }

    /// A number for people: integral values without a fraction, others rounded to at most 4 decimals (6 below 1).
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        guard magnitude >= 1e-4, magnitude < 1e15 else { return "\(value)" }
        // About six significant digits: 1223.27, 31.2333, 0.123457.
        let scale = magnitude >= 100 ? 100.0 : magnitude >= 1 ? 10_000.0 : 1_000_000.0
        let rounded = (value * scale).rounded() / scale
        if rounded == rounded.rounded() { return String(Int64(rounded)) }
        return "\(rounded)"
    }

    /// The color of a severity: critical red, warning yellow, info cyan.
    public static func style(severity: String) -> Style? {
        switch severity {
        case "critical": Style.red
        case "warning": Style.yellow
        case "info": Style.cyan
        default: nil
        }
    }

    /// The color of a state: firing bold red, pending yellow, nodata magenta, resolved and ok green.
    public static func style(state: String) -> Style? {
        switch state {
        case "firing": Style.boldRed
        case "pending": Style.yellow
        case "nodata": Style.magenta
        case "resolved", "ok": Style.green
        default: nil
        }
    }

    /// `rule (name)`, `rule`, or nil when there is no rule id.
    static func rule(_ alert: AlertLine) -> String? {
        guard !alert.rule.isEmpty else { return nil }
        guard let name = alert.name, !name.isEmpty, name != alert.rule else { return alert.rule }
        return "\(alert.rule) (\(name))"
    }

    /// `text` padded with spaces to `width` characters (longer text is kept whole).
    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func offsetMs(_ ms: Int64) -> Int64 {
        let date = Date(timeIntervalSince1970: Double(ms) / 1_000)
        return Int64(timeZone.secondsFromGMT(for: date)) * 1_000
    }

    private static func digits(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// The calendar fields of `ms` since the epoch (proleptic Gregorian, no zone).
    private static func civil(_ ms: Int64) -> (
        year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, millisecond: Int64
    ) {
        let msPerDay: Int64 = 86_400_000
        var days = ms / msPerDay
        var rest = ms % msPerDay
        if rest < 0 {
            rest += msPerDay
            days -= 1
        }
        // Days to civil date (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (
            year, month, day, rest / 3_600_000, rest / 60_000 % 60, rest / 1_000 % 60, rest % 1_000
        )
    }
}
