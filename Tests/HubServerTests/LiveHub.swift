import Foundation
import HubCore
import HubMQTT
import HubSQLite
import HubServer
import Hummingbird
import Logging
import ServiceLifecycle
import Testing

/// A hub running on 127.0.0.1 and a free port for the duration of a test.
struct LiveHub: Sendable {
    let port: Int
    let hub: Hub
    let authority: TokenAuthority
    /// The MQTT bridge, when the configuration names a broker.
    let bridge: MQTTBridge?
    /// Starts the hub's graceful shutdown (as SIGTERM would).
    let shutdown: @Sendable () async -> Void
    static let secret = "test-secret-0123456789abcdef0123456789abcdef"

    var httpBase: String { "http://127.0.0.1:\(port)" }
    var wsBase: String { "ws://127.0.0.1:\(port)" }

    /// Starts a hub with the test configuration (auth on with a fixed secret), runs `body`, and stops the hub.
    static func run(
        configure: (inout HubConfiguration) -> Void = { _ in },
        archive archiveOverride: (any SampleArchive)? = nil,
        _ body: @Sendable (LiveHub) async throws -> Void
    ) async throws {
        var configuration = HubConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let scratch = NSTemporaryDirectory() + "telemetryhub-test-\(UUID().uuidString)"
        configuration.dataDir = scratch
        configuration.auth.secret = secret
        configuration.storage.flushIntervalMs = 50
        configuration.dashboardsDir = NSTemporaryDirectory()
        configure(&configuration)
        var logger = Logger(label: "test-hub")
        logger.logLevel = .warning
        let archive =
            try archiveOverride
            ?? HubStorage.open(engine: configuration.storage.engine, dataDirectory: configuration.dataDir)
        let alertArchive = try HubAlertStorage.open(
            engine: configuration.storage.engine, dataDirectory: configuration.dataDir)
        let commandArchive = try HubCommandStorage.open(
            engine: configuration.storage.engine, dataDirectory: configuration.dataDir)
        let hub = try await HubApplication.makeHub(
            configuration: configuration, archive: archive, alertArchive: alertArchive,
            commandArchive: commandArchive, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = HubApplication.makeApplication(hub: hub) { port in continuation.yield(port) }
        let bridge =
            configuration.mqtt.enabled
            ? try MQTTBridge(
                configuration: configuration.mqtt, dataDirectory: configuration.dataDir, gateway: hub, logger: logger)
            : nil
        let group = ServiceGroup(
            services: try HubApplication.services(hub: hub, app: app, extra: bridge.map { [$0] } ?? []), logger: logger)
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("hub did not start") }
        let live = LiveHub(
            port: port, hub: hub, authority: await TokenAuthority(secret: secret), bridge: bridge,
            shutdown: { await group.triggerGracefulShutdown() })
        do {
            try await body(live)
        } catch {
            await group.triggerGracefulShutdown()
            try? await running.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running.value
        // A data directory the test chose is the test's to remove (it may restart a hub on it).
        if configuration.dataDir == scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }

    func token(_ role: Role, device: String? = nil, ttl: TimeInterval = 3_600) async throws -> String {
        try await authority.issue(role: role, subject: "test", devicePattern: device, ttl: ttl)
    }

    func http(_ role: Role?) async throws -> HTTPTester {
        guard let role else { return HTTPTester(base: httpBase, token: nil) }
        return HTTPTester(base: httpBase, token: try await token(role))
    }

    /// Polls `condition` every 20 ms for up to `seconds`.
    func eventually(_ seconds: Double = 5, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// HTTP requests with JSON parsing, through URLSession.
struct HTTPTester: Sendable {
    let base: String
    let token: String?

    struct Reply: Sendable {
        let status: Int
        let body: String
        var json: JSONValue? { try? JSONParser.parse(body) }
    }

    func send(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws
        -> Reply
    {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Reply(status: (response as! HTTPURLResponse).statusCode, body: String(decoding: data, as: UTF8.self))
    }

    func get(_ path: String) async throws -> Reply { try await send("GET", path) }

    /// The device record from `/api/devices/{id}`.
    func device(_ id: String) async throws -> JSONValue? {
        let reply = try await get("/api/devices/\(id)")
        return reply.status == 200 ? reply.json?["device"] : nil
    }
}

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
