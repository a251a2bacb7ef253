import Foundation
import Testing

@testable import HubCore

@Suite("SimulatedDevice")
struct SimulatedDeviceTests {
    typealias Metric = DeviceProfile.MetricProfile
    typealias Command = DeviceProfile.CommandProfile
    typealias Episodes = DeviceProfile.Episodes
    typealias Recurrence = DeviceProfile.Recurrence

    static let metrics: [Metric] = [
        Metric(name: "temp", min: 19, max: 23, shape: .sine, periodS: 600, noise: 0.1, decimals: 1),
        Metric(name: "hum", min: 35, max: 55, shape: .randomWalk, noise: 0.2, decimals: 1, step: 0.5),
        Metric(name: "level", min: 0, max: 30, shape: .steps, periodS: 60, noise: 0.5, decimals: 2),
        Metric(name: "setpoint", min: 21, max: 21, shape: .constant, decimals: 1),
        Metric(name: "pm25", min: 0, max: 1, shape: .sine, periodS: 10, noise: 0.05, decimals: 3),
    ]

    static func profile(metrics: [Metric] = metrics, commands: [Command] = [], silence: Recurrence? = nil)
        -> DeviceProfile
    {
        DeviceProfile(
            kind: "thermostat", idPrefix: "thermo", rooms: ["building:hq", "floor:{group}"], groups: 5,
            meta: ["vendor": "Acme"], metrics: metrics, commands: commands, silence: silence)
    }

    /// A noiseless constant metric at 0 that jumps (or ramps) to `level` during episodes.
    static func episodic(_ recurrence: Recurrence, level: Double = 1, rampS: Double = 0) -> DeviceProfile {
        profile(metrics: [
            Metric(
                name: "m", min: 0, max: 0, shape: .constant, decimals: 6,
                episodes: Episodes(level: level, rampS: rampS, recurrence: recurrence))
        ])
    }

    static let start: Int64 = 1_732_240_000_000

    private func series(_ device: inout SimulatedDevice, from start: Int64, count: Int, everyMs: Int64) -> [[Double]] {
        (0..<count).map { step in device.readings(now: start + Int64(step) * everyMs).map(\.value) }
    }

    @Test func identityFromProfile() {
        let device = SimulatedDevice(profile: Self.profile(), index: 6, seed: 1)
        #expect(device.id == "thermo-7")
        #expect(device.rooms == ["building:hq", "floor:2"])
        #expect(device.profile == Self.profile())
    }

    @Test func readingsNameEveryMetricInOrder() {
        var device = SimulatedDevice(profile: Self.profile(), index: 0, seed: 1)
        #expect(device.readings(now: 1_732_240_000_000).map(\.metric) == ["temp", "hum", "level", "setpoint", "pm25"])
    }

    @Test func sameSeedSameReadings() {
        var a = SimulatedDevice(profile: Self.profile(), index: 3, seed: 42)
        var b = SimulatedDevice(profile: Self.profile(), index: 3, seed: 42)
        let start: Int64 = 1_732_240_000_000
        let first = series(&a, from: start, count: 300, everyMs: 1_000)
        let second = series(&b, from: start, count: 300, everyMs: 1_000)
        #expect(first == second)

        var otherSeed = SimulatedDevice(profile: Self.profile(), index: 3, seed: 43)
        var otherIndex = SimulatedDevice(profile: Self.profile(), index: 4, seed: 42)
        #expect(series(&otherSeed, from: start, count: 300, everyMs: 1_000) != first)
        #expect(series(&otherIndex, from: start, count: 300, everyMs: 1_000) != first)
    }

