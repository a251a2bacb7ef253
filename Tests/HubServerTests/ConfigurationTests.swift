import Foundation
import HubCore
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

    @Test func storageAndRetentionParse() throws {
        let configuration = try HubConfiguration.load(
            json: Data(
                #"""
                {"storage": {"engine": "memory", "flush_interval_ms": 250},
                 "retention": {"raw": "3d", "1m": "30d", "max_bytes": {"raw": 1000000},
                               "overrides": [{"match": "*/debug_*", "raw": "1h"}]}}
                """#.utf8))
        #expect(configuration.storage.engine == .memory)
        #expect(configuration.storage.flushIntervalMs == 250)
        #expect(configuration.storage.chunkMaxSamples == StorageConfiguration().chunkMaxSamples)
        #expect(configuration.retention.raw.milliseconds == Int64(3 * 86_400_000))
        #expect(configuration.retention.minute.milliseconds == Int64(30 * 86_400_000))
        #expect(configuration.retention.hour == RetentionConfiguration().hour)
        #expect(configuration.retention.maxBytes.raw == 1_000_000)
        let policy = try configuration.retention.policy()
        #expect(policy.age(of: SeriesKey(device: "a", metric: "debug_x"), tier: nil).milliseconds == 3_600_000)
        #expect(
            policy.age(of: SeriesKey(device: "a", metric: "debug_x"), tier: .minute).milliseconds
                == Int64(30 * 86_400_000))
        #expect(policy.age(of: SeriesKey(device: "a", metric: "temp"), tier: nil).milliseconds == Int64(3 * 86_400_000))
    }

    @Test func retentionArrayIsShorthandForOverrides() throws {
        let configuration = try HubConfiguration.load(
            json: Data(#"{"retention": [{"match": "*/debug_*", "raw": "1h"}]}"#.utf8))
        #expect(
            configuration.retention.overrides == [RetentionOverride(match: "*/debug_*", raw: RetentionAge(text: "1h"))])
        #expect(configuration.retention.raw == RetentionConfiguration().raw)
    }

    @Test func badStorageValuesAreNamed() {
        for (json, needle) in [
            (#"{"retention": {"raw": "soon"}}"#, "retention.raw"),
            (#"{"retention": {"raw": "0"}}"#, "retention.raw"),
            (#"{"retention": [{"match": "no-slash", "raw": "1h"}]}"#, "retention.overrides[0].match"),
            (#"{"storage": {"engine": "postgres"}}"#, "storage.engine"),
            (#"{"storage": {"flush_interval_ms": 0}}"#, "storage.flush_interval_ms"),
        ] {
            do {
                _ = try HubConfiguration.load(json: Data(json.utf8))
                Issue.record("accepted \(json)")
            } catch {
                #expect("\(error)".contains(needle), "\(json): \(error)")
            }
        }
    }
}
