import Foundation
import HubCore
import Metrics
import Prometheus
import Synchronization

/// The hub's Prometheus metrics, recorded through swift-metrics into a per-hub registry (so several hubs in one
/// process, as in tests, keep separate figures).
public final class HubMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    let connections: Metrics.Gauge
    let connectionsTotal: Metrics.Counter
    let messagesIn: Metrics.Counter
    let messagesOut: Metrics.Counter
    let samplesIngested: Metrics.Counter
    let samplesDroppedLate: Metrics.Counter
    let devicesOnline: Metrics.Gauge
    let devicesKnown: Metrics.Gauge
    let series: Metrics.Gauge
    let samplesPersisted: Metrics.Counter
    let storageFlushes: Metrics.Counter
    let storageErrors: Metrics.Counter
    let storageFlushSeconds: Metrics.Timer
    let storagePending: Metrics.Gauge
    let storageStagedRows: Metrics.Gauge
    let storageCPUSeconds: Metrics.Gauge
    let chunksSealed: Metrics.Counter
    let dashboards: Metrics.Gauge
    let dashboardsTotal: Metrics.Counter
    let dashboardSamplesSent: Metrics.Counter
    let dashboardSamplesCoalesced: Metrics.Counter
    let dashboardBatches: Metrics.Counter
    let dashboardBytesOut: Metrics.Counter
    let dashboardStalls: Metrics.Counter
    let dashboardSlowCloses: Metrics.Counter
    let dashboardResumes: Metrics.Counter
    let alertRules: Metrics.Gauge
    let alertEvents: Metrics.Counter
    let alertEventsDropped: Metrics.Counter
    let alertWriteErrors: Metrics.Counter
    private let alertsActiveGauges: [AlertState: Metrics.Gauge]
    let commands: Metrics.Counter
    let commandsOpen: Metrics.Gauge
    let commandsQueued: Metrics.Gauge
    let commandSends: Metrics.Counter
    let commandResultsLate: Metrics.Counter
    let commandResultsDuplicate: Metrics.Counter
    let commandWriteErrors: Metrics.Counter
    private let commandOutcomeCounters: [DeliveryStatus: Metrics.Counter]
    let pendingConnections: Metrics.Gauge
    let headerTimeouts: Metrics.Counter
    let requestTimeouts: Metrics.Counter
    let framesRefused: Metrics.Counter
    let devicesExpired: Metrics.Counter
    private let refusedCounters: [PendingConnections.Refusal: Metrics.Counter]
    private let residentMemory: Metrics.Gauge
    private let cpuSeconds: Metrics.Gauge
    private let openFDs: Metrics.Gauge
    private let errorCounters = Mutex<[String: Metrics.Counter]>([:])

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
        connections = Metrics.Gauge(
            label: "telemetryhub_connections", dimensions: [("endpoint", "device")], factory: factory)
        connectionsTotal = Metrics.Counter(label: "telemetryhub_connections_total", factory: factory)
        messagesIn = Metrics.Counter(label: "telemetryhub_messages_in_total", factory: factory)
        messagesOut = Metrics.Counter(label: "telemetryhub_messages_out_total", factory: factory)
        samplesIngested = Metrics.Counter(label: "telemetryhub_samples_ingested_total", factory: factory)
        samplesDroppedLate = Metrics.Counter(label: "telemetryhub_samples_dropped_late_total", factory: factory)
        devicesOnline = Metrics.Gauge(label: "telemetryhub_devices_online", factory: factory)
        devicesKnown = Metrics.Gauge(label: "telemetryhub_devices", factory: factory)
        series = Metrics.Gauge(label: "telemetryhub_series", factory: factory)
        samplesPersisted = Metrics.Counter(label: "telemetryhub_samples_persisted_total", factory: factory)
        storageFlushes = Metrics.Counter(label: "telemetryhub_storage_flushes_total", factory: factory)
        storageErrors = Metrics.Counter(label: "telemetryhub_storage_errors_total", factory: factory)
        storageFlushSeconds = Metrics.Timer(label: "telemetryhub_storage_flush_seconds", factory: factory)
        storagePending = Metrics.Gauge(label: "telemetryhub_storage_pending_samples", factory: factory)
        storageStagedRows = Metrics.Gauge(label: "telemetryhub_storage_staged_rows", factory: factory)
        storageCPUSeconds = Metrics.Gauge(label: "telemetryhub_storage_cpu_seconds_total", factory: factory)
        chunksSealed = Metrics.Counter(label: "telemetryhub_storage_chunks_sealed_total", factory: factory)
        dashboards = Metrics.Gauge(
            label: "telemetryhub_connections", dimensions: [("endpoint", "dashboard")], factory: factory)
        dashboardsTotal = Metrics.Counter(label: "telemetryhub_dashboard_connections_total", factory: factory)
        dashboardSamplesSent = Metrics.Counter(label: "telemetryhub_dashboard_samples_sent_total", factory: factory)
        dashboardSamplesCoalesced = Metrics.Counter(
            label: "telemetryhub_dashboard_samples_coalesced_total", factory: factory)
        dashboardBatches = Metrics.Counter(label: "telemetryhub_dashboard_batches_total", factory: factory)
        dashboardBytesOut = Metrics.Counter(label: "telemetryhub_dashboard_bytes_out_total", factory: factory)
        dashboardStalls = Metrics.Counter(label: "telemetryhub_dashboard_stalls_total", factory: factory)
        dashboardSlowCloses = Metrics.Counter(label: "telemetryhub_dashboard_slow_closes_total", factory: factory)
        dashboardResumes = Metrics.Counter(label: "telemetryhub_dashboard_resumes_total", factory: factory)
        alertRules = Metrics.Gauge(label: "telemetryhub_alert_rules", factory: factory)
        alertEvents = Metrics.Counter(label: "telemetryhub_alert_events_total", factory: factory)
        alertEventsDropped = Metrics.Counter(label: "telemetryhub_alert_events_dropped_total", factory: factory)
        alertWriteErrors = Metrics.Counter(label: "telemetryhub_alert_write_errors_total", factory: factory)
        var gauges: [AlertState: Metrics.Gauge] = [:]
        for state in [AlertState.pending, .firing, .nodata] {
            gauges[state] = Metrics.Gauge(
                label: "telemetryhub_alerts_active", dimensions: [("state", state.rawValue)], factory: factory)
        }
        alertsActiveGauges = gauges
        commands = Metrics.Counter(label: "telemetryhub_commands_total", factory: factory)
        commandsOpen = Metrics.Gauge(label: "telemetryhub_commands_open", factory: factory)
        commandsQueued = Metrics.Gauge(label: "telemetryhub_command_deliveries_queued", factory: factory)
        commandSends = Metrics.Counter(label: "telemetryhub_command_sends_total", factory: factory)
        commandResultsLate = Metrics.Counter(label: "telemetryhub_command_results_late_total", factory: factory)
        commandResultsDuplicate = Metrics.Counter(
            label: "telemetryhub_command_results_duplicate_total", factory: factory)
        commandWriteErrors = Metrics.Counter(label: "telemetryhub_command_write_errors_total", factory: factory)
        pendingConnections = Metrics.Gauge(label: "telemetryhub_pending_connections", factory: factory)
        headerTimeouts = Metrics.Counter(label: "telemetryhub_header_timeouts_total", factory: factory)
        requestTimeouts = Metrics.Counter(label: "telemetryhub_request_timeouts_total", factory: factory)
        framesRefused = Metrics.Counter(label: "telemetryhub_websocket_frames_refused_total", factory: factory)
        devicesExpired = Metrics.Counter(label: "telemetryhub_devices_expired_total", factory: factory)
        refusedCounters = [
            .total: Metrics.Counter(
                label: "telemetryhub_connections_refused_total", dimensions: [("cap", "total")], factory: factory),
            .address: Metrics.Counter(
                label: "telemetryhub_connections_refused_total", dimensions: [("cap", "address")], factory: factory),
        ]
        var outcomes: [DeliveryStatus: Metrics.Counter] = [:]
        for status in DeliveryStatus.allCases where status != .pending {
            outcomes[status] = Metrics.Counter(
                label: "telemetryhub_command_answers_total", dimensions: [("status", status.rawValue)],
                factory: factory)
        }
        commandOutcomeCounters = outcomes
        residentMemory = Metrics.Gauge(label: "process_resident_memory_bytes", factory: factory)
        cpuSeconds = Metrics.Gauge(label: "process_cpu_seconds_total", factory: factory)
        openFDs = Metrics.Gauge(label: "process_open_fds", factory: factory)
    }

    /// The gauge of active alerts in `state` (pending, firing or nodata).
    func alertsActive(_ state: AlertState) -> Metrics.Gauge { alertsActiveGauges[state]! }

    /// Counts the per-device statuses of a command's answer.
    func commandAnswered(_ record: CommandRecord) {
        for (status, count) in record.counts { commandOutcomeCounters[status]?.increment(by: Int64(count)) }
    }

    /// Counts an error sent to a client, by code.
    /// Counts a connection refused by a pending-connection cap.
    func connectionsRefused(_ refusal: PendingConnections.Refusal) {
        refusedCounters[refusal]?.increment()
    }

    func error(_ code: ErrorCode) {
        let counter = errorCounters.withLock { counters in
            if let counter = counters[code.rawValue] { return counter }
            let counter = Metrics.Counter(
                label: "telemetryhub_errors_total", dimensions: [("code", code.rawValue)], factory: factory)
            counters[code.rawValue] = counter
            return counter
        }
        counter.increment()
    }

    /// Renders the Prometheus text format, refreshing the process gauges first; `gateways` add their own lines.
    func render(gateways: [any GatewayStatus] = []) -> [UInt8] {
        let usage = ProcessUsage.read()
        residentMemory.record(usage.residentBytes)
        cpuSeconds.record(usage.cpuSeconds)
        openFDs.record(usage.openFDs)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        for gateway in gateways { buffer += Array(gateway.prometheusText().utf8) }
        return buffer
    }
}

/// This process's resident memory, CPU time and open files, read from `/proc/self`.
public struct ProcessUsage: Sendable {
    /// Resident set size in bytes.
    public var residentBytes: Int
    /// User plus system CPU time in seconds.
    public var cpuSeconds: Double
    /// Open file descriptors.
    public var openFDs: Int

    /// Reads the current figures (zeros where `/proc` is unavailable).
    public static func read() -> ProcessUsage {
        var usage = ProcessUsage(residentBytes: 0, cpuSeconds: 0, openFDs: 0)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { usage.residentBytes = pages * pageSize }
        }
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]), ticks > 0 {
                usage.cpuSeconds = (user + system) / ticks
            }
        }
        usage.openFDs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return usage
    }
}
