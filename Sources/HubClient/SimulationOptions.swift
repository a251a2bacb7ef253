import HubCore

/// How `telemetryhub simulate` runs its devices.
public struct SimulationOptions: Sendable {
    /// Base URL of the hub, e.g. `ws://127.0.0.1:8080`.
    public var url: String
    /// Device token (any device id allowed by its pattern); nil when the hub runs with `--no-auth`.
    public var token: String?
    /// The profiles to simulate; devices are spread over them in turn.
    public var profiles: [DeviceProfile]
    /// How many devices.
    public var count: Int
    /// Index of the first device (so several processes can simulate disjoint fleets).
    public var startIndex: Int
    /// Telemetry messages per second per device.
    public var rate: Double
    /// Relative jitter of the send interval, in [0, 1).
    public var jitter: Double
    /// Seed for repeatable signals, jitter and backoff.
    public var seed: UInt64
    /// Messages per frame (1 sends each message as its own frame; more sends JSON array batches).
    public var batch: Int
    /// Stop after this many seconds (nil: run until cancelled).
    public var durationSeconds: Double?
    /// Delay between starting consecutive devices, in milliseconds.
    public var rampMs: Double
    /// Reconnect policy.
    public var backoff: Backoff
    /// Devices connect through this MQTT broker instead of the hub's WebSocket endpoint (`url` and `token` unused).
    public var mqtt: MQTTSimulation?

    /// Creates options with defaults for everything but the profiles.
    public init(
        url: String = "ws://127.0.0.1:8080", token: String? = nil, profiles: [DeviceProfile], count: Int = 1,
        startIndex: Int = 0, rate: Double = 1, jitter: Double = 0.1, seed: UInt64 = 1, batch: Int = 1,
        durationSeconds: Double? = nil, rampMs: Double = 2, backoff: Backoff = Backoff(), mqtt: MQTTSimulation? = nil
    ) {
        self.mqtt = mqtt
        self.url = url
        self.token = token
        self.profiles = profiles
        self.count = count
        self.startIndex = startIndex
        self.rate = rate
        self.jitter = jitter
        self.seed = seed
        self.batch = batch
        self.durationSeconds = durationSeconds
        self.rampMs = rampMs
        self.backoff = backoff
    }
}
