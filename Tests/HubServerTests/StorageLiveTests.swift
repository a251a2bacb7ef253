import Foundation
import HubCore
import HubServer
import Testing

@Suite("Durable store against a live hub")
struct StorageLiveTests {
    static func points(_ reply: HTTPTester.Reply) -> [[Double]] {
        guard case .array(let items)? = reply.json?["points"] else { return [] }
        return items.map { item in
            guard case .array(let fields) = item else { return [] }
            return fields.compactMap(\.numberValue)
        }
    }

    static func scratchDirectory() -> String {
        NSTemporaryDirectory() + "telemetryhub-storage-test-\(UUID().uuidString)"
    }

    @Test func acknowledgedTelemetryIsInTheArchive() async throws {
        try await LiveHub.run(configure: { $0.storage.flushIntervalMs = 50 }) { live in
            let socket = try await TestSocket.connect(
                "\(live.wsBase)/ws/device", token: try await live.token(.device, device: "ack-*"))
            _ = try await socket.request(#"{"type":"register","id":1,"device":"ack-1"}"#)
            let ack = try await socket.request(
                #"{"type":"telemetry","id":2,"ts":1700000000000,"metrics":{"temp":21.5,"hum":40}}"#)
            #expect(ack["type"] == .string("ack"))
            #expect(ack["accepted"] == .number(2))
            // Acknowledged means committed: the archive has the samples (staged or sealed).
            let startup = try live.hub.archive.startup(ringCapacity: 10)
            let stored = Dictionary(uniqueKeysWithValues: startup.newest.map { ($0.0.description, $0.1) })
            #expect(stored["ack-1/temp"] == [Sample(ts: 1_700_000_000_000, value: 21.5)])
            #expect(stored["ack-1/hum"] == [Sample(ts: 1_700_000_000_000, value: 40)])
            #expect(startup.devices.map(\.device) == ["ack-1"])
            await socket.close()
        }
    }

    @Test func postAnswersAfterCommit() async throws {
        try await LiveHub.run(configure: { $0.storage.flushIntervalMs = 200 }) { live in
            let http = try await live.http(.device)
            let reply = try await http.send(
                "POST", "/api/telemetry?sync=1", body: #"{"device":"post-1","ts":1700000000000,"metrics":{"v":1.25}}"#)
            #expect(reply.status == 200)
            #expect(reply.json?["durable"] == .bool(true))
            let stored = try live.hub.archive.startup(ringCapacity: 10).newest
            #expect(stored.first?.1 == [Sample(ts: 1_700_000_000_000, value: 1.25)])
            let plain = try await http.send(
                "POST", "/api/telemetry", body: #"{"device":"post-1","ts":1700000001000,"metrics":{"v":2}}"#)
            // Without sync=1 too: 202 once committed, as WebSocket acks.
            #expect(plain.status == 202)
            #expect(plain.json?["durable"] == .bool(true))
            let both = try live.hub.archive.startup(ringCapacity: 10).newest
            #expect(both.first?.1.count == 2)
        }
    }

    @Test func queriesMergeRingAndDiskAndRollUp() async throws {
        try await LiveHub.run(configure: { configuration in
            configuration.store.ringCapacity = 50
            configuration.storage.chunkMaxSamples = 20
            configuration.storage.flushIntervalMs = 20
        }) { live in
            let http = try await live.http(.device)
            let base: Int64 = 1_700_000_000_000
            // 300 samples 1 s apart (5 minutes): the ring keeps the newest 50, the disk all of them.
            for batch in 0..<3 {
                let samples = (0..<100).map { index in
                    let n = batch * 100 + index
                    return #"{"metric":"v","ts":\#(base + Int64(n) * 1_000),"value":\#(Double(n) / 10)}"#
                }
                let reply = try await http.send(
                    "POST", "/api/telemetry?sync=1",
                    body: #"{"device":"merge-1","samples":[\#(samples.joined(separator: ","))]}"#)
                #expect(reply.status == 200)
            }
            let viewer = try await live.http(.viewer)
            let all = Self.points(try await viewer.get("/api/series/merge-1/v?from=0"))
            #expect(all.count == 300)
            #expect(all.map { Int64($0[0]) } == (0..<300).map { base + Int64($0) * 1_000 })
            #expect(all.last?[1] == 29.9)
            let limited = Self.points(try await viewer.get("/api/series/merge-1/v?from=0&limit=120"))
            #expect(limited.count == 120)
            #expect(limited.first.map { Int64($0[0]) } == base + 180_000)
            let window = Self.points(
                try await viewer.get("/api/series/merge-1/v?from=\(base + 10_000)&to=\(base + 19_000)"))
            #expect(window.map { $0[1] } == (10..<20).map { Double($0) / 10 })
            // One-minute rollups, [ts,min,max,avg,count], equal a brute-force aggregate of the raw samples.
            let minutes = Self.points(try await viewer.get("/api/series/merge-1/v?from=0&step=60000"))
            let expected = Rollup.buckets(
                (0..<300).map { Sample(ts: base + Int64($0) * 1_000, value: Double($0) / 10) }, stepMs: 60_000)
            #expect(minutes.count == expected.count)
            for (point, want) in zip(minutes, expected) {
                #expect(Int64(point[0]) == want.ts)
                #expect(point[1] == want.min)
                #expect(point[2] == want.max)
                #expect(abs(point[3] - want.avg) < 1e-9)
                #expect(Int(point[4]) == want.count)
            }
            let hours = Self.points(try await viewer.get("/api/series/merge-1/v?from=0&step=3600000"))
            #expect(hours.map { Int($0[4]) }.reduce(0, +) == 300)
        }
    }

    @Test func badRangesAreClearErrors() async throws {
        try await LiveHub.run { live in
            let viewer = try await live.http(.viewer)
            for (query, needle) in [
                ("from=10&to=5", "'from'"), ("step=0", "'step'"), ("step=-5", "'step'"), ("limit=0", "'limit'"),
                ("from=abc", "'from'"), ("from=0&to=100000000000&step=1", "10,000,000"),
            ] {
                let reply = try await viewer.get("/api/series/x/y?\(query)")
                #expect(reply.status == 400, "\(query)")
                #expect(reply.json?["error"]?["code"] == .string("invalid_message"), "\(query)")
                #expect(reply.body.contains(needle), "\(query): \(reply.body)")
            }
            #expect(try await viewer.get("/api/series/nobody/nothing").status == 404)
        }
    }

    @Test func restartLoadsRegistryAndWarmRings() async throws {
        let directory = Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await LiveHub.run(configure: { $0.dataDir = directory }) { live in
            let socket = try await TestSocket.connect(
                "\(live.wsBase)/ws/device", token: try await live.token(.device, device: "warm-*"))
            _ = try await socket.request(
                #"{"type":"register","id":1,"device":"warm-1","kind":"thermostat","rooms":["floor:1"],"meta":{"fw":"1.0"}}"#
            )
            let ack = try await socket.request(
                #"{"type":"telemetry","id":2,"samples":[{"metric":"temp","ts":1700000000000,"value":20.5},{"metric":"temp","ts":1700000001000,"value":20.75}]}"#
            )
            #expect(ack["accepted"] == .number(2))
            await socket.close()
        }
        try await LiveHub.run(configure: { $0.dataDir = directory }) { live in
            let viewer = try await live.http(.viewer)
            let device = try await viewer.device("warm-1")
            #expect(device?["kind"] == .string("thermostat"))
            #expect(device?["rooms"] == .array([.string("floor:1")]))
            #expect(device?["meta"]?["fw"] == .string("1.0"))
            #expect(device?["state"] == .string("offline"))
            #expect(device?["metrics"]?["temp"] == .array([.number(1_700_000_001_000), .number(20.75)]))
            // The ring is warm: the hub answers from memory right after start.
            let ring: [Sample]? = live.hub.read { store, _ in
                store.ring(SeriesKey(device: "warm-1", metric: "temp"))?.all
            }
            #expect(ring == [Sample(ts: 1_700_000_000_000, value: 20.5), Sample(ts: 1_700_000_001_000, value: 20.75)])
        }
    }

    @Test func memoryStorageKeepsNothingAcrossRestarts() async throws {
        let directory = Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configure: @Sendable (inout HubConfiguration) -> Void = {
            $0.dataDir = directory
            $0.storage.engine = .memory
        }
        try await LiveHub.run(configure: configure) { live in
            let reply = try await live.http(.device).send(
                "POST", "/api/telemetry?sync=1", body: #"{"device":"mem-1","metrics":{"v":1}}"#)
            #expect(reply.status == 200)
            #expect(try await live.http(.viewer).get("/healthz").json?["storage"] == .string("memory"))
        }
        try await LiveHub.run(configure: configure) { live in
            let reply = try await live.http(.viewer).get("/api/devices/mem-1")
            #expect(reply.status == 404)
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/telemetry.db"))
    }
}
