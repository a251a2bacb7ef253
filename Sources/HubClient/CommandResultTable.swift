import Foundation
import HubCore

/// A command as the hub shows it (`POST /api/rooms/{room}/commands`, `GET /api/commands`, `GET /api/commands/{id}`):
/// what was sent to which room, and every device's outcome.
///
/// Statuses are kept as the strings the hub sent, so a status added later still shows.
public struct CommandAnswer: Sendable, Equatable {
    /// One device's outcome.
    public struct Result: Sendable, Equatable {
        /// The device id.
        public var device: String
        /// `ok`, `error`, `timeout`, `offline`, `queued`, `pending`, `expired` (or a newer status).
        public var status: String
        /// The device's `result` (status `ok`).
        public var result: JSONValue?
        /// The device's `error`, or why the hub gave up.
        public var error: String?
        /// Milliseconds from hand-over to answer.
        public var latencyMs: Int64?
        /// The answer came after the command's answer had reported the device as `timeout` or `offline`.
        public var late: Bool
        /// How many times the command was handed to the device (`GET /api/commands/{id}` only).
        public var attempts: Int?

        /// Creates a result.
        public init(
            device: String, status: String, result: JSONValue? = nil, error: String? = nil, latencyMs: Int64? = nil,
            late: Bool = false, attempts: Int? = nil
        ) {
            self.device = device
            self.status = status
            self.result = result
            self.error = error
            self.latencyMs = latencyMs
            self.late = late
            self.attempts = attempts
        }
    }

    /// The command id, e.g. `cmd-12`.
    public var command: String
    /// The room as addressed.
    public var room: String
    /// The command name.
    public var name: String
    /// The arguments.
    public var args: JSONObject
    /// Who sent it (the token subject).
    public var sender: String
    /// Where it came from: `api`, `dashboard`, ….
    public var source: String
    /// When it was sent (Unix ms).
    public var ts: Int64?
    /// How long the sender waited for the answers.
    public var timeoutMs: Int64?
    /// How long a command for an offline device is kept (0: not kept).
    public var ttlMs: Int64?
    /// When the answer went to the sender (Unix ms).
    public var answeredAt: Int64?
    /// Whether deliveries are still pending or queued.
    public var open: Bool
    /// The hub's `summary` counts, in the order it sent them.
    public var summary: [(status: String, count: Int)]
    /// One per member device.
    public var results: [Result]

    /// Creates an answer.
    public init(
        command: String, room: String = "", name: String = "", args: JSONObject = JSONObject(), sender: String = "",
        source: String = "", ts: Int64? = nil, timeoutMs: Int64? = nil, ttlMs: Int64? = nil,
        answeredAt: Int64? = nil, open: Bool = false, summary: [(status: String, count: Int)] = [],
        results: [Result] = []
    ) {
        self.command = command
        self.room = room
        self.name = name
        self.args = args
        self.sender = sender
        self.source = source
        self.ts = ts
        self.timeoutMs = timeoutMs
        self.ttlMs = ttlMs
        self.answeredAt = answeredAt
        self.open = open
        self.summary = summary
        self.results = results
    }

    public static func == (lhs: CommandAnswer, rhs: CommandAnswer) -> Bool {
        lhs.command == rhs.command && lhs.room == rhs.room && lhs.name == rhs.name && lhs.args == rhs.args
            && lhs.sender == rhs.sender && lhs.source == rhs.source && lhs.ts == rhs.ts
            && lhs.timeoutMs == rhs.timeoutMs && lhs.ttlMs == rhs.ttlMs && lhs.answeredAt == rhs.answeredAt
            && lhs.open == rhs.open && lhs.summary.elementsEqual(rhs.summary, by: { $0 == $1 })
            && lhs.results == rhs.results
    }

    /// Reads a command object; nil when `json` is not an object with a `command` id.
    public init?(json: JSONValue) {
        guard case .object(let object) = json, case .string(let id)? = object["command"] else { return nil }
        func string(_ key: String) -> String? { object[key]?.stringValue }
        var summary: [(status: String, count: Int)] = []
        if case .object(let counts)? = object["summary"] {
            for member in counts.members {
                if let count = Self.integer(member.value) { summary.append((member.key, Int(count))) }
            }
        }
        var results: [Result] = []
        if case .array(let items)? = object["results"] {
            results = items.compactMap(Self.result)
        }
        var open = false
        if case .bool(let flag)? = object["open"] { open = flag }
        var args = JSONObject()
        if case .object(let members)? = object["args"] { args = members }
        self.init(
            command: id, room: string("room") ?? "", name: string("name") ?? "", args: args,
            sender: string("sender") ?? "", source: string("source") ?? "", ts: object["ts"].flatMap(Self.integer),
            timeoutMs: object["timeout_ms"].flatMap(Self.integer), ttlMs: object["ttl_ms"].flatMap(Self.integer),
            answeredAt: object["answered_at"].flatMap(Self.integer), open: open, summary: summary, results: results)
    }

