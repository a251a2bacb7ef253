import HubCore
import HubMQTT
import Logging

/// How simulated devices reach an MQTT broker (`simulate --via mqtt`).
public struct MQTTSimulation: Sendable, Equatable {
    /// The broker.
    public var endpoint: MQTTEndpoint
    public var username: String?
    public var password: String?
    /// TLS: CA certificates to trust (with `mqtts://` and none given, the system's).
    public var caFile: String?
    /// The topic prefix (default `telemetryhub/`).
    public var prefix: String
    /// Seconds between keepalive pings (the broker publishes the last will after 1.5 of these without a word).
    public var keepaliveSeconds: Int

    /// Creates the settings; everything but the broker has a default.
    public init(
        endpoint: MQTTEndpoint, username: String? = nil, password: String? = nil, caFile: String? = nil,
        prefix: String = "telemetryhub/", keepaliveSeconds: Int = 10
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.caFile = caFile
        self.prefix = prefix
        self.keepaliveSeconds = keepaliveSeconds
    }
}

/// One simulated device speaking the MQTT side of the protocol through a real broker: its own connection (client id
/// `telemetryhub-sim-{id}`, persistent session) with a last will that publishes a retained `offline` on its status
/// topic; a retained `meta` and `online` status on every connection; telemetry at its rate (QoS 1, kept by
/// libmosquitto and sent after a reconnect while the broker is away); and answers to the commands it receives, as
/// its profile says. libmosquitto reconnects by itself with back-off. At the end it says `{"state":"offline"}` and
/// disconnects cleanly.
struct SimulatedMQTTDevice: Sendable {
    let options: SimulationOptions
    let mqtt: MQTTSimulation
    let index: Int
    let stats: SimulationStats
    let logger: Logger

    private enum End: Sendable {
        case finished
        case failed
        case reboot(offlineMs: Int)
    }

    func run(until deadline: ContinuousClock.Instant?) async {
        let model = DeviceModel(options: options, index: index)
        var random = model.random
        var attempt = 0
        while !Task.isCancelled, deadline.map({ ContinuousClock.now < $0 }) ?? true {
            switch await session(model: model, deadline: deadline, seed: random.next()) {
            case .finished:
                return
            case .reboot(let offlineMs):
                try? await Task.sleep(for: .milliseconds(offlineMs))
            case .failed:
                let delay = options.backoff.delayMs(attempt: attempt, using: &random)
                attempt += 1
                try? await Task.sleep(for: .milliseconds(Int(delay)))
            }
        }
    }

    private func session(model: DeviceModel, deadline: ContinuousClock.Instant?, seed: UInt64) async -> End {
        let topics = MQTTTopics(prefix: mqtt.prefix)
        let device = model.withLock { $0.id }
        var tls: MQTTClientOptions.TLS?
        if mqtt.endpoint.tls || mqtt.caFile != nil {
            tls = .init(caFile: mqtt.caFile, caPath: mqtt.caFile == nil ? "/etc/ssl/certs" : nil)
        }
        let client: MQTTClient
        do {
            client = try MQTTClient(
                options: MQTTClientOptions(
                    host: mqtt.endpoint.host, port: mqtt.endpoint.port, clientID: "telemetryhub-sim-\(device)",
                    cleanSession: false, keepaliveSeconds: mqtt.keepaliveSeconds, username: mqtt.username,
                    password: mqtt.password,
                    will: .init(
                        topic: topics.topic(device, .status), payload: Array("offline".utf8), qos: 1, retain: true),
                    tls: tls, subscriptions: [.init(topics.topic(device, .commands), qos: 1)],
                    reconnectMinSeconds: 1, reconnectMaxSeconds: 10))
            try client.start()
        } catch {
            stats.error("\(device): \(error)")
            return .failed
        }
        var description = JSONWriter()
        description.raw("{")
        SimulatedMessages.writeDescription(of: model, to: &description)
        description.raw("}")
        let meta = description.bytes
        let end = await withTaskGroup(of: End.self) { group in
            group.addTask { await events(client, model: model, topics: topics, device: device, meta: meta) }
            group.addTask {
                await sendTelemetry(client, model: model, topic: topics.topic(device, .telemetry), seed: seed)
                return .finished
            }
            group.addTask {
                if let deadline {
                    try? await Task.sleep(until: deadline)
                } else {
                    try? await Task.sleep(for: .seconds(1 << 40))
                }
                return .finished
            }
            let end = await group.next() ?? .finished
            group.cancelAll()
            return end
        }
        // A reboot drops the connection as a crash would (the broker publishes what the last will says); the end of
        // the run says offline and disconnects cleanly.
        let goodbye = if case .reboot = end { "offline" } else { "{\"state\":\"offline\"}" }
        _ = try? client.publish(topics.topic(device, .status), payload: Array(goodbye.utf8), qos: 1, retain: true)
        if case .reboot = end {
            // A crash loses what was not sent yet.
        } else if !(await client.flush(timeout: .seconds(10))) {
            stats.error("\(device): \(client.unacknowledged) messages not acknowledged by the broker at the end")
        }
        client.stop()
        return end
    }

