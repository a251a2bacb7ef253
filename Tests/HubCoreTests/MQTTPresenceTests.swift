import Testing

@testable import HubCore

/// Hands out session ids in order, like the hub's shared counter, and counts how many it gave.
private final class SessionCounter {
    private(set) var last: SessionID
    private(set) var issued = 0

    init(startingAfter first: SessionID = 0) { last = first }

    func next() -> SessionID {
        last += 1
        issued += 1
        return last
    }
}

/// An `MQTTPresence` with its session counter, and short forms of its inputs.
private struct Harness {
    var presence: MQTTPresence
    let sessions: SessionCounter

    init(inactivityMs: Int64 = 600_000, maxDevices: Int = 100_000, firstSession: SessionID = 0) {
        presence = MQTTPresence(inactivityMs: inactivityMs, maxDevices: maxDevices)
        sessions = SessionCounter(startingAfter: firstSession)
    }

    /// A retained `online` status.
    mutating func online(_ device: String, at now: Int64 = 0) -> MQTTPresenceAction? {
        presence.status(device: device, online: true, reason: .status, now: now, newSession: sessions.next)
    }

    /// A bare `offline` status (the device's last will).
    mutating func lastWill(_ device: String, at now: Int64 = 0) -> MQTTPresenceAction? {
        presence.status(device: device, online: false, reason: .lastWill, now: now, newSession: sessions.next)
    }

    /// `{"state":"offline"}`.
    mutating func saysOffline(_ device: String, at now: Int64 = 0) -> MQTTPresenceAction? {
        presence.status(device: device, online: false, reason: .status, now: now, newSession: sessions.next)
    }

    mutating func telemetry(_ device: String, at now: Int64 = 0) -> MQTTPresenceAction? {
        presence.telemetry(device: device, now: now, newSession: sessions.next)
    }

    mutating func meta(_ register: DeviceMessage.Register, at now: Int64 = 0) -> MQTTPresenceAction? {
        presence.meta(register, now: now)
    }

    /// The devices online, by `session(of:)`.
    func onlineDevices(among devices: [String]) -> [String] {
        devices.filter { presence.session(of: $0) != nil }
    }
}

/// A meta registration of `device`.
private func register(_ device: String, kind: String = "thermostat", rooms: [String] = ["kitchen"])
    -> DeviceMessage.Register
{
    DeviceMessage.Register(id: nil, device: device, kind: kind, rooms: rooms, meta: JSONObject())
}

/// A small deterministic generator (Knuth's MMIX LCG), so the random test replays the same run.
private struct LCG {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
}

@Suite("MQTTPresence: MQTT device presence from status, meta, telemetry and silence")
struct MQTTPresenceTests {
    // MARK: - Status

    @Test func onlineStatusBringsADeviceOnlineWithNoMetaWhenNoneWasSeen() {
        var harness = Harness()
        #expect(harness.presence.count == 0)
        #expect(harness.presence.onlineCount == 0)
        #expect(harness.online("d1", at: 100) == .online(device: "d1", meta: nil, session: 1, reason: .status))
        #expect(harness.presence.session(of: "d1") == 1)
        #expect(harness.presence.onlineCount == 1)
        #expect(harness.presence.count == 1)
    }

