import ArgumentParser
import Foundation
import HubClient
import HubCore
import HubMQTT
import HubServer
import Logging
import Synchronization

extension Bench {
    /// `bench mqtt`: QoS 1 telemetry through a broker into a hub running `serve --mqtt`.
    ///
    /// Two phases. Flat out: `--messages` telemetry messages are published as fast as the publishers go; the run
    /// times when a plain subscriber on the same broker has received all of them and when the hub has stored all of
    /// them, and takes the CPU of the hub, of its bridge thread (`mqtt-bridge`) and of the broker. Paced: messages
    /// at `--paced-rate` (default half the hub's flat-out rate) for `--paced-seconds`; latency from publish to the
    /// plain subscriber and to a dashboard subscription (`rate_ms` 0) on the hub.
    struct MQTT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mqtt",
            abstract:
                "Publish QoS 1 telemetry through an MQTT broker: hub vs plain-subscriber rates, bridge CPU, publish-to-dashboard latency."
        )

        @OptionGroup var target: Target
        @Option(help: "The broker the hub bridges (serve --mqtt).")
        var broker: String = "mqtt://127.0.0.1:1883"
        @Option(help: "Topic prefix (serve --mqtt-prefix).")
        var prefix: String = "telemetryhub/"
        @Option(help: "Devices the messages are spread over (bench-mqtt-1 …).")
        var devices: Int = 200
        @Option(help: "Messages published flat out.")
        var messages: Int = 200_000
        @Option(help: "Publishing connections.")
        var publishers: Int = 4
        @Option(help: "Messages per second in the latency phase (0: half the hub's flat-out rate).")
        var pacedRate: Double = 0
        @Option(help: "Seconds of the latency phase.")
        var pacedSeconds: Double = 10
        @Option(help: "The hub's process id, for its CPU and its bridge thread's (default: none measured).")
        var hubPid: Int32?
        @Option(help: "The broker's process id, for its CPU.")
        var brokerPid: Int32?

        func validate() throws {
            guard (1...100_000).contains(devices) else { throw ValidationError("--devices must be 1 to 100000") }
            guard (1...10_000_000).contains(messages) else { throw ValidationError("--messages must be 1 to 10000000") }
            guard (1...64).contains(publishers) else { throw ValidationError("--publishers must be 1 to 64") }
            guard pacedRate >= 0, pacedRate <= 1_000_000 else {
                throw ValidationError("--paced-rate must be 0 to 1000000")
            }
            guard pacedSeconds > 0, pacedSeconds <= 3_600 else {
                throw ValidationError("--paced-seconds must be up to 3600")
            }
            do { _ = try MQTTEndpoint(url: broker) } catch { throw ValidationError("--broker: \(error.message)") }
        }

        func run() async throws {
            let endpoint = try MQTTEndpoint(url: broker)
            let topics = MQTTTopics(prefix: prefix)
            guard try await Self.hubSamples(target.http) != nil else {
                throw CLIError(
                    message: "the hub at \(target.url) has no connected MQTT bridge (run serve --mqtt \(broker))")
            }
            let subscriber = try PlainSubscriber(endpoint: endpoint, filter: "\(topics.prefix)devices/+/telemetry")
            defer { subscriber.client.stop() }
            let fleet = try Publishers(endpoint: endpoint, topics: topics, devices: devices, connections: publishers)
            defer { fleet.stop() }
            guard await subscriber.client.waitConnected(), await fleet.waitConnected() else {
                throw CLIError(message: "cannot connect to the broker at \(broker)")
            }
            try await Task.sleep(for: .milliseconds(300))  // the subscription settles

            // Flat out.
            let hubBefore = try await Self.hubSamples(target.http) ?? 0
            let cpuBefore = CPUFigures(hub: hubPid, broker: brokerPid)
            subscriber.reset()
            let started = ContinuousClock.now
            await fleet.publish(total: messages)
            let published = started.duration(to: .now).inSeconds
            var subscriberDone: Double?
            var hubDone: Double?
            var hubStored = 0
            let deadline = ContinuousClock.now + .seconds(120)
            while (subscriberDone == nil || hubDone == nil) && ContinuousClock.now < deadline {
                if subscriberDone == nil, subscriber.received >= messages {
                    subscriberDone = started.duration(to: .now).inSeconds
                }
                if hubDone == nil {
                    hubStored = (try await Self.hubSamples(target.http) ?? hubBefore) - hubBefore
                    if hubStored >= messages { hubDone = started.duration(to: .now).inSeconds }
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            let cpuAfter = CPUFigures(hub: hubPid, broker: brokerPid)
            let wall = started.duration(to: .now).inSeconds
            let subscriberReceived = subscriber.received
            let hubRate = hubDone.map { Double(messages) / $0 }
            let subscriberRate = subscriberDone.map { Double(messages) / $0 }

            // Paced, for latency.
            let rate = pacedRate > 0 ? pacedRate : max(100, (hubRate ?? 2_000) / 2)
            let latencies = LatencyBook()
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let dashboard = DashboardClient(
                url: target.webSocketURL, token: target.viewerToken,
                subscriptions: [.init(sub: "bench", series: ["bench-mqtt-*/v"], rateMs: 0)], presence: false,
                logger: logger)
            let subscribed = Atomic<Bool>(false)
            let watching = Task {
                await dashboard.run(until: nil) { event in
                    switch event {
                    case .subscribed: subscribed.store(true, ordering: .relaxed)
                    case .batch(_, _, let samples, _):
                        let now = Hub.systemMilliseconds()
                        latencies.dashboard(samples.map { now - $0.1.ts })
                    default: break
                    }
                }
            }
            defer { watching.cancel() }
            let subscribeBy = ContinuousClock.now + .seconds(5)
            while !subscribed.load(ordering: .relaxed), ContinuousClock.now < subscribeBy {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(500))  // the flat-out backlog, if any, drains first
            latencies.start()
            subscriber.latencies = latencies
            let pacedSent = await fleet.publish(rate: rate, seconds: pacedSeconds)
            try await Task.sleep(for: .seconds(2))
            latencies.stop()

            let cpu = cpuAfter.minus(cpuBefore)
            func share(_ seconds: Double?) -> String {
                seconds.map { String(format: "%.0f %% of one core", $0 / wall * 100) } ?? "not measured (pass the pid)"
            }
            func perSecond(_ rate: Double?) -> String { rate.map { "\(Int($0)) msg/s" } ?? "did not finish in 120 s" }
            let (dashboardCount, dashboardLatency) = latencies.summary(\.dashboardLatencies)
            let (subscriberCount, subscriberLatency) = latencies.summary(\.subscriberLatencies)
            say(
                """
                bench mqtt: \(messages) QoS 1 messages (1 sample each) from \(devices) devices over \(publishers) connections, \(broker)
                  flat out (published and acknowledged by the broker in \(String(format: "%.2f", published)) s)
                    plain subscriber : \(perSecond(subscriberRate)) (\(subscriberReceived) received)
                    hub store        : \(perSecond(hubRate)) (\(hubStored) stored)
                    hub CPU          : \(share(cpu.hub))
                    bridge thread    : \(share(cpu.bridge))  (decode, presence, ingest, alerts; the rest of the hub's is storage and dashboards)
                    broker CPU       : \(share(cpu.broker))
                  paced at \(Int(rate)) msg/s for \(pacedSeconds) s (\(pacedSent) sent)
                    publish -> plain subscriber : \(subscriberLatency) (\(subscriberCount) messages)
                    publish -> hub dashboard    : \(dashboardLatency) (\(dashboardCount) samples)
                """)
        }

        /// The samples the hub's bridge has stored (`/healthz` `mqtt.samples`); nil without a connected bridge.
        static func hubSamples(_ client: HubHTTPClient) async throws -> Int? {
            let reply = try await client.get("/healthz")
            guard let health = try? JSONParser.parse(Array(reply.body)), let mqtt = health["mqtt"],
                mqtt["state"] == .string("connected"), let samples = mqtt["samples"]?.numberValue
            else { return nil }
            return Int(samples)
        }
    }
}

