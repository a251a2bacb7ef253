import Foundation
import HubCore
import HubServer
import Synchronization
import Testing

/// Alerts end to end: rules over the API, a device crossing a threshold, `/ws/alerts`, ack, silences, the
/// dashboard's `subscribe_alerts`, rule-file reloads, and state that survives a restart.
@Suite("Alerts against a live hub")
struct AlertLiveTests {
    static let hotRule = #"""
        {"id":"hot","name":"Room too hot","match":"thermo-*/temp","when":{"op":">","value":30},"for_ms":1000,
         "clear":{"op":"<","value":28},"severity":"critical","description":"{{series}} is {{value}}"}
        """#

    /// Sends one telemetry message for `device` over HTTP.
    static func send(_ live: LiveHub, _ device: String, _ metrics: String) async throws {
        let reply = try await live.http(.device).send(
            "POST", "/api/telemetry", body: #"{"device":"\#(device)","metrics":\#(metrics)}"#)
        guard reply.status == 202 else { throw TestFailure("telemetry refused: \(reply.status) \(reply.body)") }
    }

    /// The next `alert` message on `socket` (skipping anything else), or a failure after `timeout`.
    static func nextAlert(_ socket: TestSocket, timeout: Duration = .seconds(5)) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let text = await socket.receive(timeout: deadline - ContinuousClock.now) else { break }
            let message = try JSONParser.parse(text)
            if message["type"] == .string("alert") { return message }
        }
        throw TestFailure("no alert message within \(timeout)")
    }

    @Test func aCrossingFiresWithinForPlusOneTickAndResolvesWithHysteresis() async throws {
        try await LiveHub.run(configure: { $0.alerts.tickMs = 200 }) { live in
            let created = try await live.http(.admin).send("POST", "/api/rules", body: Self.hotRule)
            #expect(created.status == 200, "\(created.body)")
            let alerts = try await TestSocket.connect(live.wsBase + "/ws/alerts", token: try await live.token(.viewer))
            defer { Task { await alerts.close() } }
            let device = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            defer { Task { await device.close() } }
            let ack = try await device.request(#"{"type":"register","id":1,"device":"thermo-1","kind":"thermostat"}"#)
            #expect(ack["type"] == .string("ack"))
            try await device.send(#"{"type":"telemetry","metrics":{"temp":21}}"#)
            try await device.send(#"{"type":"telemetry","metrics":{"temp":31.5}}"#)

            let pending = try await Self.nextAlert(alerts)
            #expect(pending["state"] == .string("pending"))
            #expect(pending["series"] == .string("thermo-1/temp"))
            #expect(pending["value"] == .number(31.5))
            #expect(pending["threshold"] == .number(30))
            #expect(pending["severity"] == .string("critical"))
            #expect(pending["description"] == .string("thermo-1/temp is 31.5"))
            let firing = try await Self.nextAlert(alerts)
            #expect(firing["state"] == .string("firing"))
            #expect(firing["reason"] == .string("for_elapsed"))
            #expect(firing["alert"] == pending["alert"])
            // On the hub's clock: not before for_ms, and within for_ms plus one tick (plus what a loaded test
            // machine may add to a timer's wake-up).
            let since = try #require(pending["since"]?.numberValue)
            let fired = try #require(firing["ts"]?.numberValue)
            #expect(fired - since >= 1_000)
            #expect(fired - since <= 1_000 + 200 + 300, "fired \(fired - since) ms after the crossing")

            // Between the clear and the fire thresholds nothing happens: no flapping.
            try await device.send(#"{"type":"telemetry","metrics":{"temp":29}}"#)
            try await device.send(#"{"type":"telemetry","metrics":{"temp":30.5}}"#)
            try await device.send(#"{"type":"telemetry","metrics":{"temp":29.5}}"#)
            try await device.send(#"{"type":"telemetry","metrics":{"temp":27}}"#)
            let resolved = try await Self.nextAlert(alerts)
            #expect(resolved["state"] == .string("resolved"))
            #expect(resolved["reason"] == .string("clear"))
            #expect(resolved["value"] == .number(27))
            #expect(resolved["threshold"] == .number(28))
            #expect(resolved["alert"] == pending["alert"])

            let history = try await live.http(.viewer).get("/api/alerts?since=0")
            guard case .array(let events)? = history.json?["alerts"] else { throw TestFailure(history.body) }
            #expect(events.compactMap { $0["state"]?.stringValue } == ["pending", "firing", "resolved"])
        }
    }

    @Test func ackAndSilenceThroughTheAPI() async throws {
        try await LiveHub.run { live in
            let rule = #"{"id":"hot","match":"thermo-*/temp","when":{"op":">","value":30},"severity":"warning"}"#
            #expect(try await live.http(.admin).send("POST", "/api/rules", body: rule).status == 200)
            let alerts = try await TestSocket.connect(live.wsBase + "/ws/alerts", token: try await live.token(.viewer))
            defer { Task { await alerts.close() } }
            try await Self.send(live, "thermo-1", #"{"temp":35}"#)
            let firing = try await Self.nextAlert(alerts)
            #expect(firing["state"] == .string("firing"))
            let id = try #require(firing["alert"]?.stringValue)

            let listed = try await live.http(.viewer).get("/api/alerts?state=firing")
            guard case .array(let active)? = listed.json?["alerts"] else { throw TestFailure(listed.body) }
            #expect(active.count == 1)
            #expect(active.first?["alert"] == .string(id))
            #expect(active.first?["event"] == .string("current"))

            let refused = try await live.http(.viewer).send("POST", "/api/alerts/\(id)/ack", body: "{}")
            #expect(refused.status == 403)
            let acked = try await live.http(.operator).send(
                "POST", "/api/alerts/\(id)/ack", body: #"{"comment":"on it"}"#)
            #expect(acked.status == 200, "\(acked.body)")
            #expect(acked.json?["alert"]?["acked"] == .bool(true))
            #expect(acked.json?["alert"]?["acked_by"] == .string("test"))
            #expect(acked.json?["alert"]?["ack_comment"] == .string("on it"))
            let ackEvent = try await Self.nextAlert(alerts)
            #expect(ackEvent["event"] == .string("ack"))
            #expect(ackEvent["state"] == .string("firing"))
            #expect(try await live.http(.operator).send("POST", "/api/alerts/al-999/ack", body: "{}").status == 404)

            let silence = try await live.http(.operator).send(
                "POST", "/api/silences", body: #"{"match":"thermo-*/temp","for_ms":600000,"comment":"maintenance"}"#)
            #expect(silence.status == 201, "\(silence.body)")
            let silenceID = try #require(silence.json?["silence"]?["id"]?.stringValue)
            let silenced = try await Self.nextAlert(alerts)
            #expect(silenced["event"] == .string("silence"))
            #expect(silenced["silenced"] == .bool(true))
            #expect(silenced["silence"] == .string(silenceID))
            let silences = try await live.http(.viewer).get("/api/silences")
            guard case .array(let listedSilences)? = silences.json?["silences"] else {
                throw TestFailure(silences.body)
            }
            #expect(listedSilences.count == 1)
            #expect(
                try await live.http(.viewer).send("POST", "/api/silences", body: #"{"match":"*/*","for_ms":1}"#)
                    .status == 403)
            #expect(
                try await live.http(.operator).send("POST", "/api/silences", body: #"{"match":"nope","for_ms":1000}"#)
                    .status == 400)

            // A silenced alert still changes state; the event is recorded and pushed, flagged.
            try await Self.send(live, "thermo-1", #"{"temp":20}"#)
            let resolved = try await Self.nextAlert(alerts)
            #expect(resolved["state"] == .string("resolved"))
            #expect(resolved["silenced"] == .bool(true))
            #expect(resolved["acked"] == .bool(true))  // the ack lasts until the episode ends, this event included
            let late = try await live.http(.operator).send("POST", "/api/alerts/\(id)/ack", body: "{}")
            #expect(late.status == 409, "\(late.body)")

            let history = try await live.http(.viewer).get("/api/alerts/\(id)")
            guard case .array(let events)? = history.json?["events"] else { throw TestFailure(history.body) }
            #expect(events.compactMap { $0["event"]?.stringValue } == ["transition", "ack", "silence", "transition"])
            #expect(history.json?["active"] == .bool(false))

            #expect(try await live.http(.operator).send("DELETE", "/api/silences/\(silenceID)").status == 200)
            #expect(try await live.http(.operator).send("DELETE", "/api/silences/\(silenceID)").status == 404)
            let none = try await live.http(.viewer).get("/api/silences")
            #expect(none.json?["silences"] == .array([]))
        }
    }

    @Test func dashboardsSubscribeToAlertsAndOperatorsAck() async throws {
        try await LiveHub.run { live in
            let rule = #"{"id":"hot","match":"thermo-*/temp","when":{"op":">","value":30}}"#
            #expect(try await live.http(.admin).send("POST", "/api/rules", body: rule).status == 200)
            try await Self.send(live, "thermo-1", #"{"temp":35}"#)
            #expect(try await live.eventually { !(live.hub.alertRules.isEmpty) })

            let viewer = try await TestSocket.connect(
                live.wsBase + "/ws/dashboard", token: try await live.token(.viewer))
            defer { Task { await viewer.close() } }
            let subscribed = try await viewer.request(#"{"type":"subscribe_alerts","id":8}"#)
            #expect(subscribed["type"] == .string("ack"))
            #expect(subscribed["alerts"] == .number(1))
            let current = try await Self.nextAlert(viewer)
            #expect(current["event"] == .string("current"))
            #expect(current["state"] == .string("firing"))
            let id = try #require(current["alert"]?.stringValue)
            let forbidden = try await viewer.request(#"{"type":"ack_alert","id":9,"alert":"\#(id)"}"#)
            #expect(forbidden["code"] == .string("forbidden"))
            #expect(forbidden["id"] == .number(9))

            let operatorSocket = try await TestSocket.connect(
                live.wsBase + "/ws/dashboard", token: try await live.token(.operator))
            defer { Task { await operatorSocket.close() } }
            let acked = try await operatorSocket.request(
                #"{"type":"ack_alert","id":"a1","alert":"\#(id)","comment":"looking"}"#)
            #expect(acked["type"] == .string("ack"))
            #expect(acked["alert"] == .string(id))
            let event = try await Self.nextAlert(viewer)
            #expect(event["event"] == .string("ack"))
            #expect(event["ack_comment"] == .string("looking"))
            let unknown = try await operatorSocket.request(#"{"type":"ack_alert","id":10,"alert":"al-404"}"#)
            #expect(unknown["code"] == .string("not_found"))

            // Filters: a critical-only subscriber hears nothing of this warning rule.
            let critical = try await TestSocket.connect(
                live.wsBase + "/ws/alerts?severity=critical", token: try await live.token(.viewer))
            defer { Task { await critical.close() } }
            try await Self.send(live, "thermo-2", #"{"temp":40}"#)
            let second = try await Self.nextAlert(viewer)
            #expect(second["series"] == .string("thermo-2/temp"))
            #expect(await critical.receive(timeout: .milliseconds(300)) == nil)
            let bad = try await live.http(.viewer).get("/ws/alerts?severity=loud")
            #expect(bad.status == 400)
        }
    }

    @Test func invalidRulesNameTheFieldAndLeaveTheRulesInForce() async throws {
        let folder = NSTemporaryDirectory() + "telemetryhub-rules-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/rules.json"
        try Data(#"{"rules":[{"id":"from-file","match":"*/temp","when":{"op":">","value":50}}]}"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        try await LiveHub.run(configure: { $0.alerts.rulesFile = file }) { live in
            #expect(live.hub.alertRules.map(\.id) == ["from-file"])
            #expect(live.hub.alertRules.first?.source == .file)
            let admin = try await live.http(.admin)
            #expect(try await admin.send("POST", "/api/rules", body: Self.hotRule).status == 200)

            let invalid = #"""
                {"rules":[{"id":"a","match":"x/y","when":{"op":"~","value":1}},
                          {"id":"b","match":"bad","when":{"op":">","value":"x"},"severity":"loud"}]}
                """#
            let refused = try await admin.send("POST", "/api/rules", body: invalid)
            #expect(refused.status == 400)
            #expect(refused.json?["error"]?["code"] == .string("invalid_message"))
            guard case .array(let problems)? = refused.json?["error"]?["problems"] else {
                throw TestFailure(refused.body)
            }
            let lines = problems.compactMap(\.stringValue)
            #expect(lines.contains { $0.hasPrefix("rules[0].when.op:") })
            #expect(lines.contains { $0.hasPrefix("rules[1].match:") })
            #expect(lines.contains { $0.hasPrefix("rules[1].when.value:") })
            #expect(lines.contains { $0.hasPrefix("rules[1].severity:") })
            #expect(live.hub.alertRules.map(\.id) == ["from-file", "hot"])
            #expect(try await live.http(.operator).send("POST", "/api/rules", body: Self.hotRule).status == 403)

            // A broken rule file is refused on reload; the rules in force stay.
            try Data(#"{"rules":[{"id":"from-file","match":"*/temp","when":{"op":">"},"for_ms":-1}]}"#.utf8)
                .write(to: URL(fileURLWithPath: file))
            let reloadProblems = live.hub.reloadRuleFile()
            #expect(reloadProblems.contains { $0.contains("rules[0].when.value:") })
            #expect(reloadProblems.contains { $0.contains("rules[0].for_ms:") })
            #expect(live.hub.alertRules.map(\.id) == ["from-file", "hot"])
            #expect(live.hub.alertRules.first?.when.value == 50)

            // A good one replaces the file's rules and keeps the API's.
            try Data(#"[{"id":"renamed","match":"*/hum","when":{"op":"<","value":10}}]"#.utf8)
                .write(to: URL(fileURLWithPath: file))
            #expect(live.hub.reloadRuleFile().isEmpty)
            #expect(live.hub.alertRules.map(\.id) == ["renamed", "hot"])

            let single = try await admin.get("/api/rules/hot")
            #expect(single.json?["rule"]?["clear"]?["value"] == .number(28))
            #expect(try await admin.send("DELETE", "/api/rules/hot").status == 200)
            #expect(try await admin.send("DELETE", "/api/rules/hot").status == 404)
            let put = try await admin.send(
                "PUT", "/api/rules/cold", body: #"{"match":"*/temp","when":{"op":"<","value":5},"severity":"info"}"#)
            #expect(put.status == 200, "\(put.body)")
            let all = try await admin.get("/api/rules")
            guard case .array(let rules)? = all.json?["rules"] else { throw TestFailure(all.body) }
            #expect(rules.compactMap { $0["id"]?.stringValue } == ["renamed", "cold"])
            #expect(rules.last?["source"] == .string("api"))
        }
    }

    @Test func firingAndPendingAlertsSurviveARestartExactly() async throws {
        let dataDir = NSTemporaryDirectory() + "telemetryhub-alerts-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let rules = #"""
            {"rules":[{"id":"hot","match":"thermo-*/temp","when":{"op":">","value":30}},
                      {"id":"humid","match":"thermo-*/hum","when":{"op":">","value":80},"for_ms":4000}]}
            """#
        let first = Mutex((firing: "", pending: "", pendingSince: 0.0))
        try await LiveHub.run(configure: {
            $0.dataDir = dataDir; $0.alerts.tickMs = 100
        }) { live in
            #expect(try await live.http(.admin).send("POST", "/api/rules", body: rules).status == 200)
            try await Self.send(live, "thermo-1", #"{"temp":35,"hum":90}"#)
            let active = try await live.http(.viewer).get("/api/alerts")
            guard case .array(let alerts)? = active.json?["alerts"], alerts.count == 2 else {
                throw TestFailure(active.body)
            }
            let firing = try #require(alerts.first { $0["rule"] == .string("hot") }?["alert"]?.stringValue)
            let pending = try #require(alerts.first { $0["rule"] == .string("humid") })
            #expect(pending["state"] == .string("pending"))
            let pendingID = try #require(pending["alert"]?.stringValue)
            let since = try #require(pending["since"]?.numberValue)
            first.withLock { $0 = (firing, pendingID, since) }
        }
        let (firingID, pendingID, pendingSince) = first.withLock { ($0.firing, $0.pending, $0.pendingSince) }
        try await LiveHub.run(configure: {
            $0.dataDir = dataDir; $0.alerts.tickMs = 100
        }) { live in
            #expect(live.hub.alertRules.map(\.id) == ["hot", "humid"])
            let alerts = try await TestSocket.connect(live.wsBase + "/ws/alerts", token: try await live.token(.viewer))
            defer { Task { await alerts.close() } }
            var current: [JSONValue] = []
            for _ in 0..<2 { current.append(try await Self.nextAlert(alerts)) }
            #expect(current.first?["alert"] == .string(firingID))
            #expect(current.first?["state"] == .string("firing"))
            #expect(current.first?["event"] == .string("current"))
            // The pending alert's timer kept running across the restart: it fires at since + for_ms, not later.
            let fired = try await Self.nextAlert(alerts, timeout: .seconds(8))
            #expect(fired["alert"] == .string(pendingID))
            #expect(fired["state"] == .string("firing"))
            let firedAt = try #require(fired["ts"]?.numberValue)
            #expect(firedAt >= pendingSince + 4_000)
            // The firing alert was not fired again; a clear sample resolves it.
            try await Self.send(live, "thermo-1", #"{"temp":20}"#)
            let resolved = try await Self.nextAlert(alerts)
            #expect(resolved["alert"] == .string(firingID))
            #expect(resolved["state"] == .string("resolved"))
            let history = try await live.http(.viewer).get("/api/alerts/\(firingID)")
            guard case .array(let events)? = history.json?["events"] else { throw TestFailure(history.body) }
            #expect(events.compactMap { $0["state"]?.stringValue } == ["firing", "resolved"])
            // A new episode gets a new id.
            try await Self.send(live, "thermo-1", #"{"temp":36}"#)
            let again = try await Self.nextAlert(alerts)
            #expect(again["state"] == .string("firing"))
            #expect(again["alert"] != .string(firingID))
            #expect(again["alert"] != .string(pendingID))
        }
    }

    @Test func noDataFiresForASilentSeriesAndRecovers() async throws {
        try await LiveHub.run(configure: { $0.alerts.tickMs = 100 }) { live in
            let rule = #"{"id":"silent","match":"quiet-*/temp","when":{"op":">","value":1000},"nodata_ms":600}"#
            #expect(try await live.http(.admin).send("POST", "/api/rules", body: rule).status == 200)
            let alerts = try await TestSocket.connect(live.wsBase + "/ws/alerts", token: try await live.token(.viewer))
            defer { Task { await alerts.close() } }
            try await Self.send(live, "quiet-1", #"{"temp":20}"#)
            let nodata = try await Self.nextAlert(alerts, timeout: .seconds(5))
            #expect(nodata["state"] == .string("nodata"))
            #expect(nodata["value"] == nil)
            try await Self.send(live, "quiet-1", #"{"temp":21}"#)
            let back = try await Self.nextAlert(alerts)
            #expect(back["state"] == .string("ok"))
            #expect(back["reason"] == .string("data_returned"))
            #expect(back["alert"] == nodata["alert"])
        }
    }
}
