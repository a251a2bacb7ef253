import HubCore
import Synchronization

/// The hub's command state behind one lock: the pure ``CommandTracker``, the per-user rate limits, and the senders
/// waiting for their answers.
struct CommandDesk: Sendable {
    var tracker: CommandTracker
    var limiter: CommandRateLimiter
    /// Senders waiting, by command id.
    var waiters: [String: CheckedContinuation<CommandRecord, Never>] = [:]
    /// Answers that came before their sender started waiting.
    var early: [String: CommandRecord] = [:]

    init(configuration: CommandConfiguration) {
        tracker = CommandTracker(configuration: configuration)
        limiter = CommandRateLimiter(ratePerSecond: configuration.perUserPerSecond, burst: configuration.perUserBurst)
    }

    /// Hands `answer` to its waiting sender (or keeps it for the sender about to wait); returns the continuation
    /// to resume outside the lock.
    mutating func answered(_ answer: CommandRecord) -> CheckedContinuation<CommandRecord, Never>? {
        if let waiter = waiters.removeValue(forKey: answer.id) { return waiter }
        early[answer.id] = answer
        return nil
    }
}

/// How each connected device is reached: its current ``DeviceLink``, keyed by the session (or bridge connection)
/// that set it, so an old session ending never removes a newer one's link.
final class DeviceLinks: Sendable {
    private let links = Mutex<[String: (link: any DeviceLink, key: UInt64)]>([:])

    /// Sets `device`'s link.
    func set(_ device: String, _ link: any DeviceLink, key: UInt64) {
        links.withLock { $0[device] = (link, key) }
    }

    /// Removes `device`'s link when `key` set it; true when it did.
    func remove(_ device: String, key: UInt64) -> Bool {
        links.withLock { links in
            guard links[device]?.key == key else { return false }
            links[device] = nil
            return true
        }
    }

    /// `device`'s link, if it is connected.
    subscript(device: String) -> (any DeviceLink)? { links.withLock { $0[device]?.link } }

    /// Which of `devices` have a link.
    func connected(_ devices: [String]) -> Set<String> {
        links.withLock { links in Set(devices.filter { links[$0] != nil }) }
    }
}

/// The ``DeviceLink`` of a WebSocket device session: commands are written to the session in the background.
struct WebSocketDeviceLink: DeviceLink {
    let session: DeviceSession
    let metrics: HubMetrics

    var transport: String { "ws" }

    func send(_ command: CommandSend) -> Bool {
        guard !session.isClosing else { return false }
        let session = self.session
        let metrics = self.metrics
        let bytes = command.message.encoded
        Task {
            metrics.messagesOut.increment()
            try? await session.write(bytes, now: Hub.systemMilliseconds())
        }
        return true
    }
}
