import ArgumentParser
import Foundation
import HubClient
import HubCore

/// `telemetryhub rules`: list, apply and delete alert rules.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "List, apply and delete alert rules.",
        subcommands: [List.self, Apply.self, Delete.self])

    /// `rules list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the hub's alert rules.")

        @OptionGroup var target: HubAPIOptions
        @Flag(help: "Print the hub's JSON answer instead of a table.")
        var json = false

        func run() async throws {
            let (document, text) = try await HubAPI.request(target.client, "GET", "/api/rules")
            if json {
                say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                return
            }
            guard case .array(let rules) = document["rules"], !rules.isEmpty else {
                say("no rules")
                return
            }
            let header = ["ID", "SEVERITY", "MATCH", "CONDITION", "FOR", "SOURCE", "NAME"]
            for line in textTable([header] + rules.map(Self.row)) { say(line) }
        }

        /// One table row for a rule object.
        static func row(_ rule: JSONValue) -> [String] {
            let forMs = rule["for_ms"]?.numberValue ?? 0
            return [
                rule["id"]?.stringValue ?? "-",
                rule["severity"]?.stringValue ?? "warning",
                rule["match"]?.stringValue ?? "-",
                condition(rule),
                forMs > 0 && forMs < 9.2e18 ? DurationText.format(milliseconds: Int64(forMs)) : "-",
                rule["source"]?.stringValue ?? "-",
                rule["name"]?.stringValue ?? "",
            ]
        }

        /// `> 30`, or `avg(1m) > 30` when the rule judges a smoothed value.
        static func condition(_ rule: JSONValue) -> String {
            guard let when = rule["when"], let op = when["op"]?.stringValue else { return "-" }
            let threshold = when["value"]?.numberValue.map(AlertLineFormat.number) ?? "?"
            var subject = ""
            if let over = rule["over"], let fn = over["fn"]?.stringValue {
                let window = over["window_ms"]?.numberValue ?? 0
                subject =
                    window > 0 && window < 9.2e18
                    ? "\(fn)(\(DurationText.format(milliseconds: Int64(window)))) " : "\(fn) "
            }
            return "\(subject)\(op) \(threshold)"
        }
    }

    /// `rules apply FILE [--replace]`.
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Add or update the rules of a file (admin); with --replace they replace every rule added over the API.",
            discussion: """
                The file holds {"rules":[…]}, a bare array of rules, or one rule. The hub applies all of them or \
                none: on a refusal each problem is printed to stderr and the exit code is 1.
                """)

        @Argument(help: "The rule file (JSON).")
        var file: String
        @Flag(help: "Replace every rule that came from the API with the file's rules (PUT /api/rules).")
        var replace = false
        @OptionGroup var target: HubAPIOptions

        func run() async throws {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw CLIError(message: "cannot read \(file): \(error.localizedDescription)")
            }
            let document: JSONValue
            do { document = try JSONParser.parse(data) } catch {
                throw CLIError(message: "\(file) is not valid JSON: \(error.message)")
            }
            let body: Data
            let sent: Int
            switch document {
            case .array(let rules):
                body = replace ? Self.encode(.object(JSONObject([("rules", document)]))) : data
                sent = rules.count
            case .object(let object):
                if case .array(let rules) = object["rules"] {
                    body = data
                    sent = rules.count
                } else {
                    body = replace ? Self.encode(.object(JSONObject([("rules", .array([document]))]))) : data
                    sent = 1
                }
            default:
                throw CLIError(message: "\(file) must hold {\"rules\":[…]}, an array of rules or one rule")
            }
            let method = replace ? "PUT" : "POST"
            let reply = try await HubAPI.send(target.client, method, "/api/rules", body: body)
            if reply.status == 400 {
                for line in HubAPI.problems(reply) { sayToStandardError(line) }
                throw ExitCode.failure
            }
            guard (200..<300).contains(reply.status) else { throw HubAPI.failure(reply, method, "/api/rules") }
            // POST answers with the rules it applied; PUT with every rule the hub now has (file rules too).
            var answered: Int?
            if case .array(let rules) = (try? JSONParser.parse(reply.body))?["rules"] { answered = rules.count }
            if replace {
                say(
                    "applied \(Self.count(sent)), replacing the rules added over the API"
                        + (answered.map { " (\(Self.count($0)) in all)" } ?? ""))
            } else {
                say("applied \(Self.count(answered ?? sent))")
            }
        }

        /// `1 rule`, `3 rules`.
        static func count(_ rules: Int) -> String {
            "\(rules) rule\(rules == 1 ? "" : "s")"
        }

        static func encode(_ value: JSONValue) -> Data {
            var writer = JSONWriter()
            writer.value(value)
            return Data(writer.bytes)
        }
    }

    /// `rules delete ID`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a rule (admin).")

        @Argument(help: "The rule id.")
        var id: String
        @OptionGroup var target: HubAPIOptions

        func run() async throws {
            _ = try await HubAPI.request(target.client, "DELETE", "/api/rules/\(pathSegment(id))")
            say("deleted rule \(id)")
        }
    }
}
