import HubCore
import Synchronization

/// The MQTT bridge's state and counters, shown in `/healthz` (`mqtt`) and `/metrics` (`telemetryhub_mqtt_…`).
public final class MQTTBridgeStatus: GatewayStatus, Sendable {
    /// The broker as `mqtt://host:port`.
    public let broker: String
    /// The hub's client id on the broker.
    public let clientID: String
    private let state = Mutex(State())
    /// Messages received, by channel.
    let telemetry = Atomic<Int>(0)
    let meta = Atomic<Int>(0)
    let status = Atomic<Int>(0)
    let commandResults = Atomic<Int>(0)
    /// Samples stored from telemetry messages.
    let samples = Atomic<Int>(0)
    /// Messages whose topic or payload is not what the protocol says.
    let malformed = Atomic<Int>(0)
    /// Messages the hub refused (e.g. more devices than it may know), by error code.
    let rejected = Mutex<[String: Int]>([:])
    /// Commands published to devices.
    let commandsPublished = Atomic<Int>(0)
    /// Devices online through the bridge.
    let devicesOnline = Atomic<Int>(0)

    struct State {
        var connected = false
        /// When the connection last changed (Unix ms; 0 before the first attempt ended).
        var since: Int64 = 0
        var connects = 0
        var disconnects = 0
        var sessionPresent = false
        var lastError: String?
        /// The broker refused the last attempt (its disconnect follows).
        var refused = false
    }

    init(broker: String, clientID: String) {
        self.broker = broker
        self.clientID = clientID
    }

    public var name: String { "mqtt" }

    public var isHealthy: Bool { state.withLock { $0.connected } }

    /// Whether the bridge is connected to its broker.
    public var isConnected: Bool { isHealthy }

    /// Times the bridge connected (the first connection included).
    public var connects: Int { state.withLock { $0.connects } }

    /// Telemetry samples stored so far.
    public var samplesStored: Int { samples.load(ordering: .relaxed) }

    /// Malformed messages so far.
    public var malformedCount: Int { malformed.load(ordering: .relaxed) }

    func connected(sessionPresent: Bool, now: Int64) {
        state.withLock {
            $0.connected = true
            $0.since = now
            $0.connects += 1
            $0.sessionPresent = sessionPresent
        }
    }

    func disconnected(_ error: String, now: Int64) {
        state.withLock {
            if $0.connected { $0.disconnects += 1 }
            $0.connected = false
            $0.since = now
            // A refusal is followed by libmosquitto's own disconnect, whose text says less: keep the refusal.
            if $0.refused {
                $0.refused = false
            } else {
                $0.lastError = error
            }
        }
    }

    func refused(_ reason: String, now: Int64) {
        state.withLock {
            $0.connected = false
            $0.since = now
            $0.lastError = "refused: \(reason)"
            $0.refused = true
        }
    }

    func reject(_ code: ErrorCode) {
        rejected.withLock { $0[code.rawValue, default: 0] += 1 }
    }

    public func writeHealth(to json: inout JSONWriter) {
        let state = self.state.withLock { $0 }
        json.raw("{\"state\":")
        json.string(state.connected ? "connected" : "disconnected")
        json.raw(",\"broker\":")
        json.string(broker)
        json.raw(",\"client_id\":")
        json.string(clientID)
        json.raw(",\"since\":")
        json.int(state.since)
        json.raw(",\"session_present\":")
        json.bool(state.sessionPresent)
        json.raw(",\"connects\":")
        json.int(Int64(state.connects))
        json.raw(",\"devices_online\":")
        json.int(Int64(devicesOnline.load(ordering: .relaxed)))
        json.raw(",\"messages\":")
        json.int(Int64(messageCounts.reduce(0) { $0 + $1.1 }))
        json.raw(",\"samples\":")
        json.int(Int64(samples.load(ordering: .relaxed)))
        json.raw(",\"malformed\":")
        json.int(Int64(malformed.load(ordering: .relaxed)))
        json.raw(",\"rejected\":")
        json.int(Int64(rejected.withLock { $0.values.reduce(0, +) }))
        if let error = state.lastError, !state.connected {
            json.raw(",\"last_error\":")
            json.string(error)
        }
        json.raw("}")
    }

    private var messageCounts: [(String, Int)] {
        [
            ("telemetry", telemetry.load(ordering: .relaxed)), ("meta", meta.load(ordering: .relaxed)),
            ("status", status.load(ordering: .relaxed)), ("command_results", commandResults.load(ordering: .relaxed)),
        ]
    }

    public func prometheusText() -> String {
        let state = self.state.withLock { $0 }
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ values: [(String, Int)]) {
            text += "# HELP telemetryhub_mqtt_\(name) \(help)\n# TYPE telemetryhub_mqtt_\(name) \(type)\n"
            for (labels, value) in values { text += "telemetryhub_mqtt_\(name)\(labels) \(value)\n" }
        }
        metric(
            "connected", "gauge", "1 while the MQTT bridge is connected to its broker.", [("", state.connected ? 1 : 0)]
        )
        metric("connects_total", "counter", "Connections the MQTT bridge made to its broker.", [("", state.connects)])
        metric(
            "disconnects_total", "counter", "Times the MQTT bridge lost its broker.", [("", state.disconnects)])
        metric(
            "messages_total", "counter", "MQTT messages received, by channel.",
            messageCounts.map { ("{channel=\"\($0.0)\"}", $0.1) })
        metric(
            "samples_total", "counter", "Samples stored from MQTT telemetry.", [("", samples.load(ordering: .relaxed))])
        metric(
            "malformed_total", "counter", "MQTT messages ignored because their topic or payload is malformed.",
            [("", malformed.load(ordering: .relaxed))])
        metric(
            "rejected_total", "counter", "MQTT messages the hub refused, by error code.",
            rejected.withLock { $0.sorted { $0.key < $1.key }.map { ("{code=\"\($0.key)\"}", $0.value) } })
        metric(
            "commands_published_total", "counter", "Commands published to MQTT devices.",
            [("", commandsPublished.load(ordering: .relaxed))])
        metric(
            "devices_online", "gauge", "Devices online through the MQTT bridge.",
            [("", devicesOnline.load(ordering: .relaxed))])
        return text
    }
}
