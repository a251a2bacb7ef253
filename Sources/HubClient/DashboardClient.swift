import HTTPTypes
import HubCore
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A dashboard client of the hub (`/ws/dashboard`): subscribes, reconnects with exponential backoff and jitter,
/// resumes each subscription after the last batch it saw, and hands what arrives to a callback.
///
/// ```swift
/// let client = DashboardClient(url: "ws://127.0.0.1:8080", token: viewerToken,
///                              subscriptions: [.init(sub: "w", series: ["*/temp"], rateMs: 1_000)])
/// await client.run(until: nil) { event in print(event) }
/// ```
public struct DashboardClient: Sendable {
    /// One subscription to hold.
    public struct Subscription: Sendable, Equatable {
        public var sub: String
        public var series: [String]
        public var rateMs: Int64
        public var historyMs: Int64

        public init(sub: String, series: [String], rateMs: Int64, historyMs: Int64 = 0) {
            self.sub = sub
            self.series = series
            self.rateMs = rateMs
            self.historyMs = historyMs
        }
    }

    /// What the client saw.
    public enum Event: Sendable {
        /// The connection is up and the subscriptions were sent.
        case connected
        /// A subscription was acknowledged; `recovered` is set for a resume.
        case subscribed(sub: String, series: Int, recovered: Bool?)
        /// Samples of the subscription's history (replace what is shown).
        case snapshot(sub: String, series: [(SeriesKey, [Sample])])
        /// New samples; `coalesced` were dropped by the hub since the previous batch.
        case batch(sub: String, seq: UInt64, samples: [(SeriesKey, Sample)], coalesced: Int)
        /// A presence change or the device list (the raw message).
        case presence(JSONValue)
        /// The hub answered with an error.
        case error(code: String, message: String)
        /// The connection ended; the client retries after `retryInMs` (nil when it stops).
        case disconnected(reason: String, retryInMs: Int?)
    }

    public var url: String
    public var token: String?
    public var subscriptions: [Subscription]
    /// Also ask for presence events.
    public var presence: Bool
    public var backoff: Backoff
    public var logger: Logger

    /// Creates a client of the hub at `url` (`ws://host:port`).
    public init(
        url: String, token: String?, subscriptions: [Subscription], presence: Bool = false,
        backoff: Backoff = Backoff(initialMs: 500, maxMs: 15_000),
        logger: Logger = Logger(label: "telemetryhub.dashboard")
    ) {
        self.url = url
        self.token = token
        self.subscriptions = subscriptions
        self.presence = presence
        self.backoff = backoff
        self.logger = logger
    }

