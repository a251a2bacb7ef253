/// Parses durations such as `500ms`, `30s`, `15m`, `24h`, `7d`, `2w`, `2y` (a bare number means seconds; a year is
/// 365 days).
public enum DurationText {
    private static let units: [(String, Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400), ("w", 604_800), ("y", 31_536_000),
    ]

    /// The duration in seconds, or nil when the text is not a duration.
    public static func seconds(_ text: String) -> Double? {
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0, number.isFinite else { return nil }
            return number * scale
        }
        guard let number = Double(text), number >= 0, number.isFinite else { return nil }
        return number
    }

    /// The duration in whole milliseconds, or nil when the text is not a duration or is over 1,000 years.
    public static func milliseconds(_ text: String) -> Int64? {
        guard let seconds = seconds(text), seconds <= 31_536_000_000 else { return nil }
        return Int64((seconds * 1_000).rounded())
    }

    /// The shortest text for `ms` in the largest whole unit (`7d`, `90m`, `1500ms`).
    public static func format(milliseconds ms: Int64) -> String {
        for (suffix, scale) in units.reversed() where suffix != "ms" {
            let unit = Int64(scale * 1_000)
            if ms >= unit, ms % unit == 0 { return "\(ms / unit)\(suffix)" }
        }
        return "\(ms)ms"
    }
}
