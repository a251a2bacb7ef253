import Foundation
import HubCore
import Logging
import Synchronization

/// The running hub's shared state: the series store and the device registry (behind one lock, so a message costs
/// one lock round), the live device sessions and the metrics.
///
/// Decisions are made by HubCore values (``SeriesStore``, ``DeviceRegistry``); this class only serialises access.
public final class Hub: Sendable {
    /// The configuration in force.
    public let configuration: HubConfiguration
    /// The metrics `/metrics` shows.
    public let metrics = HubMetrics()
    let logger: Logger
    let authority: TokenAuthority?
    let startedAt: Int64
    private let clock: @Sendable () -> Int64
    private let state: Mutex<State>
    let sessions = SessionTable()

    struct State: Sendable {
        var store: SeriesStore
        var registry = DeviceRegistry()
    }

    /// Creates a hub. `authority` is nil when auth is disabled.
    public init(
        configuration: HubConfiguration, authority: TokenAuthority?, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = Hub.systemMilliseconds
    ) {
        self.configuration = configuration
        self.authority = authority
        self.logger = logger
        self.clock = clock
        self.startedAt = clock()
        self.state = Mutex(State(store: SeriesStore(configuration: configuration.store)))
    }

    /// The wall clock in Unix milliseconds.
    @Sendable public static func systemMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// The hub's notion of now, in Unix milliseconds.
    public var now: Int64 { clock() }

    /// Stores a message's samples for `device`.
    public func ingest(device: String, samples: [MetricSample], transport: String) throws(ProtocolError)
        -> IngestResult
    {
        let now = clock()
        let maxDevices = configuration.limits.maxDevices
        let result = try state.withLock { state throws(ProtocolError) -> (IngestResult, Int) in
            if state.registry[device] == nil, state.registry.count >= maxDevices {
                throw .tooLarge("the hub knows \(state.registry.count) devices; the limit is \(maxDevices)")
            }
            let result = try state.store.ingest(device: device, samples: samples, now: now)
            state.registry.touch(device: device, transport: transport, now: now)
            return (result, state.store.seriesCount)
        }
        metrics.samplesIngested.increment(by: Int64(result.0.accepted))
        if result.0.droppedLate > 0 { metrics.samplesDroppedLate.increment(by: Int64(result.0.droppedLate)) }
        if !result.0.newSeries.isEmpty { metrics.series.record(result.1) }
        return result.0
    }

    /// Records a registration; returns the outcome (including a session to close as replaced).
    func register(_ message: DeviceMessage.Register, session: SessionID, transport: String) throws(ProtocolError)
        -> RegistrationOutcome
    {
        let now = clock()
        let maxDevices = configuration.limits.maxDevices
        let (outcome, online, known) = try state.withLock { state throws(ProtocolError) in
            if state.registry[message.device] == nil, state.registry.count >= maxDevices {
                throw .tooLarge("the hub knows \(state.registry.count) devices; the limit is \(maxDevices)")
            }
            let outcome = state.registry.register(message, session: session, transport: transport, now: now)
            return (outcome, state.registry.onlineCount, state.registry.count)
        }
        metrics.devicesOnline.record(online)
        metrics.devicesKnown.record(known)
        logger.info(
            "device online",
            metadata: [
                "device.id": "\(message.device)", "session.id": "\(session)", "reason": "\(outcome.event.reason)",
            ])
        return outcome
    }

    /// Marks a device offline if `session` is still its session.
    @discardableResult
    func sessionEnded(device: String, session: SessionID, reason: PresenceReason) -> PresenceEvent? {
        let now = clock()
        let (event, online) = state.withLock { state in
            (
                state.registry.sessionEnded(device: device, session: session, reason: reason, now: now),
                state.registry.onlineCount
            )
        }
        if let event {
            metrics.devicesOnline.record(online)
            logger.info("device offline", metadata: ["device.id": "\(device)", "reason": "\(event.reason.rawValue)"])
        }
        return event
    }

    /// Reads the store and the registry under the lock.
    func read<T: Sendable>(_ body: (SeriesStore, DeviceRegistry) throws -> T) rethrows -> T {
        try state.withLock { state in try body(state.store, state.registry) }
    }

    /// Every device record, sorted by id.
    public var devicesSnapshot: [DeviceRecord] {
        state.withLock { $0.registry.all }
    }

    /// Marks every online device offline with reason `shutdown`.
    func markAllOffline() {
        let now = clock()
        let events = state.withLock { $0.registry.allOffline(reason: .shutdown, now: now) }
        metrics.devicesOnline.record(0)
        if !events.isEmpty {
            logger.info("devices marked offline for shutdown", metadata: ["count": "\(events.count)"])
        }
    }
}
