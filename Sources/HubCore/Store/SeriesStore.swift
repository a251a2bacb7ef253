/// What ``SeriesStore/ingest(device:samples:now:)`` did.
public struct IngestResult: Equatable, Sendable {
    /// Samples stored (appended, inserted or replacing a value).
    public var accepted = 0
    /// Samples dropped because they were too late.
    public var droppedLate = 0
    /// Series created by this ingest, in the order they appeared.
    public var newSeries: [SeriesKey] = []

    /// Creates an empty result.
    public init() {}
}

/// The in-memory time-series store: one ``SeriesRing`` per series plus an index for selector queries.
///
/// A value type with no clock of its own: callers pass `now` (Unix milliseconds) for receive-time stamping and
/// the future-skew check.
public struct SeriesStore: Sendable {
    /// The configuration in force.
    public let configuration: StoreConfiguration
    /// device → metric → ring.
    private var devices: [String: [String: SeriesRing]] = [:]
    /// metric → devices having it, so `*/temp` needs no scan of all devices.
    private var devicesByMetric: [String: Set<String>] = [:]
    /// Number of series held.
    public private(set) var seriesCount = 0
    /// Samples held in all rings.
    public private(set) var sampleCount = 0

    /// Creates an empty store.
    public init(configuration: StoreConfiguration = StoreConfiguration()) {
        self.configuration = configuration
    }

    /// Validates and stores one message's samples for `device`, all or nothing.
    ///
    /// Throws `invalid_message` when a timestamp is further in the future than `maxFutureSkewMs`, and `too_large`
    /// when the message would give the device more than `maxSeriesPerDevice` series. Samples without `ts` get `now`.
    public mutating func ingest(device: String, samples: [MetricSample], now: Int64) throws(ProtocolError)
        -> IngestResult
    {
        try ingest(device: device, samples: samples, now: now) { _, _, _ in }
    }

    /// Like ``ingest(device:samples:now:)``, calling `onStored` for every sample kept (with the series, the sample as
    /// stored, and whether it was appended, inserted or replaced a value). At most `seriesAllowance` new series may
    /// be created (a token's quota); more is `too_large` and nothing is stored.
    public mutating func ingest(
        device: String, samples: [MetricSample], now: Int64, seriesAllowance: Int = .max,
        onStored: (SeriesKey, Sample, AppendOutcome) -> Void
    ) throws(ProtocolError) -> IngestResult {
        let (sum, overflow) = now.addingReportingOverflow(configuration.maxFutureSkewMs)
        let horizon = overflow ? Int64.max : sum
        let existing = devices[device]
        var newMetricNames = Set<String>()
        for sample in samples {
            if let ts = sample.ts, ts > horizon {
                throw .invalidMessage(
                    "sample '\(sample.metric)' has ts \(ts), more than \(configuration.maxFutureSkewMs) ms ahead of the hub's clock"
                )
            }
            if existing?[sample.metric] == nil { newMetricNames.insert(sample.metric) }
        }
        let held = existing?.count ?? 0
        let newMetrics = newMetricNames.count
        if newMetrics > 0, held + newMetrics > configuration.maxSeriesPerDevice {
            throw .tooLarge(
                "device '\(device)' would have \(held + newMetrics) series; the limit is \(configuration.maxSeriesPerDevice)"
            )
        }
        if newMetrics > seriesAllowance {
            throw .tooLarge(
                "\(newMetrics) new series exceed this token's series quota (\(Swift.max(0, seriesAllowance)) more allowed)"
            )
        }
        if newMetrics > 0, configuration.maxSeries > 0, seriesCount + newMetrics > configuration.maxSeries {
            throw .tooLarge("the hub holds \(seriesCount) series; the limit is \(configuration.maxSeries)")
        }
        var result = IngestResult()
        let capacity = configuration.ringCapacity
        let tolerance = configuration.lateToleranceMs
        var rings = devices.removeValue(forKey: device) ?? [:]
        for sample in samples {
            let stored = Sample(ts: sample.ts ?? now, value: sample.value)
            let index: [String: SeriesRing].Index
            if let found = rings.index(forKey: sample.metric) {
                index = found
            } else {
                rings[sample.metric] = SeriesRing(capacity: capacity)
                index = rings.index(forKey: sample.metric)!
                devicesByMetric[sample.metric, default: []].insert(device)
                seriesCount += 1
                result.newSeries.append(SeriesKey(device: device, metric: sample.metric))
            }
            let before = rings.values[index].count
            let outcome = rings.values[index].append(stored, lateToleranceMs: tolerance)
            sampleCount += rings.values[index].count - before
            if outcome == .droppedLate {
                result.droppedLate += 1
            } else {
                result.accepted += 1
                onStored(SeriesKey(device: device, metric: sample.metric), stored, outcome)
            }
        }
        devices[device] = rings
        return result
    }

