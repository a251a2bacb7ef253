import Foundation
import HubCore
import HubServer
import Testing

@Suite("Bad input gets the documented error and loses no accepted data")
struct BadInputLiveTests {
    @Test func eachBadMessageGetsItsErrorCodeAndAcceptedDataStays() async throws {
        try await LiveHub.run { live in
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            let early = try await socket.request(#"{"type":"telemetry","id":1,"metrics":{"temp":1}}"#)
            #expect(early["code"] == .string("not_registered"))
            #expect(early["id"] == .number(1))
            _ = try await socket.request(#"{"type":"register","id":2,"device":"dev-1"}"#)
            #expect(
                try await socket.request(#"{"type":"telemetry","id":3,"metrics":{"temp":20}}"#)["accepted"]
                    == .number(1))

            let cases: [(String, String)] = [
                (#"{"type":"telemetry","metrics":{"temp":"#, "invalid_json"),
                (#"{"type":"launch","id":4}"#, "unknown_type"),
                (#"{"type":"telemetry","id":5,"metrics":{"temp":1e999}}"#, "invalid_message"),
                (#"{"type":"telemetry","id":6,"metrics":{"temp":NaN}}"#, "invalid_message"),
                (#"{"type":"telemetry","id":7,"metrics":{"bad name":1}}"#, "invalid_message"),
                (#"{"id":8}"#, "invalid_message"),
                (#"{"type":"telemetry","id":9,"device":"other","metrics":{"x":1}}"#, "forbidden"),
            ]
            for (frame, code) in cases {
                let reply = try await socket.request(frame)
                #expect(reply["type"] == .string("error"), "\(frame)")
                #expect(reply["code"] == .string(code), "\(frame)")
                #expect(reply["message"]?.stringValue?.isEmpty == false)
            }
            // The session is still usable and the accepted sample is still there.
            #expect(try await socket.request(#"{"type":"ping","id":10}"#)["type"] == .string("pong"))
            let http = try await live.http(.viewer)
            let points = try await http.get("/api/series/dev-1/temp")
            guard case .array(let list)? = points.json?["points"] else { throw TestFailure("no points") }
            #expect(list.count == 1)
            #expect(try await http.get("/healthz").json?["status"] == .string("ok"))
            let metrics = try await http.get("/metrics").body
            #expect(metrics.contains(#"telemetryhub_errors_total{code="invalid_json"} 1"#))
            #expect(metrics.contains("telemetryhub_samples_ingested_total 1"))
            await socket.close()
        }
    }

    @Test func repeatedBadMessagesCloseWith4000() async throws {
        try await LiveHub.run(configure: { $0.limits.maxConsecutiveErrors = 3 }) { live in
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            for _ in 0..<3 { try await socket.send("not json") }
            #expect(await socket.closeCode() == 4000)
        }
    }

    @Test func oversizedFrameClosesWith1009AndHubStaysUp() async throws {
        try await LiveHub.run(configure: { $0.limits.maxFrameBytes = 64 * 1_024 }) { live in
            let raw = try RawSocket(port: live.port)
            #expect(await raw.handshake(path: "/ws/device", token: try await live.token(.device)).status == 101)
            let big = #"{"type":"ping","pad":""# + String(repeating: "x", count: 100 * 1_024) + #""}"#
            raw.sendText(big)
            #expect(await raw.readCloseCode() == 1009)
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            #expect(try await socket.request(#"{"type":"ping","id":1}"#)["type"] == .string("pong"))
            await socket.close()
        }
    }

    @Test func tooManySamplesAndTooLargeBatchesAreRefused() async throws {
        try await LiveHub.run(configure: {
            $0.limits.maxSamplesPerMessage = 3
            $0.limits.maxBatchMessages = 2
            $0.store.maxSeriesPerDevice = 4
        }) { live in
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            _ = try await socket.request(#"{"type":"register","id":1,"device":"dev-2"}"#)
            let many = try await socket.request(#"{"type":"telemetry","id":2,"metrics":{"a":1,"b":2,"c":3,"d":4}}"#)
            #expect(many["code"] == .string("too_large"))
            let batch = try await socket.request(#"[{"type":"ping"},{"type":"ping"},{"type":"ping"}]"#)
            #expect(batch["code"] == .string("too_large"))
            #expect(
                try await socket.request(#"{"type":"telemetry","id":3,"metrics":{"a":1,"b":2,"c":3}}"#)["accepted"]
                    == .number(3))
            let series = try await socket.request(#"{"type":"telemetry","id":4,"metrics":{"d":1,"e":2}}"#)
            #expect(series["code"] == .string("too_large"))
            await socket.close()
        }
    }

    @Test func messageRateIsLimitedPerConnection() async throws {
        try await LiveHub.run(configure: {
            $0.limits.messagesPerSecond = 5
            $0.limits.messageBurst = 5
        }) { live in
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            for index in 0..<20 { try await socket.send(#"{"type":"ping","id":\#(index)}"#) }
            var limited = 0
            var pongs = 0
            for _ in 0..<20 {
                let reply = try await socket.receiveJSON()
                if reply["code"] == .string("rate_limited") { limited += 1 }
                if reply["type"] == .string("pong") { pongs += 1 }
            }
            #expect(pongs >= 5 && pongs < 10)
            #expect(limited == 20 - pongs)
            await socket.close()
        }
    }
}
