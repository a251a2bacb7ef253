import ServiceLifecycle

/// A service's clock: runs `tick` on a fixed beat until the task is cancelled or a graceful shutdown begins, and
/// `hourly` a minute after start and then every hour.
///
/// On a fixed beat, the work of one tick does not push the next back, and a late wake-up does not bunch ticks up.
enum FixedBeat {
    static func run(
        every interval: Duration, now: () -> Int64, tick: () async -> Void, hourly: () async -> Void
    ) async {
        var nextHourly = now() + 60_000
        var next = ContinuousClock.now + interval
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(until: next, clock: .continuous)
            next += interval
            if next < .now { next = .now + interval }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            await tick()
            if now() >= nextHourly {
                nextHourly = now() + 3_600_000
                await hourly()
            }
        }
    }
}
