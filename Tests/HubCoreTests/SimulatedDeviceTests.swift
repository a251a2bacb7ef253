import Foundation
import Testing

@testable import HubCore

@Suite("SimulatedDevice")
struct SimulatedDeviceTests {
    typealias Metric = DeviceProfile.MetricProfile
    typealias Command = DeviceProfile.CommandProfile

    static let metrics: [Metric] = [
        Metric(name: "temp", min: 19, max: 23, shape: .sine, periodS: 600, noise: 0.1, decimals: 1),
        Metric(name: "hum", min: 35, max: 55, shape: .randomWalk, noise: 0.2, decimals: 1, step: 0.5),
        Metric(name: "level", min: 0, max: 30, shape: .steps, periodS: 60, noise: 0.5, decimals: 2),
        Metric(name: "setpoint", min: 21, max: 21, shape: .constant, decimals: 1),
        Metric(name: "pm25", min: 0, max: 1, shape: .sine, periodS: 10, noise: 0.05, decimals: 3),
    ]

    static func profile(metrics: [Metric] = metrics, commands: [Command] = []) -> DeviceProfile {
        DeviceProfile(
            kind: "thermostat", idPrefix: "thermo", rooms: ["building:hq", "floor:{group}"], groups: 5,
            meta: ["vendor": "Acme"], metrics: metrics, commands: commands)
    }

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
