import Foundation
import HubServer
import Testing

@Suite("Configuration files")
struct ConfigurationTests {
    @Test func keysLeftOutKeepTheirDefaults() throws {
        let configuration = try HubConfiguration.load(
            json: Data(#"{"port": 9000, "limits": {"max_frame_bytes": 4096}}"#.utf8))
        #expect(configuration.port == 9000)
        #expect(configuration.limits.maxFrameBytes == 4096)
        #expect(configuration.limits.maxBatchMessages == HubConfiguration().limits.maxBatchMessages)
        #expect(configuration.store == HubConfiguration().store)
    }

    @Test func unknownKeysAndBadValuesAreNamed() {
        #expect(throws: ConfigurationError.self) { try HubConfiguration.load(json: Data(#"{"prot": 1}"#.utf8)) }
        do {
            _ = try HubConfiguration.load(json: Data(#"{"limits": {"max_frme_bytes": 1}}"#.utf8))
            Issue.record("unknown key accepted")
        } catch {
            #expect("\(error)".contains("limits.max_frme_bytes"))
        }
        do {
            _ = try HubConfiguration.load(json: Data(#"{"store": {"ring_capacity": 0}}"#.utf8))
            Issue.record("zero ring accepted")
        } catch {
            #expect("\(error)".contains("ring_capacity"))
        }
        #expect(throws: ConfigurationError.self) { try HubConfiguration.load(json: Data("[1]".utf8)) }
    }
}
