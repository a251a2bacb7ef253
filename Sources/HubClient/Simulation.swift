import Foundation
import HubCore
import Logging

/// Runs a fleet of simulated devices against a hub and reports progress.
///
/// ```swift
/// let simulation = Simulation(options: options, logger: logger)
/// try await simulation.run { line in print(line) }
/// ```
public struct Simulation: Sendable {
    /// The options of the run.
    public let options: SimulationOptions
    /// Live counters.
    public let stats = SimulationStats()
    private let logger: Logger

    /// Creates a simulation.
    public init(options: SimulationOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs every device until the duration passes or the task is cancelled; `progress` gets a status line
    /// about once a second.
    public func run(progress: (@Sendable (String) -> Void)? = nil) async {
        let deadline = options.durationSeconds.map { ContinuousClock.now + .milliseconds(Int($0 * 1_000)) }
        await withTaskGroup(of: Void.self) { group in
            for offset in 0..<options.count {
                let index = options.startIndex + offset
                let delay = options.rampMs * Double(offset)
                let (options, stats, logger) = (options, stats, logger)
                group.addTask {
                    if delay > 0 { try? await Task.sleep(for: .milliseconds(Int(delay))) }
                    if let mqtt = options.mqtt {
                        await SimulatedMQTTDevice(
                            options: options, mqtt: mqtt, index: index, stats: stats, logger: logger
                        )
                        .run(until: deadline)
                    } else {
                        await SimulatedDeviceClient(options: options, index: index, stats: stats, logger: logger)
                            .run(until: deadline)
                    }
                }
            }
            if let progress {
                group.addTask {
                    await reportProgress(progress, deadline: deadline)
                }
            }
            if let deadline {
                group.addTask {
                    try? await Task.sleep(until: deadline)
                }
                await group.next()
                // Give devices a moment to notice the deadline, then stop the rest.
                group.cancelAll()
            }
            await group.waitForAll()
        }
    }

    private func reportProgress(_ progress: @Sendable (String) -> Void, deadline: ContinuousClock.Instant?) async {
        var previous = stats.snapshot
        var previousTime = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = ContinuousClock.now
            let current = stats.snapshot
            let seconds = previousTime.duration(to: now).inSeconds
            progress(Self.line(current, previous: previous, seconds: seconds, target: options.count))
            previous = current
            previousTime = now
            if let deadline, now >= deadline { return }
        }
    }

    /// One progress line: connected/target, samples/s, errors, reconnects.
    static func line(
        _ current: SimulationStats.Snapshot, previous: SimulationStats.Snapshot, seconds: Double, target: Int
    )
        -> String
    {
        let rate = Double(current.samplesSent - previous.samplesSent) / max(seconds, 0.001)
        var text =
            "connected \(current.connected)/\(target)  samples/s \(Int(rate))  sent \(current.samplesSent)  errors \(current.errors)  reconnects \(current.reconnects)  commands \(current.commandsAnswered)"
        if current.errors > previous.errors, let last = current.lastError { text += "  last error: \(last)" }
        return text
    }
}
