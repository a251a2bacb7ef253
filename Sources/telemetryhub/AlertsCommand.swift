import ArgumentParser
import Foundation
import HubClient
import HubCore
import Logging
import Synchronization

/// `telemetryhub alerts`: follow, list, acknowledge and silence alerts.
struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts", abstract: "Follow, list, acknowledge and silence alerts.",
        subcommands: [Tail.self, List.self, Ack.self, Silence.self])

    /// `alerts tail`: the live stream, one line per alert event.
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Follow alerts live: the active ones first, then every change, one line each (reconnects by itself).")

        @OptionGroup var target: HubAPIOptions
        @Option(help: "Only alerts of this severity or worse: info, warning or critical.")
        var severity: String?
        @Option(help: "Only alerts whose series match this selector, e.g. 'thermo-*/temp'.")
        var match: String?
        @Flag(inversion: .prefixedNo, help: "Show the events of silenced alerts.")
        var silenced = true
        @Flag(help: "Print each alert message as JSON, one per line, as received.")
        var json = false
        @Flag(help: "No colors (also off when NO_COLOR is set or stdout is not a terminal).")
        var noColor = false
        @Flag(help: "Show times as ISO 8601 in UTC instead of the local clock.")
        var utc = false
        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            try validateSeverity(severity)
        }

        func run() async throws {
            var logger = try logging.makeLogger(label: "telemetryhub.alerts")
            if logger.logLevel == .info { logger.logLevel = .warning }
            try await preflight()
            let client = AlertStreamClient(
                url: target.url, token: target.resolvedToken, severity: severity, match: match,
                includeSilenced: silenced, logger: logger)
            let format = AlertLineFormat(color: colorWanted(noColor: noColor, on: STDOUT_FILENO), utc: utc)
            let notes = AlertLineFormat(color: colorWanted(noColor: noColor, on: STDERR_FILENO))
            let json = self.json
            let reconnecting = TailState()
            await SignalStopper().run {
                await client.run { event in
                    switch event {
                    case .connected:
                        if reconnecting.take() { sayToStandardError(notes.paint("connected again", .dim)) }
                    case .alert(let line, let text):
                        say(json ? singleLine(text) : format.render(line))
                    case .error(let code, let message):
                        sayToStandardError("hub error \(code): \(message)")
                    case .disconnected(let reason, let retryInMs):
                        guard let retryInMs else { return }
                        reconnecting.set()
                        sayToStandardError(notes.paint("reconnecting in \(retryInMs) ms… (\(reason))", .dim))
                    }
                }
            }
        }

        /// Asks `GET /api/alerts` once with the same filters so a refused token or a bad filter ends the command
        /// with the hub's message instead of endless reconnecting; an unreachable hub is left to the retries.
        private func preflight() async throws {
            let path =
                "/api/alerts" + HubQuery.string([("severity", severity), ("match", match), ("limit", "1")])
            let reply: HubHTTPClient.Reply
            do { reply = try await target.client.get(path) } catch { return }
            if (400..<500).contains(reply.status) { throw HubAPI.failure(reply, "GET", path) }
        }
    }

    /// `alerts list`: the active alerts, or the recorded events of a window.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the active alerts, or with --since every recorded alert event of that span.")

        @OptionGroup var target: HubAPIOptions
        @Option(help: "Only this state: pending, firing, nodata; resolved or ok list the history.")
        var state: String?
        @Option(help: "Only alerts of this severity or worse: info, warning or critical.")
        var severity: String?
        @Option(help: "Only alerts whose series match this selector, e.g. 'thermo-*/temp'.")
        var match: String?
        @Option(help: "Only alerts of this rule id.")
        var rule: String?
        @Option(help: "History: every event of this last span, oldest first, e.g. 1h or 7d.")
        var since: String?
        @Option(help: "Most entries (history keeps the newest; the hub's default is 1000).")
        var limit: Int?
        @Flag(help: "Print the hub's JSON answer instead of a table.")
        var json = false
        @Flag(help: "Show times as ISO 8601 in UTC instead of the local clock.")
        var utc = false

        func validate() throws {
            try validateSeverity(severity)
            if let state, !["pending", "firing", "nodata", "resolved", "ok"].contains(state) {
                throw ValidationError("--state must be one of pending, firing, nodata, resolved, ok")
            }
            if let since {
                guard let ms = DurationText.milliseconds(since), ms > 0 else {
                    throw ValidationError("--since must be a positive duration such as 30m, 1h or 7d")
                }
            }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            var query: [(name: String, value: String?)] = [
                ("state", state), ("severity", severity), ("match", match), ("rule", rule),
                ("limit", limit.map { String($0) }),
            ]
            if let since, let ms = DurationText.milliseconds(since) {
                query.append((name: "since", value: String(currentMilliseconds() - ms)))
            }
            let path = "/api/alerts" + HubQuery.string(query)
            let (document, text) = try await HubAPI.request(target.client, "GET", path)
            if json {
                say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                return
            }
            var alerts: [AlertLine] = []
            if case .array(let entries) = document["alerts"] { alerts = entries.compactMap { AlertLine(json: $0) } }
            var history = since != nil || state == "resolved" || state == "ok"
            if case .bool(let flag) = document["history"] { history = flag }
            guard !alerts.isEmpty else {
                say(history ? "no alert events in that span" : "no active alerts")
                return
            }
            let format = AlertLineFormat(utc: utc)
            for line in Self.table(alerts, history: history, format: format) { say(line) }
        }

        /// The table: a header and one row per alert (history rows show when each event happened and its kind).
        static func table(_ alerts: [AlertLine], history: Bool, format: AlertLineFormat) -> [String] {
            let header =
                history
                ? ["TIME", "ALERT", "EVENT", "SEVERITY", "STATE", "SERIES", "VALUE", "RULE", "ACKED"]
                : ["ALERT", "SEVERITY", "STATE", "SERIES", "VALUE", "SINCE", "RULE", "ACKED"]
            let rows = alerts.map { alert -> [String] in
                let acked = alert.acked ? (alert.ackedBy ?? "yes") : "-"
                let state = alert.silenced ? alert.state + " (silenced)" : alert.state
                let value = alert.condition ?? "-"
                let rule = alert.rule.isEmpty ? "-" : alert.rule
                if history {
                    return [
                        format.dateTime(alert.ts), alert.alert, alert.event, alert.severity, state, alert.series,
                        value, rule, acked,
                    ]
                }
                return [
                    alert.alert, alert.severity, state, alert.series, value, format.dateTime(alert.since ?? alert.ts),
                    rule, acked,
                ]
            }
            return textTable([header] + rows)
        }
    }

    /// `alerts ack ID`.
    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge an alert (operator); prints the acknowledged alert.")

        @Argument(help: "The alert id, e.g. al-17.")
        var id: String
        @Option(help: "A note kept with the acknowledgement.")
        var comment: String?
        @OptionGroup var target: HubAPIOptions

        func run() async throws {
            var writer = JSONWriter()
            writer.raw("{")
            if let comment {
                writer.key("comment")
                writer.string(comment)
            }
            writer.raw("}")
            let path = "/api/alerts/\(pathSegment(id))/ack"
            let (document, _) = try await HubAPI.request(target.client, "POST", path, body: Data(writer.bytes))
            guard let alert = document["alert"].flatMap({ AlertLine(json: $0) }) else {
                say("acked \(id)")
                return
            }
            say(AlertLineFormat(color: colorWanted(noColor: false, on: STDOUT_FILENO)).render(alert))
        }
    }

    /// `alerts silence`.
    struct Silence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Silence the alerts of matching series for a while (operator); prints the silence id and end.")

        @Option(help: "Series selector the silence covers, e.g. 'thermo-*/temp'.")
        var match: String
        @Option(name: .customLong("for"), help: "How long, e.g. 30m or 2h.")
        var duration: String?
        @Option(help: "When it ends: ms since the epoch, or ISO 8601 such as 2025-12-02T08:00:00Z.")
        var until: String?
        @Option(help: "Only the alerts of this rule id.")
        var rule: String?
        @Option(help: "Why.")
        var comment: String?
        @OptionGroup var target: HubAPIOptions

        func validate() throws {
            guard !match.isEmpty else { throw ValidationError("--match must not be empty") }
            switch (duration, until) {
            case (nil, nil), (.some, .some): throw ValidationError("give either --for or --until")
            case (.some(let duration), nil):
                guard let ms = DurationText.milliseconds(duration), ms > 0 else {
                    throw ValidationError("--for must be a positive duration such as 30m or 2h")
                }
            case (nil, .some(let until)):
                guard Self.milliseconds(until) != nil else {
                    throw ValidationError(
                        "--until must be ms since the epoch or an ISO 8601 time such as 2025-12-02T08:00:00Z")
                }
            }
        }

        /// `text` as ms since the epoch: digits are taken as ms, anything else as ISO 8601 with a zone.
        static func milliseconds(_ text: String) -> Int64? {
            if !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
                return Int64(text)
            }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1_000).rounded()) }
            formatter.formatOptions = [.withInternetDateTime]
            if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1_000).rounded()) }
            return nil
        }

        func run() async throws {
            var writer = JSONWriter()
            writer.raw("{\"match\":")
            writer.string(match)
            if let duration, let ms = DurationText.milliseconds(duration) {
                writer.raw(",\"for_ms\":")
                writer.int(ms)
            }
            if let until, let ms = Self.milliseconds(until) {
                writer.raw(",\"until\":")
                writer.int(ms)
            }
            if let rule {
                writer.raw(",\"rule\":")
                writer.string(rule)
            }
            if let comment {
                writer.raw(",\"comment\":")
                writer.string(comment)
            }
            writer.raw("}")
            let (document, text) = try await HubAPI.request(
                target.client, "POST", "/api/silences", body: Data(writer.bytes))
            guard let silence = document["silence"], let id = silence["id"]?.stringValue else {
                say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                return
            }
            if let ends = silence["until"]?.numberValue, ends.isFinite, abs(ends) < 9.2e18 {
                say("\(id) until \(AlertLineFormat.iso8601(Int64(ends)))")
            } else {
                say(id)
            }
        }
    }
}

