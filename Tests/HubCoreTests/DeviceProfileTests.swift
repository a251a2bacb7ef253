import Foundation
import Testing

@testable import HubCore

@Suite("DeviceProfile")
struct DeviceProfileTests {
    typealias Metric = DeviceProfile.MetricProfile
    typealias Command = DeviceProfile.CommandProfile
    typealias Episodes = DeviceProfile.Episodes
    typealias Recurrence = DeviceProfile.Recurrence

    private func decode(_ text: String) throws -> DeviceProfile {
        try JSONDecoder().decode(DeviceProfile.self, from: Data(text.utf8))
    }

    @Test func minimalProfileGetsDefaults() throws {
        let profile = try decode(#"{"kind":"sensor","metrics":[{"name":"t","min":0,"max":1}]}"#)
        #expect(profile.kind == "sensor")
        #expect(profile.idPrefix == "sensor")
        #expect(profile.rooms == [])
        #expect(profile.groups == 1)
        #expect(profile.meta == [:])
        #expect(profile.commands == [])
        #expect(profile.silence == nil)
        #expect(
            profile.metrics == [
                Metric(name: "t", unit: "", min: 0, max: 1, shape: .sine, periodS: 600, noise: 0, decimals: 2, step: 1)
            ])
        #expect(profile.problems() == [])
    }

