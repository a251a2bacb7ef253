import Foundation
import HubCore
import HubServer
import Testing

@Suite("Device sessions over WebSocket, live on a free port")
struct DeviceSessionLiveTests {
    @Test func registersSendsBothTelemetryFormsAndBatchesVisibleOverHTTP() async throws {
        try await LiveHub.run { live in
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            let ack = try await socket.request(
                #"{"type":"register","id":1,"device":"thermo-1","kind":"thermostat","rooms":["floor:3"],"meta":{"fw":"1.2"}}"#
            )
            #expect(ack["type"] == .string("ack"))
            #expect(ack["id"] == .number(1))
            #expect(ack["device"] == .string("thermo-1"))
            #expect(ack["heartbeat_ms"] == .number(15_000))

            let now = Hub.systemMilliseconds()
            let first = try await socket.request(
                #"{"type":"telemetry","id":"t1","ts":\#(now - 2000),"metrics":{"temp":21.5,"hum":40}}"#)
            #expect(
                first
                    == .object(JSONObject([("type", .string("ack")), ("id", .string("t1")), ("accepted", .number(2))])))
            let second = try await socket.request(
                #"{"type":"telemetry","id":2,"samples":[{"metric":"temp","ts":\#(now - 1000),"value":21.7},{"metric":"co2","value":415}]}"#
            )
            #expect(second["accepted"] == .number(2))
            try await socket.send(
                #"[{"type":"telemetry","id":"b1","ts":\#(now),"metrics":{"temp":21.9}},{"type":"ping","id":"p"},{"type":"telemetry","id":"b2","metrics":{"hum":41}}]"#
            )
            let replies = [
                try await socket.receiveJSON(), try await socket.receiveJSON(), try await socket.receiveJSON(),
            ]
            // Acks wait for the write-behind's commit, so the pong may overtake them; ids tell them apart.
            #expect(Set(replies.compactMap { $0["id"]?.stringValue }) == ["b1", "p", "b2"])
            #expect(replies.first { $0["id"] == .string("p") }?["type"] == .string("pong"))
            #expect(replies.filter { $0["type"] == .string("ack") }.count == 2)
            // Telemetry without an id gets no answer: the next answer belongs to the ping after it.
            try await socket.send(#"{"type":"telemetry","metrics":{"hum":42}}"#)
            #expect(try await socket.request(#"{"type":"ping","id":9}"#)["id"] == .number(9))

            let http = try await live.http(.viewer)
            let device = try #require(try await http.device("thermo-1"))
            #expect(device["state"] == .string("online"))
            #expect(device["kind"] == .string("thermostat"))
            #expect(device["rooms"] == .array([.string("floor:3")]))
            #expect(device["meta"]?["fw"] == .string("1.2"))
            let list = try await http.get("/api/series?match=thermo-*/*")
            guard case .array(let series)? = list.json?["series"] else { throw TestFailure("no series list") }
            #expect(
                series.compactMap { $0["series"]?.stringValue } == ["thermo-1/co2", "thermo-1/hum", "thermo-1/temp"])
            let temp = try await http.get("/api/series/thermo-1/temp?from=\(now - 5000)&to=\(now)")
            #expect(temp.status == 200)
            #expect(
                temp.json?["points"]
                    == .array([
                        .array([.number(Double(now - 2000)), .number(21.5)]),
                        .array([.number(Double(now - 1000)), .number(21.7)]),
                        .array([.number(Double(now)), .number(21.9)]),
                    ]))
            let rolled = try await http.get("/api/series/thermo-1/temp?from=\(now - 5000)&to=\(now)&step=3600000")
            guard case .array(let points)? = rolled.json?["points"] else { throw TestFailure("no rollup") }
            var count = 0.0
            for case .array(let point) in points {
                #expect(point.count == 5)  // [ts, min, max, avg, count]
                count += point[4].numberValue ?? 0
            }
            #expect(count == 3)
            await socket.close()
            #expect(try await live.eventually { try await http.device("thermo-1")?["state"] == .string("offline") })
            #expect(try await http.device("thermo-1")?["reason"] == .string("closed"))
        }
    }

    @Test func secondSessionOfTheSameDeviceReplacesTheFirst() async throws {
        try await LiveHub.run { live in
            let token = try await live.token(.device)
            let first = try await TestSocket.connect(live.wsBase + "/ws/device", token: token)
            _ = try await first.request(#"{"type":"register","id":1,"device":"meter-7"}"#)
            let second = try await TestSocket.connect(live.wsBase + "/ws/device", token: token)
            _ = try await second.request(#"{"type":"register","id":1,"device":"meter-7"}"#)
            #expect(await first.closeCode() == 4009)
            let http = try await live.http(.viewer)
            let device = try #require(try await http.device("meter-7"))
            #expect(device["state"] == .string("online"))
            #expect(device["reason"] == .string("replaced"))
            // The newer session works, and the old one's close did not take the device offline.
            #expect(
                try await second.request(#"{"type":"telemetry","id":5,"metrics":{"power":100}}"#)["accepted"]
                    == .number(1))
            #expect(try await http.device("meter-7")?["state"] == .string("online"))
            await second.close()
        }
    }

    @Test func silentDeviceGoesOfflineByHeartbeat() async throws {
        // 3 silent intervals (4.5 s) leave room for the "online" check on a loaded machine.
        try await LiveHub.run(configure: { $0.heartbeatMs = 1_500 }) { live in
            let raw = try RawSocket(port: live.port)
            let (status, _) = await raw.handshake(path: "/ws/device", token: try await live.token(.device))
            #expect(status == 101)
            raw.sendText(#"{"type":"register","id":1,"device":"quiet-1"}"#)
            #expect(await raw.read(until: "heartbeat_ms"))
            let http = try await live.http(.viewer)
            #expect(try await http.device("quiet-1")?["state"] == .string("online"))
            // The raw client never answers the hub's pings.
            #expect(try await live.eventually(15) { try await http.device("quiet-1")?["state"] == .string("offline") })
            #expect(try await http.device("quiet-1")?["reason"] == .string("heartbeat_timeout"))
        }
    }

    @Test func deviceAnsweringPingsStaysOnline() async throws {
        // Expiry after 3 intervals (3 s) leaves room for a loaded machine running the suites in parallel; the
        // check comes after more than 3 intervals.
        try await LiveHub.run(configure: { $0.heartbeatMs = 1_000 }) { live in
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            _ = try await socket.request(#"{"type":"register","id":1,"device":"chatty-1"}"#)
            try await Task.sleep(for: .milliseconds(3_500))
            let http = try await live.http(.viewer)
            #expect(try await http.device("chatty-1")?["state"] == .string("online"))
            await socket.close()
        }
    }
}