/// A plain MQTT subscriber: counts the bench's messages and, while a ``LatencyBook`` is set, their latency.
private final class PlainSubscriber: Sendable {
    let client: MQTTClient

    init(endpoint: MQTTEndpoint, filter: String) throws {
        let state = State()
        client = try MQTTClient(
            options: MQTTClientOptions(
                host: endpoint.host, port: endpoint.port, clientID: "telemetryhub-bench-sub-\(getpid())",
                subscriptions: [.init(filter, qos: 1)])
        ) { event in
            guard case .message(let message) = event, message.topic.contains("/bench-mqtt-") else { return }
            state.received.add(1, ordering: .relaxed)
            if let book = state.book.withLock({ $0 }), let ts = Publishers.timestamp(in: message.payload) {
                book.subscriber(Hub.systemMilliseconds() - ts)
            }
        }
        self.state = state
        try client.start()
    }

    private let state: State

    private final class State: Sendable {
        let received = Atomic<Int>(0)
        let book = Mutex<LatencyBook?>(nil)
    }

    var received: Int { state.received.load(ordering: .relaxed) }

    var latencies: LatencyBook? {
        get { state.book.withLock { $0 } }
        set { state.book.withLock { $0 = newValue } }
    }

    func reset() { state.received.store(0, ordering: .relaxed) }
}