    /// Follows the connection and answers commands; returns when a command reboots the device or the task ends.
    private func events(
        _ client: MQTTClient, model: DeviceModel, topics: MQTTTopics, device: String, meta: [UInt8]
    ) async -> End {
        var connected = false
        var connectedBefore = false
        for await event in client.events {
            switch event {
            case .connected:
                // Said again on every connection: a broker that lost its store, or a last will that fired while the
                // device was cut off, must not leave the hub with the wrong picture.
                _ = try? client.publish(topics.topic(device, .meta), payload: meta, qos: 1, retain: true)
                _ = try? client.publish(
                    topics.topic(device, .status), payload: Array("online".utf8), qos: 1, retain: true)
                if !connected { stats.connected.add(1, ordering: .relaxed) }
                if connectedBefore {
                    stats.reconnects.add(1, ordering: .relaxed)
                } else {
                    stats.everConnected.add(1, ordering: .relaxed)
                }
                connected = true
                connectedBefore = true
            case .disconnected(_, let reason):
                if connected { stats.connected.subtract(1, ordering: .relaxed) }
                connected = false
                stats.error("\(device): broker connection lost: \(reason)")
            case .refused(_, let reason):
                stats.error("\(device): broker refused the connection: \(reason)")
            case .message(let message):
                guard let command = try? JSONParser.parse(message.payload),
                    let (text, delay, rebootMs) = SimulatedMessages.answer(command, model: model)
                else { continue }
                stats.commandsAnswered.add(1, ordering: .relaxed)
                let topic = topics.topic(device, .commandResults)
                if delay > 0 {
                    Task {
                        try? await Task.sleep(for: .milliseconds(delay))
                        _ = try? client.publish(topic, payload: Array(text.utf8), qos: 1)
                    }
                } else {
                    _ = try? client.publish(topic, payload: Array(text.utf8), qos: 1)
                }
                if let rebootMs {
                    if connected { stats.connected.subtract(1, ordering: .relaxed) }
                    return .reboot(offlineMs: rebootMs)
                }
            }
        }
        if connected { stats.connected.subtract(1, ordering: .relaxed) }
        return .finished
    }

    /// Publishes telemetry at the device's rate, QoS 1, one message each, until cancelled.
    private func sendTelemetry(_ client: MQTTClient, model: DeviceModel, topic: String, seed: UInt64) async {
        guard options.rate > 0 else { return await waitForCancellation() }
        var random = SeededRandom(seed: seed)
        var pacer = TelemetryPacer(rate: options.rate, jitter: options.jitter)
        while !Task.isCancelled {
            for _ in 0..<pacer.due() {
                var message = JSONWriter(capacity: 128)
                guard let samples = SimulatedMessages.writeTelemetry(model, ts: pacer.nextTimestamp(), to: &message)
                else { continue }
                do {
                    try client.publish(topic, payload: message.bytes, qos: 1)
                } catch {
                    stats.error("publishing telemetry: \(error)")
                    continue
                }
                stats.messagesSent.add(1, ordering: .relaxed)
                stats.samplesSent.add(samples, ordering: .relaxed)
            }
            try? await Task.sleep(for: pacer.pause(using: &random))
        }
    }

    private func waitForCancellation() async {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3_600)) }
    }
}
