import Foundation
import HubClient
import HubCore
import HubMQTT
import HubServer
import Logging
import MosquittoHarness
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The MQTT bridge end to end: a real mosquitto broker, a live hub bridging it, devices made with `mosquitto_pub`,
/// MQTT clients and the simulator.
@Suite("MQTT bridge against a real mosquitto broker", .enabled(if: MosquittoBroker.isInstalled))
struct MQTTBridgeLiveTests {
    /// Runs a hub bridging `broker` and waits until the bridge is connected.
    static func withHub(
        _ broker: MosquittoBroker, configure: (inout HubConfiguration) -> Void = { _ in },
        _ body: @Sendable (LiveHub) async throws -> Void
    ) async throws {
        try await LiveHub.run(configure: { configuration in
            configuration.mqtt.url = "mqtt://127.0.0.1:\(broker.port)"
            configuration.mqtt.reconnectMaxSeconds = 2
            configuration.store.ringCapacity = 20_000
            configure(&configuration)
        }) { live in
            guard try await live.eventually(10, { live.bridge?.status.isConnected == true }) else {
                throw TestFailure("the bridge did not connect")
            }
            try await body(live)
        }
    }

    /// Runs `mosquitto_pub` (from Debian's `mosquitto-clients`) with `arguments` against `broker`.
    @discardableResult
    static func mosquittoPub(_ broker: MosquittoBroker, _ arguments: [String], stdin: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
        process.arguments = ["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1"] + arguments
        process.standardInput = stdin ?? FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        if stdin == nil { process.waitUntilExit() }
        return process
    }

    static func state(_ live: LiveHub, _ device: String) async throws -> (String?, String?) {
        let record = try await live.http(.viewer).device(device)
        return (record?["state"]?.stringValue, record?["reason"]?.stringValue)
    }

    /// Samples the hub holds for `device`'s `metric`.
    static func stored(_ live: LiveHub, _ device: String, _ metric: String) -> Int {
        live.hub.read { store, _ in store.ring(SeriesKey(device: device, metric: metric))?.count ?? 0 }
    }