    /// Parses the hub's JSON text of one command.
    ///
    /// - Throws: ``ProtocolError`` when the text is not JSON or not a command object.
    public static func parse(_ text: String) throws(ProtocolError) -> CommandAnswer {
        let document = try JSONParser.parse(text)
        guard let answer = CommandAnswer(json: document) else {
            throw .invalidJSON("the answer is not a command: it has no \"command\" id")
        }
        return answer
    }

    private static func result(_ json: JSONValue) -> Result? {
        guard case .string(let device)? = json["device"] else { return nil }
        var late = false
        if case .bool(let flag)? = json["late"] { late = flag }
        var result = json["result"]
        if result == .null { result = nil }
        return Result(
            device: device, status: json["status"]?.stringValue ?? "?", result: result,
            error: json["error"]?.stringValue, latencyMs: json["latency_ms"].flatMap(integer), late: late,
            attempts: json["attempts"].flatMap(integer).map { Int($0) })
    }

    /// A whole number that fits in `Int64`, or nil.
    static func integer(_ value: JSONValue) -> Int64? {
        guard case .number(let number) = value, number.isFinite, number == number.rounded(), abs(number) < 9.2e18
        else { return nil }
        return Int64(number)
    }

    /// How many devices have each status: from the results, or from `summary` when there are no results.
    public var counts: [String: Int] {
        guard results.isEmpty else {
            var counts: [String: Int] = [:]
            for result in results { counts[result.status, default: 0] += 1 }
            return counts
        }
        var counts: [String: Int] = [:]
        for entry in summary { counts[entry.status, default: 0] += entry.count }
        return counts
    }

    /// How many devices the command reached (results, or the sum of `summary`).
    public var deviceCount: Int { results.isEmpty ? summary.reduce(0) { $0 + $1.count } : results.count }

    /// How many answers came late.
    public var lateCount: Int { results.filter(\.late).count }
}

/// The statuses a command's result can have, and which of them count as a failure.
public enum CommandStatus {
    /// The order statuses are listed in: outcomes first, then what is still waiting.
    public static let order = ["ok", "error", "timeout", "offline", "expired", "queued", "pending"]

    /// The statuses the CLI counts as a failure (`queued` and `pending` are not: they are still on their way).
    public static let failures: Set<String> = ["error", "timeout", "offline", "expired"]

    /// Whether `status` is a failure.
    public static func isFailure(_ status: String) -> Bool { failures.contains(status) }

    /// `counts` in ``order`` (other statuses after them, by name), leaving out zeros.
    public static func ordered(_ counts: [String: Int]) -> [(status: String, count: Int)] {
        let known = order.compactMap { status in counts[status].flatMap { $0 > 0 ? (status, $0) : nil } }
        let others = counts.filter { !order.contains($0.key) && $0.value > 0 }.sorted { $0.key < $1.key }
        return known + others.map { ($0.key, $0.value) }
    }
}

/// Renders a command's results for a terminal: a table of DEVICE, STATUS, LATENCY and RESULT, then a summary line.
/// Pure: the same answer and format give the same lines.
///
/// ```text
/// DEVICE    STATUS   LATENCY  RESULT
/// thermo-1  ok       12 ms    {"value":21}
/// thermo-2  error    30 ms    value out of range
/// thermo-3  timeout  -        -
/// 3 devices: 1 ok, 1 error, 1 timeout (cmd-12, 5.0 s timeout)
/// ```
public struct CommandResultTable: Sendable, Equatable {
    /// Whether to use ANSI colours for statuses (the caller decides: a terminal, no `--no-color`, no `NO_COLOR`).
    public var color: Bool
    /// Add an ATTEMPTS column (for `commands show`, whose results say how often each device was tried).
    public var attempts: Bool

    /// Creates a format.
    public init(color: Bool = false, attempts: Bool = false) {
        self.color = color
        self.attempts = attempts
    }

    /// The table (header and one row per device; none when there are no results) and the summary line.
    public func render(_ answer: CommandAnswer) -> [String] {
        guard !answer.results.isEmpty else { return [Self.summaryLine(answer)] }
        return table(answer.results) + [Self.summaryLine(answer)]
    }

