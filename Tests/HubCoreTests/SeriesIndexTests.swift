import Testing

@testable import HubCore

@Suite("SeriesIndex")
struct SeriesIndexTests {
    private func key(_ text: String) -> SeriesKey { SeriesKey(parsing: text)! }

    private func selector(_ text: String) -> SeriesSelector { try! SeriesSelector(parsing: text) }

    private func keys(_ texts: String...) -> [SeriesKey] { texts.map(key) }

    /// The keys a query returns, checking that it was not refused.
    private func match(_ index: SeriesIndex, _ selectors: String..., limit: Int = 1_000) -> [SeriesKey] {
        let result = index.series(matching: selectors.map(selector), limit: limit)
        #expect(!result.exceeded)
        return result.keys
    }

    /// A small fleet: thermometers, hygrometers and one odd device.
    private let fleet = SeriesIndex(
        keys: [
            "thermo-1/temp", "thermo-1/hum", "thermo-2/temp", "thermo-2/x.raw", "thermo-10/temp",
            "thermo/temp", "hygro-1/hum", "hygro-1/temp", "pump/flow", "pump/xtemp",
        ].map { SeriesKey(parsing: $0)! })

    @Test func literalSelector() {
        #expect(match(fleet, "thermo-1/temp") == keys("thermo-1/temp"))
        #expect(match(fleet, "thermo-1/nope").isEmpty)
        #expect(match(fleet, "nobody/temp").isEmpty)
        #expect(match(fleet, "thermo-1/*") == keys("thermo-1/hum", "thermo-1/temp"))
        #expect(match(fleet, "pump/*temp") == keys("pump/xtemp"))
    }

    @Test func prefixGlob() {
        #expect(match(fleet, "thermo-*/temp") == keys("thermo-1/temp", "thermo-10/temp", "thermo-2/temp"))
        #expect(match(fleet, "thermo*/temp") == keys("thermo/temp", "thermo-1/temp", "thermo-10/temp", "thermo-2/temp"))
        #expect(match(fleet, "th*o/*") == keys("thermo/temp"))
        #expect(match(fleet, "thermo-1*/*") == keys("thermo-1/hum", "thermo-1/temp", "thermo-10/temp"))
        #expect(match(fleet, "thermo-*/x*") == keys("thermo-2/x.raw"))
        #expect(match(fleet, "zzz*/*").isEmpty)
        #expect(match(fleet, "a*/*").isEmpty)
        #expect(match(fleet, "*/x*") == keys("pump/xtemp", "thermo-2/x.raw"))
    }

