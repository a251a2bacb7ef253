import Testing

@testable import HubCore

/// Parses a JSON object the test knows to be valid.
private func jsonObject(_ text: String) throws -> JSONObject {
    guard case .object(let object) = try json(text) else {
        Issue.record("not an object: \(text)")
        return JSONObject()
    }
    return object
}

@Suite("CommandRequest")
struct CommandRequestTests {
    private let configuration = CommandConfiguration(
        defaultTimeoutMs: 5_000, maxTimeoutMs: 60_000, maxTTLMs: 86_400_000)

    private func request(_ text: String, room: String? = nil) throws -> CommandRequest {
        try CommandRequest(json: try jsonObject(text), room: room, configuration: configuration)
    }

    private func requestError(_ text: String, room: String? = nil) throws -> ProtocolError? {
        let object = try jsonObject(text)
        do {
            _ = try CommandRequest(json: object, room: room, configuration: configuration)
            return nil
        } catch {
            return error
        }
    }

    // MARK: CommandRequest

    @Test func defaults() throws {
        let parsed = try request(#"{"name":"reboot"}"#, room: "floor:1")
        #expect(
            parsed == CommandRequest(room: "floor:1", name: "reboot", args: JSONObject(), timeoutMs: 5_000, ttlMs: 0))
        let nulls = try request(#"{"name":"reboot","args":null,"timeout_ms":null,"ttl_ms":null}"#, room: "floor:1")
        #expect(nulls == parsed)
        // The path's room wins over one in the body.
        #expect(try request(#"{"room":"other","name":"reboot"}"#, room: "floor:1").room == "floor:1")
    }

    @Test func everyField() throws {
        let parsed = try request(
            #"{"room":"floor:*","name":"setpoint","args":{"value":21.5,"unit":"C"},"timeout_ms":60000,"ttl_ms":86400000}"#
        )
        #expect(parsed.room == "floor:*")
        #expect(parsed.name == "setpoint")
        #expect(parsed.args == JSONObject([(key: "value", value: .number(21.5)), (key: "unit", value: .string("C"))]))
        #expect(parsed.timeoutMs == 60_000)
        #expect(parsed.ttlMs == 86_400_000)
        #expect(try request(#"{"room":"*","name":"a","timeout_ms":1,"ttl_ms":0,"args":{}}"#).timeoutMs == 1)
        #expect(try request(#"{"room":"r","name":"a","timeout_ms":1.0e3}"#).timeoutMs == 1_000)
    }

    @Test func roomErrors() throws {
        let missing = try requestError(#"{"name":"reboot"}"#)
        #expect(missing?.code == .invalidMessage)
        #expect(missing?.message.contains("'room' is required") == true)
        #expect(try requestError(#"{"room":3,"name":"reboot"}"#)?.message.contains("'room' is required") == true)
        #expect(try requestError(#"{"room":null,"name":"reboot"}"#)?.code == .invalidMessage)
        for room in ["", "floor 1", "room/1", String(repeating: "r", count: 129)] {
            let fromBody = try requestError(#"{"room":"\#(room)","name":"reboot"}"#)
            #expect(fromBody?.code == .invalidMessage, "'\(room)'")
            #expect(fromBody?.message.contains("'room' must match") == true)
            let fromPath = try requestError(#"{"name":"reboot"}"#, room: room)
            #expect(fromPath?.message.contains("'room' must match") == true, "'\(room)'")
        }
    }

    @Test func nameErrors() throws {
        for body in [#"{"room":"r"}"#, #"{"room":"r","name":5}"#, #"{"room":"r","name":null}"#] {
            let error = try requestError(body)
            #expect(error?.code == .invalidMessage)
            #expect(error?.message.contains("'name' is required") == true, "\(body)")
        }
        for name in ["", "re boot", "a*", String(repeating: "n", count: 129)] {
            let error = try requestError(#"{"room":"r","name":"\#(name)"}"#)
            #expect(error?.message.contains("'name' must match") == true, "'\(name)'")
        }
    }

    @Test func argsMustBeAnObject() throws {
        for args in ["[]", "[1]", "1", "\"x\"", "true"] {
            let error = try requestError(#"{"room":"r","name":"n","args":\#(args)}"#)
            #expect(error?.code == .invalidMessage)
            #expect(error?.message == "'args' must be an object", "\(args)")
        }
    }

    @Test func timeoutErrors() throws {
        for value in ["0", "-1", "60001", "1.5", "\"100\"", "true", "[]", "1e300"] {
            let error = try requestError(#"{"room":"r","name":"n","timeout_ms":\#(value)}"#)
            #expect(error?.code == .invalidMessage, "\(value)")
            #expect(
                error?.message == "'timeout_ms' must be a whole number of milliseconds from 1 to 60000", "\(value)")
        }
    }

    @Test func ttlErrors() throws {
        for value in ["-1", "86400001", "0.5", "\"1\"", "{}"] {
            let error = try requestError(#"{"room":"r","name":"n","ttl_ms":\#(value)}"#)
            #expect(
                error?.message == "'ttl_ms' must be a whole number of milliseconds from 0 to 86400000", "\(value)")
        }
        let noTTL = CommandConfiguration(maxTTLMs: 0)
        let object = try jsonObject(#"{"name":"n","ttl_ms":1}"#)
        #expect(throws: ProtocolError.self) { try CommandRequest(json: object, room: "r", configuration: noTTL) }
    }

    @Test func sendMessage() {
        let args = JSONObject([(key: "v", value: .number(1))])
        let send = CommandSend(device: "t1", delivery: "cmd-3.2", name: "setpoint", args: args)
        #expect(send.message == .command(id: "cmd-3.2", name: "setpoint", args: .object(args)))
    }

    // MARK: Delivery ids

    @Test func deliveryIDs() throws {
        #expect(CommandRecord.deliveryID(command: "cmd-7", index: 0) == "cmd-7.1")
        #expect(CommandRecord.deliveryID(command: "cmd-7", index: 11) == "cmd-7.12")
        let parsed = try #require(CommandRecord.parseDeliveryID("cmd-7.12"))
        #expect(parsed.command == "cmd-7")
        #expect(parsed.index == 11)
        #expect(CommandRecord.parseDeliveryID("cmd-1.1")?.index == 0)
        for id in 0..<50 {
            let delivery = CommandRecord.deliveryID(command: "cmd-\(id * 31)", index: id)
            let back = try #require(CommandRecord.parseDeliveryID(delivery))
            #expect(back.command == "cmd-\(id * 31)")
            #expect(back.index == id)
        }
        for bad in ["", "cmd-1", "cmd-1.", "cmd-1.0", "cmd-1.-3", "cmd-1.x", "job-1.1", ".1", "1.1", "cmd-1.1 "] {
            #expect(CommandRecord.parseDeliveryID(bad) == nil, "'\(bad)'")
        }
    }

    // MARK: Records

    private func sampleRecord() -> CommandRecord {
        CommandRecord(
            id: "cmd-12", number: 12, room: "floor:*", name: "setpoint",
            args: JSONObject([(key: "value", value: .number(21.5)), (key: "tags", value: .array([.string("a")]))]),
            sender: "alice", source: "dashboard", createdAt: 1_700_000_000_000, timeoutMs: 5_000, ttlMs: 60_000,
            answeredAt: 1_700_000_004_000,
            deliveries: [
                CommandDelivery(
                    device: "a", id: "cmd-12.1", status: .ok, result: object(("t", .number(21.5)), ("ok", .bool(true))),
                    sentAt: 1_700_000_000_000, answeredAt: 1_700_000_000_120, attempts: 1),
                CommandDelivery(
                    device: "b", id: "cmd-12.2", status: .error, error: "valve \"stuck\"\n",
                    sentAt: 1_700_000_000_000, answeredAt: 1_700_000_006_000, attempts: 2, late: true),
                CommandDelivery(
                    device: "c", id: "cmd-12.3", status: .pending, sentAt: 1_700_000_001_000,
                    deadline: 1_700_000_006_000, attempts: 3, connected: true),
                CommandDelivery(device: "d", id: "cmd-12.4", status: .queued),
                CommandDelivery(
                    device: "e", id: "cmd-12.5", status: .timeout, sentAt: 1_700_000_000_000, attempts: 1),
                CommandDelivery(
                    device: "f", id: "cmd-12.6", status: .offline, error: "the device is offline"),
                CommandDelivery(
                    device: "g", id: "cmd-12.7", status: .expired, error: "ttl_ms passed before the device came back"),
                CommandDelivery(
                    device: "h", id: "cmd-12.8", status: .ok, result: .null, sentAt: 5, answeredAt: 5, attempts: 1),
            ])
    }

    @Test func storageRoundTripKeepsEveryField() throws {
        let record = sampleRecord()
        #expect(Set(record.deliveries.map(\.status)) == Set(DeliveryStatus.allCases))
        let back = try CommandRecord(storage: record.storageJSON)
        #expect(back == record)
        #expect(back.deliveries[2].connected)
        #expect(back.deliveries[2].deadline == 1_700_000_006_000)
        #expect(back.deliveries[1].late)
        #expect(back.deliveries[7].result == .null)

        // Unanswered, empty args, no TTL, a single fresh delivery.
        let open = CommandRecord(
            id: "cmd-1", number: 1, room: "r", name: "n", args: JSONObject(), sender: "s", source: "api",
            createdAt: 0, timeoutMs: 1, ttlMs: 0,
            deliveries: [CommandDelivery(device: "x", id: "cmd-1.1", status: .pending)])
        #expect(try CommandRecord(storage: open.storageJSON) == open)
        let none = CommandRecord(
            id: "cmd-2", number: 2, room: "r", name: "n", args: JSONObject(), sender: "s", source: "api",
            createdAt: 0, timeoutMs: 1, ttlMs: 0, answeredAt: 0, deliveries: [])
        #expect(try CommandRecord(storage: none.storageJSON) == none)
    }

    @Test func storageJSONIsAnObjectWithTheStoredFieldNames() throws {
        let stored = try JSONParser.parse(sampleRecord().storageJSON)
        #expect(stored["id"] == .string("cmd-12"))
        #expect(stored["number"] == .number(12))
        #expect(stored["created_at"] == .number(1_700_000_000_000))
        #expect(stored["answered_at"] == .number(1_700_000_004_000))
        guard case .array(let deliveries)? = stored["deliveries"] else {
            Issue.record("deliveries is not an array")
            return
        }
        #expect(deliveries.count == 8)
        #expect(deliveries[2]["deadline"] == .number(1_700_000_006_000))
        #expect(deliveries[2]["connected"] == .bool(true))
        #expect(deliveries[3]["sent_at"] == nil)
        #expect(deliveries[3]["late"] == .bool(false))
    }

    @Test func storageErrors() throws {
        func storageError(_ text: String) -> ProtocolError? {
            do {
                _ = try CommandRecord(storage: Array(text.utf8))
                return nil
            } catch {
                return error
            }
        }
        let valid = String(decoding: sampleRecord().storageJSON, as: UTF8.self)
        #expect(storageError(valid) == nil)
        #expect(storageError("{")?.code == .invalidJSON)
        #expect(storageError("[]")?.code == .invalidMessage)
        #expect(storageError(#"{"id":"cmd-1"}"#)?.message == "deliveries: must be an array")
        let base =
            #""id":"cmd-1","number":1,"room":"r","name":"n","args":{},"sender":"s","source":"api","created_at":0,"timeout_ms":1,"ttl_ms":0"#
        #expect(storageError("{\(base),\"deliveries\":[]}") == nil)
        #expect(storageError("{\(base),\"deliveries\":[1]}")?.message == "deliveries[0]: not an object")
        #expect(
            storageError("{\(base),\"deliveries\":[{\"device\":\"x\",\"id\":\"cmd-1.1\",\"status\":\"lost\"}]}")?
                .message
                == "deliveries[0].status: unknown status 'lost'")
        #expect(
            storageError("{\(base),\"deliveries\":[{\"id\":\"cmd-1.1\",\"status\":\"ok\"}]}")?.message
                == "deliveries[0].device: is required")
        #expect(
            storageError(
                "{\(base),\"deliveries\":[{\"device\":\"x\",\"id\":\"cmd-1.1\",\"status\":\"ok\",\"sent_at\":1.5}]}")?
                .message == "deliveries[0].sent_at: must be an integer")
        #expect(
            storageError(
                "{\(base),\"deliveries\":[{\"device\":\"x\",\"id\":\"cmd-1.1\",\"status\":\"ok\",\"error\":3}]}")?
                .message == "deliveries[0].error: must be a string")
        #expect(
            storageError(#"{"id":"cmd-1","args":[],"deliveries":[]}"#)?.message == "args: must be an object")
        #expect(
            storageError(#"{"number":1,"args":{},"deliveries":[]}"#)?.message == "id: is required")
        #expect(
            storageError(
                #"{"id":"cmd-1","number":1,"room":"r","name":"n","args":{},"sender":"s","source":"api","created_at":"0","deliveries":[]}"#
            )?.message == "created_at: must be an integer")
    }

    // MARK: JSON shapes

    @Test func writeFieldsShape() throws {
        var writer = JSONWriter()
        writer.raw("{")
        sampleRecord().writeFields(to: &writer)
        writer.raw("}")
        let fields = try JSONParser.parse(writer.bytes)
        guard case .object(let members) = fields else {
            Issue.record("not an object")
            return
        }
        #expect(
            members.members.map(\.key) == [
                "command", "room", "name", "args", "sender", "source", "ts", "timeout_ms", "ttl_ms", "answered_at",
                "open", "summary", "results",
            ])
        #expect(fields["command"] == .string("cmd-12"))
        #expect(fields["room"] == .string("floor:*"))
        #expect(fields["name"] == .string("setpoint"))
        #expect(fields["args"] == .object(sampleRecord().args))
        #expect(fields["sender"] == .string("alice"))
        #expect(fields["source"] == .string("dashboard"))
        #expect(fields["ts"] == .number(1_700_000_000_000))
        #expect(fields["timeout_ms"] == .number(5_000))
        #expect(fields["ttl_ms"] == .number(60_000))
        #expect(fields["answered_at"] == .number(1_700_000_004_000))
        #expect(fields["open"] == .bool(true))
        #expect(
            fields["summary"]
                == object(
                    ("pending", .number(1)), ("queued", .number(1)), ("ok", .number(2)), ("error", .number(1)),
                    ("timeout", .number(1)), ("offline", .number(1)), ("expired", .number(1))))
        guard case .array(let results)? = fields["results"] else {
            Issue.record("results is not an array")
            return
        }
        #expect(results.count == 8)
        #expect(
            results[0]
                == object(
                    ("device", .string("a")), ("status", .string("ok")),
                    ("result", object(("t", .number(21.5)), ("ok", .bool(true)))), ("latency_ms", .number(120))))
        #expect(
            results[1]
                == object(
                    ("device", .string("b")), ("status", .string("error")), ("error", .string("valve \"stuck\"\n")),
                    ("latency_ms", .number(6_000)), ("late", .bool(true))))
        // No latency without an answer.
        #expect(results[2] == object(("device", .string("c")), ("status", .string("pending"))))
        #expect(results[3] == object(("device", .string("d")), ("status", .string("queued"))))
        #expect(results[4] == object(("device", .string("e")), ("status", .string("timeout"))))
        #expect(
            results[5]
                == object(
                    ("device", .string("f")), ("status", .string("offline")),
                    ("error", .string("the device is offline"))))
        #expect(results[6]["status"] == .string("expired"))
        #expect(results[7]["result"] == .null)
        #expect(results[7]["latency_ms"] == .number(0))