    /// The header and one aligned row per result; statuses coloured when ``color`` is on.
    public func table(_ results: [CommandAnswer.Result]) -> [String] {
        var header = ["DEVICE", "STATUS", "LATENCY"]
        if attempts { header.append("ATTEMPTS") }
        header.append("RESULT")
        let rows = results.map { result -> [String] in
            var row = [
                Self.clean(result.device), Self.statusText(result),
                result.latencyMs.map { "\($0) ms" } ?? "-",
            ]
            if attempts { row.append(result.attempts.map { String($0) } ?? "-") }
            row.append(Self.resultText(result))
            return row
        }
        let statusColumn = 1
        let styles = [nil] + results.map { Self.style(status: $0.status) }
        return Self.aligned([header] + rows).enumerated().map { index, cells in
            var cells = cells
            if let style = styles[index] { cells[statusColumn] = paint(cells[statusColumn], style) }
            return cells.joined()
        }
    }

    /// `12 devices: 9 ok, 1 error, 1 timeout, 1 offline (cmd-12, 5.0 s timeout)`, with `1 late` when answers came
    /// late, `kept 10m` when offline devices may still get the command, and `still open` while deliveries wait.
    public static func summaryLine(_ answer: CommandAnswer) -> String {
        let total = answer.deviceCount
        var text = "\(total) \(total == 1 ? "device" : "devices")"
        let counts = CommandStatus.ordered(answer.counts)
        if !counts.isEmpty { text += ": " + counts.map { "\($0.count) \($0.status)" }.joined(separator: ", ") }
        var notes = [clean(answer.command)]
        if let timeoutMs = answer.timeoutMs { notes.append("\(seconds(timeoutMs)) timeout") }
        if answer.lateCount > 0 { notes.append("\(answer.lateCount) late") }
        if let ttlMs = answer.ttlMs, ttlMs > 0 { notes.append("kept \(DurationText.format(milliseconds: ttlMs))") }
        if answer.open { notes.append("still open") }
        return text + " (" + notes.joined(separator: ", ") + ")"
    }

    /// Whether any device failed: `error`, `timeout`, `offline` or `expired` (`queued` and `pending` are not).
    public static func hasFailures(_ answer: CommandAnswer) -> Bool {
        answer.counts.contains { CommandStatus.isFailure($0.key) && $0.value > 0 }
    }

    /// The exit status of `telemetryhub send`: 0 when every device is ok or queued, 2 when any failed.
    public static func exitStatus(_ answer: CommandAnswer) -> Int32 {
        hasFailures(answer) ? 2 : 0
    }

    /// `5.0 s`, `0.25 s`, `12.5 s`: seconds with at least one decimal and at most three.
    public static func seconds(_ ms: Int64) -> String {
        let whole = ms / 1_000
        var fraction = String(abs(ms % 1_000))
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.count > 1, fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(ms < 0 && whole == 0 ? "-" : "")\(whole).\(fraction) s"
    }

    /// The status cell: the status, and `(late)` for an answer that came after the command's answer.
    static func statusText(_ result: CommandAnswer.Result) -> String {
        clean(result.status) + (result.late ? " (late)" : "")
    }

    /// The result cell: the result as compact JSON, else the error text, else `-`.
    static func resultText(_ result: CommandAnswer.Result) -> String {
        if let value = result.result, result.status == "ok" || result.error == nil {
            var writer = JSONWriter()
            writer.value(value)
            return clean(writer.string)
        }
        if let error = result.error, !error.isEmpty { return clean(error) }
        return "-"
    }

    /// The colour of a status: ok green, error red, timeout yellow, offline and expired magenta, queued cyan,
    /// pending dim.
    public static func style(status: String) -> AlertLineFormat.Style? {
        switch status {
        case "ok": .green
        case "error": .red
        case "timeout": .yellow
        case "offline", "expired": .magenta
        case "queued": .cyan
        case "pending": .dim
        default: nil
        }
    }

    /// `text` in `style` when colours are on.
    func paint(_ text: String, _ style: AlertLineFormat.Style) -> String {
        AlertLineFormat(color: color).paint(text, style)
    }

    /// Cells padded to their column's width plus two spaces (the last cell of a row is not padded).
    static func aligned(_ rows: [[String]]) -> [[String]] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
        }
    }

    /// `text` on one line without control characters (device-supplied text must not drive the terminal).
    static func clean(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\t" {
                scalars.append(" ")
            } else if isControl(scalar) {
                scalars.append("?")
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
