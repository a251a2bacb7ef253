import ArgumentParser
import Foundation
import HubClient
import HubCore

/// `telemetryhub rooms`: list rooms, show their members, add and remove members.
struct RoomsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rooms",
        abstract: "List rooms and their members; add devices to rooms and remove them (operator).",
        subcommands: [List.self, Show.self, Add.self, Remove.self])

    /// `rooms list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the rooms: members, how many are online, and the commands they accept.")

        @Flag(help: "Also list every device's own device:{id} room.")
        var all = false
        @Flag(help: "Print the hub's JSON answer, on one line, instead of a table.")
        var json = false
        @OptionGroup var target: HubAPIOptions

        func run() async throws {
            let path = "/api/rooms" + (all ? "?all=true" : "")
            let (document, text) = try await CommandAPI.document(target.client, "GET", path)
            if json {
                say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                return
            }
            guard case .array(let rooms) = document["rooms"], !rooms.isEmpty else {
                say("no rooms")
                return
            }
            for line in textTable([["ROOM", "MEMBERS", "ONLINE", "COMMANDS"]] + rooms.map(Self.row)) { say(line) }
        }

        /// One row: room, members, online, the commands' names.
        static func row(_ room: JSONValue) -> [String] {
            var commands: [String] = []
            if case .array(let names) = room["commands"] { commands = names.compactMap(\.stringValue) }
            return [
                room["room"]?.stringValue ?? "?", count(room["members"]), count(room["online"]),
                commands.isEmpty ? "-" : commands.joined(separator: ", "),
            ]
        }
    }

    /// `rooms show ROOM`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a room's members: kind, online or offline, and the commands each accepts.")

        @Argument(help: "The room, e.g. floor:3 or kind:thermostat.")
        var room: String
        @Flag(help: "Print the hub's JSON answer, on one line, instead of a table.")
        var json = false
        @OptionGroup var target: HubAPIOptions

        func validate() throws {
            try validateRoom(room, option: "ROOM")
        }

        func run() async throws {
            let (document, text) = try await CommandAPI.document(
                target.client, "GET", "/api/rooms/\(roomSegment(room))")
            if json {
                say(singleLine(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                return
            }
            for line in Self.lines(document, room: room) { say(line) }
        }

        /// `floor:3: 12 members, 10 online`, then a table of DEVICE, KIND, STATE, COMMANDS.
        static func lines(_ document: JSONValue, room: String) -> [String] {
            let name = document["room"]?.stringValue ?? room
            var members: [JSONValue] = []
            if case .array(let items) = document["members"] { members = items }
            guard !members.isEmpty else { return ["\(name): no members"] }
            let online =
                document["online"].flatMap(\.numberValue).map { Int($0) }
                ?? members.filter { $0["state"]?.stringValue == "online" }.count
            let header =
                "\(name): \(members.count) \(members.count == 1 ? "member" : "members"), \(online) online"
            let rows = members.map { member -> [String] in
                [
                    member["device"]?.stringValue ?? "?", member["kind"]?.stringValue ?? "-",
                    member["state"]?.stringValue ?? "-", commands(member["commands"]),
                ]
            }
            return [header] + textTable([["DEVICE", "KIND", "STATE", "COMMANDS"]] + rows)
        }

        /// `setpoint(value), reboot`, or `-` when there are none.
        static func commands(_ json: JSONValue?) -> String {
            guard case .array(let items) = json, !items.isEmpty else { return "-" }
            return items.map { item -> String in
                if let name = item.stringValue { return name }
                let name = item["name"]?.stringValue ?? "?"
                guard case .array(let args) = item["args"], !args.isEmpty else { return name }
                return "\(name)(\(args.compactMap(\.stringValue).joined(separator: ", ")))"
            }.joined(separator: ", ")
        }
    }

    /// `rooms add ROOM DEVICE`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Make a device a member of a room (operator), whether or not it declares the room; kept across restarts."
        )

        @Argument(help: "The room, e.g. floor:3 (not a device: or kind: room).")
        var room: String
        @Argument(help: "The device id.")
        var device: String
        @OptionGroup var target: HubAPIOptions

        func validate() throws {
            try validateMembership(room: room, device: device)
        }

        func run() async throws {
            let path = "/api/rooms/\(roomSegment(room))/members/\(pathSegment(device))"
            let (document, _) = try await CommandAPI.document(target.client, "PUT", path)
            say(membershipLine(document, room: room, device: device, member: true))
        }
    }

    /// `rooms remove ROOM DEVICE`.
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a device out of a room (operator), even one it declares itself; kept across restarts.")

        @Argument(help: "The room, e.g. floor:3 (not a device: or kind: room).")
        var room: String
        @Argument(help: "The device id.")
        var device: String
        @OptionGroup var target: HubAPIOptions

        func validate() throws {
            try validateMembership(room: room, device: device)
        }

        func run() async throws {
            let path = "/api/rooms/\(roomSegment(room))/members/\(pathSegment(device))"
            let (document, _) = try await CommandAPI.document(target.client, "DELETE", path)
            say(membershipLine(document, room: room, device: device, member: false))
        }
    }
}

/// A count for a table cell.
private func count(_ json: JSONValue?) -> String {
    guard let number = json?.numberValue, number.isFinite, abs(number) < 9.2e18 else { return "-" }
    return String(Int64(number))
}

/// Rejects a room or device name the hub would refuse.
private func validateMembership(room: String, device: String) throws {
    guard Names.isValidRoom(room), !room.contains("*") else {
        throw ValidationError("ROOM must be a room name such as floor:3 ([A-Za-z0-9._:-]{1,128}, no '*')")
    }
    guard Names.isValidName(device) else {
        throw ValidationError("DEVICE must be a device id such as thermo-1 ([A-Za-z0-9._:-]{1,128})")
    }
}

/// `thermo-7 is now a member of floor:3` (`is no longer`; `was already` / `was not` when nothing changed), from the
/// hub's `{"room","device","member","changed"}`.
private func membershipLine(_ document: JSONValue, room: String, device: String, member wanted: Bool) -> String {
    var member = wanted
    if case .bool(let flag) = document["member"] { member = flag }
    var changed = true
    if case .bool(let flag) = document["changed"] { changed = flag }
    let device = document["device"]?.stringValue ?? device
    let room = document["room"]?.stringValue ?? room
    switch (member, changed) {
    case (true, true): return "\(device) is now a member of \(room)"
    case (true, false): return "\(device) was already a member of \(room)"
    case (false, true): return "\(device) is no longer a member of \(room)"
    case (false, false): return "\(device) was not a member of \(room)"
    }
}
