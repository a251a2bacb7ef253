import Foundation
import HubCore
import HubServer
import Testing

@Suite("Tokens and roles")
struct AuthLiveTests {
    @Test func upgradeWithoutValidTokenIsRefusedWith401() async throws {
        try await LiveHub.run { live in
            #expect(try await RawSocket(port: live.port).handshake(path: "/ws/device", token: nil).status == 401)
            #expect(
                try await RawSocket(port: live.port).handshake(path: "/ws/device", token: "not-a-token").status == 401)
            let expired = try await live.token(.device, ttl: -60)
            let refused = try await RawSocket(port: live.port).handshake(path: "/ws/device", token: expired)
            #expect(refused.status == 401)
            let foreign = try await TokenAuthority(secret: "another-secret-0123456789abcdef0123456789")
                .issue(role: .device, subject: "x", ttl: 60)
            #expect(try await RawSocket(port: live.port).handshake(path: "/ws/device", token: foreign).status == 401)
            // A viewer may not connect as a device.
            let viewer = try await live.token(.viewer)
            #expect(try await RawSocket(port: live.port).handshake(path: "/ws/device", token: viewer).status == 403)
            // The hub is still up.
            #expect(try await live.http(nil).get("/healthz").status == 200)
        }
    }

    @Test func deviceTokensAreLimitedToTheirPattern() async throws {
        try await LiveHub.run { live in
            let socket = try await TestSocket.connect(
                live.wsBase + "/ws/device", token: try await live.token(.device, device: "thermo-*"))
            let refused = try await socket.request(#"{"type":"register","id":1,"device":"meter-1"}"#)
            #expect(refused["code"] == .string("forbidden"))
            let accepted = try await socket.request(#"{"type":"register","id":2,"device":"thermo-9"}"#)
            #expect(accepted["type"] == .string("ack"))
            await socket.close()
        }
    }

    @Test func queryTokenWorksForBrowsers() async throws {
        try await LiveHub.run { live in
            let token = try await live.token(.device)
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device?token=\(token)", token: nil)
            #expect(try await socket.request(#"{"type":"ping","id":1}"#)["type"] == .string("pong"))
            await socket.close()
            #expect(try await live.http(nil).get("/api/devices?token=\(try await live.token(.viewer))").status == 200)
        }
    }

    @Test func httpEndpointsCheckTokensAndRoles() async throws {
        try await LiveHub.run { live in
            let anonymous = try await live.http(nil)
            let noToken = try await anonymous.get("/api/devices")
            #expect(noToken.status == 401)
            #expect(noToken.json?["error"]?["code"] == .string("unauthorized"))
            #expect(try await anonymous.get("/metrics").status == 401)
            #expect(try await anonymous.get("/healthz").status == 200)
            let device = try await live.http(.device)
            let wrongRole = try await device.get("/api/devices")
            #expect(wrongRole.status == 403)
            #expect(wrongRole.json?["error"]?["code"] == .string("forbidden"))
            #expect(try await live.http(.viewer).get("/api/devices").status == 200)
            #expect(try await live.http(.admin).get("/api/devices").status == 200)
            let missing = try await live.http(.viewer).get("/api/devices/nobody")
            #expect(missing.status == 404)
            #expect(missing.json?["error"]?["code"] == .string("not_found"))
            let badSelector = try await live.http(.viewer).get("/api/series?match=nosplit")
            #expect(badSelector.status == 400)
            #expect(badSelector.json?["error"]?["code"] == .string("invalid_message"))
        }
    }

    @Test func crossOriginUpgradesNeedAnAllowedOrigin() async throws {
        try await LiveHub.run(configure: { $0.auth.allowedOrigins = ["https://ops.example"] }) { live in
            let token = try await live.token(.device)
            let raw = try RawSocket(port: live.port)
            let request =
                "GET /ws/device HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Authorization: Bearer \(token)\r\n\r\n"
            raw.write(Array(request.utf8))
            #expect(String(decoding: await raw.read(), as: UTF8.self).hasPrefix("HTTP/1.1 403"))
            let allowed = try RawSocket(port: live.port)
            allowed.write(
                Array(request.replacingOccurrences(of: "https://evil.example", with: "https://ops.example").utf8))
            #expect(String(decoding: await allowed.read(), as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        }
    }
}
