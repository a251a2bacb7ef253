/// How the hub reaches one connected device, whatever carries it (a WebSocket session, the MQTT bridge).
///
/// The command path only ever talks to links: the hub looks up the device's current link and hands it the
/// `command`; the device's `command_result` comes back through ``CommandTracker`` the same way for every transport.
/// Implementations must not block: queue the bytes and return.
public protocol DeviceLink: Sendable {
    /// The transport's name as `/api/devices` shows it (`ws`, `mqtt`).
    var transport: String { get }

    /// Hands a command to the device; false when the link can no longer carry it (closing, gone).
    func send(_ command: CommandSend) -> Bool
}
