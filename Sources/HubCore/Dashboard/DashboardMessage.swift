/// A message a dashboard sends on `/ws/dashboard`.
public enum DashboardMessage: Equatable, Sendable {
    /// `subscribe`: start (or replace) a subscription.
    case subscribe(Subscribe)
    /// `resume`: continue a subscription of a dropped connection after the last batch seen.
    case resume(Resume)
    /// `set_rate`: change how often a subscription's batches come.
    case setRate(id: MessageID?, sub: String, rateMs: Int64)
    /// `unsubscribe`: end a subscription.
    case unsubscribe(id: MessageID?, sub: String)
    /// `subscribe_devices`: the device list now, then every presence change.
    case subscribeDevices(id: MessageID?)
    /// `unsubscribe_devices`: stop presence events.
    case unsubscribeDevices(id: MessageID?)
    /// `ping`: answered with `pong`.
    case ping(id: MessageID?)
    /// `subscribe_alerts`: the active alerts now, then every alert event (optionally filtered).
    case subscribeAlerts(id: MessageID?, filter: AlertFilter)
    /// `unsubscribe_alerts`: stop alert events.
    case unsubscribeAlerts(id: MessageID?)
    /// `ack_alert` (operator): acknowledge an active alert.
    case ackAlert(id: MessageID?, alert: String, comment: String)
    /// `command` (operator): send a command to a room and answer with every device's result.
    case command(id: MessageID?, CommandRequest)

    /// `subscribe`: which series, how often, and how much history first.
    public struct Subscribe: Equatable, Sendable {
        public var id: MessageID?
        /// The client's name for the subscription.
        public var sub: String
        public var selectors: [SeriesSelector]
        /// 0: as soon as possible; otherwise at most one batch per this many milliseconds.
        public var rateMs: Int64
        /// How far back the snapshot reaches; 0 for the latest value only.
        public var historyMs: Int64

        public init(id: MessageID?, sub: String, selectors: [SeriesSelector], rateMs: Int64, historyMs: Int64) {
            self.id = id
            self.sub = sub
            self.selectors = selectors
            self.rateMs = rateMs
            self.historyMs = historyMs
        }
    }

    /// `resume`: a subscription to continue after batch `afterSeq`.
    public struct Resume: Equatable, Sendable {
        public var id: MessageID?
        public var sub: String
        public var selectors: [SeriesSelector]
        public var rateMs: Int64
        /// The last `seq` the client received.
        public var afterSeq: UInt64
        /// History for the snapshot sent when the subscription cannot be recovered (0: latest values).
        public var historyMs: Int64

        public init(
            id: MessageID?, sub: String, selectors: [SeriesSelector], rateMs: Int64, afterSeq: UInt64, historyMs: Int64
        ) {
            self.id = id
            self.sub = sub
            self.selectors = selectors
            self.rateMs = rateMs
            self.afterSeq = afterSeq
            self.historyMs = historyMs
        }
    }

    /// The message's `id`, if it carried one.
    public var id: MessageID? {
        switch self {
        case .subscribe(let message): message.id
        case .resume(let message): message.id
        case .setRate(let id, _, _), .unsubscribe(let id, _): id
        case .subscribeDevices(let id), .unsubscribeDevices(let id), .ping(let id): id
        case .subscribeAlerts(let id, _), .unsubscribeAlerts(let id), .ackAlert(let id, _, _): id
        case .command(let id, _): id
        }
    }
}