        // Unanswered and closed: no answered_at; an empty summary.
        var plain = JSONWriter()
        plain.raw("{")
        CommandRecord(
            id: "cmd-1", number: 1, room: "r", name: "n", args: JSONObject(), sender: "s", source: "api",
            createdAt: 5, timeoutMs: 1, ttlMs: 0, deliveries: []
        ).writeFields(to: &plain)
        plain.raw("}")
        let minimal = try JSONParser.parse(plain.bytes)
        #expect(minimal["answered_at"] == nil)
        #expect(minimal["open"] == .bool(true))
        #expect(minimal["summary"] == .object(JSONObject()))
        #expect(minimal["results"] == .array([]))
        #expect(minimal["args"] == .object(JSONObject()))
    }

    @Test func detailedResults() throws {
        var writer = JSONWriter()
        sampleRecord().writeResults(to: &writer, detailed: true)
        guard case .array(let results) = try JSONParser.parse(writer.bytes) else {
            Issue.record("not an array")
            return
        }
        #expect(results[0]["delivery"] == .string("cmd-12.1"))
        #expect(results[0]["attempts"] == .number(1))
        #expect(results[0]["sent_at"] == .number(1_700_000_000_000))
        #expect(results[0]["answered_at"] == .number(1_700_000_000_120))
        #expect(results[2]["attempts"] == .number(3))
        #expect(results[2]["answered_at"] == nil)
        #expect(
            results[3]
                == object(
                    ("device", .string("d")), ("status", .string("queued")), ("delivery", .string("cmd-12.4")),
                    ("attempts", .number(0))))
        var brief = JSONWriter()
        sampleRecord().writeResults(to: &brief)
        guard case .array(let plain) = try JSONParser.parse(brief.bytes) else { return }
        #expect(plain.allSatisfy { $0["delivery"] == nil && $0["attempts"] == nil && $0["sent_at"] == nil })
    }

    @Test func summaryAndCountsOfAClosedRecord() throws {
        var record = sampleRecord()
        #expect(record.isOpen)
        record.deliveries.removeAll { $0.status == .pending || $0.status == .queued }
        #expect(!record.isOpen)
        record.answeredAt = nil
        #expect(record.isOpen)
        #expect(record.counts == [.ok: 2, .error: 1, .timeout: 1, .offline: 1, .expired: 1])
        #expect(record.deadline == 1_700_000_005_000)
        #expect(record.expiresAt == 1_700_000_060_000)
        record.ttlMs = 0
        #expect(record.expiresAt == record.createdAt)
        var writer = JSONWriter()
        record.writeSummary(to: &writer)
        #expect(writer.string == #"{"ok":2,"error":1,"timeout":1,"offline":1,"expired":1}"#)
    }

    @Test func deliveryStatuses() {
        #expect(DeliveryStatus.allCases.filter { !$0.isFinal } == [.pending, .queued])
        #expect(DeliveryStatus.allCases.filter(\.isFailure) == [.error, .timeout, .offline, .expired])
        #expect(
            DeliveryStatus.allCases.map(\.rawValue) == [
                "pending", "queued", "ok", "error", "timeout", "offline", "expired",
            ])
        #expect(CommandDelivery(device: "a", id: "x", status: .ok, sentAt: 10, answeredAt: 5).latencyMs == 0)
        #expect(CommandDelivery(device: "a", id: "x", status: .ok, sentAt: 10).latencyMs == nil)
    }

    // MARK: Rate limiter

    @Test func rateLimiterKeepsABucketPerUser() {
        var limiter = CommandRateLimiter(ratePerSecond: 1, burst: 2)
        #expect(limiter.allow("alice", now: 100_000) == true)
        #expect(limiter.allow("alice", now: 100_000) == true)
        #expect(limiter.allow("alice", now: 100_000) == false)
        #expect(limiter.allow("alice", now: 100_500) == false)
        // Other users have their own bucket.
        #expect(limiter.allow("bob", now: 100_500) == true)
        #expect(limiter.allow("bob", now: 100_500) == true)
        #expect(limiter.allow("bob", now: 100_500) == false)
        #expect(limiter.trackedUsers == 2)
        // One token a second refills.
        #expect(limiter.allow("alice", now: 101_000) == true)
        #expect(limiter.allow("alice", now: 101_000) == false)
        #expect(limiter.allow("alice", now: 102_000) == true)
        #expect(limiter.allow("alice", now: 102_100) == false)
    }

    @Test func rateLimiterForgetsIdleUsers() {
        var limiter = CommandRateLimiter(ratePerSecond: 1, burst: 2)
        for user in ["a", "b", "c"] { #expect(limiter.allow(user, now: 100_000) == true) }
        #expect(limiter.trackedUsers == 3)
        #expect(limiter.allow("c", now: 159_000) == true)
        #expect(limiter.trackedUsers == 3)  // no sweep within a minute
        // A minute on, users idle long enough to be full again are dropped.
        #expect(limiter.allow("d", now: 160_001) == true)
        #expect(limiter.trackedUsers == 2)  // c was used 1 s before: kept
        // A forgotten user starts with a full bucket.
        #expect(limiter.allow("a", now: 160_002) == true)
        #expect(limiter.allow("a", now: 160_002) == true)
        #expect(limiter.allow("a", now: 160_002) == false)
    }

    // MARK: Command specs

    @Test func specFromAName() throws {
        #expect(try CommandSpec(json: .string("reboot")) == CommandSpec(name: "reboot"))
        #expect(try CommandSpec(json: .string("reboot")).args == [])
        for bad in ["", "re boot", "a*", String(repeating: "x", count: 129)] {
            #expect(throws: ProtocolError.self) { try CommandSpec(json: .string(bad)) }
        }
    }

    @Test func specFromAnObject() throws {
        #expect(
            try CommandSpec(json: json(#"{"name":"setpoint","args":["value","unit"]}"#))
                == CommandSpec(name: "setpoint", args: ["value", "unit"]))
        #expect(try CommandSpec(json: json(#"{"name":"reboot"}"#)) == CommandSpec(name: "reboot"))
        #expect(try CommandSpec(json: json(#"{"name":"reboot","args":null}"#)) == CommandSpec(name: "reboot"))
        #expect(try CommandSpec(json: json(#"{"name":"reboot","args":[]}"#)) == CommandSpec(name: "reboot"))
        let spec = CommandSpec(name: "setpoint", args: ["value"])
        #expect(spec.json == object(("name", .string("setpoint")), ("args", .array([.string("value")]))))
        #expect(try CommandSpec(json: spec.json) == spec)
    }

    @Test func specErrors() throws {
        func specError(_ text: String) throws -> ProtocolError? {
            let value = try json(text)
            do {
                _ = try CommandSpec(json: value)
                return nil
            } catch {
                return error
            }
        }
        #expect(try specError(#"{"args":["v"]}"#)?.message == "each of 'commands' needs a valid 'name'")
        #expect(try specError(#"{"name":5}"#)?.message == "each of 'commands' needs a valid 'name'")
        #expect(try specError(#"{"name":"bad name"}"#)?.message == "each of 'commands' needs a valid 'name'")
        #expect(try specError(#"{"name":"s","args":"v"}"#)?.message == "'commands' s: 'args' must be an array of names")
        #expect(try specError(#"{"name":"s","args":[1]}"#)?.message == "'commands' s: 'args' must be an array of names")
        #expect(try specError(#"{"name":"s","args":["ok","not ok"]}"#)?.code == .invalidMessage)
        for other in ["5", "null", "true", "[]", #"["reboot"]"#] {
            #expect(
                try specError(other)?.message
                    == "each of 'commands' must be a name or an object with 'name' and 'args'",
                "\(other)")
        }
        #expect(try specError(#""a b""#)?.message == "command name 'a b' is invalid")
    }

    // MARK: register with commands

    @Test func registerWithCommands() throws {
        let message = singleMessage(
            #"{"type":"register","device":"t1","commands":["reboot",{"name":"setpoint","args":["value"]},{"name":"reboot","args":["force"]},"blink"]}"#
        )
        guard case .register(let register) = message else {
            Issue.record("expected register, got \(String(describing: message))")
            return
        }
        // Duplicates by name are dropped, the first kept, order kept.
        #expect(
            register.commands == [
                CommandSpec(name: "reboot"), CommandSpec(name: "setpoint", args: ["value"]), CommandSpec(name: "blink"),
            ])
        guard case .register(let plain) = singleMessage(#"{"type":"register","device":"t1"}"#) else {
            Issue.record("expected register")
            return
        }
        #expect(plain.commands == [])
        guard case .register(let empty) = singleMessage(#"{"type":"register","device":"t1","commands":[]}"#) else {
            Issue.record("expected register")
            return
        }
        #expect(empty.commands == [])

        // The registry keeps them.
        var registry = DeviceRegistry()
        _ = registry.register(register, session: 1, transport: "ws", now: 10)
        #expect(registry["t1"]?.commands == register.commands)
        var writer = JSONWriter()
        writer.raw("{")
        try #require(registry["t1"]).writeFields(to: &writer)
        writer.raw("}")
        let fields = try JSONParser.parse(writer.bytes)
        #expect(fields["commands"] == .array(register.commands.map(\.json)))
        _ = registry.register(plain, session: 2, transport: "ws", now: 20)
        #expect(registry["t1"]?.commands == [])
        var bare = JSONWriter()
        bare.raw("{")
        try #require(registry["t1"]).writeFields(to: &bare)
        bare.raw("}")
        #expect(try JSONParser.parse(bare.bytes)["commands"] == nil)
    }

    @Test func registerWithInvalidCommands() throws {
        let many = (0..<257).map { "\"c\($0)\"" }.joined(separator: ",")
        let cases: [(String, String)] = [
            (#""commands":"reboot""#, "'commands' must be an array"),
            (#""commands":{"name":"reboot"}"#, "'commands' must be an array"),
            (#""commands":[\#(many)]"#, "'commands' must be an array of at most 256"),
            (#""commands":[5]"#, "each of 'commands' must be a name or an object"),
            (#""commands":["bad name"]"#, "command name 'bad name' is invalid"),
            (#""commands":[{"args":[]}]"#, "each of 'commands' needs a valid 'name'"),
            (#""commands":[{"name":"s","args":[3]}]"#, "'args' must be an array of names"),
            (#""commands":["ok",null]"#, "each of 'commands' must be a name or an object"),
        ]
        for (field, message) in cases {
            let failure = try #require(
                singleFailure(#"{"type":"register","id":"r1","device":"t1",\#(field)}"#), "\(field)")
            #expect(failure.id == .string("r1"))
            #expect(failure.error.code == .invalidMessage, "\(field)")
            #expect(failure.error.message.contains(message), "\(field): \(failure.error.message)")
        }
        let exactly = (0..<256).map { "\"c\($0)\"" }.joined(separator: ",")
        guard
            case .register(let register) = singleMessage(#"{"type":"register","device":"t1","commands":[\#(exactly)]}"#)
        else {
            Issue.record("256 commands should be accepted")
            return
        }
        #expect(register.commands.count == 256)
    }
}
