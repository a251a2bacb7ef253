import Foundation
import HubCore
import HubServer
import Testing

@Suite("HTTP API")
struct HTTPAPILiveTests {
    @Test func postTelemetryStoresSamplesForTheNamedDevice() async throws {
        try await LiveHub.run { live in
            let devices = HTTPTester(base: live.httpBase, token: try await live.token(.device, device: "gw-*"))
            let posted = try await devices.send(
                "POST", "/api/telemetry", body: #"{"device":"gw-1","metrics":{"temp":18.5,"hum":60}}"#)
            #expect(posted.status == 202)
            #expect(posted.json?["accepted"] == .number(2))
            let forbidden = try await devices.send(
                "POST", "/api/telemetry", body: #"{"device":"x-1","metrics":{"t":1}}"#)
            #expect(forbidden.status == 403)
            let bad = try await devices.send("POST", "/api/telemetry", body: #"{"device":"gw-1","metrics":{"t":"#)
            #expect(bad.status == 400)
            #expect(bad.json?["error"]?["code"] == .string("invalid_json"))
            let noDevice = try await devices.send("POST", "/api/telemetry", body: #"{"metrics":{"t":1}}"#)
            #expect(noDevice.status == 400)
            let viewer = try await live.http(.viewer)
            let device = try #require(try await viewer.device("gw-1"))
            #expect(device["state"] == .string("offline"))
            #expect(device["reason"] == .string("no_session"))
            #expect(device["transport"] == .string("http"))
            let range = try await viewer.get("/api/series/gw-1/temp?from=10&to=5")
            #expect(range.status == 400)
            #expect(try await viewer.get("/api/series/gw-1/temp?from=abc").status == 400)
            #expect(try await viewer.get("/api/series/gw-1/nothing").status == 404)
            for query in [
                "/api/series?limit=-1", "/api/series?limit=0", "/api/series/gw-1/temp?limit=-5",
                "/api/series/gw-1/temp?step=0",
            ] {
                let reply = try await viewer.get(query)
                #expect(reply.status == 400, "\(query)")
                #expect(reply.json?["error"]?["code"] == .string("invalid_message"), "\(query)")
            }
            #expect(try await viewer.get("/healthz").status == 200)
        }
    }

    @Test func connectionLimitAnswers503() async throws {
        try await LiveHub.run(configure: { $0.limits.maxConnections = 1 }) { live in
            let token = try await live.token(.device)
            let first = try await TestSocket.connect(live.wsBase + "/ws/device", token: token)
            #expect(try await RawSocket(port: live.port).handshake(path: "/ws/device", token: token).status == 503)
            await first.close()
        }
    }
}