/// The bench's publishing connections; device `i` always publishes on connection `i % connections`, with
/// timestamps that strictly increase per device.
private final class Publishers: Sendable {
    let clients: [MQTTClient]
    let topics: [String]
    private let lastTs: Mutex<[Int64]>

    init(endpoint: MQTTEndpoint, topics: MQTTTopics, devices: Int, connections: Int) throws {
        clients = try (0..<connections).map { index in
            try MQTTClient(
                options: MQTTClientOptions(
                    host: endpoint.host, port: endpoint.port, clientID: "telemetryhub-bench-pub-\(getpid())-\(index)",
                    maxInflight: 1_000)
            ) { _ in }
        }
        self.topics = (1...devices).map { topics.topic("bench-mqtt-\($0)", .telemetry) }
        lastTs = Mutex(Array(repeating: 0, count: devices))
        for client in clients { try client.start() }
    }

    func waitConnected() async -> Bool {
        for client in clients where !(await client.waitConnected()) { return false }
        return true
    }

    /// Publishes `total` messages as fast as the connections take them, and waits until the broker acknowledged
    /// every one.
    func publish(total: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for connection in clients.indices {
                group.addTask {
                    var device = connection
                    var sent = connection
                    while sent < total {
                        self.send(device: device, on: connection, value: Double(sent))
                        device += self.clients.count
                        if device >= self.topics.count { device = connection }
                        sent += self.clients.count
                    }
                    _ = await self.clients[connection].flush(timeout: .seconds(120))
                }
            }
        }
    }

    /// Publishes at `rate` messages a second in all for `seconds`; returns how many.
    func publish(rate: Double, seconds: Double) async -> Int {
        let perConnection = rate / Double(clients.count)
        let counts = await withTaskGroup(of: Int.self) { group in
            for connection in clients.indices {
                group.addTask {
                    let start = ContinuousClock.now
                    var device = connection
                    var sent = 0
                    while true {
                        let elapsed = start.duration(to: .now).inSeconds
                        if elapsed >= seconds { break }
                        let due = Int(elapsed * perConnection) + 1 - sent
                        for _ in 0..<max(0, due) {
                            self.send(device: device, on: connection, value: Double(sent))
                            device += self.clients.count
                            if device >= self.topics.count { device = connection }
                            sent += 1
                        }
                        try? await Task.sleep(for: .milliseconds(2))
                    }
                    return sent
                }
            }
            return await group.reduce(0, +)
        }
        for client in clients { _ = await client.flush(timeout: .seconds(30)) }
        return counts
    }

    private func send(device: Int, on connection: Int, value: Double) {
        guard device < topics.count else { return }
        let now = Hub.systemMilliseconds()
        let ts = lastTs.withLock { last in
            last[device] = max(now, last[device] + 1)
            return last[device]
        }
        var json = JSONWriter(capacity: 64)
        json.raw("{\"ts\":")
        json.int(ts)
        json.raw(",\"metrics\":{\"v\":")
        json.number(value)
        json.raw("}}")
        _ = try? clients[connection].publish(topics[device], payload: json.bytes, qos: 1)
    }

    func stop() { for client in clients { client.stop() } }

    /// The `ts` of a payload this bench wrote (`{"ts":…`).
    static func timestamp(in payload: [UInt8]) -> Int64? {
        let head = Array(#"{"ts":"#.utf8)
        guard payload.count > head.count, payload.starts(with: head) else { return nil }
        var ts: Int64 = 0
        for byte in payload[head.count...] {
            guard byte >= 48, byte <= 57 else { break }
            ts = ts * 10 + Int64(byte - 48)
        }
        return ts
    }
}

