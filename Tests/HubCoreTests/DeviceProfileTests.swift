import Foundation
import Testing

@testable import HubCore

@Suite("DeviceProfile")
struct DeviceProfileTests {
    typealias Metric = DeviceProfile.MetricProfile
    typealias Command = DeviceProfile.CommandProfile

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
                    step: 2)
            ],
            commands: [Command(name: "c", action: .reboot, offlineMs: 10, failRate: 0.5, delayMs: 7)])
        let data = try JSONEncoder().encode(profile)
        #expect(try JSONDecoder().decode(DeviceProfile.self, from: data) == profile)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"id_prefix\""))
        #expect(text.contains("\"period_s\""))
        #expect(text.contains("\"random_walk\""))
        #expect(text.contains("\"offline_ms\""))
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