    @Test func onlineStatusUsesTheRememberedMeta() {
        var harness = Harness()
        let meta = register("d1", kind: "valve", rooms: ["floor:3"])
        #expect(harness.meta(meta, at: 10) == nil)
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.presence.count == 1)
        #expect(harness.online("d1", at: 20) == .online(device: "d1", meta: meta, session: 1, reason: .status))
    }

    @Test func aSecondOnlineStatusDoesNothing() {
        var harness = Harness()
        _ = harness.online("d1")
        #expect(harness.online("d1", at: 50) == nil)
        #expect(harness.presence.session(of: "d1") == 1)
        #expect(harness.presence.onlineCount == 1)
        #expect(harness.sessions.issued == 1)
    }

    @Test func lastWillTakesTheDeviceOfflineWithItsSession() {
        var harness = Harness()
        _ = harness.online("d1")
        _ = harness.online("d2")
        #expect(harness.lastWill("d1", at: 10) == .offline(device: "d1", session: 1, reason: .lastWill))
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.presence.session(of: "d2") == 2)
        #expect(harness.presence.onlineCount == 1)
        #expect(harness.presence.count == 2)
        // Already offline: nothing more.
        #expect(harness.lastWill("d1", at: 20) == nil)
        #expect(harness.saysOffline("d1", at: 30) == nil)
        #expect(harness.presence.onlineCount == 1)
    }

    @Test func offlineStateObjectTakesTheDeviceOfflineWithReasonStatus() {
        var harness = Harness()
        _ = harness.online("d1")
        #expect(harness.saysOffline("d1", at: 10) == .offline(device: "d1", session: 1, reason: .status))
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.presence.onlineCount == 0)
    }

    @Test func offlineStatusOfAnUnknownDeviceTracksItButChangesNoPresence() {
        var harness = Harness()
        #expect(harness.lastWill("d1") == nil)
        #expect(harness.presence.count == 1)
        #expect(harness.presence.onlineCount == 0)
        #expect(harness.sessions.issued == 0)
    }

    // MARK: - Meta

    @Test func metaWhileOfflineIsRememberedForTheNextOnline() {
        var harness = Harness()
        _ = harness.online("d1")
        _ = harness.lastWill("d1")
        let meta = register("d1", kind: "v2")
        #expect(harness.meta(meta, at: 10) == nil)
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.online("d1", at: 20) == .online(device: "d1", meta: meta, session: 2, reason: .status))
    }

    @Test func metaWhileOnlineUpdatesUnderTheSameSession() {
        var harness = Harness()
        _ = harness.online("d1")
        let meta = register("d1", rooms: ["hall"])
        #expect(harness.meta(meta, at: 10) == .updated(meta, session: 1))
        #expect(harness.presence.session(of: "d1") == 1)
        #expect(harness.presence.onlineCount == 1)
        #expect(harness.sessions.issued == 1)
        // The latest meta is the one used when the device comes back.
        let newer = register("d1", rooms: ["attic"])
        #expect(harness.meta(newer, at: 20) == .updated(newer, session: 1))
        _ = harness.lastWill("d1")
        #expect(harness.online("d1") == .online(device: "d1", meta: newer, session: 2, reason: .status))
    }

    @Test func theDeviceOfAnActionIsTheOneItIsAbout() {
        #expect(MQTTPresenceAction.updated(register("m"), session: 1).device == "m")
        #expect(MQTTPresenceAction.online(device: "a", meta: nil, session: 1, reason: .data).device == "a")
        #expect(MQTTPresenceAction.offline(device: "b", session: 1, reason: .inactive).device == "b")
    }

    // MARK: - Telemetry

    @Test func telemetryFromAnUnknownDeviceBringsItOnlineWithReasonData() {
        var harness = Harness()
        #expect(harness.telemetry("d1", at: 5) == .online(device: "d1", meta: nil, session: 1, reason: .data))
        #expect(harness.presence.session(of: "d1") == 1)
        #expect(harness.presence.onlineCount == 1)
    }

    @Test func telemetryWhileOnlineDoesNothing() {
        var harness = Harness()
        _ = harness.online("d1")
        #expect(harness.telemetry("d1", at: 10) == nil)
        #expect(harness.telemetry("d1", at: 20) == nil)
        #expect(harness.presence.session(of: "d1") == 1)
        #expect(harness.presence.onlineCount == 1)
        #expect(harness.sessions.issued == 1)
    }

    @Test func telemetryUsesTheRememberedMeta() {
        var harness = Harness()
        let meta = register("d1")
        _ = harness.meta(meta)
        #expect(harness.telemetry("d1", at: 5) == .online(device: "d1", meta: meta, session: 1, reason: .data))
    }

    @Test func telemetryAfterAnOfflineStatusDoesNotReviveTheDevice() {
        var harness = Harness()
        _ = harness.online("d1")
        _ = harness.lastWill("d1", at: 10)
        #expect(harness.telemetry("d1", at: 20) == nil)
        #expect(harness.telemetry("d1", at: 30) == nil)
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.presence.onlineCount == 0)
        // Its next `online` status does.
        #expect(harness.online("d1", at: 40) == .online(device: "d1", meta: nil, session: 2, reason: .status))
        // And from then on telemetry is a plain sign of life again.
        _ = harness.saysOffline("d1", at: 50)
        #expect(harness.telemetry("d1", at: 60) == nil)
    }

    @Test func telemetryAfterAnOfflineStatusObjectFromAnUnknownDeviceDoesNotBringItOnline() {
        var harness = Harness()
        #expect(harness.saysOffline("d1") == nil)
        #expect(harness.telemetry("d1", at: 10) == nil)
        #expect(harness.presence.onlineCount == 0)
        #expect(harness.sessions.issued == 0)
    }

    // MARK: - Inactivity

    @Test func silentOnlineDevicesGoOfflineAtTheInactivityBoundary() {
        var harness = Harness(inactivityMs: 1_000)
        _ = harness.telemetry("d1", at: 0)
        #expect(harness.presence.tick(now: 999).isEmpty)
        #expect(harness.presence.session(of: "d1") == 1)
        #expect(harness.presence.tick(now: 1_000) == [.offline(device: "d1", session: 1, reason: .inactive)])
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.presence.onlineCount == 0)
        #expect(harness.presence.tick(now: 5_000).isEmpty)
    }

    @Test func nextTelemetryAfterInactivityBringsTheDeviceBack() {
        var harness = Harness(inactivityMs: 1_000)
        _ = harness.online("d1", at: 0)
        #expect(harness.presence.tick(now: 2_000) == [.offline(device: "d1", session: 1, reason: .inactive)])
        #expect(harness.telemetry("d1", at: 2_500) == .online(device: "d1", meta: nil, session: 2, reason: .data))
        #expect(harness.presence.onlineCount == 1)
        #expect(harness.presence.tick(now: 3_499).isEmpty)
        #expect(harness.presence.tick(now: 3_500) == [.offline(device: "d1", session: 2, reason: .inactive)])
    }

    @Test func anyRecentSignOfLifeKeepsADeviceOnline() {
        var harness = Harness(inactivityMs: 1_000)
        let devices = ["byData", "byStatus", "byMeta", "byResult", "silent"]
        for device in devices { _ = harness.telemetry(device, at: 0) }
        #expect(harness.telemetry("byData", at: 600) == nil)
        #expect(harness.online("byStatus", at: 600) == nil)
        #expect(harness.meta(register("byMeta"), at: 600) == .updated(register("byMeta"), session: 3))
        harness.presence.heard(device: "byResult", now: 600)

        #expect(harness.presence.tick(now: 1_000) == [.offline(device: "silent", session: 5, reason: .inactive)])
        #expect(harness.onlineDevices(among: devices) == ["byData", "byStatus", "byMeta", "byResult"])
        #expect(harness.presence.tick(now: 1_599).isEmpty)
        #expect(
            harness.presence.tick(now: 1_600) == [
                .offline(device: "byData", session: 1, reason: .inactive),
                .offline(device: "byMeta", session: 3, reason: .inactive),
                .offline(device: "byResult", session: 4, reason: .inactive),
                .offline(device: "byStatus", session: 2, reason: .inactive),
            ])
        #expect(harness.presence.onlineCount == 0)
    }

    @Test func heardChangesNoPresenceAndTracksNoNewDevice() {
        var harness = Harness(inactivityMs: 1_000)
        harness.presence.heard(device: "stranger", now: 10)
        #expect(harness.presence.count == 0)
        _ = harness.online("d1")
        _ = harness.lastWill("d1")
        harness.presence.heard(device: "d1", now: 20)
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.presence.onlineCount == 0)
    }

    @Test func zeroInactivityNeverTimesOut() {
        var harness = Harness(inactivityMs: 0)
        _ = harness.telemetry("d1", at: 0)
        _ = harness.online("d2", at: 0)
        #expect(harness.presence.tick(now: 1_000_000_000).isEmpty)
        #expect(harness.presence.tick(now: Int64.max).isEmpty)
        #expect(harness.presence.onlineCount == 2)
    }

    // MARK: - Bridge connection

    @Test func losingTheBrokerTakesEveryOnlineDeviceOfflineSortedByDevice() {
        var harness = Harness()
        _ = harness.online("c")
        _ = harness.telemetry("a")
        _ = harness.online("b")
        _ = harness.meta(register("d"))  // tracked, never online
        #expect(
            harness.presence.allOffline(reason: .bridgeDisconnected) == [
                .offline(device: "a", session: 2, reason: .bridgeDisconnected),
                .offline(device: "b", session: 3, reason: .bridgeDisconnected),
                .offline(device: "c", session: 1, reason: .bridgeDisconnected),
            ])
        #expect(harness.presence.onlineCount == 0)
        #expect(harness.onlineDevices(among: ["a", "b", "c", "d"]).isEmpty)
        #expect(harness.presence.allOffline(reason: .bridgeDisconnected).isEmpty)
        #expect(harness.presence.count == 4)

        // The retained statuses, sent again on the new subscription, bring them back under new sessions.
        #expect(harness.online("c") == .online(device: "c", meta: nil, session: 4, reason: .status))
        #expect(harness.online("b") == .online(device: "b", meta: nil, session: 5, reason: .status))
        // A device that publishes no status comes back with its data.
        #expect(harness.telemetry("a") == .online(device: "a", meta: nil, session: 6, reason: .data))
        #expect(harness.presence.onlineCount == 3)
    }

    @Test func shutdownTakesDevicesOfflineWithReasonShutdown() {
        var harness = Harness()
        _ = harness.online("a")
        #expect(
            harness.presence.allOffline(reason: .shutdown) == [.offline(device: "a", session: 1, reason: .shutdown)])
    }

    // MARK: - Forget, limits, sessions

    @Test func forgetUndoesAnOnlineWithoutAnAction() {
        var harness = Harness(inactivityMs: 1_000)
        _ = harness.telemetry("d1", at: 0)
        _ = harness.online("d2", at: 0)
        harness.presence.forget("d1")
        #expect(harness.presence.session(of: "d1") == nil)
        #expect(harness.presence.onlineCount == 1)
        // Forgetting again, or an offline or unknown device, changes nothing.
        harness.presence.forget("d1")
        harness.presence.forget("nobody")
        #expect(harness.presence.onlineCount == 1)
        #expect(harness.presence.count == 2)
        // A forgotten device gives no offline action.
        #expect(harness.presence.tick(now: 1_000) == [.offline(device: "d2", session: 2, reason: .inactive)])
        #expect(harness.presence.onlineCount == 0)
        // Its next message tries again.
        #expect(harness.telemetry("d1", at: 1_100) == .online(device: "d1", meta: nil, session: 3, reason: .data))
        harness.presence.forget("d1")
        #expect(harness.presence.allOffline(reason: .bridgeDisconnected).isEmpty)
        #expect(harness.online("d1", at: 1_200) == .online(device: "d1", meta: nil, session: 4, reason: .status))
        #expect(harness.presence.onlineCount == 1)
    }

    @Test func receiveTakesEachChannelAndRefusesPastTheCap() {
        var harness = Harness(inactivityMs: 1_000, maxDevices: 2)
        let sessions = harness.sessions
        func receive(_ message: MQTTDeviceMessage, at now: Int64) -> MQTTPresenceDecision {
            harness.presence.receive(message, now: now, newSession: sessions.next)
        }
        #expect(receive(.meta(register("a")), at: 0) == .accepted(nil))
        #expect(
            receive(.status(device: "a", online: true, reason: .status), at: 0)
                == .accepted(.online(device: "a", meta: register("a"), session: 1, reason: .status)))
        #expect(
            receive(.telemetry(device: "b", [MetricSample(metric: "v", ts: 1, value: 1)]), at: 0)
                == .accepted(.online(device: "b", meta: nil, session: 2, reason: .data)))
        // A third device is refused whatever it sends, and takes no session.
        #expect(receive(.telemetry(device: "c", []), at: 0) == .refused)
        #expect(receive(.status(device: "c", online: true, reason: .status), at: 0) == .refused)
        #expect(receive(.meta(register("c")), at: 0) == .refused)
        #expect(sessions.issued == 2)
        // A command result is a sign of life: "a" stays online past the timeout, "b" does not.
        let result = DeviceMessage.CommandResult(id: .string("cmd-1.1"), ok: true, result: nil, error: nil)
        #expect(receive(.commandResult(device: "a", result), at: 900) == .accepted(nil))
        #expect(harness.presence.tick(now: 1_000) == [.offline(device: "b", session: 2, reason: .inactive)])
        #expect(harness.presence.session(of: "a") == 1)
    }

    @Test func maxDevicesCapsTheDevicesTracked() {
        var harness = Harness(maxDevices: 2)
        _ = harness.telemetry("a")
        #expect(!harness.presence.isFull(for: "b"))
        _ = harness.online("b")
        #expect(harness.presence.isFull(for: "c"))
        #expect(!harness.presence.isFull(for: "a"))
        #expect(harness.telemetry("c") == nil)
        #expect(harness.online("c") == nil)
        #expect(harness.meta(register("c")) == nil)
        #expect(harness.lastWill("c") == nil)
        harness.presence.heard(device: "c", now: 0)
        #expect(harness.presence.count == 2)
        #expect(harness.presence.session(of: "c") == nil)
        #expect(harness.presence.onlineCount == 2)
        #expect(harness.sessions.issued == 2)
        // The tracked devices work as before, and an offline one still holds its place.
        #expect(harness.lastWill("a") == .offline(device: "a", session: 1, reason: .lastWill))
        #expect(harness.online("c") == nil)
        #expect(harness.online("a") == .online(device: "a", meta: nil, session: 3, reason: .status))
    }

    @Test func sessionsComeFromTheClosureInOrder() {
        var harness = Harness(firstSession: 40)
        #expect(harness.online("a") == .online(device: "a", meta: nil, session: 41, reason: .status))
        #expect(harness.telemetry("b") == .online(device: "b", meta: nil, session: 42, reason: .data))
        #expect(harness.telemetry("a") == nil)
        #expect(harness.online("b") == nil)
        #expect(harness.meta(register("a")) == .updated(register("a"), session: 41))
        #expect(harness.lastWill("a") == .offline(device: "a", session: 41, reason: .lastWill))
        #expect(harness.sessions.issued == 2)
        #expect(harness.online("a") == .online(device: "a", meta: register("a"), session: 43, reason: .status))
        #expect(harness.sessions.issued == 3)
    }

    // MARK: - Invariants

    @Test func randomOperationsKeepCountAndSessionsConsistent() {
        let devices = (0..<10).map { "dev-\($0)" }
        var harness = Harness(inactivityMs: 1_000, maxDevices: 8)
        var random = LCG(state: 0x5EED_1234)
        var now: Int64 = 0
        /// The session each device's most recent `.online` gave, while the model thinks it is online.
        var online: [String: SessionID] = [:]
        var lastIssued: SessionID = 0
        var counts = (online: 0, offline: 0, updated: 0)

        for step in 0..<5_000 {
            now += Int64(random.next(300))
            let device = devices[random.next(devices.count)]
            var actions: [MQTTPresenceAction] = []
            switch random.next(10) {
            case 0, 1: actions = harness.online(device, at: now).map { [$0] } ?? []
            case 2: actions = harness.lastWill(device, at: now).map { [$0] } ?? []
            case 3: actions = harness.saysOffline(device, at: now).map { [$0] } ?? []
            case 4, 5: actions = harness.telemetry(device, at: now).map { [$0] } ?? []
            case 6: actions = harness.meta(register(device), at: now).map { [$0] } ?? []
            case 7: harness.presence.heard(device: device, now: now)
            case 8:
                actions = harness.presence.tick(now: now)
                #expect(actions.map(\.device) == actions.map(\.device).sorted(), "step \(step)")
            default:
                if random.next(10) == 0 {
                    actions = harness.presence.allOffline(reason: .bridgeDisconnected)
                } else {
                    harness.presence.forget(device)
                    online[device] = nil
                }
            }
            for action in actions {
                switch action {
                case .online(let device, _, let session, _):
                    #expect(online[device] == nil, "step \(step): \(device) came online twice")
                    #expect(session == lastIssued + 1 && session == harness.sessions.last, "step \(step)")
                    lastIssued = session
                    online[device] = session
                    counts.online += 1
                case .updated(let register, let session):
                    #expect(online[register.device] == session, "step \(step): update of \(register.device)")
                    counts.updated += 1
                case .offline(let device, let session, _):
                    #expect(online[device] == session, "step \(step): \(device) went offline with \(session)")
                    online[device] = nil
                    counts.offline += 1
                }
            }
            #expect(harness.sessions.last == lastIssued, "step \(step): a session was taken but not used")
            let byQuery = harness.onlineDevices(among: devices)
            #expect(harness.presence.onlineCount == byQuery.count, "step \(step)")
            #expect(byQuery == devices.filter { online[$0] != nil }, "step \(step)")
            for device in byQuery { #expect(harness.presence.session(of: device) == online[device], "step \(step)") }
            #expect(harness.presence.count <= 8)
        }
        // The run went through every kind of action.
        #expect(counts.online > 100 && counts.offline > 100 && counts.updated > 10)
    }
}