// MARK: - Shared by the alerts and rules commands

/// `--url` and `--token` for commands that talk to the hub.
struct HubAPIOptions: ParsableArguments {
    @Option(help: "Hub base URL (http:// or https://; ws:// and wss:// are taken too).")
    var url: String = "http://127.0.0.1:8080"
    @Option(help: "Token (or set TELEMETRYHUB_TOKEN); not needed when the hub runs with --no-auth.")
    var token: String?

    func validate() throws {
        guard ["http://", "https://", "ws://", "wss://"].contains(where: { url.hasPrefix($0) }) else {
            throw ValidationError("--url must start with http:// or https://")
        }
    }

    /// The token from `--token` or `TELEMETRYHUB_TOKEN`.
    var resolvedToken: String? { tokenFromEnvironment(token) }

    /// `url` with a WebSocket scheme turned into the HTTP one.
    var httpURL: String {
        if url.hasPrefix("ws://") { return "http://" + url.dropFirst("ws://".count) }
        if url.hasPrefix("wss://") { return "https://" + url.dropFirst("wss://".count) }
        return url
    }

    /// An HTTP client of the hub.
    var client: HubHTTPClient { HubHTTPClient(baseURL: httpURL, token: resolvedToken) }
}

/// Requests to the hub's HTTP API with its `{"error":{"code":…,"message":…}}` answers turned into ``CLIError``.
enum HubAPI {
    /// Sends a request; an unreachable hub becomes a ``CLIError``.
    static func send(
        _ client: HubHTTPClient, _ method: String, _ path: String, body: Data? = nil
    ) async throws -> HubHTTPClient.Reply {
        do {
            return try await client.send(method, path, body: body)
        } catch {
            throw CLIError(message: "cannot reach the hub at \(client.baseURL): \(describe(error))")
        }
    }

