import ArgumentParser
import Foundation
import HubClient
import HubCore

/// `telemetryhub send`: a command to every device of a room, waiting for their answers.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send a command to every device of a room (operator) and print each device's answer.",
        discussion: """
            Waits until every device answered or the timeout passed, then prints one row per device and a \
            summary.

            Exit status: 0 when every device answered ok (or the command is queued for it), 2 when any device \
            answered an error, timed out, was offline or its queued command expired, 1 when the hub refused the \
            command or could not be reached.

            Arguments are key=value pairs; a value that is valid JSON is sent as such (21, true, null, "21", \
            {"a":1}), any other value as a string:

              telemetryhub send --room floor:3 setpoint value=21
              telemetryhub send --room 'floor:*' reboot --timeout 10s --ttl 1h
              telemetryhub send --room kind:thermostat setpoint --args '{"value":21.5}'
            """)

    @Option(help: "The room, e.g. floor:3, kind:thermostat, device:thermo-1; '*' matches any run, as in 'floor:*'.")
    var room: String
    @Argument(help: "The command name, e.g. setpoint or reboot.")
    var name: String
    @Argument(help: "Arguments as key=value, e.g. value=21 mode=eco.")
    var arguments: [String] = []
    @Option(help: "Arguments as a JSON object; key=value pairs are set on top of it.")
    var args: String?
    @Option(help: "How long to wait for the answers, e.g. 5s or 500ms (default: the hub's, 5 s unless configured).")
    var timeout: String?
    @Option(
        help:
            "Keep the command this long for devices that are offline and send it when they come back, e.g. 10m (default: not kept; they count as offline)."
    )
    var ttl: String?
    @Flag(help: "Print the hub's JSON answer, on one line, instead of the table.")
    var json = false
    @Flag(help: "No colours (also off when NO_COLOR is set or stdout is not a terminal).")
    var noColor = false
    @OptionGroup var target: HubAPIOptions

    func validate() throws {
        try validateRoom(room, option: "--room")
        guard Names.isValidName(name) else {
            throw ValidationError("the command name must match [A-Za-z0-9._:-]{1,128}, e.g. setpoint")
        }
        _ = try argumentObject()
        _ = try milliseconds()
    }

    /// `--args` with the key=value pairs set on it.
    func argumentObject() throws -> JSONObject {
        do {
            let base = try args.map { text throws(CommandArguments.Problem) in try CommandArguments.object(text) }
            return try CommandArguments.parse(arguments, base: base ?? JSONObject())
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// `--timeout` and `--ttl` in milliseconds (nil when not given).
    func milliseconds() throws -> (timeout: Int64?, ttl: Int64?) {
        var timeoutMs: Int64?
        if let timeout {
            let seconds = try durationSeconds(timeout, option: "--timeout")
            guard seconds >= 0.001, seconds <= 3_600 else {
                throw ValidationError("--timeout must be from 1ms to 1h, such as 5s or 500ms")
            }
            timeoutMs = Int64((seconds * 1_000).rounded())
        }
        var ttlMs: Int64?
        if let ttl {
            let seconds = try durationSeconds(ttl, option: "--ttl")
            guard seconds <= 31_536_000 else { throw ValidationError("--ttl must be at most 365d") }
            ttlMs = Int64((seconds * 1_000).rounded())
        }
        return (timeoutMs, ttlMs)
    }

    func run() async throws {
        let (timeoutMs, ttlMs) = try milliseconds()
        let body = CommandArguments.body(name: name, args: try argumentObject(), timeoutMs: timeoutMs, ttlMs: ttlMs)
        // The hub answers when the command's timeout has passed at the latest; without --timeout, wait for the
        // largest timeout a default hub allows (60 s). Ten seconds more for the network and a busy hub.
        let wait = Double(timeoutMs ?? 60_000) / 1_000 + 10
        let path = "/api/rooms/\(roomSegment(room))/commands"
        let text = try await CommandAPI.request(target.client, "POST", path, body: body, timeout: wait)
        if json {
            say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let answer: CommandAnswer
        do {
            answer = try CommandAnswer.parse(text)
        } catch {
            sayToStandardError("error: the hub's answer is not a command: \(error)")
            throw ExitCode.failure
        }
        if !json {
            let table = CommandResultTable(color: colorWanted(noColor: noColor, on: STDOUT_FILENO))
            for line in table.render(answer) { say(line) }
        }
        let status = CommandResultTable.exitStatus(answer)
        if status != 0 { throw ExitCode(status) }
    }
}

/// Requests of the `send`, `rooms` and `commands` commands: a refused request prints `error: <code>: <message>` to
/// standard error and ends the command with exit status 1.
enum CommandAPI {
    /// Sends a request and returns the body of a 2xx answer.
    ///
    /// - Parameter timeout: How long the hub may take to answer, in seconds (nil: the client's default).
    static func request(
        _ client: HubHTTPClient, _ method: String, _ path: String, body: Data? = nil, timeout: Double? = nil
    ) async throws -> String {
        let reply: HubHTTPClient.Reply
        do {
            if let timeout {
                reply = try await client.send(method, path, body: body, timeout: timeout)
            } else {
                reply = try await client.send(method, path, body: body)
            }
        } catch {
            sayToStandardError("error: cannot reach the hub at \(client.baseURL): \(describe(error))")
            throw ExitCode.failure
        }
        guard (200..<300).contains(reply.status) else {
            sayToStandardError("error: " + failure(reply))
            throw ExitCode.failure
        }
        return reply.text
    }

    /// Sends a request and returns the parsed JSON of a 2xx answer and its text.
    static func document(
        _ client: HubHTTPClient, _ method: String, _ path: String, body: Data? = nil
    ) async throws -> (document: JSONValue, text: String) {
        let text = try await request(client, method, path, body: body)
        guard let document = try? JSONParser.parse(text) else {
            sayToStandardError("error: \(method) \(path): the hub's answer is not JSON: \(text.prefix(300))")
            throw ExitCode.failure
        }
        return (document, text)
    }

    /// `<code>: <message>` from the hub's `{"error":{"code":…,"message":…}}`, else `HTTP <status>: <body>`.
    static func failure(_ reply: HubHTTPClient.Reply) -> String {
        if let document = try? JSONParser.parse(reply.body), let error = document["error"] {
            let code = error["code"]?.stringValue ?? "HTTP \(reply.status)"
            let message = error["message"]?.stringValue ?? ""
            return message.isEmpty ? code : "\(code): \(message)"
        }
        let text = singleLine(reply.text.trimmingCharacters(in: .whitespacesAndNewlines))
        switch reply.status {
        case 401 where text.isEmpty: return "unauthorized: a valid token is needed (--token or TELEMETRYHUB_TOKEN)"
        case 403 where text.isEmpty: return "forbidden: the token's role may not do this"
        default: return "HTTP \(reply.status)" + (text.isEmpty ? "" : ": \(text.prefix(300))")
        }
    }

    /// A transport error in a few words.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? URLError else { return "\(error)" }
        switch error.code {
        case .cannotConnectToHost: return "connection refused"
        case .cannotFindHost: return "unknown host"
        case .timedOut: return "no answer in time"
        case .networkConnectionLost: return "connection lost"
        case .badURL: return "bad URL"
        default: return error.localizedDescription
        }
    }
}

/// `room` as one path segment, `*` percent-encoded too.
func roomSegment(_ room: String) -> String {
    pathSegment(room).replacingOccurrences(of: "*", with: "%2A")
}

/// Rejects a room name the hub would refuse.
func validateRoom(_ room: String, option: String) throws {
    guard Names.isValidRoom(room) else {
        throw ValidationError("\(option) must be a room name such as floor:3 or 'floor:*' ([A-Za-z0-9._:*-]{1,128})")
    }
}
