import Foundation
import HubCore
import HubServer
import Testing

@Suite("Session lifecycle: stalled peers, token expiry, replacement races, shutdown")
struct SessionLifecycleLiveTests {
    @Test func aPeerThatStopsReadingHoldsUpNeitherHeartbeatsNorOthers() async throws {
        // 1 s intervals: a loaded machine must still register the quiet device before 3 intervals pass.
        try await LiveHub.run(configure: { $0.heartbeatMs = 1_000 }) { live in
            let token = try await live.token(.device)
            // The stalled device registers, then floods replies it never reads.
            let stalled = try RawSocket(port: live.port)
            #expect(await stalled.handshake(path: "/ws/device", token: token).status == 101)
            stalled.sendText(#"{"type":"register","id":1,"device":"stalled-1"}"#)
            let bigID = String(repeating: "x", count: 60_000)
            let batch =
                "[" + Array(repeating: #"{"type":"ping","id":"\#(bigID)"}"#, count: 15).joined(separator: ",") + "]"
            let flood = Task { await RawSocket.offPool { for _ in 0..<40 { stalled.sendText(batch) } } }
            // A silent device must still be taken offline on time.
            let quiet = try RawSocket(port: live.port)
            #expect(await quiet.handshake(path: "/ws/device", token: token).status == 101)
            quiet.sendText(#"{"type":"register","id":1,"device":"quiet-2"}"#)
            #expect(await quiet.read(until: "heartbeat_ms"))
            let http = try await live.http(.viewer)
            #expect(try await live.eventually(12) { try await http.device("quiet-2")?["state"] == .string("offline") })
            #expect(try await http.device("quiet-2")?["reason"] == .string("heartbeat_timeout"))
            // The stalled one is dropped as a slow consumer.
            #expect(
                try await live.eventually(12) { try await http.device("stalled-1")?["state"] == .string("offline") })
            // Stuck on a write (slow_consumer), or not read from because its handler is stuck (heartbeat_timeout).
            let reason = try await http.device("stalled-1")?["reason"]?.stringValue
            #expect(reason == "slow_consumer" || reason == "heartbeat_timeout", "\(String(describing: reason))")
            await flood.value
        }
    }

    @Test func anExpiredTokenClosesTheSessionWith1008() async throws {
        // Heartbeat timeout (3 intervals) must not come first on a loaded machine, and the token must outlive the
        // registration there: 2 s intervals, a 3 s token.
        try await LiveHub.run(configure: { $0.heartbeatMs = 2_000 }) { live in
            let socket = try await TestSocket.connect(
                live.wsBase + "/ws/device", token: try await live.token(.device, ttl: 3))
            _ = try await socket.request(#"{"type":"register","id":1,"device":"short-1"}"#)
            #expect(await socket.closeCode(timeout: .seconds(10)) == 1008)
            let http = try await live.http(.viewer)
            #expect(try await http.device("short-1")?["reason"] == .string("token_expired"))
        }
    }

    @Test func aReplacedSessionCannotTakeTheDeviceBack() async throws {
        try await LiveHub.run { live in
            let token = try await live.token(.device)
            let old = try RawSocket(port: live.port)
            #expect(await old.handshake(path: "/ws/device", token: token).status == 101)
            old.sendText(#"{"type":"register","id":1,"device":"dup-1"}"#)
            #expect(await old.read(until: "heartbeat_ms"))
            let newer = try await TestSocket.connect(live.wsBase + "/ws/device", token: token)
            _ = try await newer.request(#"{"type":"register","id":1,"device":"dup-1"}"#)
            // During its close grace period the replaced session tries to register again.
            old.sendText(#"{"type":"register","id":2,"device":"dup-1"}"#)
            #expect(await old.readCloseCode() == 4009)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await newer.request(#"{"type":"ping","id":3}"#)["type"] == .string("pong"))
            let device = try await live.http(.viewer).device("dup-1")
            #expect(device?["state"] == .string("online"))
            await newer.close()
        }
    }

    @Test func gracefulShutdownClosesDevicesWith1001() async throws {
        try await LiveHub.run { live in
            let socket = try await TestSocket.connect(live.wsBase + "/ws/device", token: try await live.token(.device))
            _ = try await socket.request(#"{"type":"register","id":1,"device":"bye-1"}"#)
            await live.shutdown()
            let code = await socket.closeCode()
            #expect(code == 1001, "\(String(describing: code))")
            #expect(live.hub.devicesSnapshot.first { $0.device == "bye-1" }?.reason == .shutdown)
        }
    }
}