    @Test(arguments: [UInt64(0), 1, 7, 0xDEAD_BEEF])
    func readingsStayWithinBounds(seed: UInt64) {
        var device = SimulatedDevice(profile: Self.profile(), index: Int(seed % 5), seed: seed)
        var now: Int64 = 1_732_240_000_000
        var random = SeededRandom(seed: seed)
        for _ in 0..<2_000 {
            now += Int64.random(in: 0...5_000, using: &random)
            for (index, reading) in device.readings(now: now).enumerated() {
                let metric = Self.metrics[index]
                // Irwin–Hall noise is bounded by 3/0.7071 ≈ 4.243 sigma; rounding adds half a unit of the last decimal.
                var unit = 1.0
                for _ in 0..<metric.decimals { unit /= 10 }
                let slack = 4.25 * metric.noise + unit / 2 + 1e-6
                #expect(
                    reading.value >= metric.min - slack && reading.value <= metric.max + slack,
                    "\(metric.name) = \(reading.value) outside [\(metric.min), \(metric.max)] ± \(slack)")
                // Rounded to the metric's decimals.
                let scaled = reading.value / unit
                #expect(
                    abs(scaled - scaled.rounded()) < 1e-6,
                    "\(metric.name) = \(reading.value) not rounded to \(metric.decimals)")
            }
        }
    }

    @Test func noiselessShapes() {
        let metrics = [
            Metric(name: "c", min: 10, max: 20, shape: .constant, decimals: 6),
            Metric(name: "s", min: 0, max: 30, shape: .steps, periodS: 5, decimals: 6),
            Metric(name: "sin", min: -1, max: 1, shape: .sine, periodS: 60, decimals: 6),
        ]
        var device = SimulatedDevice(profile: Self.profile(metrics: metrics), index: 0, seed: 5)
        var seenLevels = Set<Double>()
        var sines: [Double] = []
        for second in 0..<240 {
            let values = device.readings(now: 1_000_000 + Int64(second) * 1_000).map(\.value)
            #expect(values[0] == 15)
            #expect([0.0, 10, 20, 30].contains(values[1]), "steps gave \(values[1])")
            seenLevels.insert(values[1])
            sines.append(values[2])
        }
        #expect(seenLevels == [0, 10, 20, 30])
        #expect(sines.allSatisfy { $0 >= -1 && $0 <= 1 })
        // A 60 s sine sampled every second for 4 minutes reaches both extremes.
        #expect(sines.max()! > 0.99)
        #expect(sines.min()! < -0.99)
    }

    @Test func counterGrows() {
        let metrics = [Metric(name: "energy", min: 100, max: 100, shape: .counter, decimals: 6, step: 2)]
        var device = SimulatedDevice(profile: Self.profile(metrics: metrics), index: 0, seed: 8)
        var previous = device.readings(now: 0)[0].value
        #expect(previous == 100)
        for second in 1...100 {
            let value = device.readings(now: Int64(second) * 1_000)[0].value
            // step 2 per second scaled by a factor in [0.5, 1.5].
            #expect(value - previous >= 1 - 1e-6 && value - previous <= 3 + 1e-6, "increase \(value - previous)")
            previous = value
        }
        // Time going backwards adds nothing.
        let stalled = device.readings(now: 50_000)[0].value
        #expect(stalled == previous)
    }

    @Test func setTargetMovesTowardTargetOverSimulatedTime() throws {
        let metrics = [Metric(name: "temp", min: 18, max: 22, shape: .constant, decimals: 3)]
        let commands = [Command(name: "setpoint", action: .setTarget, metric: "temp")]
        var device = SimulatedDevice(profile: Self.profile(metrics: metrics, commands: commands), index: 0, seed: 2)
        let start: Int64 = 1_000_000
        #expect(device.readings(now: start)[0].value == 20)

        let reaction = device.handle(command: "setpoint", args: object(("value", .number(25))))
        #expect(reaction == .ok(object(("metric", .string("temp")), ("target", .number(25)))))

        // A tenth of the 4-unit range per second: 0.4 per second until 25 is reached after 12.5 s.
        var values: [Double] = []
        for second in 1...20 {
            values.append(device.readings(now: start + Int64(second) * 1_000)[0].value)
        }
        #expect(abs(values[0] - 20.4) < 1e-9)
        #expect(abs(values[4] - 22.0) < 1e-9)
        #expect(abs(values[11] - 24.8) < 1e-9)
        #expect(values[12...].allSatisfy { $0 == 25 })
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 })

        // And back down.
        _ = device.handle(command: "setpoint", args: object(("value", .number(19))))
        let later = device.readings(now: start + 21_000)[0].value
        #expect(abs(later - 24.6) < 1e-9)
        let settled = device.readings(now: start + 100_000)[0].value
        #expect(settled == 19)
    }

    @Test func setTargetWithCustomArgAndBadArgs() {
        let metrics = [Metric(name: "temp", min: 18, max: 22, shape: .constant)]
        let commands = [Command(name: "set", action: .setTarget, metric: "temp", arg: "celsius")]
        var device = SimulatedDevice(profile: Self.profile(metrics: metrics, commands: commands), index: 0, seed: 2)
        #expect(
            device.handle(command: "set", args: object(("value", .number(1))))
                == .failed("argument 'celsius' must be a number"))
        #expect(
            device.handle(command: "set", args: object(("celsius", .string("20"))))
                == .failed("argument 'celsius' must be a number"))
        #expect(
            device.handle(command: "set", args: object(("celsius", .number(.nan))))
                == .failed("argument 'celsius' must be a number"))
        #expect(device.handle(command: "set", args: .null) == .failed("argument 'celsius' must be a number"))
        #expect(
            device.handle(command: "set", args: object(("celsius", .number(20.5))))
                == .ok(object(("metric", .string("temp")), ("target", .number(20.5)))))

        let orphan = [Command(name: "set", action: .setTarget, metric: "nothing")]
        var broken = SimulatedDevice(profile: Self.profile(metrics: metrics, commands: orphan), index: 0, seed: 2)
        #expect(
            broken.handle(command: "set", args: object(("value", .number(1))))
                == .failed("profile has no metric for set"))
    }

    @Test func commandReactions() {
        let commands = [
            Command(name: "reboot", action: .reboot, offlineMs: 1_500),
            Command(name: "reboot-default", action: .reboot),
            Command(name: "identify", action: .ok, delayMs: 50),
            Command(name: "selfdestruct", action: .fail),
        ]
        var device = SimulatedDevice(profile: Self.profile(commands: commands), index: 0, seed: 1)
        #expect(device.handle(command: "reboot", args: .null) == .reboot(offlineMs: 1_500))
        #expect(device.handle(command: "reboot-default", args: .null) == .reboot(offlineMs: 3_000))
        let args = object(("blink", .number(3)))
        #expect(device.handle(command: "identify", args: args) == .ok(object(("echo", args))))
        #expect(
            device.handle(command: "selfdestruct", args: .null)
                == .failed("selfdestruct is not possible on this device"))
        #expect(device.handle(command: "nope", args: .null) == .failed("unsupported command 'nope'"))
        #expect(device.answerDelayMs(command: "identify") == 50)
        #expect(device.answerDelayMs(command: "reboot") == 0)
        #expect(device.answerDelayMs(command: "nope") == 0)
    }

    @Test func failRateOneAlwaysFails() {
        let commands = [Command(name: "identify", action: .ok, failRate: 1)]
        var device = SimulatedDevice(profile: Self.profile(commands: commands), index: 0, seed: 11)
        for _ in 0..<500 {
            #expect(device.handle(command: "identify", args: .null) == .failed("identify failed (simulated fault)"))
        }
    }

    @Test func partialFailRateIsRepeatable() {
        let commands = [Command(name: "identify", action: .ok, failRate: 0.5)]
        func outcomes(seed: UInt64) -> [Bool] {
            var device = SimulatedDevice(profile: Self.profile(commands: commands), index: 0, seed: seed)
            return (0..<400).map { _ in
                if case .ok = device.handle(command: "identify", args: .null) { return true }
                return false
            }
        }
        let first = outcomes(seed: 3)
        #expect(first == outcomes(seed: 3))
        let successes = first.filter { $0 }.count
        #expect(successes > 140 && successes < 260, "\(successes) of 400 succeeded at fail_rate 0.5")
    }

    // MARK: - Episodes and silences

    @Test func episodeRampsToItsLevelHoldsAndComesBack() {
        let metrics = [
            Metric(
                name: "temp", min: 20, max: 20, shape: .constant, decimals: 3,
                episodes: Episodes(level: 30, rampS: 5, recurrence: Recurrence(everyS: 100, durationS: 20, firstS: 10)))
        ]
        var device = SimulatedDevice(profile: Self.profile(metrics: metrics), index: 0, seed: 3)
        // Every half second for the first 30 s: timed from the first reading, not from the Unix epoch.
        let values = (0...60).map { device.readings(now: Self.start + Int64($0) * 500)[0].value }
        #expect(values[0...20].allSatisfy { $0 == 20 })
        #expect(values[25] == 25)
        #expect(zip(values[20...30], values[21...30]).allSatisfy { $0 < $1 })
        #expect(values[30...50].allSatisfy { $0 == 30 })
        #expect(values[55] == 25)
        #expect(zip(values[50...60], values[51...60]).allSatisfy { $0 > $1 })
        #expect(values[60] == 20)
        // The next episode starts after a pause of half to one and a half times every_s - duration_s.
        let later = (31...200).map {
            (second: $0, value: device.readings(now: Self.start + Int64($0) * 1_000)[0].value)
        }
        let next = later.first { $0.value > 20 }?.second
        #expect(next.map { (70...151).contains($0) } == true, "next episode at \(String(describing: next))")
    }

    @Test func episodesRecurEveryOnAverageWithFixedLengthAndPauses() {
        var device = SimulatedDevice(
            profile: Self.episodic(Recurrence(everyS: 100, durationS: 20, firstS: 0)), index: 2, seed: 9)
        // A reading every 2 s for 200 000 s; each 20 s episode holds exactly 10 of them.
        var runs: [(value: Double, length: Int)] = []
        for step in 0..<100_000 {
            let value = device.readings(now: Self.start + Int64(step) * 2_000)[0].value
            if let last = runs.last, last.value == value {
                runs[runs.count - 1].length += 1
            } else {
                runs.append((value, 1))
            }
        }
        let episodes = runs.filter { $0.value == 1 }
        let pauses = runs.dropFirst().dropLast().filter { $0.value == 0 }
        #expect(runs.first?.value == 1)
        #expect(episodes.count > 1_900 && episodes.count < 2_100, "\(episodes.count) episodes in 200 000 s")
        #expect(episodes.dropLast().allSatisfy { $0.length == 10 })
        // Pauses last at least half of every_s - duration_s (40 s), at most one and a half (120 s).
        #expect(pauses.allSatisfy { $0.length >= 19 && $0.length <= 61 })
        #expect(Set(runs.map(\.value)) == [0, 1])
    }

    @Test func withoutFirstSTheFirstEpisodeComesWithinEveryS() {
        var firsts: [Int] = []
        for index in 0..<8 {
            var device = SimulatedDevice(
                profile: Self.episodic(Recurrence(everyS: 100, durationS: 20)), index: index, seed: 4)
            let first = (0...150).first { device.readings(now: Self.start + Int64($0) * 1_000)[0].value == 1 }
            #expect(first.map { $0 <= 100 } == true, "device \(index): first episode at \(String(describing: first))")
            firsts.append(first ?? -1)
        }
        #expect(Set(firsts).count > 1, "every device started its episodes at \(firsts)")
    }

    @Test func fractionChoosesDevicesByTheirOrdinalInTheProfile() {
        let profile = Self.episodic(Recurrence(everyS: 100, durationS: 20, firstS: 5, fraction: 0.25))
        func hasEpisode(_ device: SimulatedDevice) -> Bool {
            var device = device
            _ = device.readings(now: Self.start)
            return device.readings(now: Self.start + 10_000)[0].value == 1
        }
        // As in a run of three profiles: device n of this profile has index 3n + 2.
        let chosen = (0..<8).filter {
            hasEpisode(SimulatedDevice(profile: profile, index: 3 * $0 + 2, seed: 1, ordinal: $0))
        }
        #expect(chosen == [0, 4])
        // Without an ordinal, the index counts.
        let byIndex = (0..<8).filter { hasEpisode(SimulatedDevice(profile: profile, index: $0, seed: 1)) }
        #expect(byIndex == [0, 4])
    }

    @Test func episodesLeaveTheOtherSignalsAlone() {
        var plain = SimulatedDevice(profile: Self.profile(), index: 1, seed: 21)
        var metrics = Self.metrics
        metrics[0].episodes = Episodes(
            level: 40, rampS: 2, recurrence: Recurrence(everyS: 50, durationS: 10, firstS: 0))
        var episodic = SimulatedDevice(profile: Self.profile(metrics: metrics), index: 1, seed: 21)
        var differing = 0
        for second in 0..<300 {
            let now = Self.start + Int64(second) * 1_000
            let a = plain.readings(now: now).map(\.value)
            let b = episodic.readings(now: now).map(\.value)
            #expect(a.dropFirst() == b.dropFirst(), "at \(second) s")
            if a[0] != b[0] { differing += 1 }
        }
        // Only temp moves, and only inside its episodes.
        #expect(differing > 30 && differing < 150, "temp differed in \(differing) of 300 readings")
    }

    @Test func sameSeedSameEpisodesAndSilences() {
        let profile = DeviceProfile(
            kind: "k", idPrefix: "k",
            metrics: [
                Metric(
                    name: "m", min: 0, max: 10, shape: .randomWalk, noise: 0.5,
                    episodes: Episodes(level: 50, rampS: 3, recurrence: Recurrence(everyS: 60, durationS: 15)))
            ],
            silence: Recurrence(everyS: 90, durationS: 20))
        func trace(index: Int, seed: UInt64) -> [Double?] {
            var device = SimulatedDevice(profile: profile, index: index, seed: seed)
            return (0..<600).map { second in
                let now = Self.start + Int64(second) * 1_000
                return device.isSilent(now: now) ? nil : device.readings(now: now)[0].value
            }
        }
        let first = trace(index: 3, seed: 42)
        #expect(first == trace(index: 3, seed: 42))
        #expect(first != trace(index: 4, seed: 42))
        #expect(first != trace(index: 3, seed: 43))
        #expect(first.contains(nil))
        #expect(first.contains { ($0 ?? 0) > 40 })
    }

    @Test func silenceWindowsKeepTheDeviceQuiet() {
        let profile = Self.profile(silence: Recurrence(everyS: 300, durationS: 45, firstS: 30))
        var device = SimulatedDevice(profile: profile, index: 0, seed: 1)
        let silent = (0..<500).map { device.isSilent(now: Self.start + Int64($0) * 1_000) }
        #expect(!silent[0..<30].contains(true))
        #expect(!silent[30..<75].contains(false))
        #expect(!silent[75..<202].contains(true))
        // The next silence starts after a pause of 127.5 to 382.5 s and lasts 45 s.
        let next = silent[75...].firstIndex(of: true)
        #expect(next.map { (203...458).contains($0) } == true)
        if let next, next + 45 <= silent.count {
            #expect(!silent[next..<(next + 45)].contains(false))
            #expect(next + 45 == silent.count || !silent[next + 45])
        }
    }

    @Test func silenceIsTimedFromTheFirstReading() {
        let profile = Self.profile(silence: Recurrence(everyS: 300, durationS: 45, firstS: 30))
        var device = SimulatedDevice(profile: profile, index: 0, seed: 1)
        _ = device.readings(now: Self.start)
        let silent = [29_999, 30_000, 74_999, 75_000].map { device.isSilent(now: Self.start + Int64($0)) }
        #expect(silent == [false, true, true, false])
        // Readings go on after a silence (the signal just was not sent meanwhile).
        #expect(device.readings(now: Self.start + 75_000).count == Self.metrics.count)
    }

    @Test func devicesLeftOutByFractionOrWithoutSilenceNeverGoSilent() {
        let silence = Recurrence(everyS: 20, durationS: 10, firstS: 0, fraction: 0.5)
        var left = SimulatedDevice(profile: Self.profile(silence: silence), index: 1, seed: 1)
        var plain = SimulatedDevice(profile: Self.profile(), index: 0, seed: 1)
        for second in 0..<200 {
            let now = Self.start + Int64(second) * 1_000
            let silent = [left.isSilent(now: now), plain.isSilent(now: now)]
            #expect(silent == [false, false], "at \(second) s")
        }
    }

    @Test func longJumpsAndTimeGoingBackwards() {
        var device = SimulatedDevice(
            profile: Self.episodic(Recurrence(everyS: 1, durationS: 0.5, firstS: 0)), index: 0, seed: 1)
        #expect(device.readings(now: 0)[0].value == 1)
        // Fifty years later: laid out without drawing every window in between.
        let later = device.readings(now: Self.start)[0].value
        #expect(later == 0 || later == 1)
        // Earlier again: before the current window, so outside any episode.
        #expect(device.readings(now: Self.start - 10_000)[0].value == 0)
        // Unusable recurrences (as a profile with problems would have) give no episodes instead of hanging.
        var broken = SimulatedDevice(
            profile: Self.episodic(Recurrence(everyS: 0, durationS: 0, firstS: 0)), index: 0, seed: 1)
        #expect(broken.readings(now: Self.start)[0].value == 0)
        #expect(broken.readings(now: Self.start + 1_000)[0].value == 0)
    }

    /// What `make run` shows (20 devices over the shipped profiles, seed 42, one message per second): a hot room, a
    /// CO₂ spike and a silent device within the first minute, each back to normal within the next minute or so.
    /// Mirrors the rules in `Devices/rules/demo-alerts.json`.
    @Test func shippedProfilesGiveTheDemoItsAlertsEarly() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Devices")
        let profiles = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasSuffix(".json")
        }.sorted().map {
            try JSONDecoder().decode(DeviceProfile.self, from: Data(contentsOf: folder.appendingPathComponent($0)))
        }
        // As SimulatedDeviceClient builds them: profiles in turn, ordinal = index / number of profiles.
        var devices = (0..<20).map {
            SimulatedDevice(
                profile: profiles[$0 % profiles.count], index: $0, seed: 42, ordinal: $0 / profiles.count)
        }
        var traces: [String: [String: [Double?]]] = [:]
        for second in 0..<240 {
            let now = Self.start + Int64(second) * 1_000
            for index in devices.indices {
                let silent = devices[index].isSilent(now: now)
                let readings = silent ? [] : devices[index].readings(now: now)
                for metric in devices[index].profile.metrics.map(\.name) {
                    let value = readings.first { $0.metric == metric }?.value
                    traces[devices[index].id, default: [:]][metric, default: []].append(value)
                }
            }
        }
        // hot-rooms: thermo-*/temp > 30 for 10 s fires before 45 s; < 28 again before 90 s.
        let hot = traces.filter { $0.key.hasPrefix("thermo-") }.compactMap { id, metrics -> (String, Int, Int)? in
            let temp = metrics["temp"]!.map { $0 ?? 0 }
            guard let fired = (10..<temp.count).first(where: { end in temp[(end - 10)...end].allSatisfy { $0 > 30 } }),
                let cleared = temp[fired...].firstIndex(where: { $0 < 28 })
            else { return nil }
            return (id, fired, cleared)
        }
        #expect(hot.contains { $0.1 <= 45 && $0.2 <= 90 }, "hot rooms: \(hot)")
        #expect(hot.count < traces.keys.filter { $0.hasPrefix("thermo-") }.count, "every thermostat overheats")
        // co2-high: the 30 s average of air-*/co2 > 1200 before 60 s; < 1000 again before 150 s.
        let stuffy = traces.filter { $0.key.hasPrefix("air-") }.compactMap { id, metrics -> (String, Int, Int)? in
            let co2 = metrics["co2"]!.map { $0 ?? 0 }
            let average = (29..<co2.count).map { end in co2[(end - 29)...end].reduce(0, +) / 30 }
            guard let fired = average.firstIndex(where: { $0 > 1_200 }),
                let cleared = average[fired...].firstIndex(where: { $0 < 1_000 })
            else { return nil }
            return (id, fired + 29, cleared + 29)
        }
        #expect(stuffy.contains { $0.1 <= 60 && $0.2 <= 150 }, "CO₂ spikes: \(stuffy)")
        #expect(stuffy.count < traces.keys.filter { $0.hasPrefix("air-") }.count, "every sensor spikes")
        // device-silent: */rssi silent for more than 30 s, starting before 40 s and sending again before 120 s.
        let quiet = traces.compactMap { id, metrics -> (String, Int, Int)? in
            let rssi = metrics["rssi"]!
            guard let start = rssi.firstIndex(where: { $0 == nil }),
                let end = rssi[start...].firstIndex(where: { $0 != nil })
            else { return nil }
            return (id, start, end)
        }
        #expect(quiet.contains { $0.1 <= 40 && $0.2 - $0.1 > 30 && $0.2 <= 120 }, "silences: \(quiet)")
        // Every device sends from the start (a device first heard of late would show no series at first).
        #expect(traces.values.allSatisfy { $0.values.allSatisfy { $0[0..<10].allSatisfy { $0 != nil } } })
        // Every device of every profile sends rssi, the metric device-silent watches.
        #expect(profiles.allSatisfy { $0.metrics.contains { $0.name == "rssi" } })
    }

    @Test func sineApproximation() {
        var random = SeededRandom(seed: 99)
        for _ in 0..<10_000 {
            let x = Double.random(in: -10_000...10_000, using: &random)
            #expect(abs(SimulatedDevice.sine(x) - Foundation.sin(x)) < 1e-6, "sine(\(x))")
        }
        #expect(SimulatedDevice.sine(0) == 0)
        #expect(abs(SimulatedDevice.sine(Double.pi / 2) - 1) < 1e-7)
        #expect(abs(SimulatedDevice.sine(-Double.pi / 2) + 1) < 1e-7)
        #expect(abs(SimulatedDevice.sine(Double.pi / 6) - 0.5) < 1e-7)
    }

    @Test func rounding() {
        #expect(SimulatedDevice.round(1.2345, decimals: 2) == 1.23)
        #expect(SimulatedDevice.round(1.235, decimals: 1) == 1.2)
        #expect(SimulatedDevice.round(-2.5, decimals: 0) == -3)
        #expect(SimulatedDevice.round(7.77, decimals: -1) == 8)
        #expect(SimulatedDevice.round(0.1234567890123456, decimals: 40) == 0.123456789012)
    }
}
