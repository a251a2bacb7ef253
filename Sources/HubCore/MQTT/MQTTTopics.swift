/// The MQTT topics of the wire protocol under a prefix (default `telemetryhub/`):
/// `{prefix}devices/{id}/telemetry|meta|status|command_results` from devices, `{prefix}devices/{id}/commands` to
/// them. Pure: maps topics to devices and channels and back.
public struct MQTTTopics: Sendable, Equatable {
    /// What a device topic carries.
    public enum Channel: String, Sendable, CaseIterable {
        /// A `telemetry` message (`type` optional).
        case telemetry
        /// Retained `{"kind":…,"rooms":[…]}`.
        case meta
        /// Retained `online`, or `offline` from the device's last will.
        case status
        /// A device's `command_result`.
        case commandResults = "command_results"
        /// Commands from the hub to the device.
        case commands
    }

    /// The prefix, ending in `/` (or empty).
    public let prefix: String

    /// Creates the mapping for `prefix`; a missing trailing `/` is added.
    public init(prefix: String = "telemetryhub/") {
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// The filters the hub subscribes to: every device's telemetry, meta, status and command results.
    public var hubSubscriptions: [String] {
        [Channel.telemetry, .meta, .status, .commandResults].map { "\(prefix)devices/+/\($0.rawValue)" }
    }

    /// The topic of `device`'s `channel`.
    public func topic(_ device: String, _ channel: Channel) -> String {
        "\(prefix)devices/\(device)/\(channel.rawValue)"
    }

    /// The device and channel a topic names; nil for a topic outside the protocol (another prefix, an unknown
    /// channel, or a device id that is not a valid name).
    public func parse(_ topic: String) -> (device: String, channel: Channel)? {
        guard topic.hasPrefix(prefix) else { return nil }
        let parts = topic.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "devices", let channel = Channel(rawValue: String(parts[2])) else {
            return nil
        }
        let device = String(parts[1])
        guard Names.isValidName(device) else { return nil }
        return (device, channel)
    }
}
