/// Validation of the names the protocol carries: device ids, metric names and room names.
///
/// Device ids and metric names are `[A-Za-z0-9._:-]{1,128}`; room names may also contain `*`.
public enum Names {
    /// The longest name accepted, in bytes.
    public static let maxLength = 128

    /// Whether `name` is a valid device id or metric name.
    public static func isValidName(_ name: String) -> Bool {
        isValid(name, allowingStar: false)
    }

    /// Whether `name` is a valid room name (which may contain `*` for addressing many rooms).
    public static func isValidRoom(_ name: String) -> Bool {
        isValid(name, allowingStar: true)
    }

    @inline(__always)
    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
            UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    static func isValid(_ name: String, allowingStar: Bool) -> Bool {
        var count = 0
        for byte in name.utf8 {
            count += 1
            if count > maxLength { return false }
            if isNameByte(byte) || (allowingStar && byte == UInt8(ascii: "*")) { continue }
            return false
        }
        return count > 0
    }
}

/// The identity of one time series: a device and one of its metrics, written `device/metric`.
public struct SeriesKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The device id.
    public let device: String
    /// The metric name.
    public let metric: String

    /// Creates a key from parts that the caller has already validated.
    public init(device: String, metric: String) {
        self.device = device
        self.metric = metric
    }

    /// Parses `device/metric`, returning nil when either part is not a valid name.
    public init?(parsing text: String) {
        guard let slash = text.firstIndex(of: "/") else { return nil }
        let device = String(text[..<slash])
        let metric = String(text[text.index(after: slash)...])
        guard Names.isValidName(device), Names.isValidName(metric) else { return nil }
        self.init(device: device, metric: metric)
    }

    /// `device/metric`.
    public var description: String { "\(device)/\(metric)" }

    public static func < (lhs: SeriesKey, rhs: SeriesKey) -> Bool {
        (lhs.device, lhs.metric) < (rhs.device, rhs.metric)
    }
}

/// One measurement: a timestamp in Unix milliseconds and a finite value.
public struct Sample: Hashable, Sendable {
    /// Unix time in milliseconds.
    public var ts: Int64
    /// The measured value; always finite, and at most ``maxMagnitude`` in size when it came from a device.
    public var value: Double

    /// The largest magnitude of a value the hub accepts: 1e300, so that sums of values (rollups) cannot overflow.
    public static let maxMagnitude = 1e300

    /// Creates a sample.
    public init(ts: Int64, value: Double) {
        self.ts = ts
        self.value = value
    }
}

/// A sample addressed to a series by metric name, as a device sends it.
public struct MetricSample: Hashable, Sendable {
    /// The metric name.
    public var metric: String
    /// Unix time in milliseconds; nil means "server receive time".
    public var ts: Int64?
    /// The measured value.
    public var value: Double

    /// Creates a metric sample.
    public init(metric: String, ts: Int64?, value: Double) {
        self.metric = metric
        self.ts = ts
        self.value = value
    }
}
