import Testing

@testable import HubCore

@Suite("SeriesStore")
struct SeriesStoreTests {
    private let now: Int64 = 1_732_240_000_000

    private func key(_ text: String) -> SeriesKey { SeriesKey(parsing: text)! }

    private func store(_ configuration: StoreConfiguration = StoreConfiguration()) -> SeriesStore {
        SeriesStore(configuration: configuration)
    }

    @Test func defaultConfiguration() {
        let configuration = StoreConfiguration()
        #expect(configuration.ringCapacity == 3_600)
        #expect(configuration.lateToleranceMs == 300_000)
        #expect(configuration.maxFutureSkewMs == 300_000)
        #expect(configuration.maxSeriesPerDevice == 1_000)
    }

    @Test func ingestStampsMissingTimestampsWithNow() throws {
        var store = store()
        let result = try store.ingest(
            device: "d1",
            samples: [
                MetricSample(metric: "temp", ts: nil, value: 21.5),
                MetricSample(metric: "hum", ts: now - 1_000, value: 40),
            ],
            now: now)
        #expect(result.accepted == 2)
        #expect(result.droppedLate == 0)
        #expect(result.newSeries == [key("d1/temp"), key("d1/hum")])
        #expect(store.latest(key("d1/temp")) == Sample(ts: now, value: 21.5))
        #expect(store.latest(key("d1/hum")) == Sample(ts: now - 1_000, value: 40))
        #expect(store.seriesCount == 2)
        #expect(store.sampleCount == 2)
        #expect(store.contains(key("d1/temp")))
        #expect(!store.contains(key("d1/pressure")))
        #expect(!store.contains(key("d2/temp")))
        #expect(store.metrics(of: "d1") == ["hum", "temp"])
        #expect(store.metrics(of: "nobody").isEmpty)
        #expect(store.ring(key("d1/temp"))?.count == 1)
        #expect(store.ring(key("zz/temp")) == nil)
    }

    @Test func futureSkewIsRejectedAllOrNothing() throws {
        var store = store(StoreConfiguration(maxFutureSkewMs: 1_000))
        // Exactly at the horizon is fine.
        _ = try store.ingest(device: "d", samples: [MetricSample(metric: "a", ts: now + 1_000, value: 1)], now: now)
        #expect(store.sampleCount == 1)

        do {
            _ = try store.ingest(
                device: "d",
                samples: [
                    MetricSample(metric: "a", ts: now + 500, value: 2), MetricSample(metric: "new", ts: now, value: 3),
                    MetricSample(metric: "b", ts: now + 1_001, value: 4),
                ],
                now: now)
            Issue.record("a sample 1,001 ms in the future was accepted")
        } catch {
            #expect(error.code == .invalidMessage)
            #expect(error.message.contains("'b'"))
            #expect(error.message.contains("\(now + 1_001)"))
        }
        // Nothing of the rejected message was stored.
        #expect(store.sampleCount == 1)
        #expect(store.seriesCount == 1)
        #expect(!store.contains(key("d/new")))
        #expect(store.range(key("d/a"), from: .min, to: .max) == [Sample(ts: now + 1_000, value: 1)])
    }

    @Test func maxSeriesPerDevice() throws {
        var store = store(StoreConfiguration(maxSeriesPerDevice: 3))
        _ = try store.ingest(
            device: "d",
            samples: [MetricSample(metric: "a", ts: 1, value: 1), MetricSample(metric: "b", ts: 1, value: 1)],
            now: now)
        // A repeated new metric counts once: a, b + c == 3.
        let ok = try store.ingest(
            device: "d",
            samples: [
                MetricSample(metric: "c", ts: 2, value: 1), MetricSample(metric: "c", ts: 3, value: 1),
                MetricSample(metric: "a", ts: 2, value: 1),
            ],
            now: now)
        #expect(ok.newSeries == [key("d/c")])
        #expect(ok.accepted == 3)
        #expect(store.seriesCount == 3)
        let samplesBefore = store.sampleCount

        #expect(throws: ProtocolError.self) {
            try store.ingest(
                device: "d",
                samples: [MetricSample(metric: "a", ts: 9, value: 9), MetricSample(metric: "e", ts: 9, value: 9)],
                now: now)
        }
        do {
            _ = try store.ingest(device: "d", samples: [MetricSample(metric: "e", ts: 9, value: 9)], now: now)
            Issue.record("a fourth series was accepted")
        } catch {
            #expect(error.code == .tooLarge)
            #expect(error.message == "device 'd' would have 4 series; the limit is 3")
        }
        #expect(store.seriesCount == 3)
        #expect(store.sampleCount == samplesBefore)
        #expect(store.latest(key("d/a")) == Sample(ts: 2, value: 1))  // the 'a' in the rejected message was not stored

