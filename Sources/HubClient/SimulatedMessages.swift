import Foundation
import HubCore

/// The JSON a simulated device sends, the same over WebSocket and MQTT.
enum SimulatedMessages {
    /// Who the device is: `"kind":…,"rooms":[…],"meta":{…}[,"commands":[…]]` (object members, no braces), as its
    /// `register` message and its MQTT `meta` say it.
    static func writeDescription(of model: DeviceModel, to json: inout JSONWriter) {
        let (rooms, kind, meta, commands) = model.withLock {
            ($0.rooms, $0.profile.kind, $0.profile.meta, $0.profile.commandSpecs)
        }
        json.raw("\"kind\":")
        json.string(kind)
        json.raw(",\"rooms\":")
        json.value(.array(rooms.map(JSONValue.string)))
        var metaObject = JSONObject(meta.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })
        metaObject["simulated"] = .bool(true)
        json.raw(",\"meta\":")
        json.value(.object(metaObject))
        if !commands.isEmpty {
            json.raw(",\"commands\":")
            json.value(.array(commands.map(\.json)))
        }
    }

    /// Appends one `telemetry` message (`{"type":"telemetry","ts":…,"metrics":{…}}`); returns the samples in it,
    /// or nil when the device is in a silence of its profile and sends nothing.
    static func writeTelemetry(_ model: DeviceModel, ts: Int64, to json: inout JSONWriter) -> Int? {
        guard let readings = model.withLock({ $0.isSilent(now: ts) ? nil : $0.readings(now: ts) }) else { return nil }
        json.raw("{\"type\":\"telemetry\",\"ts\":")
        json.int(ts)
        json.raw(",\"metrics\":{")
        for (index, reading) in readings.enumerated() {
            if index > 0 { json.raw(",") }
            json.key(reading.metric)
            json.number(reading.value)
        }
        json.raw("}}")
        return readings.count
    }

    /// The device's `command_result` for a `command` (nil when the command names no id or name), the delay before
    /// sending it, and the offline time when the command reboots the device.
    static func answer(_ command: JSONValue, model: DeviceModel) -> (text: String, delayMs: Int, rebootMs: Int?)? {
        guard let id = command["id"], let name = command["name"]?.stringValue else { return nil }
        let args = command["args"] ?? .object(JSONObject())
        let (reaction, delay) = model.withLock {
            ($0.handle(command: name, args: args), $0.answerDelayMs(command: name))
        }
        var reply = JSONWriter()
        reply.raw("{\"type\":\"command_result\",\"id\":")
        reply.value(id)
        var rebootMs: Int?
        switch reaction {
        case .ok(let result):
            reply.raw(",\"ok\":true,\"result\":")
            reply.value(result)
        case .failed(let message):
            reply.raw(",\"ok\":false,\"error\":")
            reply.string(message)
        case .reboot(let offlineMs):
            reply.raw(",\"ok\":true,\"result\":{\"rebooting_ms\":")
            reply.int(Int64(offlineMs))
            reply.raw("}")
            rebootMs = offlineMs
        }
        reply.raw("}")
        return (reply.string, rebootMs == nil ? delay : 0, rebootMs)
    }

    /// Unix milliseconds now.
    static func unixMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down))
    }
}

/// Paces a device's telemetry at `rate` messages a second: how many are due now (catching up after a slow wake-up,
/// up to a bound), timestamps that strictly increase (messages sent in one burst must not share one, or the hub
/// keeps only the last), and how long to sleep, with jitter.
struct TelemetryPacer {
    let rate: Double
    let jitter: Double
    let batch: Int
    private let start = ContinuousClock.now
    private var sent = 0
    private var lastTs: Int64 = 0

    init(rate: Double, jitter: Double, batch: Int = 1) {
        self.rate = rate
        self.jitter = jitter
        self.batch = max(1, batch)
    }

    /// Messages due now; counts them as sent.
    mutating func due() -> Int {
        let elapsedSeconds = start.duration(to: .now).inSeconds
        let due = min(Int(elapsedSeconds * rate) + 1 - sent, max(batch, Int(rate)))
        if due < 0 {
            sent = Int(elapsedSeconds * rate)
            return 0
        }
        sent += due
        return due
    }

    /// The next message's timestamp.
    mutating func nextTimestamp() -> Int64 {
        lastTs = max(SimulatedMessages.unixMilliseconds(), lastTs + 1)
        return lastTs
    }

    /// How long to sleep before the next round.
    func pause(using random: inout SeededRandom) -> Duration {
        let wobble = jitter > 0 ? Double.random(in: -jitter...jitter, using: &random) : 0
        return .milliseconds(Int(max(0.002, (1 / rate) * (1 + wobble)) * 1_000))
    }
}