    /// Connects and keeps the subscriptions until `deadline` (or cancellation), reconnecting as needed.
    public func run(until deadline: ContinuousClock.Instant?, onEvent: @escaping @Sendable (Event) -> Void) async {
        let lastSeq = SeqBook()
        var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max))
        var attempt = 0
        func stillRunning() -> Bool {
            !Task.isCancelled && (deadline.map { ContinuousClock.now < $0 } ?? true)
        }
        while stillRunning() {
            let outcome = await session(
                lastSeq: lastSeq, deadline: deadline, onEvent: onEvent, connected: { attempt = 0 })
            guard stillRunning() else {
                onEvent(.disconnected(reason: outcome, retryInMs: nil))
                return
            }
            let delay = Int(backoff.delayMs(attempt: attempt, using: &random))
            attempt += 1
            onEvent(.disconnected(reason: outcome, retryInMs: delay))
            try? await Task.sleep(for: .milliseconds(delay))
        }
    }

    private func session(
        lastSeq: SeqBook, deadline: ContinuousClock.Instant?,
        onEvent: @escaping @Sendable (Event) -> Void, connected: () -> Void
    ) async -> String {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        let opened = Atomic<Bool>(false)
        let subscriptions = self.subscriptions
        let presence = self.presence
        do {
            let frame = try await WebSocketClient.connect(
                url: url + "/ws/dashboard", configuration: .init(maxFrameSize: 16 << 20, additionalHeaders: headers),
                logger: logger
            ) { inbound, outbound, _ in
                opened.store(true, ordering: .relaxed)
                let seen = lastSeq.seqs.withLock { $0 }
                for (index, subscription) in subscriptions.enumerated() {
                    try await outbound.write(
                        .text(Self.request(subscription, id: index + 1, afterSeq: seen[subscription.sub])))
                }
                if presence { try await outbound.write(.text("{\"type\":\"subscribe_devices\",\"id\":\"devices\"}")) }
                onEvent(.connected)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if let deadline {
                        group.addTask {
                            try await Task.sleep(until: deadline)
                            try? await outbound.close(.normalClosure, reason: "done")
                        }
                    }
                    for try await message in inbound.messages(maxSize: 16 << 20) {
                        guard case .text(let text) = message, let document = try? JSONParser.parse(text) else {
                            continue
                        }
                        Self.dispatch(document, lastSeq: lastSeq, onEvent: onEvent)
                    }
                    group.cancelAll()
                }
            }
            if opened.load(ordering: .relaxed) { connected() }
            if let frame, let code = Self.closeCode(frame) { return "closed by the hub (\(code))" }
            return "connection closed"
        } catch {
            if opened.load(ordering: .relaxed) { connected() }
            return "\(error)"
        }
    }

    private static func closeCode(_ frame: WebSocketCloseFrame) -> String? {
        switch frame.closeCode {
        case .normalClosure: return nil
        case .unknown(let code): return "\(code)\(frame.reason.map { ": \($0)" } ?? "")"
        default: return "\(frame.closeCode)\(frame.reason.map { ": \($0)" } ?? "")"
        }
    }

    /// The `subscribe` (or `resume` after `afterSeq`) message for a subscription.
    static func request(_ subscription: Subscription, id: Int, afterSeq: UInt64?) -> String {
        var writer = JSONWriter()
        writer.raw(afterSeq == nil ? "{\"type\":\"subscribe\",\"id\":" : "{\"type\":\"resume\",\"id\":")
        writer.int(Int64(id))
        writer.raw(",\"sub\":")
        writer.string(subscription.sub)
        writer.raw(",\"series\":")
        writer.value(.array(subscription.series.map(JSONValue.string)))
        writer.raw(",\"rate_ms\":")
        writer.int(subscription.rateMs)
        writer.raw(",\"history_ms\":")
        writer.int(subscription.historyMs)
        if let afterSeq {
            writer.raw(",\"after_seq\":")
            writer.int(Int64(afterSeq))
        }
        writer.raw("}")
        return writer.string
    }

    static func dispatch(_ document: JSONValue, lastSeq: SeqBook, onEvent: (Event) -> Void) {
        switch document["type"]?.stringValue {
        case "batch":
            guard let sub = document["sub"]?.stringValue, let seq = document["seq"]?.numberValue,
                case .array(let rows) = document["samples"]
            else { return }
            var samples: [(SeriesKey, Sample)] = []
            samples.reserveCapacity(rows.count)
            for row in rows {
                guard case .array(let fields) = row, fields.count == 3, let name = fields[0].stringValue,
                    let key = SeriesKey(parsing: name), let ts = fields[1].numberValue,
                    let value = fields[2].numberValue
                else { continue }
                samples.append((key, Sample(ts: Int64(ts), value: value)))
            }
            lastSeq.seqs.withLock { $0[sub] = UInt64(seq) }
            onEvent(
                .batch(
                    sub: sub, seq: UInt64(seq), samples: samples,
                    coalesced: Int(document["coalesced"]?.numberValue ?? 0)))
        case "snapshot":
            guard let sub = document["sub"]?.stringValue, case .object(let series) = document["series"] else { return }
            var result: [(SeriesKey, [Sample])] = []
            for (name, points) in series.members {
                guard let key = SeriesKey(parsing: name), case .array(let rows) = points else { continue }
                let samples = rows.compactMap { row -> Sample? in
                    guard case .array(let pair) = row, pair.count == 2, let ts = pair[0].numberValue,
                        let value = pair[1].numberValue
                    else { return nil }
                    return Sample(ts: Int64(ts), value: value)
                }
                result.append((key, samples))
            }
            onEvent(.snapshot(sub: sub, series: result))
        case "ack":
            guard let sub = document["sub"]?.stringValue else { return }
            var recovered: Bool?
            if case .bool(let flag) = document["recovered"] { recovered = flag }
            onEvent(.subscribed(sub: sub, series: Int(document["series"]?.numberValue ?? 0), recovered: recovered))
        case "devices", "device":
            onEvent(.presence(document))
        case "error":
            onEvent(
                .error(
                    code: document["code"]?.stringValue ?? "error", message: document["message"]?.stringValue ?? ""))
        default:
            break
        }
    }
}

/// The last batch seq seen per subscription, kept across reconnects for `resume`.
final class SeqBook: Sendable {
    let seqs = Mutex<[String: UInt64]>([:])
}
