/// The behaviour of one simulated device: its signals, its silences and its reactions to commands. Pure: time comes
/// in as Unix milliseconds and randomness from a seeded generator.
///
/// Episodes and silences are timed from the device's first reading (the first call of ``readings(now:)`` or
/// ``isSilent(now:)``), so every run shows them equally early.
public struct SimulatedDevice: Sendable {
    /// The profile followed.
    public let profile: DeviceProfile
    /// The device id.
    public let id: String
    /// The rooms declared at registration.
    public let rooms: [String]
    private var random: SeededRandom
    private var signals: [SignalState]
    /// The silence windows of this device (nil: never silent).
    private var silence: Windows?
    /// When the device was first asked for readings or silence, in Unix milliseconds.
    private var originMs: Int64?

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
        /// The episode windows of this metric on this device (nil: none).
        var episodes: Windows?
    }

    /// The windows of one ``DeviceProfile/Recurrence`` on one device, laid out lazily as time passes with their own
    /// generator (so they do not change the signals' random sequence).
    struct Windows: Sendable {
        let recurrence: DeviceProfile.Recurrence
        private var random: SeededRandom
        /// Start of the current or next window, in seconds after the device's first reading.
        private(set) var startS: Double

        /// The windows of device number `ordinal` of the profile, or nil when it has none.
        init?(_ recurrence: DeviceProfile.Recurrence, ordinal: Int, seed: UInt64) {
            guard recurrence.isUsable, recurrence.applies(toOrdinal: ordinal) else { return nil }
            self.recurrence = recurrence
            var random = SeededRandom(seed: seed)
            self.startS = recurrence.firstS ?? Double.random(in: 0..<recurrence.everyS, using: &random)
            self.random = random
        }

        /// Seconds into the window that holds `seconds` (seconds after the device's first reading), or nil between
        /// windows. Windows already passed are not revisited when time goes backwards.
        mutating func position(at seconds: Double) -> Double? {
            let every = recurrence.everyS
            let duration = recurrence.durationS
            // After a long jump, skip ahead instead of drawing every window in between.
            if seconds - startS > 1_000 * every { startS = seconds - every }
            while seconds >= startS + duration {
                // Start to start: the window plus a pause averaging every_s - duration_s (half to one and a half).
                startS += duration + (every - duration) * Double.random(in: 0.5...1.5, using: &random)
            }
            return seconds >= startS ? seconds - startS : nil
        }
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
    ///
    /// `ordinal` is the device's number among the devices of its profile (0-based; default `index`, right when a
    /// run simulates one profile); with each `fraction` it decides whether this device has episodes and silences.
    public init(profile: DeviceProfile, index: Int, seed: UInt64, ordinal: Int? = nil) {
        self.profile = profile
        self.id = profile.deviceID(index: index)
        self.rooms = profile.rooms(index: index)
        let deviceSeed = seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9
        let ordinal = ordinal ?? index
        var random = SeededRandom(seed: deviceSeed)
        self.signals = profile.metrics.enumerated().map { position, metric in
            SignalState(
                metric: metric,
                walk: Double.random(in: metric.min...metric.max, using: &random),
                phase: Double.random(in: 0..<1, using: &random),
                episodes: metric.episodes.flatMap {
                    Windows($0.recurrence, ordinal: ordinal, seed: Self.windowSeed(deviceSeed, stream: position + 1))
                })
        }
        self.silence = profile.silence.flatMap {
            Windows($0, ordinal: ordinal, seed: Self.windowSeed(deviceSeed, stream: 0))
        }
        self.random = random
    }

    /// The seed of one window generator of a device: stream 0 for silences, 1 + n for metric n's episodes.
    private static func windowSeed(_ deviceSeed: UInt64, stream: Int) -> UInt64 {
        (deviceSeed ^ 0x6A09_E667_F3BC_C909) &+ UInt64(truncatingIfNeeded: stream) &* 0xD1B5_4A32_D192_ED03
    }

    /// Whether the device sends no telemetry at `now` (inside a window of the profile's `silence`). A silent device
    /// keeps its connection and answers commands; it simply skips its readings.
    public mutating func isSilent(now: Int64) -> Bool {
        let seconds = secondsSinceStart(now)
        return silence?.position(at: seconds) != nil
    }

    /// Seconds from the device's first reading to `now` (negative when time went backwards).
    private mutating func secondsSinceStart(_ now: Int64) -> Double {
        let origin = originMs ?? now
        originMs = origin
        return Double(now - origin) / 1_000
    }

    /// The readings at time `now`, one per metric, rounded to each metric's decimals.
    public mutating func readings(now: Int64) -> [(metric: String, value: Double)] {
        var result: [(metric: String, value: Double)] = []
        result.reserveCapacity(signals.count)
        let sinceStart = secondsSinceStart(now)
        var states = signals
        for index in states.indices {
            result.append((states[index].metric.name, next(&states[index], now: now, sinceStart: sinceStart)))
        }
        signals = states
        return result
    }

    private mutating func next(_ state: inout SignalState, now: Int64, sinceStart: Double) -> Double {
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
        if let episodes = metric.episodes, let position = state.episodes?.position(at: sinceStart) {
            value += (episodes.level - value) * episodes.weight(at: position)
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
