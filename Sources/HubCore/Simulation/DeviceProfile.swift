/// A device profile from `Devices/*.json`: what a simulated device of this kind measures and how it reacts to
/// commands.
public struct DeviceProfile: Sendable, Codable, Equatable {
    /// The device kind sent in `register`.
    public var kind: String
    /// Device ids are `{idPrefix}-{n}`, n from 1.
    public var idPrefix: String
    /// Rooms the device declares; `{group}` becomes `1 + index % groups`.
    public var rooms: [String]
    /// How many values `{group}` takes.
    public var groups: Int
    /// Metadata sent in `register`.
    public var meta: [String: String]
    /// The metrics measured.
    public var metrics: [MetricProfile]
    /// The commands accepted.
    public var commands: [CommandProfile]
    /// Now-and-then windows in which a device sends no telemetry (`silence`; nil: never silent). A silent device
    /// keeps its connection and answers pings and commands.
    public var silence: Recurrence?

    /// Windows of time that come now and then: how often, how long, when the first one starts, and which devices of
    /// the profile have them. Used by metric `episodes` and by the device's `silence`.
    ///
    /// ```json
    /// {"every_s": 300, "duration_s": 45, "first_s": 30, "fraction": 0.25}
    /// ```
    public struct Recurrence: Sendable, Codable, Equatable {
        /// Mean time from the start of one window to the start of the next, in seconds (`every_s`).
        public var everyS: Double
        /// How long each window lasts, in seconds (`duration_s`).
        public var durationS: Double
        /// When the first window starts, in seconds after the device's first reading (`first_s`); nil: at a random
        /// time within the first `every_s`.
        public var firstS: Double?
        /// Share of the profile's devices that have these windows (`fraction`, default 1), spread evenly over the
        /// devices and always including the profile's first device.
        public var fraction: Double

        enum CodingKeys: String, CodingKey {
            case everyS = "every_s"
            case durationS = "duration_s"
            case firstS = "first_s"
            case fraction
        }

        /// Creates a recurrence.
        public init(everyS: Double, durationS: Double, firstS: Double? = nil, fraction: Double = 1) {
            self.everyS = everyS
            self.durationS = durationS
            self.firstS = firstS
            self.fraction = fraction
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            everyS = try container.decode(Double.self, forKey: .everyS)
            durationS = try container.decode(Double.self, forKey: .durationS)
            firstS = try container.decodeIfPresent(Double.self, forKey: .firstS)
            fraction = try container.decodeIfPresent(Double.self, forKey: .fraction) ?? 1
        }

        /// Whether device number `ordinal` of the profile (0-based, counting only this profile's devices) has
        /// these windows: of the first n devices, `ceil(n * fraction)` do.
        public func applies(toOrdinal ordinal: Int) -> Bool {
            guard ordinal >= 0, fraction > 0 else { return false }
            guard fraction < 1 else { return true }
            let before = (Double(ordinal) * fraction).rounded(.up)
            let through = (Double(ordinal + 1) * fraction).rounded(.up)
            return through > before
        }

        /// Whether the windows can be laid out: positive length, shorter than `every_s`, `first_s` not negative.
        var isUsable: Bool {
            durationS > 0 && durationS.isFinite && everyS.isFinite && everyS > durationS
                && (firstS.map { $0 >= 0 && $0.isFinite } ?? true)
        }

        func problems(at path: String) -> [String] {
            var problems: [String] = []
            if !(durationS > 0 && durationS.isFinite) { problems.append("\(path): duration_s must be positive") }
            if !(everyS.isFinite && everyS > durationS) {
                problems.append("\(path): every_s must be greater than duration_s")
            }
            if let firstS, !(firstS >= 0 && firstS.isFinite) {
                problems.append("\(path): first_s must not be negative")
            }
            if !(0...1).contains(fraction) { problems.append("\(path): fraction must be in [0, 1]") }
            return problems
        }
    }

    /// Now-and-then excursions of a metric: during each window the value moves to `level` (over `ramp_s`), stays
    /// there, and comes back (over `ramp_s`) before the window ends. Noise is still added.
    ///
    /// ```json
    /// {"level": 32, "ramp_s": 10, "every_s": 240, "duration_s": 60, "first_s": 20, "fraction": 0.25}
    /// ```
    public struct Episodes: Sendable, Codable, Equatable {
        /// The value the metric reaches during an episode (`level`).
        public var level: Double
        /// Time taken to move to `level` at the start of an episode, and back at its end, in seconds (`ramp_s`,
        /// default 0: a jump). At most half of `duration_s`.
        public var rampS: Double
        /// When episodes happen and on which devices (`every_s`, `duration_s`, `first_s`, `fraction`, in the same
        /// object as `level`).
        public var recurrence: Recurrence