    /// Loads a series' newest samples (time-ordered, one per timestamp) at start-up, replacing what the series
    /// held; limits are not checked.
    public mutating func warm(_ key: SeriesKey, samples: [Sample]) {
        let ring = SeriesRing(capacity: configuration.ringCapacity, loading: samples)
        if let old = devices[key.device, default: [:]].updateValue(ring, forKey: key.metric) {
            sampleCount -= old.count
        } else {
            devicesByMetric[key.metric, default: []].insert(key.device)
            seriesCount += 1
        }
        sampleCount += ring.count
    }

    /// The ring of one series.
    public func ring(_ key: SeriesKey) -> SeriesRing? {
        devices[key.device]?[key.metric]
    }

    /// The newest sample of one series.
    public func latest(_ key: SeriesKey) -> Sample? {
        ring(key)?.latest
    }

    /// Samples of one series with `from <= ts <= to`, oldest first, at most `limit` (the newest when cut).
    public func range(_ key: SeriesKey, from: Int64, to: Int64, limit: Int = .max) -> [Sample]? {
        ring(key)?.range(from: from, to: to, limit: limit)
    }

    /// Whether the store holds `key`.
    public func contains(_ key: SeriesKey) -> Bool {
        devices[key.device]?[key.metric] != nil
    }

    /// Drops every series of `device` from the rings (the device expired); returns their keys.
    @discardableResult
    public mutating func removeDevice(_ device: String) -> [SeriesKey] {
        guard let rings = devices.removeValue(forKey: device) else { return [] }
        for (metric, ring) in rings {
            if devicesByMetric[metric]?.remove(device) != nil, devicesByMetric[metric]?.isEmpty == true {
                devicesByMetric[metric] = nil
            }
            seriesCount -= 1
            sampleCount -= ring.count
        }
        return rings.keys.sorted().map { SeriesKey(device: device, metric: $0) }
    }

    /// How many series one device has.
    public func seriesCount(of device: String) -> Int {
        devices[device]?.count ?? 0
    }

    /// The metric names of one device, sorted.
    public func metrics(of device: String) -> [String] {
        (devices[device].map { Array($0.keys) } ?? []).sorted()
    }

    /// Every series matching `selector`, sorted, found through the index (no sample is looked at).
    public func series(matching selector: SeriesSelector) -> [SeriesKey] {
        var keys: [SeriesKey] = []
        if selector.device.isLiteral {
            guard let metrics = devices[selector.device.text] else { return [] }
            if selector.metric.isLiteral {
                if metrics[selector.metric.text] != nil {
                    keys.append(SeriesKey(device: selector.device.text, metric: selector.metric.text))
                }
            } else {
                for metric in metrics.keys where selector.metric.matches(metric) {
                    keys.append(SeriesKey(device: selector.device.text, metric: metric))
                }
            }
        } else if selector.metric.isLiteral {
            for device in devicesByMetric[selector.metric.text] ?? [] where selector.device.matches(device) {
                keys.append(SeriesKey(device: device, metric: selector.metric.text))
            }
        } else {
            for (device, metrics) in devices where selector.device.matches(device) {
                for metric in metrics.keys where selector.metric.matches(metric) {
                    keys.append(SeriesKey(device: device, metric: metric))
                }
            }
        }
        keys.sort()
        return keys
    }
}
