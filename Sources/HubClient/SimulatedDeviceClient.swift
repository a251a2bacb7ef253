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
        let model = DeviceModel(options: options, index: index)
        var random = model.random
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
        let deviceID = model.withLock { $0.id }
        do {
            try await WebSocketClient.connect(
                url: options.url + "/ws/device",
                configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers),
                logger: logger
            ) { inbound, outbound, _ in
                var register = JSONWriter()
                register.raw("{\"type\":\"register\",\"id\":\"reg\",\"device\":")
                register.string(deviceID)
                register.raw(",")
                SimulatedMessages.writeDescription(of: model, to: &register)
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
        guard let (text, delay, rebootMs) = SimulatedMessages.answer(command, model: model) else { return nil }
        stats.commandsAnswered.add(1, ordering: .relaxed)
        if delay > 0 {
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
        var pacer = TelemetryPacer(rate: options.rate, jitter: options.jitter, batch: options.batch)
        let batch = pacer.batch
        // Send whatever is due, then sleep to the next due time.
        while !Task.isCancelled {
            var remaining = pacer.due()
            while remaining > 0 {
                let inFrame = min(batch, remaining)
                var frame = JSONWriter(capacity: 128 * inFrame)
                var samples = 0
                var messages = 0
                if batch > 1 { frame.raw("[") }
                for _ in 0..<inFrame {
                    let ts = pacer.nextTimestamp()
                    var message = JSONWriter(capacity: 128)
                    // A device in a silence of its profile skips the message (the session stays open).
                    guard let count = SimulatedMessages.writeTelemetry(model, ts: ts, to: &message) else { continue }
                    if messages > 0 { frame.raw(",") }
                    frame.raw(message.bytes)
                    messages += 1
                    samples += count
                }
                if batch > 1 { frame.raw("]") }
                if messages > 0 {
                    try await outbound.write(
                        .custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: frame.bytes))))
                    stats.messagesSent.add(messages, ordering: .relaxed)
                    stats.samplesSent.add(samples, ordering: .relaxed)
                }
                remaining -= inFrame
            }
            try await Task.sleep(for: pacer.pause(using: &random))
        }
    }
}

/// A simulated device's state shared by its reader and sender tasks.
final class DeviceModel: Sendable {
    private let state: Mutex<SimulatedDevice>
    /// The device's own seeded randomness for jitter and back-off (a copy each time).
    let random: SeededRandom

    /// Device number `index` of a run: profiles are dealt out in turn.
    init(options: SimulationOptions, index: Int) {
        let profile = options.profiles[index % options.profiles.count]
        state = Mutex(
            SimulatedDevice(
                profile: profile, index: index, seed: options.seed, ordinal: index / options.profiles.count))
        random = SeededRandom(seed: options.seed ^ UInt64(index &* 7919))
    }

    func withLock<T: Sendable>(_ body: (inout SimulatedDevice) -> T) -> T {
        state.withLock { body(&$0) }
    }
}
