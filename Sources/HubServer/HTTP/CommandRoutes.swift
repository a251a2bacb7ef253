import Foundation
import HTTPTypes
import HubCore
import Hummingbird
import NIOCore
import NIOPosix

/// Rooms and commands: `/api/rooms` (list, members, membership changes), `/api/rooms/{room}/commands` (send and
/// wait for every device's result) and `/api/commands` (the audit).
struct CommandRoutes: Sendable {
    let hub: Hub
    let authenticator: Authenticator

    func register(on router: Router<HubRequestContext>) {
        router.get("api/rooms") { request, _ in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            let all = ["1", "true", "yes"].contains(request.uri.queryParameters.get("all") ?? "")
            return Self.roomsResponse(hub.roomSummaries(all: all))
        }
        router.get("api/rooms/:room") { request, context in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            let room = try Self.room(context, allowingPattern: true)
            return Self.membersResponse(room: room, hub.roomMembers(room))
        }
        router.put("api/rooms/:room/members/:device") { request, context in
            try await membership(request, context, member: true)
        }
        router.delete("api/rooms/:room/members/:device") { request, context in
            try await membership(request, context, member: false)
        }
        router.post("api/rooms/:room/commands") { request, context in
            let principal = try await authenticator.principal(for: request, requiring: .operator)
            let room = try Self.room(context, allowingPattern: true)
            let body = try await JSONBody.read(request, limit: hub.configuration.limits.maxBodyBytes)
            guard case .object(let object) = body else {
                throw HubHTTPError(.invalidMessage("the body must be a JSON object with 'name' (and 'args')"))
            }
            let answer: CommandRecord
            do throws(ProtocolError) {
                let command = try CommandRequest(json: object, room: room, configuration: hub.configuration.commands)
                answer = try await hub.sendCommand(command, by: principal, source: "api")
            } catch {
                hub.metrics.error(error.code)
                throw HubHTTPError(error)
            }
            return JSONResponse.make { json in
                json.raw("{")
                answer.writeFields(to: &json)
                json.raw("}")
            }
        }
        router.get("api/commands") { request, _ in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            let query = try Self.query(request)
            let hub = self.hub
            let found = try await archiveRead { try hub.commandHistory(query) }
            return JSONResponse.make { json in
                json.raw("{\"commands\":[")
                for (index, record) in found.enumerated() {
                    if index > 0 { json.raw(",") }
                    json.raw("{")
                    record.writeFields(to: &json)
                    json.raw("}")
                }
                json.raw("]}")
            }
        }
        router.get("api/commands/:id") { request, context in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            let id = try context.parameters.require("id")
            let hub = self.hub
            guard let record = try await archiveRead({ try hub.command(id) }) else {
                throw HubHTTPError(.notFound("no command '\(id.prefix(140))'"))
            }
            return JSONResponse.make { json in
                json.raw("{")
                record.writeFields(to: &json, detailed: true)
                json.raw("}")
            }
        }
    }

    private func membership(_ request: Request, _ context: HubRequestContext, member: Bool) async throws -> Response {
        let principal = try await authenticator.principal(for: request, requiring: .operator)
        let room = try Self.room(context, allowingPattern: false)
        let device = try context.parameters.require("device")
        let changed: Bool
        do throws(ProtocolError) {
            changed = try await hub.changeMembership(room: room, device: device, member: member, by: principal.subject)
        } catch {
            hub.metrics.error(error.code)
            throw HubHTTPError(error)
        }
        return JSONResponse.make { json in
            json.raw("{\"room\":")
            json.string(room)
            json.raw(",\"device\":")
            json.string(device)
            json.raw(",\"member\":")
            json.bool(member)
            json.raw(",\"changed\":")
            json.bool(changed)
            json.raw("}")
        }
    }

    /// Reads the archive on the thread pool, mapping its failures to 500.
    private func archiveRead<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await NIOThreadPool.singleton.runIfActive(body)
        } catch {
            hub.logger.error("command audit query failed", metadata: ["error": "\(error)"])
            throw HubHTTPError(
                .internalServerError, ProtocolError(code: .internal, message: "the command store could not be read"))
        }
    }

    /// The `:room` path parameter, checked.
    private static func room(_ context: HubRequestContext, allowingPattern: Bool) throws -> String {
        let raw = try context.parameters.require("room")
        let room = raw.removingPercentEncoding ?? raw
        guard Names.isValidRoom(room), allowingPattern || !room.contains("*") else {
            let allowed = allowingPattern ? "[A-Za-z0-9._:*-]{1,128}" : "[A-Za-z0-9._:-]{1,128} (no '*' here)"
            throw HubHTTPError(.invalidMessage("room '\(room.prefix(140))' must match \(allowed)"))
        }
        return room
    }

    private static func query(_ request: Request) throws -> CommandQuery {
        let parameters = request.uri.queryParameters
        var query = CommandQuery()
        query.room = parameters.get("room")
        query.sender = parameters.get("sender")
        query.name = parameters.get("name")
        query.since = try APIRoutes.integer(request, "since")
        query.until = try APIRoutes.integer(request, "until")
        if let limit = try APIRoutes.integer(request, "limit") {
            guard (1...10_000).contains(limit) else {
                throw HubHTTPError(.invalidMessage("'limit' must be 1 to 10000"))
            }
            query.limit = Int(limit)
        }
        return query
    }

    static func roomsResponse(_ rooms: [RoomSummary]) -> Response {
        JSONResponse.make { json in
            json.raw("{\"rooms\":[")
            for (index, room) in rooms.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw("{\"room\":")
                json.string(room.room)
                json.raw(",\"members\":")
                json.int(Int64(room.members))
                json.raw(",\"online\":")
                json.int(Int64(room.online))
                json.raw(",\"commands\":")
                json.value(.array(room.commands.map(JSONValue.string)))
                json.raw(",\"origin\":")
                json.string(room.origin)
                json.raw("}")
            }
            json.raw("]}")
        }
    }

    static func membersResponse(room: String, _ members: [(device: String, record: DeviceRecord?, online: Bool)])
        -> Response
    {
        JSONResponse.make { json in
            json.raw("{\"room\":")
            json.string(room)
            json.raw(",\"members\":[")
            for (index, member) in members.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw("{\"device\":")
                json.string(member.device)
                json.raw(",\"kind\":")
                if let kind = member.record?.kind { json.string(kind) } else { json.raw("null") }
                json.raw(",\"state\":")
                json.string(member.online ? "online" : "offline")
                json.raw(",\"known\":")
                json.bool(member.record != nil)
                json.raw(",\"commands\":")
                json.value(.array((member.record?.commands ?? []).map(\.json)))
                json.raw("}")
            }
            json.raw("],\"online\":")
            json.int(Int64(members.count { $0.online }))
            json.raw("}")
        }
    }
}