    /// Sends a request and returns the parsed JSON body and its text; a non-2xx answer throws the hub's message.
    static func request(
        _ client: HubHTTPClient, _ method: String, _ path: String, body: Data? = nil
    ) async throws -> (document: JSONValue, text: String) {
        let reply = try await send(client, method, path, body: body)
        guard (200..<300).contains(reply.status) else { throw failure(reply, method, path) }
        guard let document = try? JSONParser.parse(reply.body) else {
            throw CLIError(message: "\(method) \(path): the hub's answer is not JSON: \(reply.text.prefix(300))")
        }
        return (document, reply.text)
    }

    /// The error for a failed answer: the hub's message, its code and the status.
    static func failure(_ reply: HubHTTPClient.Reply, _ method: String, _ path: String) -> CLIError {
        if let document = try? JSONParser.parse(reply.body), let error = document["error"],
            let message = error["message"]?.stringValue
        {
            let code = error["code"]?.stringValue.map { "\($0), " } ?? ""
            return CLIError(message: "\(message) (\(code)HTTP \(reply.status))")
        }
        let text = reply.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return CLIError(
            message: "\(method) \(path) answered HTTP \(reply.status)" + (text.isEmpty ? "" : ": \(text.prefix(300))"))
    }

    /// The lines of a 400 answer: `error.problems`, else `error.message`, else the body.
    static func problems(_ reply: HubHTTPClient.Reply) -> [String] {
        guard let document = try? JSONParser.parse(reply.body), let error = document["error"] else {
            let text = reply.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return [text.isEmpty ? "HTTP \(reply.status)" : text]
        }
        if case .array(let items) = error["problems"] {
            let lines = items.compactMap { $0.stringValue }
            if !lines.isEmpty { return lines }
        }
        return [error["message"]?.stringValue ?? "HTTP \(reply.status)"]
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? URLError else { return "\(error)" }
        switch error.code {
        case .cannotConnectToHost: return "connection refused"
        case .cannotFindHost: return "unknown host"
        case .timedOut: return "timed out"
        case .networkConnectionLost: return "connection lost"
        case .badURL: return "bad URL"
        default: return error.localizedDescription
        }
    }
}

