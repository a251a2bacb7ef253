/// A series selector such as `thermo-*/temp`, `*/hum` or `*/*`.
///
/// `*` matches any run of characters within one part; the device and metric parts are separated by `/`.
public struct SeriesSelector: Hashable, Sendable, CustomStringConvertible {
    /// The device-id part.
    public let device: GlobPattern
    /// The metric-name part.
    public let metric: GlobPattern

    /// Parses a selector, throwing ``ProtocolError`` (`invalid_message`) when it is malformed.
    public init(parsing text: String) throws(ProtocolError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw .invalidMessage("selector '\(text)' must have the form device/metric")
        }
        for part in parts {
            guard !part.isEmpty, part.utf8.count <= Names.maxLength,
                part.utf8.allSatisfy({ Names.isNameByte($0) || $0 == UInt8(ascii: "*") })
            else {
                throw .invalidMessage("selector '\(text)' has an invalid part '\(part)'")
            }
        }
        self.device = GlobPattern(String(parts[0]))
        self.metric = GlobPattern(String(parts[1]))
    }

    /// `device/metric` as written.
    public var description: String { "\(device.text)/\(metric.text)" }

    /// Whether the selector matches `key`.
    public func matches(_ key: SeriesKey) -> Bool {
        device.matches(key.device) && metric.matches(key.metric)
    }
}
