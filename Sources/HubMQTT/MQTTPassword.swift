import Foundation

/// Where the hub and the simulator take an MQTT password from: the `TELEMETRYHUB_MQTT_PASSWORD` environment
/// variable when set, else the first line of a password file, else none.
public enum MQTTPassword {
    /// The environment variable that wins over a password file.
    public static let environmentVariable = "TELEMETRYHUB_MQTT_PASSWORD"

    /// The password, or nil when neither the environment nor `file` gives one.
    ///
    /// - Throws: ``MQTTBridgeError`` when `file` is named but cannot be read.
    public static func resolve(file: String?, environment: [String: String]) throws(MQTTBridgeError) -> String? {
        if let value = environment[environmentVariable], !value.isEmpty { return value }
        guard let file, !file.isEmpty else { return nil }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw MQTTBridgeError("cannot read the MQTT password file \(file)")
        }
        return text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
    }
}
