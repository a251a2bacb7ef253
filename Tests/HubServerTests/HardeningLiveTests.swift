import Foundation
import HubCore
import HubSQLite
import HubServer
import Synchronization
import Testing

/// Each attack of the hardening review, reproduced against a live hub: it gets a clear error or close code, and
/// the hub stays up.
@Suite("Hardening: no request, frame or payload can crash, starve or bloat the hub")
struct HardeningLiveTests {
    @Test func extremeHistoryQueriesAnswer400AndTheHubStaysUp() async throws {
        try await LiveHub.run { live in
            let http = try await live.http(.viewer)
            for query in [
                "from=-9223372036854775807&to=9223372036854775807&step=3", "from=-9e18&to=9e18&step=1000",
                "from=0&to=9223372036854775807&step=1", "step=-9223372036854775808", "limit=99999999999",
            ] {
                let reply = try await http.get("/api/series/x/y?\(query)")
                #expect(reply.status == 400, "\(query)")
                #expect(reply.json?["error"]?["code"] == .string("invalid_message"), "\(query)")
            }
            // Clamped, not refused: from before 0 means from the start (the GET that used to kill the hub).
            #expect(try await http.get("/api/series/x/y?from=-9223372036854775807&step=3").status == 404)
            #expect(try await http.get("/api/series/x/y?from=-9223372036854775807&to=1000&step=3").status == 404)
            #expect(try await http.get("/healthz").status == 200)
        }
    }

    @Test func aSignedTokenWithAHugeExpiryIsAccepted() async throws {
        try await LiveHub.run { live in
            let token = try await live.authority.issue(role: .viewer, subject: "forever", ttl: 1e300)
            #expect(try await HTTPTester(base: live.httpBase, token: token).get("/api/devices").status == 200)
        }
    }

    @Test func aFragmentFloodIsClosedWith1009() async throws {
        try await LiveHub.run { live in
            for path in ["/ws/device", "/ws/dashboard"] {
                let raw = try RawSocket(port: live.port)
                let role: Role = path == "/ws/device" ? .device : .viewer
                #expect(await raw.handshake(path: path, token: try await live.token(role)).status == 101)
                var flood = RawSocket.frame(opcode: 0x1, payload: Array("{".utf8), fin: false)
                for _ in 0..<1_000 { flood += RawSocket.frame(opcode: 0x0, payload: [0x20], fin: false) }
                raw.write(flood)
                #expect(await raw.readCloseCode() == 1009, "\(path)")
            }
            #expect(try await live.http(nil).get("/healthz").status == 200)
            let metrics = try await live.http(.viewer).get("/metrics").body
            #expect(metrics.contains("telemetryhub_websocket_frames_refused_total 2"))
        }
    }

    /// Frames sent with the upgrade request, before the hub answered it (no real client does), are judged too.
    @Test func aFloodSentWithTheUpgradeRequestIsCut() async throws {
        try await LiveHub.run { live in
            let raw = try RawSocket(port: live.port)
            let token = try await live.token(.device)
            var bytes = Array(
                "GET /ws/device HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(token)\r\n\r\n"
                    .utf8)
            bytes += RawSocket.frame(opcode: 0x1, payload: Array("{".utf8), fin: false)
            for _ in 0..<1_000 { bytes += RawSocket.frame(opcode: 0x0, payload: [0x20], fin: false) }
            raw.write(bytes)
            var received: [UInt8] = []
            while true {
                let chunk = await raw.read()
                if chunk.isEmpty { break }
                received += chunk
            }
            #expect(!String(decoding: received, as: UTF8.self).contains("101 Switching"))
            #expect(try await live.http(nil).get("/healthz").status == 200)
        }
    }

