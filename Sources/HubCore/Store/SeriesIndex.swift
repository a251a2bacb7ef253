/// The result of ``SeriesIndex/series(matching:limit:)``.
public struct SeriesMatch: Equatable, Sendable {
    /// The matching series, sorted and distinct. When ``exceeded`` is true this is an arbitrary partial set of at
    /// most `limit + 1` keys and must not be used.
    public var keys: [SeriesKey]
    /// True when more than `limit` distinct series matched; the search stopped at the first key past the limit.
    public var exceeded: Bool

    /// Creates a match result.
    public init(keys: [SeriesKey] = [], exceeded: Bool = false) {
        self.keys = keys
        self.exceeded = exceeded
    }
}

/// The set of known series, indexed so that selector queries look only at plausible candidates.
///
/// A pure value type (no locks, no clock); the owner serialises access. Invariants, kept by every mutation:
/// - `metricsByDevice` and `devicesByMetric` hold exactly the same (device, metric) pairs, never an empty set;
/// - `sortedDevices` / `sortedMetrics` are the keys of those dictionaries, sorted ascending and distinct;
/// - ``count`` is the number of pairs.
///
/// Because of these invariants two indexes are equal exactly when they hold the same series.
///
/// Names are expected to be valid ``Names`` (ASCII), for which String order, `hasPrefix` and the byte-wise
/// matching of ``GlobPattern`` agree, so the names with a given prefix form one contiguous range of a sorted array.
///
/// With `D` devices and `M` metric names: ``insert(_:)`` and ``remove(_:)`` cost O(1) hashing, plus O(log D + D)
/// (binary search, then an array shift) when a device appears or disappears, and likewise O(log M + M) for a
/// metric name.
public struct SeriesIndex: Equatable, Sendable {
    /// device → its metric names.
    private var metricsByDevice: [String: Set<String>] = [:]
    /// metric name → the devices having it.
    private var devicesByMetric: [String: Set<String>] = [:]
    /// Every device name, sorted, for prefix ranges (`thermo-*`).
    private var sortedDevices: [String] = []
    /// Every metric name, sorted, for prefix ranges (`*/temp*`).
    private var sortedMetrics: [String] = []

    /// The number of distinct series held.
    public private(set) var count = 0

    /// Creates an empty index.
    public init() {}

    /// Builds an index holding `keys` (duplicates allowed) in O(n + D log D + M log M): the pairs are collected
    /// into the dictionaries first and the name arrays are sorted once.
    public init(keys: some Sequence<SeriesKey>) {
        for key in keys {
            guard metricsByDevice[key.device, default: []].insert(key.metric).inserted else { continue }
            devicesByMetric[key.metric, default: []].insert(key.device)
            count += 1
        }
        sortedDevices = metricsByDevice.keys.sorted()
        sortedMetrics = devicesByMetric.keys.sorted()
    }

    /// Adds `key`; adding a key already held changes nothing. O(1) hashing, plus a sorted-array insert when the
    /// device or the metric name is new.
    public mutating func insert(_ key: SeriesKey) {
        if let index = metricsByDevice.index(forKey: key.device) {
            guard metricsByDevice.values[index].insert(key.metric).inserted else { return }
        } else {
            metricsByDevice[key.device] = [key.metric]
            Self.insertSorted(key.device, into: &sortedDevices)
        }
        if let index = devicesByMetric.index(forKey: key.metric) {
            devicesByMetric.values[index].insert(key.device)
        } else {
            devicesByMetric[key.metric] = [key.device]
            Self.insertSorted(key.metric, into: &sortedMetrics)
        }
        count += 1
    }

    /// Removes `key` if held. O(1) hashing, plus a sorted-array removal when its device or metric name goes away.
    public mutating func remove(_ key: SeriesKey) {
        guard let index = metricsByDevice.index(forKey: key.device),
            metricsByDevice.values[index].remove(key.metric) != nil
        else { return }
        if metricsByDevice.values[index].isEmpty {
            metricsByDevice.remove(at: index)
            Self.removeSorted(key.device, from: &sortedDevices)
        }
        unlink(device: key.device, fromMetric: key.metric)
        count -= 1
    }

    /// Removes every series of `device` and returns them, sorted (empty when the device is unknown).
    /// O(m log m) for the device's m metrics, plus the sorted-array removals.
    @discardableResult
    public mutating func removeDevice(_ device: String) -> [SeriesKey] {
        guard let metrics = metricsByDevice.removeValue(forKey: device) else { return [] }
        Self.removeSorted(device, from: &sortedDevices)
        for metric in metrics { unlink(device: device, fromMetric: metric) }
        count -= metrics.count
        return metrics.sorted().map { SeriesKey(device: device, metric: $0) }
    }

    /// Whether `key` is held. O(1).
    public func contains(_ key: SeriesKey) -> Bool {
        metricsByDevice[key.device]?.contains(key.metric) ?? false
    }

