import Testing

@testable import HubCore

@Suite("DeviceRegistry")
struct DeviceRegistryTests {
    private func register(
        _ device: String, kind: String = "thermostat", rooms: [String] = ["kitchen"], meta: JSONObject = JSONObject()
    ) -> DeviceMessage.Register {
        DeviceMessage.Register(id: nil, device: device, kind: kind, rooms: rooms, meta: meta)
    }

    @Test func emptyRegistry() {
        let registry = DeviceRegistry()
        #expect(registry.count == 0)
        #expect(registry.onlineCount == 0)
        #expect(registry["x"] == nil)
        #expect(registry.all.isEmpty)
    }

    @Test func registerMakesDeviceOnline() throws {
        var registry = DeviceRegistry()
        let meta = JSONObject([(key: "fw", value: .string("1.0"))])
        let outcome = registry.register(register("d1", meta: meta), session: 1, transport: "ws", now: 100)
        #expect(outcome.replacedSession == nil)
        #expect(outcome.event == PresenceEvent(device: "d1", state: .online, reason: .registered, ts: 100))
        let record = try #require(registry["d1"])
        #expect(
            record
                == DeviceRecord(
                    device: "d1", kind: "thermostat", rooms: ["kitchen"], meta: meta, state: .online, since: 100,
                    reason: .registered, session: 1, transport: "ws", firstSeen: 100, lastSeen: 100))
        #expect(registry.count == 1)
        #expect(registry.onlineCount == 1)
    }

    @Test func secondSessionReplacesTheFirst() throws {
        var registry = DeviceRegistry()
        _ = registry.register(register("d1"), session: 1, transport: "ws", now: 100)
        let outcome = registry.register(register("d1", kind: "v2", rooms: []), session: 2, transport: "ws", now: 200)
        #expect(outcome.replacedSession == 1)
        #expect(outcome.event == PresenceEvent(device: "d1", state: .online, reason: .replaced, ts: 200))
        let record = try #require(registry["d1"])
        #expect(record.session == 2)
        #expect(record.state == .online)
        #expect(record.reason == .replaced)
        #expect(record.kind == "v2")
        #expect(record.rooms == [])
        #expect(record.since == 100)  // still online since the first registration
        #expect(record.firstSeen == 100)
        #expect(record.lastSeen == 200)
        #expect(registry.count == 1)
    }

    @Test func oldSessionEndingChangesNothing() throws {
        var registry = DeviceRegistry()
        _ = registry.register(register("d1"), session: 1, transport: "ws", now: 100)
        _ = registry.register(register("d1"), session: 2, transport: "ws", now: 200)
        let before = registry["d1"]
        #expect(registry.sessionEnded(device: "d1", session: 1, reason: .closed, now: 300) == nil)
        #expect(registry["d1"] == before)
        #expect(registry["d1"]?.state == .online)
        #expect(registry.sessionEnded(device: "unknown", session: 2, reason: .closed, now: 300) == nil)
        #expect(registry.count == 1)
    }

    @Test func currentSessionEndingGoesOffline() throws {
        var registry = DeviceRegistry()
        _ = registry.register(register("d1"), session: 7, transport: "ws", now: 100)
        let event = registry.sessionEnded(device: "d1", session: 7, reason: .heartbeatTimeout, now: 500)
        #expect(event == PresenceEvent(device: "d1", state: .offline, reason: .heartbeatTimeout, ts: 500))
        let record = try #require(registry["d1"])
        #expect(record.state == .offline)
        #expect(record.reason == .heartbeatTimeout)
        #expect(record.since == 500)
        #expect(record.session == nil)
        #expect(record.kind == "thermostat")
        #expect(registry.onlineCount == 0)
        // Ending again is a no-op.
        #expect(registry.sessionEnded(device: "d1", session: 7, reason: .closed, now: 600) == nil)
        #expect(registry["d1"]?.reason == .heartbeatTimeout)
    }

    @Test func registeringAfterOfflineIsNotAReplacement() throws {
        var registry = DeviceRegistry()
        _ = registry.register(register("d1"), session: 1, transport: "ws", now: 100)
        _ = registry.sessionEnded(device: "d1", session: 1, reason: .closed, now: 150)
        let outcome = registry.register(register("d1"), session: 2, transport: "ws", now: 200)
        #expect(outcome.replacedSession == nil)
        #expect(outcome.event.reason == .registered)
        #expect(registry["d1"]?.firstSeen == 100)
    }

    @Test func sameSessionRegisteringAgainReplacesNothing() throws {
        var registry = DeviceRegistry()
        _ = registry.register(register("d1"), session: 1, transport: "ws", now: 100)
        let outcome = registry.register(register("d1", kind: "other"), session: 1, transport: "ws", now: 200)
        #expect(outcome.replacedSession == nil)
        #expect(registry["d1"]?.session == 1)
        #expect(registry["d1"]?.kind == "other")
        #expect(outcome.event.reason == .registered)
        #expect(registry["d1"]?.reason == .registered)
        #expect(registry["d1"]?.since == 100)
    }

    @Test func touchCreatesOfflineNoSessionRecord() throws {
        var registry = DeviceRegistry()
        registry.touch(device: "sensor-9", transport: "http", now: 1_000)
        let record = try #require(registry["sensor-9"])
        #expect(
            record
                == DeviceRecord(
                    device: "sensor-9", kind: "generic", rooms: [], meta: JSONObject(), state: .offline, since: 1_000,
                    reason: .noSession, session: nil, transport: "http", firstSeen: 1_000, lastSeen: 1_000))
        registry.touch(device: "sensor-9", transport: "http", now: 2_000)
        #expect(registry["sensor-9"]?.lastSeen == 2_000)
        #expect(registry["sensor-9"]?.since == 1_000)
        #expect(registry["sensor-9"]?.firstSeen == 1_000)
        #expect(registry.onlineCount == 0)
        #expect(registry.count == 1)
    }

    @Test func touchKeepsAnOnlineRecordOnline() throws {
        var registry = DeviceRegistry()
        _ = registry.register(register("d1"), session: 3, transport: "ws", now: 100)
        registry.touch(device: "d1", transport: "http", now: 400)
        let record = try #require(registry["d1"])
        #expect(record.state == .online)
        #expect(record.session == 3)
        #expect(record.transport == "ws")
        #expect(record.lastSeen == 400)
        #expect(record.since == 100)
    }

    @Test func registerAfterTouchKeepsFirstSeen() {
        var registry = DeviceRegistry()
        registry.touch(device: "d1", transport: "http", now: 50)
        let outcome = registry.register(register("d1"), session: 1, transport: "ws", now: 100)
        #expect(outcome.replacedSession == nil)
        #expect(outcome.event.reason == .registered)
        #expect(registry["d1"]?.firstSeen == 50)
        #expect(registry["d1"]?.transport == "ws")
    }

    @Test func allOffline() {
        var registry = DeviceRegistry()
        _ = registry.register(register("b"), session: 1, transport: "ws", now: 10)
        _ = registry.register(register("a"), session: 2, transport: "ws", now: 10)
        _ = registry.register(register("c"), session: 3, transport: "ws", now: 10)
        _ = registry.sessionEnded(device: "c", session: 3, reason: .closed, now: 20)
        registry.touch(device: "d", transport: "http", now: 30)
        #expect(registry.onlineCount == 2)
        let events = registry.allOffline(reason: .shutdown, now: 99)
        #expect(
            events.sorted { $0.device < $1.device }
                == [
                    PresenceEvent(device: "a", state: .offline, reason: .shutdown, ts: 99),
                    PresenceEvent(device: "b", state: .offline, reason: .shutdown, ts: 99),
                ])
        #expect(registry.onlineCount == 0)
        #expect(registry["c"]?.reason == .closed)
        #expect(registry["d"]?.reason == .noSession)
        #expect(registry["a"]?.reason == .shutdown)
        #expect(registry.all.map(\.device) == ["a", "b", "c", "d"])
        #expect(registry.allOffline(reason: .shutdown, now: 100).isEmpty)
    }

    @Test func reasonRawValues() {
        #expect(PresenceReason.heartbeatTimeout.rawValue == "heartbeat_timeout")
        #expect(PresenceReason.noSession.rawValue == "no_session")
        #expect(PresenceState.online.rawValue == "online")
    }

    @Test func onlineCountFollowsEveryPresenceChange() {
        var registry = DeviceRegistry()
        func counted() -> Int { registry.all.filter { $0.state == .online }.count }
        _ = registry.register(register("d1"), session: 1, transport: "ws", now: 1)
        _ = registry.register(register("d2"), session: 2, transport: "ws", now: 2)
        _ = registry.register(register("d1"), session: 3, transport: "ws", now: 3)  // replaces, still one device
        _ = registry.register(register("d1"), session: 3, transport: "ws", now: 4)  // the same session again
        registry.touch(device: "d3", transport: "http", now: 5)
        #expect(registry.onlineCount == 2 && registry.onlineCount == counted())
        _ = registry.sessionEnded(device: "d1", session: 1, reason: .closed, now: 6)  // an old session: no change
        #expect(registry.onlineCount == 2)
        _ = registry.sessionEnded(device: "d1", session: 3, reason: .closed, now: 7)
        _ = registry.sessionEnded(device: "d1", session: 3, reason: .closed, now: 8)  // already offline
        #expect(registry.onlineCount == 1 && registry.onlineCount == counted())
        registry.restore(registry.all, now: 9)
        #expect(registry.onlineCount == 0 && counted() == 0)
        _ = registry.register(register("d2"), session: 4, transport: "ws", now: 10)
        #expect(registry.onlineCount == 1)
        _ = registry.allOffline(reason: .shutdown, now: 11)
        #expect(registry.onlineCount == 0 && counted() == 0)
    }
}
