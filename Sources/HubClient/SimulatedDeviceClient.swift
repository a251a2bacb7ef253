import Foundation
import HTTPTypes
import HubCore
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// One simulated device speaking the device protocol over WebSocket: registers, streams telemetry at its rate,
/// answers commands as its profile says, and reconnects with exponential backoff and jitter.
struct SimulatedDeviceClient: Sendable {
    let options: SimulationOptions
    let index: Int
    let stats: SimulationStats
    let logger: Logger

    private enum SessionEnd: Sendable {
        case lost
        case reboot(offlineMs: Int)
    }

    func run(until deadline: ContinuousClock.Instant?) async {
        let profile = options.profiles[index % options.profiles.count]
        let model = DeviceModel(
            SimulatedDevice(
                profile: profile, index: index, seed: options.seed, ordinal: index / options.profiles.count))
        var random = SeededRandom(seed: options.seed ^ UInt64(index &* 7919))
        var attempt = 0
        var firstSession = true
        while !Task.isCancelled, deadline.map({ ContinuousClock.now < $0 }) ?? true {
            if !firstSession { stats.reconnects.add(1, ordering: .relaxed) }
            firstSession = false
            let end = await session(model: model, deadline: deadline, random: &random, registered: { attempt = 0 })
            guard !Task.isCancelled, deadline.map({ ContinuousClock.now < $0 }) ?? true else { return }
            switch end {
            case .reboot(let offlineMs):
                try? await Task.sleep(for: .milliseconds(offlineMs))
            case .lost:
                let delay = options.backoff.delayMs(attempt: attempt, using: &random)
                attempt += 1
                try? await Task.sleep(for: .milliseconds(Int(delay)))
            }
        }
    }

