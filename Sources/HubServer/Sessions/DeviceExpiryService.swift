import ServiceLifecycle

/// Forgets offline devices not heard of for `limits.device_expiry_ms` (``Hub/expireDevices()``), sweeping every
/// quarter of that time (at most once a minute, at least every 100 ms).
struct DeviceExpiryService: Service {
    let hub: Hub

    /// How often to sweep for an expiry of `expiryMs` (0: never expires; the service then only waits).
    static func sweepIntervalMs(expiryMs: Int64) -> Int64 {
        expiryMs > 0 ? min(60_000, max(100, expiryMs / 4)) : 60_000
    }

    func run() async throws {
        let interval = Self.sweepIntervalMs(expiryMs: hub.configuration.limits.deviceExpiryMs)
        // Cancelled at the start of a graceful shutdown: a sweep is never worth waiting a minute for.
        await cancelWhenGracefulShutdown {
            await FixedBeat.run(
                every: .milliseconds(interval), now: { hub.now }, tick: { _ = hub.expireDevices() }, hourly: {})
        }
    }
}