    /// Empty lines before the request line (which HTTP parsers skip) used to end an empty "head" for the guard.
    @Test func emptyLinesBeforeTheUpgradeDoNotBypassTheFrameGuard() async throws {
        try await LiveHub.run { live in
            let raw = try RawSocket(port: live.port)
            let token = try await live.token(.device)
            raw.write(Array("\r\n\r\n".utf8))
            #expect(await raw.handshake(path: "/ws/device", token: token).status == 101)
            let payload = Array(#"{"type":"ping"}"#.utf8)
            raw.write([0x81, UInt8(payload.count)] + payload)
            #expect(await raw.readCloseCode() == 1002)
        }
    }

    @Test func plainRequestsMentioningWebSocketAreServed() async throws {
        try await LiveHub.run(configure: { $0.auth.enabled = false }) { live in
            let reply = try await HTTPTester(base: live.httpBase, token: nil).send(
                "POST", "/api/telemetry", body: #"{"device":"websocket-gw","metrics":{"t":1}}"#,
                headers: ["User-Agent": "my-websocket-gateway/1.0"])
            #expect(reply.status == 202)
        }
    }

    @Test func aTricklingBodyIsClosedAfterTheRequestTimeout() async throws {
        try await LiveHub.run(configure: { $0.limits.requestTimeoutMs = 500 }) { live in
            let raw = try RawSocket(port: live.port)
            raw.write(Array("POST /api/telemetry HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{".utf8))
            let started = ContinuousClock.now
            var received: [UInt8] = []
            while started.duration(to: .now) < .seconds(4) {
                raw.write([0x20])
                let chunk = await raw.read(max: 4_096)
                if chunk.isEmpty { break }
                received += chunk
            }
            // Answered 401 at once, then closed once the body had not arrived within 500 ms.
            #expect(String(decoding: received, as: UTF8.self).contains("401"))
            #expect(started.duration(to: .now) < .seconds(4))
        }
    }

    @Test func anUnmaskedFrameIsClosedWith1002() async throws {
        try await LiveHub.run { live in
            let raw = try RawSocket(port: live.port)
            #expect(await raw.handshake(path: "/ws/device", token: try await live.token(.device)).status == 101)
            let payload = Array(#"{"type":"ping"}"#.utf8)
            raw.write([0x81, UInt8(payload.count)] + payload)
            #expect(await raw.readCloseCode() == 1002)
        }
    }

    @Test func aHalfSentRequestIsClosedAfterTheHeaderTimeout() async throws {
        try await LiveHub.run(configure: { $0.limits.headerTimeoutMs = 300 }) { live in
            let raw = try RawSocket(port: live.port)
            raw.write(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
            let started = ContinuousClock.now
            #expect(await raw.read().isEmpty)  // closed by the hub
            #expect(started.duration(to: .now) < .seconds(4))
            // A complete request on a new connection is answered.
            #expect(try await live.http(nil).get("/healthz").status == 200)
        }
    }

    @Test func pendingConnectionsFromOneAddressAreCapped() async throws {
        try await LiveHub.run(configure: { $0.limits.maxPendingConnectionsPerAddress = 3 }) { live in
            // From 127.0.0.2: 127.0.0.1 (local clients, a reverse proxy) has only the total cap.
            let held = try (0..<3).map { _ in try RawSocket(port: live.port, source: "127.0.0.2") }
            for socket in held { socket.write(Array("GET / HTTP/1.1\r\n".utf8)) }
            try await Task.sleep(for: .milliseconds(200))
            let refused = try RawSocket(port: live.port, source: "127.0.0.2")
            refused.write(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            #expect(await refused.read().isEmpty)
            // Another address is not held up.
            #expect(try await live.http(nil).get("/healthz").status == 200)
            for socket in held { socket.close() }
            // An authenticated WebSocket session no longer counts as pending.
            var sessions: [RawSocket] = []
            for _ in 0..<4 {
                let session = try RawSocket(port: live.port, source: "127.0.0.2")
                #expect(await session.handshake(path: "/ws/device", token: try await live.token(.device)).status == 101)
                sessions.append(session)
            }
            #expect(try await live.http(nil).get("/healthz").status == 200)
        }
    }

    @Test func healthzShowsNoDetailsWithoutAToken() async throws {
        try await LiveHub.run { live in
            let anonymous = try await live.http(nil).get("/healthz").json
            #expect(anonymous?["status"] == .string("ok"))
            #expect(anonymous?["version"] != nil)
            #expect(anonymous?["devices"] == nil)
            #expect(anonymous?["storage"] == nil)
            let viewer = try await live.http(.viewer).get("/healthz").json
            #expect(viewer?["devices"] != nil)
        }
    }

    @Test func crossSitePostsAreRefused() async throws {
        try await LiveHub.run(configure: { $0.auth.enabled = false }) { live in
            let http = try await live.http(nil)
            let body = #"{"device":"d1","metrics":{"t":1}}"#
            // What a page on another site can send without asking: a text/plain POST, with its Origin.
            for origin in ["http://evil.example", "null"] {
                let foreign = try await http.send(
                    "POST", "/api/rules", body: #"{"id":"r","match":"*/t","when":{"op":">","value":1}}"#,
                    headers: ["Origin": origin, "Content-Type": "text/plain"])
                #expect(foreign.status == 403, "\(origin)")
                #expect(foreign.json?["error"]?["code"] == .string("forbidden"))
            }
            #expect(try await http.get("/api/rules").json?["rules"] == .array([]))
            // Scripts send no Origin (and curl -d says form-urlencoded): accepted; so is the hub's own page.
            let script = try await http.send(
                "POST", "/api/telemetry", body: body,
                headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(script.status == 202)
            let samePage = try await http.send(
                "POST", "/api/telemetry", body: body, headers: ["Origin": "http://127.0.0.1:\(live.port)"])
            #expect(samePage.status == 202)
            // DNS rebinding: a page on evil.example rebound to this machine sends its own name as Host and Origin.
            let rebound = try await http.send(
                "POST", "/api/telemetry", body: body,
                headers: ["Host": "evil.example:\(live.port)", "Origin": "http://evil.example:\(live.port)"])
            #expect(rebound.status == 403)
            #expect(try await http.send("GET", "/api/devices", headers: ["Host": "evil.example"]).status == 403)
            let accepted = try await http.send("POST", "/api/telemetry", body: body)
            #expect(accepted.status == 202)
            #expect(accepted.json?["durable"] == .bool(true))
        }
    }

    @Test func oneTokenCannotFillTheHubWithDevices() async throws {
        try await LiveHub.run(configure: { $0.limits.maxDevicesPerToken = 2 }) { live in
            let junk = try await live.authority.issue(
                role: .device, subject: "junk", devicePattern: "junk-*", ttl: 3_600)
            let http = HTTPTester(base: live.httpBase, token: junk)
            for device in ["junk-1", "junk-2"] {
                let reply = try await http.send(
                    "POST", "/api/telemetry", body: #"{"device":"\#(device)","metrics":{"t":1}}"#)
                #expect(reply.status == 202)
            }
            let third = try await http.send("POST", "/api/telemetry", body: #"{"device":"junk-3","metrics":{"t":1}}"#)
            #expect(third.status == 413)
            #expect(third.json?["error"]?["code"] == .string("too_large"))
            // An existing device goes on, and another token is not locked out.
            #expect(
                try await http.send("POST", "/api/telemetry", body: #"{"device":"junk-1","metrics":{"t":2}}"#).status
                    == 202)
            let other = try await live.authority.issue(role: .device, subject: "good", ttl: 3_600)
            #expect(
                try await HTTPTester(base: live.httpBase, token: other).send(
                    "POST", "/api/telemetry", body: #"{"device":"good-1","metrics":{"t":1}}"#
                ).status == 202)
        }
    }

    @Test func quotasSurviveARestart() async throws {
        let dataDir = NSTemporaryDirectory() + "telemetryhub-quota-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let configure: (inout HubConfiguration) -> Void = {
            $0.dataDir = dataDir
            $0.limits.maxDevicesPerToken = 2
        }
        let body = #"{"device":"DEVICE","metrics":{"t":1}}"#
        try await LiveHub.run(configure: configure) { live in
            let junk = try await live.authority.issue(
                role: .device, subject: "junk", devicePattern: "junk-*", ttl: 3_600)
            for device in ["junk-1", "junk-2"] {
                let reply = try await HTTPTester(base: live.httpBase, token: junk).send(
                    "POST", "/api/telemetry", body: body.replacingOccurrences(of: "DEVICE", with: device))
                #expect(reply.status == 202)
            }
        }
        try await LiveHub.run(configure: configure) { live in
            let junk = try await live.authority.issue(
                role: .device, subject: "junk", devicePattern: "junk-*", ttl: 3_600)
            let http = HTTPTester(base: live.httpBase, token: junk)
            let third = try await http.send(
                "POST", "/api/telemetry", body: body.replacingOccurrences(of: "DEVICE", with: "junk-3"))
            #expect(third.status == 413)
            let known = try await http.send(
                "POST", "/api/telemetry", body: body.replacingOccurrences(of: "DEVICE", with: "junk-1"))
            #expect(known.status == 202)
        }
    }

    @Test func offlineDevicesExpire() async throws {
        try await LiveHub.run(configure: {
            $0.storage.chunkMaxAgeMs = 1_000
            $0.limits.deviceExpiryMs = 2_000
        }) { live in
            let device = try await live.authority.issue(role: .device, subject: "d", ttl: 3_600)
            let reply = try await HTTPTester(base: live.httpBase, token: device).send(
                "POST", "/api/telemetry", body: #"{"device":"gone-1","metrics":{"t":1}}"#)
            #expect(reply.status == 202)
            let viewer = try await live.http(.viewer)
            #expect(try await viewer.device("gone-1") != nil)
            #expect(try await live.eventually(10) { try await viewer.device("gone-1") == nil })
            #expect(try await viewer.get("/api/series?match=gone-1/*").json?["series"] == .array([]))
            // Its samples stay on disk until retention (sealed by the flush that deletes its record).
            #expect(
                try await live.eventually {
                    guard case .array(let points)? = try await viewer.get("/api/series/gone-1/t").json?["points"]
                    else { return false }
                    return points.count == 1
                })
            let metrics = try await viewer.get("/metrics").body
            #expect(metrics.contains("telemetryhub_devices_expired_total 1"))
        }
    }

    @Test func storageFailuresDegradeHealthAndBoundTheBacklog() async throws {
        let archive = FailingArchive()
        try await LiveHub.run(
            configure: {
                $0.storage.engine = .memory
                $0.storage.flushMaxSamples = 10
                $0.storage.maxPendingSamples = 50
            }, archive: archive
        ) { live in
            archive.failing.store(true, ordering: .relaxed)
            for index in 0..<60 {
                _ = try? live.hub.ingest(
                    device: "d", samples: [MetricSample(metric: "t", ts: Int64(1_000 + index), value: 1)],
                    transport: "test")
            }
            let viewer = try await live.http(.viewer)
            #expect(
                try await live.eventually {
                    try await viewer.get("/healthz").json?["status"] == .string("degraded")
                })
            guard case .array(let reasons)? = try await live.http(nil).get("/healthz").json?["reasons"] else {
                throw TestFailure("no reasons")
            }
            #expect(reasons.contains { $0.stringValue?.contains("storage") == true })
            let device = try await live.token(.device)
            let refused = try await HTTPTester(base: live.httpBase, token: device).send(
                "POST", "/api/telemetry", body: #"{"device":"d","metrics":{"t":2}}"#)
            #expect(refused.status == 503)
            #expect(refused.json?["error"]?["code"] == .string("rate_limited"))
            archive.failing.store(false, ordering: .relaxed)
            #expect(try await live.eventually { try await viewer.get("/healthz").json?["status"] == .string("ok") })
        }
    }

    @Test func aGracefulStopLeavesNoWriteAheadLogAndPrivateFiles() async throws {
        let dataDir = NSTemporaryDirectory() + "telemetryhub-wal-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await LiveHub.run(configure: { $0.dataDir = dataDir }) { live in
            try DataDirectory.prepare(dataDir)
            let device = try await live.token(.device)
            let reply = try await HTTPTester(base: live.httpBase, token: device).send(
                "POST", "/api/telemetry", body: #"{"device":"d","metrics":{"t":1}}"#)
            #expect(reply.status == 202)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dataDir)
        #expect(files.contains("telemetry.db"))
        #expect(!files.contains { $0.hasSuffix("-wal") }, "\(files)")
        var info = stat()
        #expect(stat(dataDir, &info) == 0 && info.st_mode & 0o077 == 0)
        #expect(stat(dataDir + "/telemetry.db", &info) == 0 && info.st_mode & 0o077 == 0)
    }

    @Test func aShortSecretIsRefused() throws {
        var configuration = HubConfiguration()
        configuration.auth.secret = "a"
        #expect(throws: ConfigurationError.self) { try TokenAuthority.secret(configuration: configuration) }
        let dataDir = NSTemporaryDirectory() + "telemetryhub-secret-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        try "short\n".write(toFile: dataDir + "/secret", atomically: true, encoding: .utf8)
        configuration = HubConfiguration()
        configuration.dataDir = dataDir
        #expect(throws: ConfigurationError.self) { try TokenAuthority.secret(configuration: configuration) }
        // A new one is created 0600 from the start.
        try FileManager.default.removeItem(atPath: dataDir + "/secret")
        let secret = try TokenAuthority.secret(configuration: configuration)
        #expect(secret.count == 64)
        var info = stat()
        #expect(stat(dataDir + "/secret", &info) == 0 && info.st_mode & 0o777 == 0o600)
    }
}

/// An in-memory archive whose writes fail while `failing` is set (a full disk).
final class FailingArchive: SampleArchive {
    let inner = MemoryArchive()
    let failing = Atomic<Bool>(false)

    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "database or disk is full" }
    }

    var location: String { "failing" }
    func startup(ringCapacity: Int) throws -> ArchiveStartup { try inner.startup(ringCapacity: ringCapacity) }
    func recover() throws -> ArchiveRecovery { try inner.recover() }
    func apply(_ write: ArchiveWrite) throws {
        if failing.load(ordering: .relaxed) { throw DiskFull() }
        try inner.apply(write)
    }
    func sealedSamples(seriesID: Int64, from: Int64, to: Int64) throws -> [Sample] {
        try inner.sealedSamples(seriesID: seriesID, from: from, to: to)
    }
    func sealedSamples(_ key: SeriesKey, from: Int64, to: Int64) throws -> [Sample] {
        try inner.sealedSamples(key, from: from, to: to)
    }
    func rollups(_ key: SeriesKey, tier: RollupTier, from: Int64, to: Int64) throws -> (
        points: [RollupPoint], rolledUntil: Int64
    )? {
        try inner.rollups(key, tier: tier, from: from, to: to)
    }
    func enforceRetention(_ policy: RetentionPolicy, now: Int64) throws -> RetentionReport {
        try inner.enforceRetention(policy, now: now)
    }
    func stats() throws -> ArchiveStats { try inner.stats() }
    func compact() throws {}
}
