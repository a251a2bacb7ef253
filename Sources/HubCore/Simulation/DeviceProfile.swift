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

        public enum Shape: String, Sendable, Codable, Equatable {
            case sine
            case randomWalk = "random_walk"
            case steps
            case counter
            case constant
        }

        enum CodingKeys: String, CodingKey {
            case name, unit, min, max, shape, noise, decimals, step
            case periodS = "period_s"
        }

        public init(
            name: String, unit: String = "", min: Double, max: Double, shape: Shape, periodS: Double = 600,
            noise: Double = 0, decimals: Int = 2, step: Double = 1
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
        case kind, rooms, groups, meta, metrics, commands
        case idPrefix = "id_prefix"
    }

    public init(
        kind: String, idPrefix: String, rooms: [String] = [], groups: Int = 1, meta: [String: String] = [:],
        metrics: [MetricProfile], commands: [CommandProfile] = []
    ) {
        self.kind = kind
        self.idPrefix = idPrefix
        self.rooms = rooms
        self.groups = groups
        self.meta = meta
        self.metrics = metrics
        self.commands = commands
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
        }
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