    /// The series matching any of `selectors`, sorted and distinct, or `exceeded` once more than `limit` distinct
    /// series match (a negative limit counts as 0).
    ///
    /// Each selector enumerates only its cheapest candidate set and tests each candidate with
    /// ``SeriesSelector/matches(_:)``:
    /// - literal device: that device's metrics — O(1) with a literal metric, else O(metrics of the device);
    /// - literal metric: the devices having it, or the devices in the range of the device pattern's literal prefix
    ///   (text before its first `*`) when that range is smaller — O(log D + the smaller count);
    /// - both patterns: the devices in the device prefix range (each with its metrics), or the metric names in the
    ///   metric prefix range (each with its devices), whichever covers the smaller share of names — O(log D + log M
    ///   + candidates); with no prefixes at all (`*/*`, `*a*/x*`) this is a scan of every series.
    ///
    /// The search stops at the first distinct match past `limit`, so the total cost is O(candidates examined up
    /// to that point + k log k) for the k ≤ `limit` + 1 keys returned; a refused query is cheap.
    public func series(matching selectors: [SeriesSelector], limit: Int) -> SeriesMatch {
        let collector = collect(matching: selectors, limit: limit)
        return SeriesMatch(keys: collector.keys.sorted(), exceeded: collector.exceeded)
    }

    // MARK: - Search

    /// Gathers matches and counts the candidates looked at (the count is for tests).
    struct Collector {
        let limit: Int
        var keys: Set<SeriesKey> = []
        var examined = 0
        var exceeded = false

        /// Tests one held series against `selector`; false once more than `limit` distinct keys are held.
        mutating func consider(_ device: String, _ metric: String, _ selector: SeriesSelector) -> Bool {
            examined += 1
            guard selector.device.matches(device), selector.metric.matches(metric) else { return true }
            keys.insert(SeriesKey(device: device, metric: metric))
            exceeded = keys.count > limit
            return !exceeded
        }
    }

    /// Runs the search of ``series(matching:limit:)`` without sorting the result.
    func collect(matching selectors: [SeriesSelector], limit: Int) -> Collector {
        var collector = Collector(limit: max(limit, 0))
        for selector in selectors where !collect(selector, into: &collector) { break }
        return collector
    }

    /// Feeds the candidates of one selector to `collector`; false when the limit was exceeded.
    private func collect(_ selector: SeriesSelector, into collector: inout Collector) -> Bool {
        let devicePattern = selector.device
        let metricPattern = selector.metric
        if devicePattern.isLiteral {
            let device = devicePattern.text
            guard let metrics = metricsByDevice[device] else { return true }
            if metricPattern.isLiteral {
                guard metrics.contains(metricPattern.text) else { return true }
                return collector.consider(device, metricPattern.text, selector)
            }
            for metric in metrics where !collector.consider(device, metric, selector) { return false }
            return true
        }
        let deviceRange = Self.prefixRange(of: devicePattern, in: sortedDevices)
        if metricPattern.isLiteral {
            let metric = metricPattern.text
            guard let devices = devicesByMetric[metric] else { return true }
            if deviceRange.count < devices.count {
                for device in sortedDevices[deviceRange] where metricsByDevice[device]?.contains(metric) ?? false {
                    guard collector.consider(device, metric, selector) else { return false }
                }
            } else {
                for device in devices where !collector.consider(device, metric, selector) { return false }
            }
            return true
        }
        let metricRange = Self.prefixRange(of: metricPattern, in: sortedMetrics)
        // Compare the shares of names each range covers: deviceRange/D against metricRange/M.
        if metricRange.count * sortedDevices.count < deviceRange.count * sortedMetrics.count {
            for metric in sortedMetrics[metricRange] {
                for device in devicesByMetric[metric] ?? [] where !collector.consider(device, metric, selector) {
                    return false
                }
            }
        } else {
            for device in sortedDevices[deviceRange] {
                for metric in metricsByDevice[device] ?? [] where !collector.consider(device, metric, selector) {
                    return false
                }
            }
        }
        return true
    }

    // MARK: - Helpers

    /// Drops `device` from the devices of `metric`, dropping the metric name when no device has it any more.
    private mutating func unlink(device: String, fromMetric metric: String) {
        guard let index = devicesByMetric.index(forKey: metric) else { return }
        devicesByMetric.values[index].remove(device)
        if devicesByMetric.values[index].isEmpty {
            devicesByMetric.remove(at: index)
            Self.removeSorted(metric, from: &sortedMetrics)
        }
    }

    /// The indices of `names` (sorted) that start with the pattern's literal prefix, its text before the first `*`.
    /// O(log n); an empty prefix gives every index.
    private static func prefixRange(of pattern: GlobPattern, in names: [String]) -> Range<Int> {
        let prefix = String(pattern.text.prefix { $0 != "*" })
        if prefix.isEmpty { return names.indices }
        let lower = partitionPoint(names, in: names.indices) { $0 < prefix }
        let upper = partitionPoint(names, in: lower..<names.count) { $0.hasPrefix(prefix) }
        return lower..<upper
    }

    /// The first index in `range` whose name fails `isBefore`, which must hold for a leading run of `range` only.
    private static func partitionPoint(_ names: [String], in range: Range<Int>, isBefore: (String) -> Bool) -> Int {
        var low = range.lowerBound
        var high = range.upperBound
        while low < high {
            let middle = low + (high - low) / 2
            if isBefore(names[middle]) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Inserts `name` into sorted `names` unless present. O(log n + n).
    private static func insertSorted(_ name: String, into names: inout [String]) {
        let index = partitionPoint(names, in: names.indices) { $0 < name }
        if index == names.count || names[index] != name { names.insert(name, at: index) }
    }

    /// Removes `name` from sorted `names` if present. O(log n + n).
    private static func removeSorted(_ name: String, from names: inout [String]) {
        let index = partitionPoint(names, in: names.indices) { $0 < name }
        if index < names.count, names[index] == name { names.remove(at: index) }
    }
}
