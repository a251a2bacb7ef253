import Foundation

/// The hub's stable MQTT client id: generated once (`telemetryhub-` and 12 random hex digits) and kept in
/// `<data_dir>/mqtt-client-id`, so the broker recognises the hub after a restart and hands over the session it kept
/// (subscriptions and the QoS 1 messages queued while the hub was away).
public enum MQTTClientIdentity {
    /// The file name in the data directory.
    public static let fileName = "mqtt-client-id"

    /// The id kept in `dataDirectory`, created (with the directory) on first use; `existed` is false when it was
    /// created now (the broker cannot hold a session for it yet).
    ///
    /// - Throws: when the directory or file cannot be read or written.
    public static func load(dataDirectory: String) throws -> (id: String, existed: Bool) {
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !id.isEmpty { return (id, true) }
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        var random = SystemRandomNumberGenerator()
        let id = "telemetryhub-" + String(random.next() & 0xffff_ffff_ffff, radix: 16).leftPadded(to: 12)
        try (id + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (id, false)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
