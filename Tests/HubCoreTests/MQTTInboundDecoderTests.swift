import Testing

@testable import HubCore

@Suite("MQTTInboundDecoder")
struct MQTTInboundDecoderTests {
    let decoder = MQTTInboundDecoder()

    func decode(_ channel: String, _ payload: String, device: String = "thermo-1") throws -> MQTTDeviceMessage? {
        try decoder.decode(topic: "telemetryhub/devices/\(device)/\(channel)", payload: Array(payload.utf8))
    }

    @Test func telemetryIsTheWebSocketTelemetryWithTypeOptional() throws {
        let message = try decode("telemetry", #"{"ts":1000,"metrics":{"temp":21.5}}"#)
        guard case .telemetry(let device, let samples)? = message else {
            Issue.record("not telemetry: \(String(describing: message))")
            return
        }
        #expect(device == "thermo-1")
        #expect(samples == [MetricSample(metric: "temp", ts: 1000, value: 21.5)])
        let typed = try decode("telemetry", #"{"type":"telemetry","samples":[{"metric":"hum","ts":5,"value":40}]}"#)
        guard case .telemetry(_, let more)? = typed else {
            Issue.record("not telemetry: \(String(describing: typed))")
            return
        }
        #expect(more.count == 1)
    }

    @Test func metaIsARegistration() throws {
        let message = try decode("meta", #"{"kind":"thermostat","rooms":["floor:3"],"commands":["reboot"]}"#)
        guard case .meta(let register)? = message else {
            Issue.record("not meta: \(String(describing: message))")
            return
        }
        #expect(register.device == "thermo-1" && register.kind == "thermostat" && register.rooms == ["floor:3"])
        #expect(register.commands == [CommandSpec(name: "reboot")])
    }

    @Test func statusWordsAndObjects() throws {
        #expect(try decode("status", "online") == .status(device: "thermo-1", online: true, reason: .status))
        #expect(try decode("status", "offline\n") == .status(device: "thermo-1", online: false, reason: .lastWill))
        #expect(
            try decode("status", #"{"state":"offline"}"#) == .status(device: "thermo-1", online: false, reason: .status)
        )
        #expect(throws: ProtocolError.self) { try decode("status", "sleepy") }
    }

    @Test func commandResultsCarryTheirDeliveryID() throws {
        let message = try decode("command_results", #"{"id":"cmd-3.1","ok":false,"error":"stuck"}"#)
        #expect(
            message
                == .commandResult(
                    device: "thermo-1", .init(id: .string("cmd-3.1"), ok: false, result: nil, error: "stuck")))
        #expect(throws: ProtocolError.self) { try decode("command_results", #"{"ok":true}"#) }
    }

    @Test func emptyPayloadsAndTheHubsOwnTopicCarryNothing() throws {
        #expect(try decode("meta", "") == nil)
        #expect(try decode("status", "") == nil)
        #expect(try decode("commands", #"{"type":"command","id":"x","name":"n","args":{}}"#) == nil)
    }

    @Test func badPayloadsNameWhatIsWrong() {
        for (channel, payload, expected) in [
            ("telemetry", "not json", "invalid_json"), ("telemetry", "[1]", "invalid_message"),
            ("telemetry", #"{"metrics":{"temp":"hot"}}"#, "invalid_message"),
            ("telemetry", #"{"type":"register","metrics":{"t":1}}"#, "invalid_message"),
            ("telemetry", #"{"device":"other","metrics":{"t":1}}"#, "invalid_message"),
            ("meta", #"{"rooms":"floor:3"}"#, "invalid_message"),
        ] {
            do {
                _ = try decode(channel, payload)
                Issue.record("\(channel) \(payload) was accepted")
            } catch let error as ProtocolError {
                #expect(error.code.rawValue == expected, "\(channel) \(payload): \(error)")
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(throws: ProtocolError.self) {
            try decoder.decode(topic: "elsewhere/devices/x/telemetry", payload: Array("{}".utf8))
        }
    }
}
