import Foundation
import HubClient
import HubCore
import HubServer
import Logging
import Testing

/// Rooms and commands end to end: simulated and hand-driven devices on a live hub.
@Suite("Rooms and commands against a live hub")
struct CommandLiveTests {
    /// A fleet profile whose `apply` command ends as `reaction` says.
    static func profile(_ prefix: String, action: DeviceProfile.CommandProfile.Action, delayMs: Int = 0)
        -> DeviceProfile
    {
        DeviceProfile(
            kind: "valve-\(prefix)", idPrefix: prefix, rooms: ["fleet", "floor:\(prefix)"],
            metrics: [.init(name: "flow", min: 0, max: 1, shape: .constant)],
            commands: [.init(name: "apply", action: action, delayMs: delayMs)])
    }

    /// Connects a device by hand, registers it in `rooms`, and returns the socket after the ack.
    static func device(_ live: LiveHub, _ id: String, rooms: [String]) async throws -> TestSocket {
        let socket = try await TestSocket.connect(
            live.wsBase + "/ws/device", token: try await live.token(.device))
        let roomList = rooms.map { "\"\($0)\"" }.joined(separator: ",")
        let ack = try await socket.request(
            #"{"type":"register","id":1,"device":"\#(id)","kind":"valve","rooms":[\#(roomList)],"commands":["apply"]}"#)
        guard ack["type"] == .string("ack") else { throw TestFailure("register of \(id) failed: \(ack)") }
        return socket
    }

    /// Waits for the next `command` message on a device socket.
    static func nextCommand(_ socket: TestSocket, timeout: Duration = .seconds(5)) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let message = try await socket.receiveJSON(timeout: timeout)
            if message["type"] == .string("command") { return message }
        }
        throw TestFailure("no command within \(timeout)")
    }

    static func post(_ live: LiveHub, room: String, _ body: String, role: Role = .operator) async throws
        -> HTTPTester.Reply
    {
        try await live.http(role).send("POST", "/api/rooms/\(room)/commands", body: body)
    }

    static func results(_ answer: JSONValue?) -> [String: JSONValue] {
        guard case .array(let list)? = answer?["results"] else { return [:] }
        return Dictionary(uniqueKeysWithValues: list.map { ($0["device"]?.stringValue ?? "?", $0) })
    }

    static func statuses(_ answer: JSONValue?) -> [String: Int] {
        var counts: [String: Int] = [:]
        for result in results(answer).values { counts[result["status"]?.stringValue ?? "?", default: 0] += 1 }
        return counts
    }

    @Test func aRoomOfAHundredDevicesGetsOneResultEach() async throws {
        try await LiveHub.run { live in
            // 90 simulated devices (ok-1, bad-2, slow-3, ok-4, …): a third answer ok, a third fail, a third answer
            // after 3 s (past the timeout).
            let simulation = Simulation(
                options: SimulationOptions(
                    url: live.wsBase, token: try await live.token(.device),
                    profiles: [
                        Self.profile("ok", action: .ok), Self.profile("bad", action: .fail),
                        Self.profile("slow", action: .ok, delayMs: 3_000),
                    ], count: 90, rate: 0, rampMs: 0),
                logger: Logger(label: "simulation"))
            let running = Task { await simulation.run() }
            defer { running.cancel() }
            // 10 more that registered once and went away.
            for number in 1...10 {
                await try Self.device(live, "gone-\(number)", rooms: ["fleet"]).close()
            }
            let viewer = try await live.http(.viewer)
            #expect(
                try await live.eventually(10) {
                    let rooms = try await viewer.get("/api/rooms").json?["rooms"]
                    guard case .array(let list)? = rooms else { return false }
                    return list.contains {
                        $0["room"] == .string("fleet") && $0["members"] == .number(100) && $0["online"] == .number(90)
                    }
                })

            // Without a TTL the offline members are reported offline; with one they are queued.
            let started = ContinuousClock.now
            let reply = try await Self.post(
                live, room: "fleet", #"{"name":"apply","args":{"level":2},"timeout_ms":1000}"#)
            let elapsed = started.duration(to: .now)
            #expect(reply.status == 200, "\(reply.body)")
            #expect(Self.statuses(reply.json) == ["ok": 30, "error": 30, "timeout": 30, "offline": 10])
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(4), "answered after \(elapsed)")
            let ok = try #require(Self.results(reply.json)["ok-1"])
            #expect(ok["result"]?["echo"]?["level"] == .number(2))
            #expect((ok["latency_ms"]?.numberValue ?? -1) >= 0)
            #expect(Self.results(reply.json)["bad-2"]?["error"]?.stringValue?.isEmpty == false)
            #expect(reply.json?["summary"]?["ok"] == .number(30))

            let queuedReply = try await Self.post(
                live, room: "fleet", #"{"name":"apply","timeout_ms":1000,"ttl_ms":60000}"#)
            #expect(Self.statuses(queuedReply.json) == ["ok": 30, "error": 30, "timeout": 30, "queued": 10])
            let id = try #require(queuedReply.json?["command"]?.stringValue)

            // Two of the absent devices come back: the queued command is delivered and its result recorded.
            for number in 1...2 {
                let socket = try await Self.device(live, "gone-\(number)", rooms: ["fleet"])
                let command = try await Self.nextCommand(socket)
                #expect(command["name"] == .string("apply"))
                let delivery = try #require(command["id"]?.stringValue)
                try await socket.send(
                    #"{"type":"command_result","id":"\#(delivery)","ok":true,"result":{"n":\#(number)}}"#)
            }
            #expect(
                try await live.eventually(6) {
                    let record = try await viewer.get("/api/commands/\(id)").json
                    let statuses = Self.statuses(record)
                    // The slow devices answer after 3 s: recorded late.
                    return statuses["ok"] == 62 && statuses["queued"] == 8
                        && Self.results(record).values.filter { $0["late"] == .bool(true) }.count == 30
                })
            let audit = try await viewer.get("/api/commands?room=fleet")
            guard case .array(let commands)? = audit.json?["commands"] else { throw TestFailure("no audit") }
            #expect(commands.count == 2)
            #expect(commands.first?["command"] == .string(id))
            #expect(commands.first?["sender"] == .string("test"))
        }
    }

    @Test func aDeviceThatReconnectsMidCommandGetsItAgainAndAnswersOnce() async throws {
        try await LiveHub.run { live in
            let first = try await Self.device(live, "flaky-1", rooms: ["lab"])
            async let answer = Self.post(live, room: "lab", #"{"name":"apply","timeout_ms":5000}"#)
            let command = try await Self.nextCommand(first)
            let delivery = try #require(command["id"]?.stringValue)
            await first.close()
            let second = try await Self.device(live, "flaky-1", rooms: ["lab"])
            let again = try await Self.nextCommand(second)
            #expect(again["id"] == .string(delivery))
            try await second.send(#"{"type":"command_result","id":"\#(delivery)","ok":true,"result":{"done":true}}"#)
            // A repeat of the same answer is ignored.
            try await second.send(#"{"type":"command_result","id":"\#(delivery)","ok":false,"error":"again"}"#)
            let reply = try await answer
            #expect(Self.statuses(reply.json) == ["ok": 1], "\(reply.body)")
            let record = try await live.http(.viewer).get("/api/commands/\(reply.json?["command"]?.stringValue ?? "")")
            #expect(Self.results(record.json)["flaky-1"]?["attempts"] == .number(2))
            // An answer to a delivery the hub never made is refused.
            let refused = try await second.request(#"{"type":"command_result","id":"cmd-999.1","ok":true}"#)
            #expect(refused["code"] == .string("not_found"))
            await second.close()
        }
    }

    @Test func queuedCommandsAndRoomChangesSurviveAHubRestart() async throws {
        let directory = NSTemporaryDirectory() + "telemetryhub-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The first command of a fresh store.
        let commandID = "cmd-1"
        try await LiveHub.run(configure: { $0.dataDir = directory }) { live in
            await try Self.device(live, "sleepy-1", rooms: ["basement"]).close()
            await try Self.device(live, "sleepy-2", rooms: []).close()
            let operatorHTTP = try await live.http(.operator)
            let added = try await operatorHTTP.send("PUT", "/api/rooms/basement/members/sleepy-2")
            #expect(added.status == 200, "\(added.body)")
            let refused = try await operatorHTTP.send("DELETE", "/api/rooms/kind:valve/members/sleepy-2")
            #expect(refused.status == 409)
            let reply = try await Self.post(live, room: "base*", #"{"name":"apply","timeout_ms":500,"ttl_ms":600000}"#)
            #expect(Self.statuses(reply.json) == ["queued": 2], "\(reply.body)")
            #expect(reply.json?["command"] == .string(commandID))
        }
        try await LiveHub.run(configure: { $0.dataDir = directory }) { live in
            let rooms = try await live.http(.viewer).get("/api/rooms/basement")
            guard case .array(let members)? = rooms.json?["members"] else { throw TestFailure("no members") }
            #expect(members.compactMap { $0["device"]?.stringValue } == ["sleepy-1", "sleepy-2"])
            for device in ["sleepy-1", "sleepy-2"] {
                let socket = try await Self.device(live, device, rooms: device == "sleepy-1" ? ["basement"] : [])
                let command = try await Self.nextCommand(socket)
                let delivery = try #require(command["id"]?.stringValue)
                #expect(delivery.hasPrefix(commandID + "."))
                try await socket.send(#"{"type":"command_result","id":"\#(delivery)","ok":true}"#)
            }
            #expect(
                try await live.eventually {
                    Self.statuses(try await live.http(.viewer).get("/api/commands/\(commandID)").json) == ["ok": 2]
                })
            // Numbers go on after the restart.
            let next = try await Self.post(live, room: "basement", #"{"name":"apply","timeout_ms":500}"#)
            #expect(next.json?["command"]?.stringValue != commandID)
        }
    }

    @Test func viewersAreRefusedAndBadCommandsNameTheField() async throws {
        try await LiveHub.run { live in
            let device = try await Self.device(live, "v-1", rooms: ["room-a"])
            let forbidden = try await Self.post(live, room: "room-a", #"{"name":"apply"}"#, role: .viewer)
            #expect(forbidden.status == 403)
            #expect(forbidden.json?["error"]?["code"] == .string("forbidden"))
            let dashboard = try await TestSocket.connect(
                live.wsBase + "/ws/dashboard", token: try await live.token(.viewer))
            let refused = try await dashboard.request(#"{"type":"command","id":7,"room":"room-a","name":"apply"}"#)
            #expect(refused["type"] == .string("error"))
            #expect(refused["code"] == .string("forbidden"))
            await dashboard.close()

            let empty = try await Self.post(live, room: "nobody-here", #"{"name":"apply"}"#)
            #expect(empty.status == 404)
            let bad = try await Self.post(live, room: "room-a", #"{"name":"apply","timeout_ms":0}"#)
            #expect(bad.status == 400)
            #expect(bad.json?["error"]?["message"]?.stringValue?.contains("timeout_ms") == true)
            let tooLong = try await Self.post(live, room: "room-a", #"{"name":"apply","timeout_ms":999999999}"#)
            #expect(tooLong.status == 400)

            // An operator's dashboard gets every result in the ack.
            let operatorSocket = try await TestSocket.connect(
                live.wsBase + "/ws/dashboard", token: try await live.token(.operator))
            try await operatorSocket.send(
                #"{"type":"command","id":8,"room":"room-*","name":"apply","args":{"x":1},"timeout_ms":3000}"#)
            let command = try await Self.nextCommand(device)
            #expect(command["args"]?["x"] == .number(1))
            try await device.send(
                #"{"type":"command_result","id":"\#(command["id"]?.stringValue ?? "")","ok":false,"error":"stuck"}"#)
            let ack = try await operatorSocket.receiveJSON()
            #expect(ack["type"] == .string("ack") && ack["id"] == .number(8), "\(ack)")
            #expect(Self.results(ack)["v-1"]?["error"] == .string("stuck"))
            await operatorSocket.close()
            await device.close()
        }
    }

    @Test func eachUserHasACommandRate() async throws {
        try await LiveHub.run(configure: {
            $0.commands.perUserPerSecond = 0.5
            $0.commands.perUserBurst = 2
        }) { live in
            await try Self.device(live, "r-1", rooms: ["rated"]).close()
            var codes: [Int] = []
            for _ in 0..<3 { codes.append(try await Self.post(live, room: "rated", #"{"name":"apply"}"#).status) }
            #expect(codes == [200, 200, 429])
            let rooms = try await live.http(.viewer).get("/api/rooms?all=true")
            #expect(rooms.body.contains("\"device:r-1\""))
        }
    }
}
