import Foundation
import HubCore
import HubMQTT
import MosquittoHarness
import Synchronization

/// A device on a real broker for the bridge's tests: its own MQTT connection with a last will, a retained `meta`
/// and `online` status on connecting, and answers (`{"applied": args}`) to the commands it receives.
final class MQTTTestDevice: Sendable {
    let id: String
    let client: MQTTClient
    let topics: MQTTTopics
    private let state: State

    private final class State: Sendable {
        let client = Mutex<MQTTClient?>(nil)
        let commands = Mutex<[String]>([])
    }

    /// Commands received (their delivery ids), in order.
    var commands: [String] { state.commands.withLock { $0 } }

    /// Connects device `id` in `rooms` to `broker`.
    init(_ id: String, broker: MosquittoBroker, kind: String = "valve", rooms: [String] = [], answer: Bool = true)
        throws
    {
        self.id = id
        let topics = MQTTTopics()
        self.topics = topics
        let meta = JSONValue.object(
            JSONObject([
                ("kind", .string(kind)), ("rooms", .array(rooms.map(JSONValue.string))),
                ("commands", .array([.string("apply")])),
            ]))
        let state = State()
        self.state = state
        client = try MQTTClient(
            options: MQTTClientOptions(
                port: broker.port, clientID: "test-device-\(id)", cleanSession: false, keepaliveSeconds: 5,
                will: .init(topic: topics.topic(id, .status), payload: Array("offline".utf8)),
                subscriptions: [.init(topics.topic(id, .commands))])
        ) { event in
            guard let client = state.client.withLock({ $0 }) else { return }
            switch event {
            case .connected:
                _ = try? client.publish(topics.topic(id, .meta), payload: Array(meta.encoded.utf8), retain: true)
                _ = try? client.publish(topics.topic(id, .status), payload: Array("online".utf8), retain: true)
            case .message(let message):
                guard let command = try? JSONParser.parse(message.payload), let delivery = command["id"]?.stringValue
                else { return }
                state.commands.withLock { $0.append(delivery) }
                guard answer else { return }
                var reply = JSONWriter()
                reply.raw("{\"id\":")
                reply.string(delivery)
                reply.raw(",\"ok\":true,\"result\":{\"applied\":")
                reply.value(command["args"] ?? .null)
                reply.raw("}}")
                _ = try? client.publish(topics.topic(id, .commandResults), payload: reply.bytes)
            default:
                break
            }
        }
        state.client.withLock { $0 = client }
        try client.start()
    }

    /// Publishes one telemetry message.
    func send(_ json: String) throws {
        try client.publish(topics.topic(id, .telemetry), payload: Array(json.utf8))
    }

    /// Says `{"state":"offline"}` and disconnects cleanly.
    func leave() async {
        _ = try? client.publish(
            topics.topic(id, .status), payload: Array(#"{"state":"offline"}"#.utf8), retain: true)
        _ = await client.flush(timeout: .seconds(5))
        client.stop()
    }
}

extension JSONValue {
    /// The value as JSON text.
    fileprivate var encoded: String {
        var writer = JSONWriter()
        writer.value(self)
        return writer.string
    }
}