        enum CodingKeys: String, CodingKey {
            case level
            case rampS = "ramp_s"
        }

        /// Creates episodes.
        public init(level: Double, rampS: Double = 0, recurrence: Recurrence) {
            self.level = level
            self.rampS = rampS
            self.recurrence = recurrence
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            level = try container.decode(Double.self, forKey: .level)
            rampS = try container.decodeIfPresent(Double.self, forKey: .rampS) ?? 0
            recurrence = try Recurrence(from: decoder)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(level, forKey: .level)
            try container.encode(rampS, forKey: .rampS)
            try recurrence.encode(to: encoder)
        }

        /// How far the value has moved toward `level` at `position` seconds into an episode: 0 to 1 over the ramp
        /// up, 1 while held, back to 0 over the ramp down.
        public func weight(at position: Double) -> Double {
            let duration = recurrence.durationS
            guard position >= 0, position < duration else { return 0 }
            guard rampS > 0 else { return 1 }
            return Swift.max(0, Swift.min(1, position / rampS, (duration - position) / rampS))
        }

        func problems(at path: String) -> [String] {
            var problems: [String] = []
            if !level.isFinite { problems.append("\(path): level must be a finite number") }
            problems += recurrence.problems(at: path)
            if !(rampS >= 0 && rampS * 2 <= recurrence.durationS) {
                problems.append("\(path): ramp_s must be at least 0 and at most half of duration_s")
            }
            return problems
        }
    }

    /// One measured quantity and the shape of its signal.
    public struct MetricProfile: Sendable, Codable, Equatable {
        public var name: String
        public var unit: String
        /// Lowest and highest value the signal stays within (noise excluded).
        public var min: Double
        public var max: Double
        /// `sine`, `random_walk`, `steps`, `counter` or `constant`.
        public var shape: Shape
        /// Period of a sine or of one step, in seconds.
        public var periodS: Double
        /// Standard deviation of the noise added to each reading.
        public var noise: Double
        /// Decimal places readings are rounded to.
        public var decimals: Int
        /// Largest move per second of a random walk, or the increase per second of a counter.
        public var step: Double
        /// Now-and-then excursions to another level (`episodes`; nil: none).
        public var episodes: Episodes?

        public enum Shape: String, Sendable, Codable, Equatable {
            case sine
            case randomWalk = "random_walk"
            case steps
            case counter
            case constant
        }

        enum CodingKeys: String, CodingKey {
            case name, unit, min, max, shape, noise, decimals, step, episodes
            case periodS = "period_s"
        }

        public init(
            name: String, unit: String = "", min: Double, max: Double, shape: Shape, periodS: Double = 600,
            noise: Double = 0, decimals: Int = 2, step: Double = 1, episodes: Episodes? = nil
        ) {
            self.name = name
            self.unit = unit
            self.min = min
            self.max = max
            self.shape = shape
            self.periodS = periodS
            self.noise = noise
            self.decimals = decimals
            self.step = step
            self.episodes = episodes
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            unit = try container.decodeIfPresent(String.self, forKey: .unit) ?? ""
            min = try container.decode(Double.self, forKey: .min)
            max = try container.decode(Double.self, forKey: .max)
            shape = try container.decodeIfPresent(Shape.self, forKey: .shape) ?? .sine
            periodS = try container.decodeIfPresent(Double.self, forKey: .periodS) ?? 600
            noise = try container.decodeIfPresent(Double.self, forKey: .noise) ?? 0
            decimals = try container.decodeIfPresent(Int.self, forKey: .decimals) ?? 2
            step = try container.decodeIfPresent(Double.self, forKey: .step) ?? 1
            episodes = try container.decodeIfPresent(Episodes.self, forKey: .episodes)
        }
    }

    /// A command the device accepts and its reaction.
    public struct CommandProfile: Sendable, Codable, Equatable {
        public var name: String
        /// `set_target` (moves `metric` toward `args[arg]`), `reboot` (offline for `offlineMs`), `ok` (answers ok
        /// echoing the args) or `fail` (always answers an error).
        public var action: Action
        /// The metric `set_target` moves.
        public var metric: String?
        /// The argument holding the target (default `value`).
        public var arg: String
        /// How long `reboot` keeps the device offline.
        public var offlineMs: Int
        /// Probability in [0, 1] that the command fails with an error instead.
        public var failRate: Double
        /// How long the device takes to answer.
        public var delayMs: Int

        public enum Action: String, Sendable, Codable, Equatable {
            case setTarget = "set_target"
            case reboot
            case ok
            case fail
        }