    @Test func aMosquittoPubDeviceShowsUpStreamsAndLeavesByItsLastWill() async throws {
        let broker = try MosquittoBroker()
        try await Self.withHub(broker) { live in
            let dashboard = try await TestSocket.connect(
                "\(live.wsBase)/ws/dashboard", token: try await live.token(.viewer))
            _ = try await dashboard.request(#"{"type":"subscribe_devices","id":1}"#)
            _ = try await dashboard.request(
                #"{"type":"subscribe","id":2,"sub":"s","series":["pub-1/*"],"rate_ms":50}"#)
            // The device: a long-lived mosquitto_pub reading telemetry lines, with a last will.
            let lines = Pipe()
            let device = try Self.mosquittoPub(
                broker,
                [
                    "-i", "pub-1", "-l", "-t", "telemetryhub/devices/pub-1/telemetry",
                    "--will-topic", "telemetryhub/devices/pub-1/status", "--will-payload", "offline",
                    "--will-retain", "--will-qos", "1",
                ], stdin: lines)
            defer { if device.isRunning { kill(device.processIdentifier, SIGKILL) } }
            try Self.mosquittoPub(
                broker,
                ["-r", "-t", "telemetryhub/devices/pub-1/meta", "-m", #"{"kind":"thermostat","rooms":["floor:7"]}"#])
            try Self.mosquittoPub(broker, ["-r", "-t", "telemetryhub/devices/pub-1/status", "-m", "online"])
            let online = try await dashboard.next("device")
            #expect(online["device"] == .string("pub-1"))
            #expect(online["state"] == .string("online"))
            #expect(online["reason"] == .string("status"))
            let base = Hub.systemMilliseconds()
            for step in 0..<3 {
                lines.fileHandleForWriting.write(
                    Data(#"{"ts":\#(base + Int64(step)),"metrics":{"temp":\#(21 + step)}}"#.utf8 + [10]))
            }
            // On the dashboard: the three samples, pushed like any device's.
            var pushed: [Double] = []
            while pushed.count < 3 {
                let batch = try await dashboard.next("batch", sub: "s")
                pushed += DashboardLiveTests.samples(batch).map(\.2)
            }
            #expect(pushed == [21, 22, 23])
            // Through the API: the device, its rooms and transport, and its series.
            let viewer = try await live.http(.viewer)
            let record = try await viewer.device("pub-1")
            #expect(record?["transport"] == .string("mqtt"))
            #expect(record?["kind"] == .string("thermostat"))
            #expect(record?["rooms"] == .array([.string("floor:7")]))
            let series = try await viewer.get("/api/series/pub-1/temp?from=\(base - 1)&to=\(base + 10)")
            guard case .array(let points)? = series.json?["points"] else {
                throw TestFailure("no points: \(series.body)")
            }
            #expect(points.count == 3)
            let rooms = try await viewer.get("/api/rooms/floor:7")
            #expect(rooms.body.contains("pub-1"))
            // Killed: the broker publishes the last will, and the hub says why the device went offline.
            kill(device.processIdentifier, SIGKILL)
            let offline = try await dashboard.next("device")
            #expect(offline["device"] == .string("pub-1"))
            #expect(offline["state"] == .string("offline"))
            #expect(offline["reason"] == .string("last_will"))
            #expect(try await Self.state(live, "pub-1") == ("offline", "last_will"))
            await dashboard.close()
        }
    }

    @Test func aCommandMakesTheRoundTripAndWaitsForAnOfflineDevice() async throws {
        let broker = try MosquittoBroker()
        try await Self.withHub(broker) { live in
            let device = try MQTTTestDevice("mq-cmd-1", broker: broker, rooms: ["lab"])
            #expect(try await live.eventually { try await Self.state(live, "mq-cmd-1").0 == "online" })
            let reply = try await CommandLiveTests.post(live, room: "lab", #"{"name":"apply","args":{"x":1}}"#)
            #expect(reply.status == 200)
            let result = CommandLiveTests.results(reply.json)["mq-cmd-1"]
            #expect(result?["status"] == .string("ok"))
            #expect(result?["result"] == .object(JSONObject([("applied", .object(JSONObject([("x", .number(1))])))])))
            #expect(device.commands.count == 1)
            // It leaves; a command with a TTL waits for it and is delivered when it is back.
            await device.leave()
            #expect(try await live.eventually { try await Self.state(live, "mq-cmd-1") == ("offline", "status") })
            let queued = try await CommandLiveTests.post(
                live, room: "lab", #"{"name":"apply","args":{"x":2},"ttl_ms":30000,"timeout_ms":500}"#)
            #expect(CommandLiveTests.statuses(queued.json) == ["queued": 1])
            let id = queued.json?["command"]?.stringValue ?? ""
            let back = try MQTTTestDevice("mq-cmd-1", broker: broker, rooms: ["lab"])
            let viewer = try await live.http(.viewer)
            #expect(
                try await live.eventually(10) {
                    CommandLiveTests.statuses(try await viewer.get("/api/commands/\(id)").json) == ["ok": 1]
                })
            let metrics = try await viewer.get("/metrics").body
            #expect(metrics.contains("telemetryhub_mqtt_commands_published_total 2"))
            await back.leave()
        }
    }

    @Test func aMixedRoomGetsOneResultList() async throws {
        let broker = try MosquittoBroker()
        try await Self.withHub(broker) { live in
            let mqttDevice = try MQTTTestDevice("mix-mqtt", broker: broker, rooms: ["mixed"])
            let wsDevice = try await CommandLiveTests.device(live, "mix-ws", rooms: ["mixed"])
            #expect(try await live.eventually { try await Self.state(live, "mix-mqtt").0 == "online" })
            let answering = Task {
                let command = try await CommandLiveTests.nextCommand(wsDevice)
                try await wsDevice.send(
                    #"{"type":"command_result","id":"\#(command["id"]?.stringValue ?? "")","ok":true,"result":{"via":"ws"}}"#
                )
            }
            let reply = try await CommandLiveTests.post(live, room: "mixed", #"{"name":"apply","args":{"via":"mqtt"}}"#)
            try await answering.value
            let results = CommandLiveTests.results(reply.json)
            #expect(results.count == 2)
            #expect(results["mix-ws"]?["status"] == .string("ok"))
            #expect(results["mix-mqtt"]?["status"] == .string("ok"))
            #expect(reply.json?["summary"]?["ok"] == .number(2))
            let devices = try await live.http(.viewer).get("/api/devices").json
            guard case .array(let list)? = devices?["devices"] else { throw TestFailure("no devices") }
            let transports = Dictionary(
                uniqueKeysWithValues: list.map { ($0["device"]?.stringValue ?? "", $0["transport"]?.stringValue ?? "") }
            )
            #expect(transports == ["mix-mqtt": "mqtt", "mix-ws": "ws"])
            await wsDevice.close()
            await mqttDevice.leave()
        }
    }

    /// `count` simulated MQTT devices (sim-1 …) publishing QoS 1 at 100 messages a second each for `seconds`.
    static func simulation(_ broker: MosquittoBroker, seconds: Double, count: Int = 1) -> Simulation {
        Simulation(
            options: SimulationOptions(
                profiles: [
                    DeviceProfile(
                        kind: "counter", idPrefix: "sim", rooms: [],
                        metrics: [.init(name: "n", min: 0, max: 100, shape: .sine)])
                ], count: count, rate: 100, jitter: 0, durationSeconds: seconds, rampMs: 0,
                mqtt: MQTTSimulation(endpoint: try! MQTTEndpoint(url: "mqtt://127.0.0.1:\(broker.port)"))),
            logger: Logger(label: "simulation"))
    }

    @Test func theBrokerRestartsWhileADevicePublishesAndNoSampleIsLost() async throws {
        let broker = try MosquittoBroker()
        try await Self.withHub(broker) { live in
            let simulation = Self.simulation(broker, seconds: 5)
            let running = Task { await simulation.run() }
            try await Task.sleep(for: .milliseconds(1_500))
            broker.stop()
            try await Task.sleep(for: .milliseconds(1_000))
            try broker.start()
            await running.value
            let sent = simulation.stats.snapshot.messagesSent
            #expect(sent > 300)
            #expect(simulation.stats.snapshot.errors > 0, "the device should have seen the broker go")
            #expect(try await live.eventually(15) { Self.stored(live, "sim-1", "n") == sent })
            #expect(Self.stored(live, "sim-1", "n") == sent)
            #expect((live.bridge?.status.connects ?? 0) >= 2)
            // mosquitto publishes the devices' last wills when it stops, so the device was offline (`last_will`)
            // until it said `online` again after reconnecting; at the end it said goodbye.
            #expect(try await live.eventually { try await Self.state(live, "sim-1").0 == "offline" })
        }
    }

    @Test func theHubRestartsWhileADevicePublishesAndNoSampleIsLost() async throws {
        let broker = try MosquittoBroker()
        let dataDir = NSTemporaryDirectory() + "telemetryhub-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let simulation = Self.simulation(broker, seconds: 5, count: 3)
        let started = TaskBox()
        try await Self.withHub(broker, configure: { $0.dataDir = dataDir }) { live in
            // Started once the hub's session exists on the broker, so the broker keeps what the hub misses.
            started.task.withLock { $0 = Task { await simulation.run() } }
            try await Task.sleep(for: .milliseconds(1_500))
            #expect(Self.stored(live, "sim-1", "n") > 0)
        }
        // The hub is down for a second while the device goes on; the broker keeps the hub's session.
        try await Task.sleep(for: .milliseconds(1_000))
        try await Self.withHub(broker, configure: { $0.dataDir = dataDir }) { live in
            await started.task.withLock { $0 }?.value
            let sent = simulation.stats.snapshot.messagesSent
            #expect(sent > 900)
            @Sendable func stored() -> Int { (1...3).reduce(0) { $0 + Self.stored(live, "sim-\($1)", "n") } }
            let all = try await live.eventually(15) { stored() == sent }
            #expect(all)
            #expect(stored() == sent)
            #expect((1...3).allSatisfy { Self.stored(live, "sim-\($0)", "n") > 300 })
            #expect(live.bridge?.status.isConnected == true)
        }
    }

    final class TaskBox: Sendable {
        let task = Mutex<Task<Void, Never>?>(nil)
    }

    @Test func malformedMessagesAreCountedAndIgnored() async throws {
        let broker = try MosquittoBroker()
        try await Self.withHub(broker) { live in
            let device = try MQTTTestDevice("mal-1", broker: broker)
            #expect(try await live.eventually { try await Self.state(live, "mal-1").0 == "online" })
            let bad: [(String, String)] = [
                ("telemetry", "not json"),
                ("telemetry", #"{"metrics":"nope"}"#),
                ("telemetry", #"{"device":"someone-else","metrics":{"v":1}}"#),
                ("telemetry", #"{"type":"register","metrics":{"v":1}}"#),
                ("status", "maybe"),
                ("meta", #"{"kind":7}"#),
                ("command_results", #"{"ok":true}"#),
            ]
            for (channel, payload) in bad {
                try device.client.publish("telemetryhub/devices/mal-1/\(channel)", payload: Array(payload.utf8))
            }
            try device.client.publish("telemetryhub/devices/not a name!/telemetry", payload: Array("{}".utf8))
            try device.send(#"{"metrics":{"v":42}}"#)
            #expect(try await live.eventually { Self.stored(live, "mal-1", "v") == 1 })
            #expect(try await live.eventually { live.bridge?.status.malformedCount == bad.count + 1 })
            let viewer = try await live.http(.viewer)
            let health = try await viewer.get("/healthz").json
            #expect(health?["status"] == .string("ok"))
            #expect(health?["mqtt"]?["malformed"] == .number(Double(bad.count + 1)))
            #expect(health?["mqtt"]?["state"] == .string("connected"))
            #expect(
                try await viewer.get("/metrics").body.contains("telemetryhub_mqtt_malformed_total \(bad.count + 1)"))
            // Still online, still stored.
            #expect(try await Self.state(live, "mal-1").0 == "online")
            await device.leave()
        }
    }

    @Test func mqttTelemetryFiresAlertRules() async throws {
        let broker = try MosquittoBroker()
        try await Self.withHub(broker) { live in
            let rule = #"{"id":"mq-hot","match":"mq-hot-*/temp","when":{"op":">","value":30},"severity":"warning"}"#
            #expect(try await live.http(.admin).send("POST", "/api/rules", body: rule).status == 200)
            let device = try MQTTTestDevice("mq-hot-1", broker: broker)
            try device.send(#"{"metrics":{"temp":35}}"#)
            let viewer = try await live.http(.viewer)
            let fired = try await live.eventually {
                guard case .array(let alerts)? = try await viewer.get("/api/alerts?state=firing").json?["alerts"]
                else { return false }
                return alerts.contains { $0["series"] == .string("mq-hot-1/temp") }
            }
            #expect(fired)
            await device.leave()
        }
    }

    @Test func aSilentDeviceGoesOfflineAsInactiveAndReturnsWithData() async throws {
        let broker = try MosquittoBroker()
        try await Self.withHub(broker, configure: { $0.mqtt.inactivityMs = 1_000 }) { live in
            try Self.mosquittoPub(
                broker, ["-t", "telemetryhub/devices/quiet-1/telemetry", "-m", #"{"metrics":{"v":1}}"#])
            #expect(try await live.eventually { try await Self.state(live, "quiet-1") == ("online", "data") })
            #expect(try await live.eventually { try await Self.state(live, "quiet-1") == ("offline", "inactive") })
            try Self.mosquittoPub(
                broker, ["-t", "telemetryhub/devices/quiet-1/telemetry", "-m", #"{"metrics":{"v":2}}"#])
            #expect(try await live.eventually { try await Self.state(live, "quiet-1") == ("online", "data") })
        }
    }

    @Test func theBridgeLogsInWithAPasswordFileAndReportsARefusal() async throws {
        let broker = try MosquittoBroker(config: "test-auth.conf")
        let scratch = NSTemporaryDirectory() + "telemetryhub-mqtt-pw-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try "hub-secret\n".write(toFile: scratch + "/good", atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: scratch + "/bad", atomically: true, encoding: .utf8)
        try await Self.withHub(
            broker,
            configure: {
                $0.mqtt.username = "telemetryhub"
                $0.mqtt.passwordFile = scratch + "/good"
            }
        ) { live in
            let health = try await live.http(.viewer).get("/healthz").json
            #expect(health?["mqtt"]?["state"] == .string("connected"))
            // Without a token: the status, not the broker or the bridge's client id.
            let anonymous = try await live.http(nil).get("/healthz")
            #expect(anonymous.json?["mqtt"] == nil)
            #expect(!anonymous.body.contains("telemetryhub-"))
        }
        try await LiveHub.run(configure: {
            $0.mqtt.url = "mqtt://127.0.0.1:\(broker.port)"
            $0.mqtt.username = "telemetryhub"
            $0.mqtt.passwordFile = scratch + "/bad"
        }) { live in
            let viewer = try await live.http(.viewer)
            let refused = try await live.eventually(10) {
                let health = try await viewer.get("/healthz").json
                let error = health?["mqtt"]?["last_error"]?.stringValue ?? ""
                return health?["status"] == .string("degraded") && error.contains("not authorised")
            }
            #expect(refused)
        }
    }
}
