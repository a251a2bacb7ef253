import ArgumentParser
import Foundation
import HubClient
import HubCore

/// `telemetryhub commands`: the audit of the commands sent to rooms.
struct CommandsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commands", abstract: "List the commands sent to rooms, and show one with every device's answer.",
        subcommands: [List.self, Show.self])

    /// `commands list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List commands, newest first: id, time, sender, room, name, the devices' outcomes, arguments.")

        @Option(help: "Only commands sent to this room (as addressed, e.g. floor:3 or 'floor:*').")
        var room: String?
        @Option(
            help:
                "Only commands sent since then: a span back from now (30m, 1h, 7d), ms since the epoch, or ISO 8601 such as 2025-12-02T08:00:00Z."
        )
        var since: String?
        @Option(help: "Only commands sent before then (same forms as --since).")
        var until: String?
        @Option(help: "Only commands of this sender (token subject).")
        var sender: String?
        @Option(help: "Only commands of this name.")
        var name: String?
        @Option(help: "Most commands (the newest).")
        var limit: Int?
        @Flag(help: "Print the hub's JSON answer, on one line, instead of a table.")
        var json = false
        @Flag(help: "Show times as ISO 8601 in UTC instead of the local clock.")
        var utc = false
        @OptionGroup var target: HubAPIOptions

        func validate() throws {
            if let room { try validateRoom(room, option: "--room") }
            for (option, value) in [("--since", since), ("--until", until)] {
                if let value, pointInTime(value, now: 0) == nil {
                    throw ValidationError(
                        "\(option) must be a span such as 30m or 7d, ms since the epoch, or ISO 8601 such as 2025-12-02T08:00:00Z"
                    )
                }
            }
            if let name, !Names.isValidName(name) {
                throw ValidationError("--name must be a command name such as setpoint")
            }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let now = currentMilliseconds()
            let query: [(name: String, value: String?)] = [
                ("room", room), ("since", since.flatMap { pointInTime($0, now: now) }.map { String($0) }),
                ("until", until.flatMap { pointInTime($0, now: now) }.map { String($0) }), ("sender", sender),
                ("name", name), ("limit", limit.map { String($0) }),
            ]
            let (document, text) = try await CommandAPI.document(
                target.client, "GET", "/api/commands" + HubQuery.string(query))
            if json {
                say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                return
            }
            var commands: [CommandAnswer] = []
            if case .array(let items) = document["commands"] { commands = items.compactMap(CommandAnswer.init(json:)) }
            guard !commands.isEmpty else {
                say("no commands")
                return
            }
            let format = AlertLineFormat(utc: utc)
            let header = ["COMMAND", "TIME", "SENDER", "ROOM", "NAME", "OUTCOME", "ARGS"]
            for line in textTable([header] + commands.map { Self.row($0, format: format) }) { say(line) }
        }

        /// One row: id, time, sender, room, name, the outcome counts, the arguments as JSON.
        static func row(_ command: CommandAnswer, format: AlertLineFormat) -> [String] {
            [
                command.command, command.ts.map(format.dateTime) ?? "-", command.sender.isEmpty ? "-" : command.sender,
                command.room, command.name, outcome(command), arguments(command.args),
            ]
        }

        /// `9 ok, 1 error` (`no devices` when none), with `, open` while deliveries wait.
        static func outcome(_ command: CommandAnswer) -> String {
            let counts = CommandStatus.ordered(command.counts)
            var text = counts.isEmpty ? "no devices" : counts.map { "\($0.count) \($0.status)" }.joined(separator: ", ")
            if command.open { text += ", open" }
            return text
        }
    }

    /// `commands show ID`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one command: what was sent to which room by whom, and every device's answer.")

        @Argument(help: "The command id, e.g. cmd-12.")
        var id: String
        @Flag(help: "Print the hub's JSON answer, on one line, instead of a table.")
        var json = false
        @Flag(help: "No colours (also off when NO_COLOR is set or stdout is not a terminal).")
        var noColor = false
        @Flag(help: "Show times as ISO 8601 in UTC instead of the local clock.")
        var utc = false
        @OptionGroup var target: HubAPIOptions

        func validate() throws {
            guard Names.isValidName(id) else { throw ValidationError("ID must be a command id such as cmd-12") }
        }

        func run() async throws {
            let text = try await CommandAPI.request(target.client, "GET", "/api/commands/\(pathSegment(id))")
            if json {
                say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                return
            }
            let command: CommandAnswer
            do {
                command = try CommandAnswer.parse(text)
            } catch {
                sayToStandardError("error: the hub's answer is not a command: \(error)")
                throw ExitCode.failure
            }
            say(Self.heading(command, format: AlertLineFormat(utc: utc)))
            let table = CommandResultTable(color: colorWanted(noColor: noColor, on: STDOUT_FILENO), attempts: true)
            for line in table.render(command) { say(line) }
        }

        /// `cmd-12 setpoint {"value":21} to floor:3 by alice (api) at 2025-12-02 08:00:00, answered in 1.2 s`.
        static func heading(_ command: CommandAnswer, format: AlertLineFormat) -> String {
            var text = "\(command.command) \(command.name) \(arguments(command.args)) to \(command.room)"
            if !command.sender.isEmpty { text += " by \(command.sender)" }
            if !command.source.isEmpty { text += " (\(command.source))" }
            if let ts = command.ts {
                text += " at \(format.dateTime(ts))"
                if let answeredAt = command.answeredAt {
                    text += ", answered in \(CommandResultTable.seconds(max(0, answeredAt - ts)))"
                }
            }
            return text
        }
    }
}

/// The arguments as compact JSON (`{}` when there are none).
private func arguments(_ args: JSONObject) -> String {
    var writer = JSONWriter()
    writer.value(.object(args))
    return String(writer.string.map { $0.isNewline ? " " : $0 })
}

/// A time given as a span back from `now` (`30m`, `7d`), ms since the epoch (digits only), or ISO 8601; in ms since
/// the epoch, or nil when `text` is none of these.
func pointInTime(_ text: String, now: Int64) -> Int64? {
    let digits = !text.isEmpty && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    if !digits, let span = DurationText.milliseconds(text) { return now - span }
    return AlertsCommand.Silence.milliseconds(text)
}
