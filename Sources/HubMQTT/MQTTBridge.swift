import CMosquitto
import Foundation
import HubCore
import Logging
import ServiceLifecycle
import Synchronization

/// The MQTT bridge: one client of a real broker that carries MQTT devices into the hub through its
/// ``DeviceGateway``, as a `Service` of the hub's `ServiceGroup`.
///
/// - Subscribes to every device's `telemetry`, `meta`, `status` and `command_results` with QoS 1 on a persistent
///   session (clean session off, a stable client id), so what devices publish while the hub or the broker restarts
///   is delivered afterwards.
/// - Handles each message on libmosquitto's network thread, before the broker gets its acknowledgement: nothing is
///   buffered in between, and when storage is behind the bridge waits, so the broker holds the messages.
/// - The broker is expected to keep the hub's session once the hub has connected (in this run, or before with the
///   same data directory); when it has not (a broker that lost its store), a warning says messages were lost.
/// - Presence comes from ``MQTTPresence`` (status, last will, data, inactivity); commands go out through an
///   ``MQTTDeviceLink`` to `devices/{id}/commands`, and results come back into the same command tracker.
/// - Malformed messages are counted and logged with their topic (at most a few lines a second), never fatal.
/// - On graceful shutdown it disconnects cleanly, finishes the messages in hand, and takes its devices offline
///   with reason `shutdown`; the hub's storage flushes after it.
public final class MQTTBridge: Service, Sendable {
    /// The settings in force.
    public let configuration: MQTTConfiguration
    /// The connection's state and counters (also in `/healthz` and `/metrics`).
    public let status: MQTTBridgeStatus
    private let gateway: any DeviceGateway
    private let logger: Logger
    private let topics: MQTTTopics
    private let decoder: MQTTInboundDecoder
    private let presence: Mutex<MQTTPresence>
    private let logBudget = Mutex(TokenBucket(ratePerSecond: 5, burst: 20))
    private let client = Mutex<MQTTClient?>(nil)
    /// The broker should hold a session of the hub: it has connected before (in this run, or in an earlier one with
    /// the same data directory).
    private let expectsSession: Atomic<Bool>
    /// Set when the bridge stops: a message waiting for storage gives up (the broker sends it again).
    private let stopping = Atomic<Bool>(false)

