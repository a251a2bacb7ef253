import Testing

@testable import HubCore

/// The error `MQTTEndpoint(url:)` throws for `url`, or nil when it parses.
private func endpointError(_ url: String) -> ProtocolError? {
    do {
        _ = try MQTTEndpoint(url: url)
        return nil
    } catch {
        return error
    }
}

/// A configuration that can be used: a broker and every other field at its default.
private func usable() -> MQTTConfiguration {
    var configuration = MQTTConfiguration()
    configuration.url = "mqtt://broker"
    return configuration
}

/// The problems of the usable configuration after `change`.
private func problems(_ change: (inout MQTTConfiguration) -> Void) -> [String] {
    var configuration = usable()
    change(&configuration)
    return configuration.problems()
}

@Suite("MQTTEndpoint: parsing the broker URL")
struct MQTTEndpointTests {
    @Test func hostAndPort() throws {
        let endpoint = try MQTTEndpoint(url: "mqtt://127.0.0.1:1883")
        #expect(endpoint.host == "127.0.0.1")
        #expect(endpoint.port == 1883)
        #expect(!endpoint.tls)
    }

    @Test func defaultPorts() throws {
        let plain = try MQTTEndpoint(url: "mqtt://broker")
        #expect(plain.host == "broker" && plain.port == 1883 && !plain.tls)
        let secure = try MQTTEndpoint(url: "mqtts://broker")
        #expect(secure.host == "broker" && secure.port == 8883 && secure.tls)
        let securePort = try MQTTEndpoint(url: "mqtts://broker.example.com:8884")
        #expect(securePort.host == "broker.example.com" && securePort.port == 8884 && securePort.tls)
    }

    @Test func bracketedIPv6() throws {
        let endpoint = try MQTTEndpoint(url: "mqtt://[::1]:1884")
        #expect(endpoint.host == "::1" && endpoint.port == 1884 && !endpoint.tls)
        let noPort = try MQTTEndpoint(url: "mqtts://[fe80::1]")
        #expect(noPort.host == "fe80::1" && noPort.port == 8883 && noPort.tls)
    }

    @Test func aTrailingSlashIsAllowed() throws {
        #expect(try MQTTEndpoint(url: "mqtt://broker/") == MQTTEndpoint(url: "mqtt://broker"))
        #expect(try MQTTEndpoint(url: "mqtt://broker:1999/").port == 1999)
        #expect(try MQTTEndpoint(url: "mqtt://[::1]:1884/").host == "::1")
    }

    @Test func portBounds() throws {
        #expect(try MQTTEndpoint(url: "mqtt://host:1").port == 1)
        #expect(try MQTTEndpoint(url: "mqtt://host:65535").port == 65_535)
        #expect(throws: ProtocolError.self) { try MQTTEndpoint(url: "mqtt://host:65536") }
    }

    @Test func badURLsAreInvalidMessages() {
        for url in [
            "http://x", "mqtt://", "mqtts://", "mqtt://host:0", "mqtt://host:99999", "mqtt://host:abc",
            "mqtt://host:", "mqtt://host:-1", "mqtt://:1883", "mqtt://user:pw@host", "mqtt://user@host",
            "mqtt://host/path", "mqtt://host//", "mqtt://host?x=1", "mqtt://[::1", "mqtt://[::1]x",
            "mqtt://[::1]:", "mqtt://[]:1883", "broker:1883", "",
        ] {
            #expect(throws: ProtocolError.self, "\(url)") { try MQTTEndpoint(url: url) }
            #expect(endpointError(url)?.code == .invalidMessage, "\(url)")
        }
    }

    @Test func errorsSayWhatIsWrong() throws {
        let scheme = try #require(endpointError("http://x"))
        #expect(scheme.message.contains("mqtt://") && scheme.message.contains("http://x"))
        let credentials = try #require(endpointError("mqtt://user:pw@host"))
        #expect(credentials.message.contains("username"))
        #expect(!credentials.message.contains("pw"), "the password must not be echoed")
        #expect(try #require(endpointError("mqtt://host:99999")).message.contains("1 to 65535"))
        #expect(try #require(endpointError("mqtt://host/path")).message.contains("no path"))
    }

    @Test func unbracketedIPv6IsRejected() {
        // `host:port` is split at the last colon, so these must not parse as host ":" or "fe80:" and port 1.
        for url in ["mqtt://::1", "mqtt://fe80::1"] {
            #expect(
                endpointError(url)?.code == .invalidMessage,
                "\(url) parsed as \(String(describing: try? MQTTEndpoint(url: url)))")
        }
    }

    @Test func urlRoundTrip() throws {
        for (url, shown) in [
            ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"), ("mqtt://broker", "mqtt://broker:1883"),
            ("mqtts://broker", "mqtts://broker:8883"), ("mqtt://[::1]:1884", "mqtt://[::1]:1884"),
            ("mqtts://[fe80::1]/", "mqtts://[fe80::1]:8883"), ("mqtt://broker:2000/", "mqtt://broker:2000"),
        ] {
            let endpoint = try MQTTEndpoint(url: url)
            #expect(endpoint.url == shown)
            #expect(try MQTTEndpoint(url: endpoint.url) == endpoint)
        }
    }
}