/// Latencies (ms) of the paced phase, from the plain subscriber and the dashboard.
private final class LatencyBook: Sendable {
    struct Lists {
        var subscriberLatencies: [Int64] = []
        var dashboardLatencies: [Int64] = []
    }
    private let lists = Mutex(Lists())
    private let measuring = Atomic<Bool>(false)

    func start() { measuring.store(true, ordering: .relaxed) }
    func stop() { measuring.store(false, ordering: .relaxed) }

    func subscriber(_ latency: Int64) {
        guard measuring.load(ordering: .relaxed) else { return }
        lists.withLock { $0.subscriberLatencies.append(latency) }
    }

    func dashboard(_ latencies: [Int64]) {
        guard measuring.load(ordering: .relaxed) else { return }
        lists.withLock { $0.dashboardLatencies += latencies }
    }

    /// How many, and `p50 … p99 … max` in ms.
    func summary(_ list: KeyPath<Lists, [Int64]>) -> (Int, String) {
        let sorted = lists.withLock { $0[keyPath: list] }.sorted()
        guard !sorted.isEmpty else { return (0, "no samples") }
        func percentile(_ p: Double) -> Int64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return (sorted.count, "p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(sorted.last!) ms")
    }
}

/// CPU seconds used so far by the hub, its `mqtt-bridge` thread and the broker (from `/proc`; nil when not given).
private struct CPUFigures {
    var hub: Double?
    var bridge: Double?
    var broker: Double?

    init(hub: Int32?, broker: Int32?) {
        self.hub = hub.flatMap { Self.seconds("/proc/\($0)/stat") }
        self.broker = broker.flatMap { Self.seconds("/proc/\($0)/stat") }
        if let hub, let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(hub)/task") {
            bridge = tasks.compactMap { task -> Double? in
                let comm = (try? String(contentsOfFile: "/proc/\(hub)/task/\(task)/comm", encoding: .utf8)) ?? ""
                return comm.hasPrefix("mqtt-bridge") ? Self.seconds("/proc/\(hub)/task/\(task)/stat") : nil
            }.reduce(nil) { ($0 ?? 0) + $1 }
        }
    }

    private init(hub: Double?, bridge: Double?, broker: Double?) {
        self.hub = hub
        self.bridge = bridge
        self.broker = broker
    }

    func minus(_ earlier: CPUFigures) -> CPUFigures {
        func delta(_ a: Double?, _ b: Double?) -> Double? { a.flatMap { a in b.map { a - $0 } } }
        return CPUFigures(
            hub: delta(hub, earlier.hub), bridge: delta(bridge, earlier.bridge), broker: delta(broker, earlier.broker))
    }

    /// User plus system seconds from a `stat` file.
    static func seconds(_ path: String) -> Double? {
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

extension MQTTClient {
    /// Waits up to 5 s for the connection.
    fileprivate func waitConnected() async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while !isConnected {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