    @Test func fullProfile() throws {
        let profile = try decode(
            #"""
            {
              "kind": "thermostat", "id_prefix": "thermo", "rooms": ["building:hq", "floor:{group}"], "groups": 5,
              "meta": {"vendor": "Acme"},
              "metrics": [
                {"name": "temp", "unit": "°C", "min": 19.0, "max": 23.0, "shape": "sine", "period_s": 300, "noise": 0.1, "decimals": 1},
                {"name": "hum", "min": 35, "max": 55, "shape": "random_walk", "step": 0.5},
                {"name": "lvl", "min": 0, "max": 3, "shape": "steps"},
                {"name": "kwh", "min": 0, "max": 0, "shape": "counter"},
                {"name": "sp", "min": 21, "max": 21, "shape": "constant"}
              ],
              "commands": [
                {"name": "setpoint", "action": "set_target", "metric": "temp", "arg": "celsius", "fail_rate": 0.25, "delay_ms": 20},
                {"name": "reboot", "action": "reboot", "offline_ms": 1000},
                {"name": "identify", "action": "ok"},
                {"name": "self-test", "action": "fail"}
              ]
            }
            """#)
        #expect(profile.idPrefix == "thermo")
        #expect(profile.groups == 5)
        #expect(profile.meta == ["vendor": "Acme"])
        #expect(profile.metrics.map(\.shape) == [.sine, .randomWalk, .steps, .counter, .constant])
        #expect(
            profile.metrics[0]
                == Metric(
                    name: "temp", unit: "°C", min: 19, max: 23, shape: .sine, periodS: 300, noise: 0.1, decimals: 1))
        #expect(profile.metrics[1].step == 0.5)
        #expect(profile.metrics[1].unit == "")
        #expect(
            profile.commands == [
                Command(
                    name: "setpoint", action: .setTarget, metric: "temp", arg: "celsius", offlineMs: 3_000,
                    failRate: 0.25, delayMs: 20),
                Command(
                    name: "reboot", action: .reboot, metric: nil, arg: "value", offlineMs: 1_000, failRate: 0,
                    delayMs: 0),
                Command(name: "identify", action: .ok),
                Command(name: "self-test", action: .fail),
            ])
        #expect(profile.problems() == [])
        #expect(profile.deviceID(index: 0) == "thermo-1")
        #expect(profile.deviceID(index: 41) == "thermo-42")
        #expect(profile.rooms(index: 0) == ["building:hq", "floor:1"])
        #expect(profile.rooms(index: 4) == ["building:hq", "floor:5"])
        #expect(profile.rooms(index: 5) == ["building:hq", "floor:1"])
        #expect(profile.rooms(index: 13) == ["building:hq", "floor:4"])
    }

    @Test func episodesAndSilence() throws {
        let profile = try decode(
            #"""
            {
              "kind": "k",
              "metrics": [
                {"name": "t", "min": 0, "max": 1,
                 "episodes": {"level": 5, "ramp_s": 2, "every_s": 60, "duration_s": 10, "first_s": 3, "fraction": 0.5}},
                {"name": "u", "min": 0, "max": 1, "episodes": {"level": -1, "every_s": 30, "duration_s": 5}},
                {"name": "v", "min": 0, "max": 1}
              ],
              "silence": {"every_s": 120, "duration_s": 40}
            }
            """#)
        #expect(
            profile.metrics[0].episodes
                == Episodes(
                    level: 5, rampS: 2, recurrence: Recurrence(everyS: 60, durationS: 10, firstS: 3, fraction: 0.5)))
        #expect(
            profile.metrics[1].episodes
                == Episodes(
                    level: -1, rampS: 0, recurrence: Recurrence(everyS: 30, durationS: 5, firstS: nil, fraction: 1)))
        #expect(profile.metrics[2].episodes == nil)
        #expect(profile.silence == Recurrence(everyS: 120, durationS: 40, firstS: nil, fraction: 1))
        #expect(profile.problems() == [])
    }

    @Test func episodeWeightRampsHoldsAndReturns() {
        let episodes = Episodes(level: 1, rampS: 4, recurrence: Recurrence(everyS: 60, durationS: 20))
        #expect(episodes.weight(at: -1) == 0)
        #expect(episodes.weight(at: 0) == 0)
        #expect(episodes.weight(at: 1) == 0.25)
        #expect(episodes.weight(at: 4) == 1)
        #expect(episodes.weight(at: 10) == 1)
        #expect(episodes.weight(at: 16) == 1)
        #expect(episodes.weight(at: 18) == 0.5)
        #expect(episodes.weight(at: 20) == 0)
        let jump = Episodes(level: 1, recurrence: Recurrence(everyS: 60, durationS: 20))
        #expect([0, 0.001, 19.999].allSatisfy { jump.weight(at: $0) == 1 })
        #expect(jump.weight(at: 20) == 0)
    }

    /// Of the first n devices of a profile, ceil(n * fraction) have the windows, the first device always among them.
    @Test func fractionPicksDevicesEvenly() {
        let expected: [(Double, [Int])] = [
            (1, Array(0..<12)), (0.5, [0, 2, 4, 6, 8, 10]), (0.25, [0, 4, 8]), (0.3, [0, 3, 6, 10]), (0, []),
        ]
        for (fraction, ordinals) in expected {
            let recurrence = Recurrence(everyS: 60, durationS: 10, fraction: fraction)
            #expect((0..<12).filter { recurrence.applies(toOrdinal: $0) } == ordinals, "fraction \(fraction)")
            #expect(!recurrence.applies(toOrdinal: -1))
        }
    }

    @Test func episodeAndSilenceProblems() {
        let profile = DeviceProfile(
            kind: "k", idPrefix: "k",
            metrics: [
                Metric(
                    name: "fine", min: 0, max: 1, shape: .sine,
                    episodes: Episodes(
                        level: 9, rampS: 5, recurrence: Recurrence(everyS: 60, durationS: 10, firstS: 0, fraction: 0))),
                Metric(
                    name: "long", min: 0, max: 1, shape: .sine,
                    episodes: Episodes(level: 1, recurrence: Recurrence(everyS: 10, durationS: 10))),
                Metric(
                    name: "empty", min: 0, max: 1, shape: .sine,
                    episodes: Episodes(level: .infinity, recurrence: Recurrence(everyS: 10, durationS: 0))),
                Metric(
                    name: "steep", min: 0, max: 1, shape: .sine,
                    episodes: Episodes(
                        level: 1, rampS: 6, recurrence: Recurrence(everyS: 60, durationS: 10, firstS: -1, fraction: 2))),
                Metric(
                    name: "backwards", min: 0, max: 1, shape: .sine,
                    episodes: Episodes(level: 1, rampS: -1, recurrence: Recurrence(everyS: 60, durationS: 10))),
            ],
            silence: Recurrence(everyS: .nan, durationS: -5, fraction: -0.5))
        #expect(
            profile.problems() == [
                "metrics.long.episodes: every_s must be greater than duration_s",
                "metrics.empty.episodes: level must be a finite number",
                "metrics.empty.episodes: duration_s must be positive",
                "metrics.steep.episodes: first_s must not be negative",
                "metrics.steep.episodes: fraction must be in [0, 1]",
                "metrics.steep.episodes: ramp_s must be at least 0 and at most half of duration_s",
                "metrics.backwards.episodes: ramp_s must be at least 0 and at most half of duration_s",
                "silence: duration_s must be positive",
                "silence: every_s must be greater than duration_s",
                "silence: fraction must be in [0, 1]",
            ])
    }

    @Test(arguments: [0, -3])
    func groupsAtLeastOne(groups: Int) throws {
        let profile = try decode(
            #"{"kind":"k","groups":\#(groups),"rooms":["r{group}"],"metrics":[{"name":"t","min":0,"max":1}]}"#)
        #expect(profile.groups == 1)
        #expect(profile.rooms(index: 7) == ["r1"])
    }

    @Test func roomTemplateWithSeveralPlaceholders() {
        let profile = DeviceProfile(
            kind: "k", idPrefix: "p", rooms: ["{group}-{group}", "plain", "{grp}"], groups: 3,
            metrics: [Metric(name: "m", min: 0, max: 1, shape: .sine)])
        #expect(profile.rooms(index: 1) == ["2-2", "plain", "{grp}"])
    }

    @Test(arguments: [
        #"{"metrics":[{"name":"t","min":0,"max":1}]}"#,  // no kind
        #"{"kind":"k"}"#,  // no metrics
        #"{"kind":"k","metrics":[{"name":"t","max":1}]}"#,  // no min
        #"{"kind":"k","metrics":[{"min":0,"max":1}]}"#,  // no name
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1,"shape":"square"}]}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":"0","max":1}]}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1}],"commands":[{"name":"c","action":"explode"}]}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1}],"commands":[{"action":"ok"}]}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1}],"meta":{"n":1}}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1,"episodes":{"every_s":60,"duration_s":10}}]}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1,"episodes":{"level":5,"duration_s":10}}]}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1,"episodes":true}]}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1}],"silence":{"every_s":60}}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1}],"silence":{"every_s":60,"duration_s":"10"}}"#,
        #"{"kind":"k","metrics":[{"name":"t","min":0,"max":1}],"silence":{"every_s":60,"duration_s":9,"fraction":"all"}}"#,
    ])
    func decodingErrors(text: String) {
        #expect(throws: (any Error).self) { try decode(text) }
    }

    @Test func problems() {
        let profile = DeviceProfile(
            kind: "bad kind", idPrefix: "bad/prefix",
            metrics: [
                Metric(name: "ok", min: 0, max: 1, shape: .sine),
                Metric(name: "bad name", min: 0, max: 1, shape: .sine),
                Metric(name: "inverted", min: 2, max: 1, shape: .sine),
                Metric(name: "still", min: 0, max: 1, shape: .sine, periodS: 0),
                Metric(name: "nan", min: .nan, max: 1, shape: .constant),
            ],
            commands: [
                Command(name: "no-metric", action: .setTarget),
                Command(name: "wrong-metric", action: .setTarget, metric: "missing"),
                Command(name: "fine", action: .setTarget, metric: "ok"),
                Command(name: "too-likely", action: .ok, failRate: 1.5),
                Command(name: "negative", action: .ok, failRate: -0.1),
                Command(name: "certain", action: .ok, failRate: 1),
            ])
        #expect(
            profile.problems() == [
                "kind 'bad kind' is not a valid name",
                "id_prefix 'bad/prefix' is not a valid name",
                "metrics: 'bad name' is not a valid name",
                "metrics.inverted: min must not exceed max",
                "metrics.still: period_s must be positive",
                "metrics.nan: min must not exceed max",
                "commands.no-metric: set_target needs 'metric' naming one of the metrics",
                "commands.wrong-metric: set_target needs 'metric' naming one of the metrics",
                "commands.too-likely: fail_rate must be in [0, 1]",
                "commands.negative: fail_rate must be in [0, 1]",
            ])
    }

    /// A room the hub's decoder rejects ('*' or a bad character) makes every simulated device's `register` fail.
    @Test func invalidRoomsShouldBeAProblem() {
        let profile = DeviceProfile(
            kind: "k", idPrefix: "k", rooms: ["floor:*", "two words"],
            metrics: [Metric(name: "m", min: 0, max: 1, shape: .sine)])
        // The decoder indeed refuses such a register message.
        let failure = singleFailure(#"{"type":"register","device":"k-1","rooms":["floor:*"]}"#)
        #expect(failure?.error.code == .invalidMessage)
        #expect(profile.problems().count == 2)
    }

    @Test func noMetricsIsAProblem() {
        let profile = DeviceProfile(kind: "k", idPrefix: "k", metrics: [])
        #expect(profile.problems() == ["metrics: at least one metric is needed"])
    }

    @Test func encodeDecodeRoundTrip() throws {
        let profile = DeviceProfile(
            kind: "k", idPrefix: "p", rooms: ["r"], groups: 2, meta: ["a": "b"],
            metrics: [
                Metric(
                    name: "m", unit: "u", min: -1, max: 1, shape: .randomWalk, periodS: 5, noise: 0.5, decimals: 3,
                    step: 2,
                    episodes: Episodes(
                        level: 4, rampS: 1, recurrence: Recurrence(everyS: 30, durationS: 8, firstS: 2, fraction: 0.5))),
                Metric(name: "plain", min: 0, max: 1, shape: .constant),
            ],
            commands: [Command(name: "c", action: .reboot, offlineMs: 10, failRate: 0.5, delayMs: 7)],
            silence: Recurrence(everyS: 90, durationS: 40))
        let data = try JSONEncoder().encode(profile)
        #expect(try JSONDecoder().decode(DeviceProfile.self, from: data) == profile)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"id_prefix\""))
        #expect(text.contains("\"period_s\""))
        #expect(text.contains("\"random_walk\""))
        #expect(text.contains("\"offline_ms\""))
        for key in ["episodes", "level", "ramp_s", "every_s", "duration_s", "first_s", "fraction", "silence"] {
            #expect(text.contains("\"\(key)\""), "\(key)")
        }
    }

    /// The profiles shipped in `Devices/` must decode and be free of problems.
    @Test func shippedProfilesAreValid() throws {
        let devices = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Devices")
        let files = try FileManager.default.contentsOfDirectory(atPath: devices.path).filter { $0.hasSuffix(".json") }
            .sorted()
        try #require(!files.isEmpty)
        for file in files {
            let data = try Data(contentsOf: devices.appendingPathComponent(file))
            let profile = try JSONDecoder().decode(DeviceProfile.self, from: data)
            #expect(profile.problems() == [], "\(file)")
            // Every device id and room a simulation would register is accepted by the decoder.
            for index in 0..<(profile.groups * 2) {
                #expect(Names.isValidName(profile.deviceID(index: index)), "\(file)")
                for room in profile.rooms(index: index) {
                    #expect(Names.isValidRoom(room) && !room.contains("*"), "\(file): room '\(room)'")
                }
            }
        }
    }
}