        // Existing series may still take samples; other devices have their own budget.
        let more = try store.ingest(device: "d", samples: [MetricSample(metric: "b", ts: 10, value: 1)], now: now)
        #expect(more.accepted == 1)
        let other = try store.ingest(
            device: "d2",
            samples: [
                MetricSample(metric: "a", ts: 1, value: 1), MetricSample(metric: "b", ts: 1, value: 1),
                MetricSample(metric: "c", ts: 1, value: 1),
            ],
            now: now)
        #expect(other.newSeries.count == 3)
        #expect(store.seriesCount == 6)
    }

    @Test func newSeriesReportedOnce() throws {
        var store = store()
        let first = try store.ingest(device: "d", samples: [MetricSample(metric: "a", ts: 1, value: 1)], now: now)
        #expect(first.newSeries == [key("d/a")])
        let second = try store.ingest(
            device: "d",
            samples: [MetricSample(metric: "a", ts: 2, value: 1), MetricSample(metric: "b", ts: 2, value: 1)],
            now: now)
        #expect(second.newSeries == [key("d/b")])
        let third = try store.ingest(
            device: "d",
            samples: [MetricSample(metric: "a", ts: 3, value: 1), MetricSample(metric: "b", ts: 3, value: 1)],
            now: now)
        #expect(third.newSeries.isEmpty)
        let within = try store.ingest(
            device: "e",
            samples: [MetricSample(metric: "x", ts: 3, value: 1), MetricSample(metric: "x", ts: 4, value: 2)],
            now: now)
        #expect(within.newSeries == [key("e/x")])
        #expect(store.seriesCount == 3)
    }

    @Test func droppedLateAndCounts() throws {
        var store = store(StoreConfiguration(ringCapacity: 3, lateToleranceMs: 100))
        let result = try store.ingest(
            device: "d",
            samples: [
                MetricSample(metric: "a", ts: 1_000, value: 1),
                MetricSample(metric: "a", ts: 950, value: 2),  // inserted (late within tolerance)
                MetricSample(metric: "a", ts: 899, value: 3),  // dropped (101 ms late)
                MetricSample(metric: "a", ts: 1_000, value: 4),  // replaced
            ],
            now: now)
        #expect(result.accepted == 3)
        #expect(result.droppedLate == 1)
        #expect(store.sampleCount == 2)
        #expect(
            store.range(key("d/a"), from: .min, to: .max) == [Sample(ts: 950, value: 2), Sample(ts: 1_000, value: 4)])

        // Filling past capacity keeps sampleCount at the ring sizes.
        _ = try store.ingest(
            device: "d", samples: (1...10).map { MetricSample(metric: "a", ts: 1_000 + Int64($0), value: 0) }, now: now)
        #expect(store.sampleCount == 3)
        _ = try store.ingest(device: "d", samples: [MetricSample(metric: "b", ts: 1, value: 0)], now: now)
        #expect(store.sampleCount == 4)
        #expect(store.seriesCount == 2)
        // A late sample into a full ring that is older than its oldest is dropped.
        let late = try store.ingest(device: "d", samples: [MetricSample(metric: "a", ts: 1_007, value: 0)], now: now)
        #expect(late.droppedLate == 1)
        #expect(late.accepted == 0)
    }

    @Test func rangeAndLatestOfMissingSeries() {
        let store = store()
        #expect(store.range(key("d/a"), from: 0, to: 10) == nil)
        #expect(store.latest(key("d/a")) == nil)
    }

    @Test func rangeThroughStore() throws {
        var store = store()
        _ = try store.ingest(
            device: "d", samples: (0..<10).map { MetricSample(metric: "a", ts: Int64($0) * 10, value: Double($0)) },
            now: now)
        #expect(store.range(key("d/a"), from: 20, to: 50)?.map(\.ts) == [20, 30, 40, 50])
        #expect(store.range(key("d/a"), from: 20, to: 50, limit: 2)?.map(\.ts) == [40, 50])
        #expect(store.range(key("d/a"), from: 200, to: 500) == [])
    }

    // MARK: series(matching:)

    private func populated() throws -> SeriesStore {
        var store = store()
        for (device, metrics) in [
            ("thermo-2", ["temp", "hum"]), ("thermo-1", ["temp", "hum", "setpoint"]), ("meter-1", ["power", "temp"]),
            ("thermo-10", ["temp_out"]),
        ] {
            _ = try store.ingest(
                device: device, samples: metrics.map { MetricSample(metric: $0, ts: 1, value: 1) }, now: now)
        }
        return store
    }

    private func matching(_ store: SeriesStore, _ selector: String) throws -> [String] {
        try store.series(matching: SeriesSelector(parsing: selector)).map(\.description)
    }

    @Test func seriesMatchingLiteralDevice() throws {
        let store = try populated()
        #expect(try matching(store, "thermo-1/*") == ["thermo-1/hum", "thermo-1/setpoint", "thermo-1/temp"])
        #expect(try matching(store, "thermo-1/t*") == ["thermo-1/temp"])
        #expect(try matching(store, "thermo-1/temp") == ["thermo-1/temp"])
        #expect(try matching(store, "thermo-1/power") == [])
        #expect(try matching(store, "nobody/*") == [])
        #expect(try matching(store, "nobody/temp") == [])
    }

    @Test func seriesMatchingLiteralMetric() throws {
        let store = try populated()
        #expect(try matching(store, "*/temp") == ["meter-1/temp", "thermo-1/temp", "thermo-2/temp"])
        #expect(try matching(store, "thermo-*/temp") == ["thermo-1/temp", "thermo-2/temp"])
        #expect(try matching(store, "*/power") == ["meter-1/power"])
        #expect(try matching(store, "*/nothing") == [])
        #expect(try matching(store, "x*/temp") == [])
    }

    @Test func seriesMatchingBothWildcards() throws {
        let store = try populated()
        let all = try matching(store, "*/*")
        #expect(
            all == [
                "meter-1/power", "meter-1/temp", "thermo-1/hum", "thermo-1/setpoint", "thermo-1/temp",
                "thermo-10/temp_out",
                "thermo-2/hum", "thermo-2/temp",
            ])
        #expect(all.count == store.seriesCount)
        #expect(try matching(store, "thermo-*/temp*") == ["thermo-1/temp", "thermo-10/temp_out", "thermo-2/temp"])
        #expect(try matching(store, "*-1/*m*") == ["meter-1/temp", "thermo-1/hum", "thermo-1/temp"])
        #expect(try matching(store, "q*/*") == [])
        #expect(
            try store.series(matching: SeriesSelector(parsing: "*/*"))
                == store.series(matching: SeriesSelector(parsing: "*/*")).sorted())
    }

    @Test func seriesMatchingAgreesWithBruteForce() throws {
        let store = try populated()
        let everything = try store.series(matching: SeriesSelector(parsing: "*/*"))
        for selectorText in [
            "thermo-1/temp", "thermo-1/*", "*/temp", "*/*", "thermo-*/*", "*/h*", "*1*/*e*", "meter-1/p*", "*/temp_out",
            "thermo-10/*", "*o*/*p",
        ] {
            let selector = try SeriesSelector(parsing: selectorText)
            #expect(store.series(matching: selector) == everything.filter(selector.matches), "\(selectorText)")
        }
    }
}

