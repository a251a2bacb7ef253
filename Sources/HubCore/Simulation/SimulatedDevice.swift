/// The behaviour of one simulated device: its signals and its reactions to commands. Pure: time comes in as
/// Unix milliseconds and randomness from a seeded generator.
public struct SimulatedDevice: Sendable {
    /// The profile followed.
    public let profile: DeviceProfile
    /// The device id.
    public let id: String
    /// The rooms declared at registration.
    public let rooms: [String]
    private var random: SeededRandom
    private var signals: [SignalState]

    struct SignalState: Sendable {
        var metric: DeviceProfile.MetricProfile
        /// Offset applied by `set_target`: the signal's centre moves by this much.
        var shift: Double = 0
        /// Where `set_target` wants the centre to be (nil: no command yet).
        var target: Double?
        var walk: Double
        var counter: Double = 0
        var phase: Double
        var lastMs: Int64?
    }

    /// A device's answer to a command.
    public enum Reaction: Equatable, Sendable {
        /// Answer `command_result` with `ok` and a result.
        case ok(JSONValue)
        /// Answer `command_result` with `ok: false` and an error.
        case failed(String)
        /// Answer ok, then drop the connection and stay offline for the given milliseconds.
        case reboot(offlineMs: Int)
    }

    /// Creates device number `index` of a profile with a per-device seed derived from `seed`.
    public init(profile: DeviceProfile, index: Int, seed: UInt64) {
        self.profile = profile
        self.id = profile.deviceID(index: index)
        self.rooms = profile.rooms(index: index)
        var random = SeededRandom(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        self.signals = profile.metrics.map { metric in
            SignalState(
                metric: metric,
                walk: Double.random(in: metric.min...metric.max, using: &random),
                phase: Double.random(in: 0..<1, using: &random))
        }
        self.random = random
    }

    /// The readings at time `now`, one per metric, rounded to each metric's decimals.
    public mutating func readings(now: Int64) -> [(metric: String, value: Double)] {
        var result: [(metric: String, value: Double)] = []
        result.reserveCapacity(signals.count)
        var states = signals
        for index in states.indices {
            result.append((states[index].metric.name, next(&states[index], now: now)))
        }
        signals = states
        return result
    }

    private mutating func next(_ state: inout SignalState, now: Int64) -> Double {
        let metric = state.metric
        let elapsedS = state.lastMs.map { Double(Swift.max(0, now - $0)) / 1_000 } ?? 0
        state.lastMs = now
        if let target = state.target {
            // Move the centre toward the target at a tenth of the range per second.
            let centre = (metric.min + metric.max) / 2 + state.shift
            let maxMove = Swift.max((metric.max - metric.min) / 10, 0.1) * elapsedS
            let delta = Swift.max(-maxMove, Swift.min(maxMove, target - centre))
            state.shift += delta
        }
        let low = metric.min + state.shift
        let high = metric.max + state.shift
        let seconds = Double(now) / 1_000
        var value: Double
        switch metric.shape {
        case .sine:
            let angle = 2 * Double.pi * (seconds / metric.periodS + state.phase)
            value = (low + high) / 2 + (high - low) / 2 * Self.sine(angle)
        case .randomWalk:
            state.walk +=
                Double.random(in: -1...1, using: &random) * metric.step * Swift.max(elapsedS, 0.001).squareRoot()
            state.walk = Swift.min(metric.max, Swift.max(metric.min, state.walk))
            value = state.walk + state.shift
        case .steps:
            let levels = 4.0
            let stepIndex = ((seconds / metric.periodS + state.phase * levels).rounded(.down)).truncatingRemainder(
                dividingBy: levels)
            value = low + (high - low) * stepIndex / (levels - 1)
        case .counter:
            state.counter += metric.step * elapsedS * Double.random(in: 0.5...1.5, using: &random)
            value = metric.min + state.counter
        case .constant:
            value = (low + high) / 2
        }
        if metric.noise > 0 { value += gaussian() * metric.noise }
        return Self.round(value, decimals: metric.decimals)
    }

    /// Reacts to command `name` with `args`.
    public mutating func handle(command name: String, args: JSONValue) -> Reaction {
        guard let command = profile.commands.first(where: { $0.name == name }) else {
            return .failed("unsupported command '\(name)'")
        }
        if command.failRate > 0, Double.random(in: 0..<1, using: &random) < command.failRate {
            return .failed("\(name) failed (simulated fault)")
        }
        switch command.action {
        case .ok:
            return .ok(.object(JSONObject([("echo", args)])))
        case .fail:
            return .failed("\(name) is not possible on this device")
        case .reboot:
            return .reboot(offlineMs: command.offlineMs)
        case .setTarget:
            guard let index = signals.firstIndex(where: { $0.metric.name == command.metric }) else {
                return .failed("profile has no metric for \(name)")
            }
            guard case .number(let target) = args[command.arg] ?? .null, target.isFinite else {
                return .failed("argument '\(command.arg)' must be a number")
            }
            signals[index].target = target
            return .ok(
                .object(JSONObject([("metric", .string(signals[index].metric.name)), ("target", .number(target))])))
        }
    }

    /// How long the device waits before answering `name`.
    public func answerDelayMs(command name: String) -> Int {
        profile.commands.first(where: { $0.name == name })?.delayMs ?? 0
    }

    private mutating func gaussian() -> Double {
        // Irwin–Hall approximation: cheap and bounded.
        var sum = 0.0
        for _ in 0..<6 { sum += Double.random(in: 0..<1, using: &random) }
        return (sum - 3) / 0.7071
    }

    static func round(_ value: Double, decimals: Int) -> Double {
        var scale = 1.0
        for _ in 0..<Swift.max(0, Swift.min(decimals, 12)) { scale *= 10 }
        return (value * scale).rounded() / scale
    }

    /// sin(x) without Foundation, accurate to ~1e-7 (ample for simulated signals).
    static func sine(_ x: Double) -> Double {
        let twoPi = 2 * Double.pi
        var angle = x.truncatingRemainder(dividingBy: twoPi)
        if angle > Double.pi { angle -= twoPi } else if angle < -Double.pi { angle += twoPi }
        var sign = 1.0
        if angle > Double.pi / 2 {
            angle = Double.pi - angle
        } else if angle < -Double.pi / 2 {
            angle = -Double.pi - angle
        }
        if angle < 0 {
            angle = -angle
            sign = -1
        }
        let a2 = angle * angle
        let series = angle * (1 - a2 / 6 * (1 - a2 / 20 * (1 - a2 / 42 * (1 - a2 / 72 * (1 - a2 / 110)))))
        return sign * series
    }
}