@Suite("MQTTConfiguration: defaults and the problems of each field")
struct MQTTConfigurationTests {
    @Test func theDefaultLeavesTheBridgeOff() {
        let configuration = MQTTConfiguration()
        #expect(!configuration.enabled)
        #expect(configuration.url.isEmpty)
        #expect(configuration.problems().isEmpty)
        #expect(configuration.topicPrefix == "telemetryhub/")
        #expect(configuration.keepaliveSeconds == 30)
        #expect(configuration.inactivityMs == 600_000)
        #expect(configuration.reconnectMinSeconds == 1 && configuration.reconnectMaxSeconds == 30)
    }

    @Test func withTheBridgeOffOtherFieldsAreNotChecked() {
        var configuration = MQTTConfiguration()
        configuration.keepaliveSeconds = 2
        configuration.topicPrefix = "#"
        configuration.passwordFile = "/run/secret"
        #expect(configuration.problems().isEmpty)
    }

    @Test func aGoodConfigurationHasNoProblems() {
        #expect(usable().enabled)
        #expect(usable().problems().isEmpty)
        #expect(
            problems {
                $0.url = "mqtts://[::1]:8884"
                $0.username = "hub"
                $0.passwordFile = "/run/secrets/mqtt"
                $0.clientId = "hub-1"
                $0.topicPrefix = "site/a/"
                $0.keepaliveSeconds = 5
                $0.inactivityMs = 0
                $0.caFile = "/etc/ca.pem"
                $0.certFile = "/etc/hub.pem"
                $0.keyFile = "/etc/hub.key"
                $0.reconnectMinSeconds = 5
                $0.reconnectMaxSeconds = 5
            }.isEmpty)
        #expect(problems { $0.keepaliveSeconds = 65_535 }.isEmpty)
        #expect(problems { $0.inactivityMs = 1_000 }.isEmpty)
        #expect(problems { $0.inactivityMs = 31_536_000_000 }.isEmpty)
        #expect(problems { $0.reconnectMaxSeconds = 3_600 }.isEmpty)
        #expect(problems { $0.username = "hub" }.isEmpty)
    }

    @Test func eachBadFieldIsNamed() {
        let cases: [(field: String, change: (inout MQTTConfiguration) -> Void)] = [
            ("mqtt.url", { $0.url = "http://x" }),
            ("mqtt.url", { $0.url = "mqtt://user:pw@host" }),
            ("mqtt.keepalive_seconds", { $0.keepaliveSeconds = 2 }),
            ("mqtt.keepalive_seconds", { $0.keepaliveSeconds = 65_536 }),
            ("mqtt.inactivity_ms", { $0.inactivityMs = 500 }),
            ("mqtt.inactivity_ms", { $0.inactivityMs = -1 }),
            ("mqtt.inactivity_ms", { $0.inactivityMs = 31_536_000_001 }),
            ("mqtt.reconnect_min_seconds", { $0.reconnectMinSeconds = 0 }),
            (
                "mqtt.reconnect_max_seconds",
                {
                    $0.reconnectMinSeconds = 10
                    $0.reconnectMaxSeconds = 5
                }
            ),
            ("mqtt.reconnect_max_seconds", { $0.reconnectMaxSeconds = 3_601 }),
            ("mqtt.topic_prefix", { $0.topicPrefix = "site/#/" }),
            ("mqtt.topic_prefix", { $0.topicPrefix = "site/+/" }),
            ("mqtt.client_id", { $0.clientId = "hub\n1" }),
            ("mqtt.cert_file", { $0.certFile = "/etc/hub.pem" }),
            ("mqtt.key_file", { $0.keyFile = "/etc/hub.key" }),
            ("mqtt.password_file", { $0.passwordFile = "/run/secrets/mqtt" }),
        ]
        for (field, change) in cases {
            let found = problems(change)
            #expect(found.count == 1, "\(field): \(found)")
            #expect(found.allSatisfy { $0.contains(field) }, "\(field): \(found)")
        }
    }

    @Test func everyProblemIsListed() {
        let found = problems {
            $0.url = "mqtt://host:0"
            $0.keepaliveSeconds = 1
            $0.topicPrefix = "#"
            $0.certFile = "/etc/hub.pem"
            $0.passwordFile = "/run/secret"
        }
        #expect(found.count == 5)
        #expect(found.first?.hasPrefix("mqtt.url: ") == true)
    }
}