        enum CodingKeys: String, CodingKey {
            case name, action, metric, arg
            case offlineMs = "offline_ms"
            case failRate = "fail_rate"
            case delayMs = "delay_ms"
        }

        public init(
            name: String, action: Action, metric: String? = nil, arg: String = "value", offlineMs: Int = 3_000,
            failRate: Double = 0, delayMs: Int = 0
        ) {
            self.name = name
            self.action = action
            self.metric = metric
            self.arg = arg
            self.offlineMs = offlineMs
            self.failRate = failRate
            self.delayMs = delayMs
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            action = try container.decode(Action.self, forKey: .action)
            metric = try container.decodeIfPresent(String.self, forKey: .metric)
            arg = try container.decodeIfPresent(String.self, forKey: .arg) ?? "value"
            offlineMs = try container.decodeIfPresent(Int.self, forKey: .offlineMs) ?? 3_000
            failRate = try container.decodeIfPresent(Double.self, forKey: .failRate) ?? 0
            delayMs = try container.decodeIfPresent(Int.self, forKey: .delayMs) ?? 0
        }
    }

    enum CodingKeys: String, CodingKey {
        case kind, rooms, groups, meta, metrics, commands, silence
        case idPrefix = "id_prefix"
    }

    public init(
        kind: String, idPrefix: String, rooms: [String] = [], groups: Int = 1, meta: [String: String] = [:],
        metrics: [MetricProfile], commands: [CommandProfile] = [], silence: Recurrence? = nil
    ) {
        self.kind = kind
        self.idPrefix = idPrefix
        self.rooms = rooms
        self.groups = groups
        self.meta = meta
        self.metrics = metrics
        self.commands = commands
        self.silence = silence
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(String.self, forKey: .kind)
        idPrefix = try container.decodeIfPresent(String.self, forKey: .idPrefix) ?? kind
        rooms = try container.decodeIfPresent([String].self, forKey: .rooms) ?? []
        groups = Swift.max(1, try container.decodeIfPresent(Int.self, forKey: .groups) ?? 1)
        meta = try container.decodeIfPresent([String: String].self, forKey: .meta) ?? [:]
        metrics = try container.decode([MetricProfile].self, forKey: .metrics)
        commands = try container.decodeIfPresent([CommandProfile].self, forKey: .commands) ?? []
        silence = try container.decodeIfPresent(Recurrence.self, forKey: .silence)
    }

    /// Checks names and ranges; returns the problems found (empty when the profile is usable).
    public func problems() -> [String] {
        var problems: [String] = []
        if !Names.isValidName(kind) { problems.append("kind '\(kind)' is not a valid name") }
        if !Names.isValidName(idPrefix) { problems.append("id_prefix '\(idPrefix)' is not a valid name") }
        if metrics.isEmpty { problems.append("metrics: at least one metric is needed") }
        for metric in metrics {
            if !Names.isValidName(metric.name) { problems.append("metrics: '\(metric.name)' is not a valid name") }
            if !(metric.min <= metric.max) { problems.append("metrics.\(metric.name): min must not exceed max") }
            if metric.periodS <= 0 { problems.append("metrics.\(metric.name): period_s must be positive") }
            if let episodes = metric.episodes { problems += episodes.problems(at: "metrics.\(metric.name).episodes") }
        }
        if let silence { problems += silence.problems(at: "silence") }
        for index in 0..<groups {
            for room in rooms(index: index) where !Names.isValidRoom(room) || room.contains("*") {
                problems.append("rooms: '\(room)' is not a valid room name ([A-Za-z0-9._:-]{1,128})")
            }
        }
        for command in commands {
            if command.action == .setTarget, !metrics.contains(where: { $0.name == command.metric }) {
                problems.append("commands.\(command.name): set_target needs 'metric' naming one of the metrics")
            }
            if !(0...1).contains(command.failRate) {
                problems.append("commands.\(command.name): fail_rate must be in [0, 1]")
            }
        }
        return problems
    }

    /// The commands as a device of this profile declares them at registration (`set_target` takes its `arg`).
    public var commandSpecs: [CommandSpec] {
        commands.map { CommandSpec(name: $0.name, args: $0.action == .setTarget ? [$0.arg] : []) }
    }

    /// The id of the simulated device number `index` (0-based).
    public func deviceID(index: Int) -> String { "\(idPrefix)-\(index + 1)" }

    /// The rooms of the simulated device number `index`.
    public func rooms(index: Int) -> [String] {
        rooms.map { $0.replacingOccurrences(of: "{group}", with: String(1 + index % groups)) }
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