    /// Creates the bridge; it connects when run.
    ///
    /// - Throws: ``MQTTBridgeError`` for an unusable configuration (a bad URL, an unreadable password file, a client
    ///   id that cannot be kept in `dataDirectory`, TLS files libmosquitto refuses).
    public init(
        configuration: MQTTConfiguration, dataDirectory: String, gateway: any DeviceGateway, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(MQTTBridgeError) {
        let problems = configuration.problems()
        guard problems.isEmpty, configuration.enabled else {
            throw MQTTBridgeError(problems.isEmpty ? "no broker URL given" : problems.joined(separator: "; "))
        }
        let endpoint: MQTTEndpoint
        do { endpoint = try MQTTEndpoint(url: configuration.url) } catch { throw MQTTBridgeError(error.message) }
        let clientID: String
        var expectsSession = false
        if configuration.clientId.isEmpty {
            do {
                (clientID, expectsSession) = try MQTTClientIdentity.load(dataDirectory: dataDirectory)
            } catch {
                throw MQTTBridgeError("cannot keep the MQTT client id in \(dataDirectory): \(error)")
            }
        } else {
            clientID = configuration.clientId
        }
        let password = try MQTTPassword.resolve(file: configuration.passwordFile, environment: environment)
        if password != nil && configuration.username.isEmpty {
            throw MQTTBridgeError("an MQTT password (TELEMETRYHUB_MQTT_PASSWORD) needs a user name (--mqtt-username)")
        }
        self.configuration = configuration
        self.gateway = gateway
        self.logger = logger
        self.topics = MQTTTopics(prefix: configuration.topicPrefix)
        self.decoder = MQTTInboundDecoder(topics: topics, limits: gateway.decoderLimits)
        self.presence = Mutex(
            MQTTPresence(inactivityMs: configuration.inactivityMs, maxDevices: gateway.maxDevices))
        self.status = MQTTBridgeStatus(broker: endpoint.url, clientID: clientID)
        self.expectsSession = Atomic(expectsSession)
        var tls: MQTTClientOptions.TLS?
        if endpoint.tls || !configuration.caFile.isEmpty {
            tls = MQTTClientOptions.TLS(
                caFile: configuration.caFile.isEmpty ? nil : configuration.caFile,
                caPath: configuration.caFile.isEmpty ? "/etc/ssl/certs" : nil,
                certFile: configuration.certFile.isEmpty ? nil : configuration.certFile,
                keyFile: configuration.keyFile.isEmpty ? nil : configuration.keyFile)
        }
        let options = MQTTClientOptions(
            host: endpoint.host, port: endpoint.port, clientID: clientID, cleanSession: false,
            keepaliveSeconds: configuration.keepaliveSeconds,
            username: configuration.username.isEmpty ? nil : configuration.username, password: password, tls: tls,
            subscriptions: topics.hubSubscriptions.map { .init($0, qos: 1) },
            reconnectMinSeconds: configuration.reconnectMinSeconds,
            reconnectMaxSeconds: configuration.reconnectMaxSeconds)
        do {
            let client = try MQTTClient(options: options) { [weak self] event in self?.handle(event) }
            self.client.withLock { $0 = client }
        } catch {
            throw MQTTBridgeError("cannot set up the MQTT client: \(error)")
        }
    }

    /// Connects (and keeps reconnecting) until a graceful shutdown, checking inactivity every second.
    public func run() async throws {
        guard let client = client.withLock({ $0 }) else { return }
        gateway.attach(status)
        logger.info(
            "MQTT bridge starting",
            metadata: ["broker": "\(status.broker)", "client_id": "\(status.clientID)", "prefix": "\(topics.prefix)"])
        do {
            try client.start()
        } catch {
            throw MQTTBridgeError("cannot connect to \(status.broker): \(error)")
        }
        let tick = Duration.milliseconds(max(100, min(1_000, Int(configuration.inactivityMs / 4))))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                let now = self.gateway.now
                self.presence.withLock { presence in
                    for action in presence.tick(now: now) { self.perform(action, in: &presence) }
                }
            }
        }
        stop()
    }

    /// Disconnects from the broker, waits for the messages in hand, and takes the bridge's devices offline.
    func stop() {
        guard let client = client.withLock({ $0 }) else { return }
        stopping.store(true, ordering: .relaxed)
        client.stop()
        presence.withLock { presence in
            for action in presence.allOffline(reason: .shutdown) { perform(action, in: &presence) }
        }
        logger.info("MQTT bridge stopped")
    }

    // MARK: Events (on libmosquitto's network thread)

    private func handle(_ event: MQTTEvent) {
        switch event {
        case .message(let message):
            receive(message)
        case .connected(let sessionPresent):
            // Named, so per-thread CPU figures (`/proc/<pid>/task/*/comm`, top -H) show the bridge's share.
            cmosquitto_name_thread("mqtt-bridge")
            let hadSession = expectsSession.exchange(true, ordering: .relaxed)
            status.connected(sessionPresent: sessionPresent, now: gateway.now)
            if hadSession && !sessionPresent {
                logger.warning(
                    """
                    MQTT broker kept no session for the hub: messages published while the hub was away are lost \
                    (is the broker's persistence on?)
                    """,
                    metadata: ["broker": "\(status.broker)", "client_id": "\(status.clientID)"])
            } else {
                logger.info(
                    "MQTT bridge connected",
                    metadata: ["broker": "\(status.broker)", "session_present": "\(sessionPresent)"])
            }
        case .refused(let code, let reason):
            status.refused(reason, now: gateway.now)
            logger.error(
                "MQTT broker refused the hub; retrying",
                metadata: ["broker": "\(status.broker)", "code": "\(code)", "reason": "\(reason)"])
        case .disconnected(_, let reason):
            let wasConnected = status.isConnected
            status.disconnected(reason, now: gateway.now)
            if wasConnected {
                logger.warning(
                    "MQTT bridge lost its broker; reconnecting",
                    metadata: ["broker": "\(status.broker)", "reason": "\(reason)"])
            }
            presence.withLock { presence in
                for action in presence.allOffline(reason: .bridgeDisconnected) { perform(action, in: &presence) }
            }
        }
    }

    private func receive(_ message: MQTTMessage) {
        let decoded: MQTTDeviceMessage?
        do {
            decoded = try decoder.decode(topic: message.topic, payload: message.payload)
        } catch {
            status.malformed.add(1, ordering: .relaxed)
            note("malformed MQTT message ignored", topic: message.topic, error: error)
            return
        }
        guard let decoded else { return }
        let now = gateway.now
        let gateway = self.gateway
        let refused = presence.withLock { presence -> Bool in
            switch presence.receive(decoded, now: now, newSession: gateway.makeSession) {
            case .refused: return true
            case .accepted(let action?): perform(action, in: &presence)
            case .accepted(nil): break
            }
            return false
        }
        if refused {
            // More devices than the hub may know: refused as a WebSocket registration would be.
            status.reject(.tooLarge)
            note(
                "MQTT device refused", topic: message.topic,
                error: .tooLarge("the bridge already tracks \(gateway.maxDevices) devices (limits.max_devices)"))
            return
        }
        switch decoded {
        case .telemetry(let device, let samples):
            status.telemetry.add(1, ordering: .relaxed)
            store(device: device, samples: samples, topic: message.topic)
        case .meta:
            status.meta.add(1, ordering: .relaxed)
        case .status:
            status.status.add(1, ordering: .relaxed)
        case .commandResult(let device, let result):
            status.commandResults.add(1, ordering: .relaxed)
            do {
                try gateway.commandResult(result, from: device)
            } catch {
                status.reject(error.code)
                note("MQTT command result not recorded", topic: message.topic, error: error)
            }
        }
    }

    /// Stores samples. While storage is behind, it waits, holding up the broker's stream: the message is not
    /// acknowledged, so the broker keeps it and what follows (a wait past 1.5 keepalives makes the broker drop the
    /// connection, and it sends the unacknowledged messages again after the reconnect). It gives up only when the
    /// bridge stops.
    private func store(device: String, samples: [MetricSample], topic: String) {
        var waited = false
        while true {
            do {
                try gateway.telemetry(device: device, samples: samples, transport: "mqtt")
                status.samples.add(samples.count, ordering: .relaxed)
                if waited { logger.info("MQTT bridge: storage caught up; reading on") }
                return
            } catch  where error.code == .rateLimited && !stopping.load(ordering: .relaxed) {
                if !waited {
                    waited = true
                    logger.warning("MQTT bridge: storage is behind; holding the broker's messages until it catches up")
                }
                usleep(10_000)
            } catch {
                status.reject(error.code)
                note("MQTT telemetry refused", topic: topic, error: error)
                return
            }
        }
    }

    /// Carries a presence decision out to the hub (under the presence lock, so decisions land in order).
    private func perform(_ action: MQTTPresenceAction, in presence: inout MQTTPresence) {
        switch action {
        case .online(let device, let meta, let session, let reason):
            let link = client.withLock { $0 }.map {
                MQTTDeviceLink(topic: topics.topic(device, .commands), client: $0, status: status)
            }
            guard let link else { return }
            do {
                try gateway.deviceOnline(device, meta: meta, session: session, reason: reason, link: link)
            } catch {
                presence.forget(device)
                status.reject(error.code)
                note("MQTT device refused", topic: topics.topic(device, .status), error: error)
            }
        case .updated(let register, let session):
            do {
                try gateway.deviceUpdated(register, session: session, transport: "mqtt")
            } catch {
                status.reject(error.code)
                note("MQTT device meta refused", topic: topics.topic(register.device, .meta), error: error)
            }
        case .offline(let device, let session, let reason):
            gateway.deviceOffline(device, session: session, reason: reason)
        }
        status.devicesOnline.store(presence.onlineCount, ordering: .relaxed)
    }

    /// Logs a problem with the message's topic, at most a few lines a second (a flood is still counted).
    private func note(_ text: Logger.Message, topic: String, error: ProtocolError) {
        let now = gateway.now
        guard logBudget.withLock({ $0.take(now: now) }) else { return }
        logger.warning(
            text,
            metadata: ["topic": "\(topic.prefix(200))", "code": "\(error.code.rawValue)", "error": "\(error.message)"])
    }
}

/// A bridge that cannot start, with what is wrong.
public struct MQTTBridgeError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
}