@Suite("SeriesStore limits")
struct SeriesStoreLimitTests {
    @Test func totalSeriesLimitRefusesNewSeriesOnly() throws {
        var store = SeriesStore(configuration: StoreConfiguration(maxSeries: 3))
        _ = try store.ingest(device: "a", samples: [MetricSample(metric: "x", ts: 1, value: 1)], now: 10)
        _ = try store.ingest(device: "b", samples: [MetricSample(metric: "x", ts: 1, value: 1)], now: 10)
        #expect(throws: ProtocolError.self) {
            try store.ingest(
                device: "c",
                samples: [MetricSample(metric: "x", ts: 1, value: 1), MetricSample(metric: "y", ts: 1, value: 1)],
                now: 10)
        }
        #expect(store.seriesCount == 2)
        _ = try store.ingest(device: "a", samples: [MetricSample(metric: "x", ts: 2, value: 2)], now: 10)
        _ = try store.ingest(device: "c", samples: [MetricSample(metric: "x", ts: 1, value: 1)], now: 10)
        #expect(store.seriesCount == 3)
    }

    @Test func manyDistinctMetricsAreCountedOnce() throws {
        var store = SeriesStore(configuration: StoreConfiguration(maxSeriesPerDevice: 5_000))
        let samples = (0..<6_000).map { MetricSample(metric: "m\($0 % 4_000)", ts: Int64($0), value: 1) }
        let result = try store.ingest(device: "d", samples: samples, now: 10_000)
        #expect(result.newSeries.count == 4_000)
        #expect(store.seriesCount == 4_000)
    }

    @Test func hugeFutureSkewSettingDoesNotOverflow() throws {
        var store = SeriesStore(configuration: StoreConfiguration(maxFutureSkewMs: .max))
        let result = try store.ingest(device: "d", samples: [MetricSample(metric: "x", ts: 5, value: 1)], now: 10)
        #expect(result.accepted == 1)
    }
}
