import Testing

@testable import HubCore

@Suite("MQTTTopics")
struct MQTTTopicsTests {
    @Test func topicsRoundTripUnderThePrefix() throws {
        let topics = MQTTTopics()
        for channel in MQTTTopics.Channel.allCases {
            let topic = topics.topic("thermo-1", channel)
            #expect(topic == "telemetryhub/devices/thermo-1/\(channel.rawValue)")
            let parsed = try #require(topics.parse(topic))
            #expect(parsed.device == "thermo-1" && parsed.channel == channel)
        }
        #expect(
            topics.hubSubscriptions == [
                "telemetryhub/devices/+/telemetry", "telemetryhub/devices/+/meta", "telemetryhub/devices/+/status",
                "telemetryhub/devices/+/command_results",
            ])
    }

    @Test func aPrefixGetsItsSlashAndAnEmptyOneWorks() {
        #expect(MQTTTopics(prefix: "site-a").prefix == "site-a/")
        #expect(MQTTTopics(prefix: "").topic("d", .status) == "devices/d/status")
        #expect(MQTTTopics(prefix: "").parse("devices/d/meta")?.channel == .meta)
    }

    @Test func topicsOutsideTheProtocolAreNotParsed() {
        let topics = MQTTTopics()
        for topic in [
            "other/devices/d/telemetry", "telemetryhub/devices/d", "telemetryhub/devices/d/telemetry/extra",
            "telemetryhub/things/d/telemetry", "telemetryhub/devices/d/unknown", "telemetryhub/devices//telemetry",
            "telemetryhub/devices/bad id/telemetry", "telemetryhub/devices/\(String(repeating: "x", count: 129))/meta",
        ] {
            #expect(topics.parse(topic) == nil, "\(topic)")
        }
    }
}