    private func session(
        model: DeviceModel, deadline: ContinuousClock.Instant?, random: inout SeededRandom,
        registered: () -> Void
    ) async -> SessionEnd {
        var headers = HTTPFields()
        if let token = options.token { headers[.authorization] = "Bearer \(token)" }
        let ending = Mutex<SessionEnd>(.lost)
        let wasRegistered = Atomic<Bool>(false)
        let seed = random.next()
        let (deviceID, rooms, kind, meta, commands) = model.withLock {
            ($0.id, $0.rooms, $0.profile.kind, $0.profile.meta, $0.profile.commandSpecs)
        }
        do {
            try await WebSocketClient.connect(
                url: options.url + "/ws/device",
                configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers),
                logger: logger
            ) { inbound, outbound, _ in
                var register = JSONWriter()
                register.raw("{\"type\":\"register\",\"id\":\"reg\",\"device\":")
                register.string(deviceID)
                register.raw(",\"kind\":")
                register.string(kind)
                register.raw(",\"rooms\":")
                register.value(.array(rooms.map(JSONValue.string)))
                var metaObject = JSONObject(
                    meta.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })
                metaObject["simulated"] = .bool(true)
                register.raw(",\"meta\":")
                register.value(.object(metaObject))
                if !commands.isEmpty {
                    register.raw(",\"commands\":")
                    register.value(.array(commands.map(\.json)))
                }
                register.raw("}")
                try await outbound.write(.text(register.string))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    var senderStarted = false
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message, let document = try? JSONParser.parse(text) else {
                            continue
                        }
                        switch document["type"]?.stringValue {
                        case "ack" where document["id"] == .string("reg") && !senderStarted:
                            senderStarted = true
                            wasRegistered.store(true, ordering: .relaxed)
                            stats.connected.add(1, ordering: .relaxed)
                            stats.everConnected.add(1, ordering: .relaxed)
                            group.addTask { try await sendTelemetry(outbound: outbound, model: model, seed: seed) }
                        case "error":
                            stats.error(
                                "\(document["code"]?.stringValue ?? "error"): \(document["message"]?.stringValue ?? "")"
                            )
                        case "command":
                            if let reboot = try await answer(document, model: model, outbound: outbound, group: &group)
                            {
                                ending.withLock { $0 = .reboot(offlineMs: reboot) }
                                group.cancelAll()
                                try? await outbound.close(.normalClosure, reason: "rebooting")
                                return
                            }
                        default:
                            break
                        }
                    }
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            // The run is ending; not an error.
        } catch {
            if !Task.isCancelled { stats.error("connection: \(error)") }
        }
        if wasRegistered.load(ordering: .relaxed) {
            stats.connected.subtract(1, ordering: .relaxed)
            registered()
        }
        return ending.withLock { $0 }
    }

    /// Answers a command; returns the offline time when the command reboots the device.
    private func answer(
        _ command: JSONValue, model: DeviceModel, outbound: WebSocketOutboundWriter,
        group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws -> Int? {
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
        let text = reply.string
        stats.commandsAnswered.add(1, ordering: .relaxed)
        if delay > 0 && rebootMs == nil {
            group.addTask {
                try await Task.sleep(for: .milliseconds(delay))
                try await outbound.write(.text(text))
            }
        } else {
            try await outbound.write(.text(text))
        }
        return rebootMs
    }

    private func sendTelemetry(outbound: WebSocketOutboundWriter, model: DeviceModel, seed: UInt64)
        async throws
    {
        guard options.rate > 0 else { return }  // an idle device: registered, answering pings and commands only
        var random = SeededRandom(seed: seed)
        let clock = ContinuousClock()
        let start = clock.now
        let batch = max(1, options.batch)
        var sent = 0
        var lastTs: Int64 = 0
        // Send whatever is due (catching up after a slow wake-up, up to a bound), then sleep to the next due time.
        while !Task.isCancelled {
            let elapsedSeconds = start.duration(to: clock.now).inSeconds
            let due = min(Int(elapsedSeconds * options.rate) + 1 - sent, max(batch, Int(options.rate)))
            var remaining = due
            while remaining > 0 {
                let inFrame = min(batch, remaining)
                var frame = JSONWriter(capacity: 128 * inFrame)
                var samples = 0
                var messages = 0
                if batch > 1 { frame.raw("[") }
                for _ in 0..<inFrame {
                    // Strictly increasing per device: messages sent in one burst must not share a timestamp
                    // (the hub would keep only the last of them).
                    let now = max(Self.unixMilliseconds(), lastTs + 1)
                    lastTs = now
                    // A device in a silence of its profile skips the message (the session stays open).
                    guard let readings = model.withLock({ $0.isSilent(now: now) ? nil : $0.readings(now: now) })
                    else { continue }
                    if messages > 0 { frame.raw(",") }
                    messages += 1
                    frame.raw("{\"type\":\"telemetry\",\"ts\":")
                    frame.int(now)
                    frame.raw(",\"metrics\":{")
                    for (index, reading) in readings.enumerated() {
                        if index > 0 { frame.raw(",") }
                        frame.key(reading.metric)
                        frame.number(reading.value)
                    }
                    frame.raw("}}")
                    samples += readings.count
                }
                if batch > 1 { frame.raw("]") }
                if messages > 0 {
                    try await outbound.write(
                        .custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: frame.bytes))))
                    stats.messagesSent.add(messages, ordering: .relaxed)
                    stats.samplesSent.add(samples, ordering: .relaxed)
                }
                remaining -= inFrame
                sent += inFrame
            }
            if due < 0 { sent = Int(elapsedSeconds * options.rate) }
            let interval = 1 / options.rate
            let wobble = options.jitter > 0 ? Double.random(in: -options.jitter...options.jitter, using: &random) : 0
            let sleepSeconds = max(0.002, interval * (1 + wobble))
            try await Task.sleep(for: .milliseconds(Int(sleepSeconds * 1_000)))
        }
    }

    static func unixMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down))
    }
}

/// A simulated device's state shared by its reader and sender tasks.
final class DeviceModel: Sendable {
    private let state: Mutex<SimulatedDevice>

    init(_ device: SimulatedDevice) {
        state = Mutex(device)
    }

    func withLock<T: Sendable>(_ body: (inout SimulatedDevice) -> T) -> T {
        state.withLock { body(&$0) }
    }
}