    @Test func suffixGlob() {
        #expect(match(fleet, "*-1/*") == keys("hygro-1/hum", "hygro-1/temp", "thermo-1/hum", "thermo-1/temp"))
        #expect(
            match(fleet, "*/*temp")
                == keys(
                    "hygro-1/temp", "pump/xtemp", "thermo/temp", "thermo-1/temp", "thermo-10/temp", "thermo-2/temp"))
        #expect(match(fleet, "*o-*/*um") == keys("hygro-1/hum", "thermo-1/hum"))
    }

    @Test func metricLiteralWithGlobDevice() {
        #expect(match(fleet, "*/hum") == keys("hygro-1/hum", "thermo-1/hum"))
        #expect(match(fleet, "*-1/temp") == keys("hygro-1/temp", "thermo-1/temp"))
        #expect(match(fleet, "thermo-*/hum") == keys("thermo-1/hum"))
        #expect(match(fleet, "*/nope").isEmpty)
    }

    @Test func everything() {
        #expect(match(fleet, "*/*").count == 10)
        #expect(match(fleet, "*/*") == fleet.series(matching: [selector("**/*")], limit: 10).keys)
        #expect(match(SeriesIndex(), "*/*").isEmpty)
        #expect(match(fleet).isEmpty)
    }

    @Test func overlappingSelectorsAreUnitedSortedAndDistinct() {
        #expect(
            match(fleet, "thermo-1/*", "*/hum", "thermo-1/temp", "hygro-*/hum")
                == keys("hygro-1/hum", "thermo-1/hum", "thermo-1/temp"))
        #expect(match(fleet, "*/*", "pump/flow").count == 10)
    }

    @Test func limitExceeded() {
        // Exactly at the limit is fine; one more is refused.
        #expect(
            fleet.series(matching: [selector("thermo*/temp")], limit: 4)
                == SeriesMatch(
                    keys: keys("thermo/temp", "thermo-1/temp", "thermo-10/temp", "thermo-2/temp"), exceeded: false))
        let refused = fleet.series(matching: [selector("thermo*/temp")], limit: 3)
        #expect(refused.exceeded)
        #expect(refused.keys.count == 4)
        // Duplicates across selectors do not count twice.
        #expect(!fleet.series(matching: [selector("*/hum"), selector("*-1/hum")], limit: 2).exceeded)
        #expect(fleet.series(matching: [selector("*/hum"), selector("pump/*")], limit: 3).exceeded)
        #expect(fleet.series(matching: [selector("pump/flow")], limit: 0).exceeded)
        #expect(fleet.series(matching: [selector("pump/flow")], limit: -1).exceeded)
        #expect(fleet.series(matching: [selector("pump/nope")], limit: 0) == SeriesMatch())
    }

    @Test func limitStopsTheSearchEarly() {
        let index = SeriesIndex(
            keys: (0..<1_000).lazy.flatMap { device in
                (0..<100).lazy.map { SeriesKey(device: "dev-\(device)", metric: "m\($0)") }
            })
        #expect(index.count == 100_000)
        let refused = index.series(matching: [selector("*/*")], limit: 10)
        #expect(refused.exceeded)
        #expect(refused.keys.count <= 11)
        #expect(index.collect(matching: [selector("*/*")], limit: 10).examined == 11)
        // A prefix only looks at its own range: dev-7 and dev-70…dev-799 are 111 devices of 100 metrics each,
        // m5 and m50…m59 are 11 metric names of 1,000 devices each.
        let devicePrefix = index.collect(matching: [selector("dev-7*/*")], limit: 100_000)
        #expect(devicePrefix.keys.count == 111 * 100)
        #expect(devicePrefix.examined == 111 * 100)
        let metricPrefix = index.collect(matching: [selector("*-1*/m5*")], limit: 100_000)
        #expect(metricPrefix.keys.count == 111 * 11)
        #expect(metricPrefix.examined == 11 * 1_000)
        // A literal metric with a prefix device takes the smaller of the two candidate sets.
        #expect(index.collect(matching: [selector("dev-99*/m3")], limit: 100_000).examined == 11)
        #expect(index.collect(matching: [selector("dev-1/*")], limit: 100_000).examined == 100)
        #expect(index.collect(matching: [selector("dev-1/m1")], limit: 100_000).examined == 1)
    }

    @Test func insertIsIdempotent() {
        var index = SeriesIndex()
        index.insert(key("d/a"))
        index.insert(key("d/a"))
        index.insert(key("d/b"))
        index.insert(key("e/a"))
        #expect(index.count == 3)
        #expect(index.contains(key("d/a")))
        #expect(!index.contains(key("e/b")))
        #expect(match(index, "*/*") == keys("d/a", "d/b", "e/a"))
    }

    @Test func removeAndRemoveDevice() {
        var index = fleet
        index.remove(key("thermo-1/temp"))
        index.remove(key("thermo-1/temp"))
        index.remove(key("nobody/temp"))
        index.remove(key("thermo-1/nope"))
        #expect(index.count == 9)
        #expect(!index.contains(key("thermo-1/temp")))
        #expect(match(index, "thermo-1*/*") == keys("thermo-1/hum", "thermo-10/temp"))
        index.remove(key("thermo-1/hum"))
        #expect(match(index, "thermo-1*/*") == keys("thermo-10/temp"))
        #expect(match(index, "*/hum") == keys("hygro-1/hum"))

        #expect(index.removeDevice("thermo-2") == keys("thermo-2/temp", "thermo-2/x.raw"))
        #expect(index.removeDevice("thermo-2").isEmpty)
        #expect(index.count == 6)
        #expect(match(index, "*/x*") == keys("pump/xtemp"))
        #expect(match(index, "thermo*/*") == keys("thermo/temp", "thermo-10/temp"))

        // Removed names can come back.
        index.insert(key("thermo-2/x.raw"))
        #expect(match(index, "*/x.*") == keys("thermo-2/x.raw"))
        for device in ["thermo-10", "thermo", "hygro-1", "pump", "thermo-2"] { index.removeDevice(device) }
        #expect(index.count == 0)
        #expect(match(index, "*/*").isEmpty)
    }

    @Test func bulkInitEqualsIncrementalInserts() {
        var random = SeededRandom(seed: 7)
        let all = (0..<500).map { _ in
            SeriesKey(
                device: "d\(Int.random(in: 0..<40, using: &random))",
                metric: "m\(Int.random(in: 0..<30, using: &random))")
        }
        var incremental = SeriesIndex()
        for key in all { incremental.insert(key) }
        let bulk = SeriesIndex(keys: all)
        #expect(bulk.count == Set(all).count)
        #expect(incremental.count == bulk.count)
        for text in ["*/*", "d1*/*", "*/m2*", "d3/*", "*/m7", "*1/*2"] {
            #expect(match(bulk, text, limit: 10_000) == match(incremental, text, limit: 10_000))
        }
        #expect(match(bulk, "*/*", limit: 10_000) == Set(all).sorted())
    }

    /// Random keys and selectors built from pieces of them, checked against a brute-force filter.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func matchesBruteForce(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let alphabet = Array("abc-1.")
        func name() -> String {
            String((0..<Int.random(in: 1...5, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
        }
        var index = SeriesIndex()
        var held = Set<SeriesKey>()
        for _ in 0..<400 {
            let key = SeriesKey(device: name(), metric: name())
            index.insert(key)
            held.insert(key)
        }
        for key in held.shuffled(using: &random).prefix(60) {
            index.remove(key)
            held.remove(key)
        }
        for device in Set(held.map(\.device)).shuffled(using: &random).prefix(5) {
            #expect(index.removeDevice(device) == held.filter { $0.device == device }.sorted())
            held = held.filter { $0.device != device }
        }
        #expect(index.count == held.count)
        #expect(index == SeriesIndex(keys: held))

        let names = held.flatMap { [$0.device, $0.metric] }
        /// A pattern cut from a held name: literal, prefix*, *suffix, a*b, *mid* or *.
        func pattern() -> String {
            let base = names.randomElement(using: &random) ?? "a"
            let cut = Int.random(in: 0...base.count, using: &random)
            let head = String(base.prefix(cut))
            let tail = String(base.dropFirst(cut))
            switch Int.random(in: 0..<7, using: &random) {
            case 0, 1: return base
            case 2: return head + "*"
            case 3: return "*" + tail
            case 4: return head + "*" + String(tail.dropFirst())
            case 5: return "*" + head.suffix(2) + "*"
            default: return "*"
            }
        }
        for _ in 0..<300 {
            let selectors = (0..<Int.random(in: 1...3, using: &random)).compactMap { _ in
                try? SeriesSelector(parsing: pattern() + "/" + pattern())
            }
            let expected = held.filter { key in selectors.contains { $0.matches(key) } }.sorted()
            let limit = Int.random(in: 0...(expected.count + 2), using: &random)
            let result = index.series(matching: selectors, limit: limit)
            if expected.count > limit {
                #expect(result.exceeded, "\(selectors) limit \(limit)")
                #expect(result.keys.count == limit + 1)
                #expect(result.keys.allSatisfy { expected.contains($0) })
            } else {
                #expect(result == SeriesMatch(keys: expected, exceeded: false), "\(selectors)")
            }
        }
    }
}