/// Whether to color what goes to `descriptor`: a terminal, no `--no-color`, no non-empty `NO_COLOR`.
func colorWanted(noColor: Bool, on descriptor: Int32) -> Bool {
    if noColor { return false }
    if let value = ProcessInfo.processInfo.environment["NO_COLOR"], !value.isEmpty { return false }
    return isatty(descriptor) != 0
}

/// Prints a line to standard error at once.
func sayToStandardError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `text` on one line (JSON allows line breaks only between tokens, so spaces keep it the same document).
func singleLine(_ text: String) -> String {
    guard text.contains(where: \.isNewline) else { return text }
    return String(text.map { $0.isNewline ? " " : $0 })
}

/// Milliseconds since the epoch now.
func currentMilliseconds() -> Int64 {
    Int64(Date().timeIntervalSince1970 * 1_000)
}

/// `text` escaped for use as one path segment.
func pathSegment(_ text: String) -> String {
    HubQuery.escaped(text).replacingOccurrences(of: "/", with: "%2F")
}

/// Rows as left-aligned columns two spaces apart (the last column is not padded).
func textTable(_ rows: [[String]]) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    return rows.map { row in
        var line = ""
        for (index, cell) in row.enumerated() {
            if index == row.count - 1 {
                line += cell
            } else {
                line += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
        }
        return line
    }
}

/// Rejects a severity other than info, warning or critical.
func validateSeverity(_ severity: String?) throws {
    if let severity, !["info", "warning", "critical"].contains(severity) {
        throw ValidationError("--severity must be one of info, warning, critical")
    }
}

/// Whether `alerts tail` lost its connection since it last said it was connected.
final class TailState: Sendable {
    private let disconnected = Mutex(false)

    /// Notes a lost connection.
    func set() { disconnected.withLock { $0 = true } }

    /// Whether a lost connection was noted, clearing the note.
    func take() -> Bool {
        disconnected.withLock { flag in
            defer { flag = false }
            return flag
        }
    }
}
