import CMosquitto
import Synchronization

/// One message received from the broker (topic and payload copied out of libmosquitto's buffers).
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var retained: Bool

    /// Creates a message.
    public init(topic: String, payload: [UInt8], qos: Int, retained: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retained = retained
    }
}

/// What an ``MQTTClient`` reports, in order.
public enum MQTTEvent: Sendable, Equatable {
    /// Connected (again); `sessionPresent` when the broker kept the session of an earlier connection.
    case connected(sessionPresent: Bool)
    /// Refused by the broker (bad credentials, not authorised…), with the CONNACK code; the client retries.
    case refused(code: Int32, reason: String)
    /// The connection ended; the client reconnects by itself unless it was stopped (`code` 0).
    case disconnected(code: Int32, reason: String)
    /// A message arrived.
    case message(MQTTMessage)
}

/// A libmosquitto failure: its error code and text.
public struct MQTTError: Error, Equatable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public var description: String { "\(operation): \(String(cString: mosquitto_strerror(code)))" }
}

/// How to reach the broker and behave on it.
public struct MQTTClientOptions: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// The client id; with `cleanSession` false the broker keeps the session (subscriptions, queued QoS 1
    /// messages) under it across connections.
    public var clientID: String
    public var cleanSession: Bool
    /// Seconds between keepalive pings.
    public var keepaliveSeconds: Int
    public var username: String?
    public var password: String?
    /// The last will: published by the broker when the connection is lost without a disconnect.
    public var will: Will?
    /// TLS: the CA file (or directory) to trust, and an optional client certificate and key.
    public var tls: TLS?
    /// Topic filters (with QoS) subscribed on every connection.
    public var subscriptions: [Subscription]
    /// Reconnect back-off: from `reconnectMinSeconds`, doubling up to `reconnectMaxSeconds`.
    public var reconnectMinSeconds: Int
    public var reconnectMaxSeconds: Int
    /// QoS 1 and 2 messages sent but not yet acknowledged at once (libmosquitto's default 20); more wait in order.
    public var maxInflight: Int

    /// A last will.
    public struct Will: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: Int
        public var retain: Bool

        public init(topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = true) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    /// TLS settings.
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var caPath: String?
        public var certFile: String?
        public var keyFile: String?

        public init(caFile: String? = nil, caPath: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.caPath = caPath
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    /// A topic filter to subscribe to.
    public struct Subscription: Sendable, Equatable {
        public var filter: String
        public var qos: Int

        public init(_ filter: String, qos: Int = 1) {
            self.filter = filter
            self.qos = qos
        }
    }

    /// Creates options; everything but the address and client id has a default.
    public init(
        host: String = "127.0.0.1", port: Int = 1883, clientID: String, cleanSession: Bool = true,
        keepaliveSeconds: Int = 30, username: String? = nil, password: String? = nil, will: Will? = nil,
        tls: TLS? = nil, subscriptions: [Subscription] = [], reconnectMinSeconds: Int = 1,
        reconnectMaxSeconds: Int = 30,
        maxInflight: Int = 20
    ) {
        self.maxInflight = maxInflight
        self.host = host
        self.port = port
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.keepaliveSeconds = keepaliveSeconds
        self.username = username
        self.password = password
        self.will = will
        self.tls = tls
        self.subscriptions = subscriptions
        self.reconnectMinSeconds = reconnectMinSeconds
        self.reconnectMaxSeconds = reconnectMaxSeconds
    }
}

private let libraryReady: Int32 = mosquitto_lib_init()

/// An MQTT 3.1.1 client over libmosquitto: libmosquitto's own thread does the network I/O and reconnects with
/// back-off; its callbacks copy what they get and hand it to ``events``. Publishing is safe from any thread.
///
/// ```swift
/// let client = try MQTTClient(options: .init(port: 1883, clientID: "hub", subscriptions: [.init("a/#")]))
/// try client.start()
/// for await event in client.events { … }
/// client.stop()
/// ```
public final class MQTTClient: Sendable {
    /// The options it was made with.
    public let options: MQTTClientOptions
    /// Everything the client reports, in order; finishes after ``stop()``.
    public let events: AsyncStream<MQTTEvent>
    private let sink: EventSink
    private nonisolated(unsafe) let handle: OpaquePointer
    private let state = Mutex<State>(.created)

    private enum State { case created, running, stopped }

    /// Creates a client (not connected yet) whose events arrive on ``events``, which holds up to `bufferLimit` of
    /// them (later ones are dropped while it is full: for clients that receive little, such as devices).
    ///
    /// - Throws: ``MQTTError`` when libmosquitto refuses the options (e.g. an unreadable TLS file).
    public convenience init(options: MQTTClientOptions, bufferLimit: Int = 100_000) throws {
        let (events, continuation) = AsyncStream.makeStream(
            of: MQTTEvent.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        try self.init(
            options: options, events: events, deliver: { continuation.yield($0) }, finish: { continuation.finish() })
    }

    /// Creates a client (not connected yet) that hands every event to `handler` on libmosquitto's network thread,
    /// in order. The handler holds up the network thread while it runs: nothing is buffered, a slow handler slows
    /// reading from the broker (which then keeps the messages), and a QoS 1 message is acknowledged only after the
    /// handler returned. It must not call ``stop()``. ``events`` stays empty.
    ///
    /// - Throws: ``MQTTError`` when libmosquitto refuses the options (e.g. an unreadable TLS file).
    public convenience init(options: MQTTClientOptions, handler: @escaping @Sendable (MQTTEvent) -> Void) throws {
        try self.init(options: options, events: AsyncStream { $0.finish() }, deliver: handler, finish: {})
    }

    private init(
        options: MQTTClientOptions, events: AsyncStream<MQTTEvent>,
        deliver: @escaping @Sendable (MQTTEvent) -> Void, finish: @escaping @Sendable () -> Void
    ) throws {
        _ = libraryReady
        self.options = options
        self.events = events
        let sink = EventSink(deliver: deliver, finish: finish, subscriptions: options.subscriptions)
        self.sink = sink
        guard
            let handle = mosquitto_new(
                options.clientID, options.cleanSession, Unmanaged.passUnretained(sink).toOpaque())
        else { throw MQTTError(code: MOSQ_ERR_NOMEM.rawValue, operation: "creating the client") }
        self.handle = handle
        do {
            try Self.check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "setting TCP_NODELAY")
            try Self.check(
                mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311), "choosing MQTT 3.1.1")
            try Self.check(
                mosquitto_max_inflight_messages_set(handle, UInt32(max(0, options.maxInflight))),
                "setting the in-flight window")
            if let username = options.username {
                try Self.check(mosquitto_username_pw_set(handle, username, options.password), "setting credentials")
            }
            if let will = options.will {
                try Self.check(
                    mosquitto_will_set(
                        handle, will.topic, Int32(will.payload.count), will.payload, Int32(will.qos), will.retain),
                    "setting the last will")
            }
            if let tls = options.tls {
                try Self.check(
                    mosquitto_tls_set(handle, tls.caFile, tls.caPath, tls.certFile, tls.keyFile, nil), "setting TLS")
            }
            try Self.check(
                mosquitto_reconnect_delay_set(
                    handle, UInt32(max(1, options.reconnectMinSeconds)),
                    UInt32(max(options.reconnectMinSeconds, options.reconnectMaxSeconds)), true),
                "setting the reconnect delay")
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
        mosquitto_connect_with_flags_callback_set(handle) { mosq, userdata, rc, flags in
            guard let userdata else { return }
            Unmanaged<EventSink>.fromOpaque(userdata).takeUnretainedValue().connected(mosq, rc: rc, flags: flags)
        }
        mosquitto_disconnect_callback_set(handle) { _, userdata, rc in
            guard let userdata else { return }
            Unmanaged<EventSink>.fromOpaque(userdata).takeUnretainedValue().disconnected(rc: rc)
        }
        mosquitto_publish_callback_set(handle) { _, userdata, _ in
            guard let userdata else { return }
            Unmanaged<EventSink>.fromOpaque(userdata).takeUnretainedValue().acknowledged()
        }
        mosquitto_message_callback_set(handle) { _, userdata, message in
            guard let userdata, let message else { return }
            Unmanaged<EventSink>.fromOpaque(userdata).takeUnretainedValue().received(message.pointee)
        }
    }

    deinit {
        stop()
        mosquitto_destroy(handle)
    }

    /// Starts connecting in the background; the client keeps reconnecting until ``stop()``.
    ///
    /// - Throws: ``MQTTError`` when the address cannot be used at all.
    public func start() throws {
        try state.withLock { state in
            guard case .created = state else { return }
            let rc = mosquitto_connect_async(
                handle, options.host, Int32(options.port), Int32(options.keepaliveSeconds))
            // A broker that is down now is not an error: the network thread keeps trying with back-off.
            if rc == MOSQ_ERR_INVAL.rawValue || rc == MOSQ_ERR_NOMEM.rawValue {
                try Self.check(rc, "connecting to \(options.host):\(options.port)")
            }
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                sink.disconnected(rc: rc)
            }
            try Self.check(mosquitto_loop_start(handle), "starting the network thread")
            state = .running
        }
    }

    /// Whether the client is connected now.
    public var isConnected: Bool { sink.isConnected }

    /// Publishes a message; QoS 1 and 2 messages are kept and sent again by libmosquitto until acknowledged,
    /// across reconnects.
    ///
    /// - Throws: ``MQTTError`` (e.g. a payload over the broker's limit, or the client stopped).
    @discardableResult
    public func publish(_ topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false) throws -> Int32 {
        // libmosquitto would queue a message on a stopped client without complaint; it would never be sent.
        guard state.withLock({ if case .stopped = $0 { false } else { true } }) else {
            throw MQTTError(code: MOSQ_ERR_NO_CONN.rawValue, operation: "publishing to \(topic) after stop")
        }
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, Int32(qos), retain)
        }
        // Not connected right now: libmosquitto queued it and sends it once connected.
        if rc != MOSQ_ERR_NO_CONN.rawValue { try Self.check(rc, "publishing to \(topic)") }
        sink.published()
        return mid
    }

    /// Messages published but not yet acknowledged by the broker (QoS 1: PUBACK; QoS 0: written), including those
    /// held while disconnected.
    public var unacknowledged: Int { sink.unacknowledged }

    /// Waits until the broker acknowledged everything published (or `timeout` passed); true when nothing is left.
    /// Call it before ``stop()`` so that QoS 1 messages still queued are not dropped with the connection.
    public func flush(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while unacknowledged > 0 {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Disconnects cleanly (no last will), stops the network thread and ends ``events``. Safe to call twice.
    public func stop() {
        let wasRunning = state.withLock { state -> Bool in
            defer { state = .stopped }
            if case .running = state { return true }
            return false
        }
        if wasRunning {
            sink.stopping()
            // Connected: the network thread ends after sending the disconnect. Not connected (the broker is down,
            // or still connecting): it would go on retrying, so it is cancelled.
            let disconnected = mosquitto_disconnect(handle) == MOSQ_ERR_SUCCESS.rawValue
            mosquitto_loop_stop(handle, !disconnected)
        }
        sink.finish()
    }

    private static func check(_ rc: Int32, _ operation: String) throws {
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(code: rc, operation: operation) }
    }
}

/// Receives libmosquitto's callbacks (on its thread) and turns them into events.
private final class EventSink: Sendable {
    private let deliver: @Sendable (MQTTEvent) -> Void
    private let finished: @Sendable () -> Void
    private let subscriptions: [MQTTClientOptions.Subscription]
    private let connected = Atomic<Bool>(false)
    private let ending = Atomic<Bool>(false)

    init(
        deliver: @escaping @Sendable (MQTTEvent) -> Void, finish: @escaping @Sendable () -> Void,
        subscriptions: [MQTTClientOptions.Subscription]
    ) {
        self.deliver = deliver
        self.finished = finish
        self.subscriptions = subscriptions
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }

    private let publishedCount = Atomic<Int>(0)
    private let acknowledgedCount = Atomic<Int>(0)

    var unacknowledged: Int { publishedCount.load(ordering: .relaxed) - acknowledgedCount.load(ordering: .relaxed) }

    func published() { publishedCount.add(1, ordering: .relaxed) }

    func acknowledged() { acknowledgedCount.add(1, ordering: .relaxed) }

    func connected(_ mosq: OpaquePointer?, rc: Int32, flags: Int32) {
        guard rc == 0 else {
            deliver(.refused(code: rc, reason: String(cString: mosquitto_connack_string(rc))))
            return
        }
        // Subscribed again on every connection: a clean session forgets them, and it costs nothing otherwise.
        for subscription in subscriptions {
            mosquitto_subscribe(mosq, nil, subscription.filter, Int32(subscription.qos))
        }
        connected.store(true, ordering: .relaxed)
        deliver(.connected(sessionPresent: flags & 1 == 1))
    }

    func disconnected(rc: Int32) {
        connected.store(false, ordering: .relaxed)
        if ending.load(ordering: .relaxed) { return }
        deliver(.disconnected(code: rc, reason: String(cString: mosquitto_strerror(rc))))
    }

    func received(_ message: mosquitto_message) {
        let topic = message.topic.map { String(cString: $0) } ?? ""
        var payload: [UInt8] = []
        if let bytes = message.payload, message.payloadlen > 0 {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(message.payloadlen)))
        }
        deliver(
            .message(MQTTMessage(topic: topic, payload: payload, qos: Int(message.qos), retained: message.retain)))
    }

    func stopping() {
        ending.store(true, ordering: .relaxed)
    }

    func finish() {
        finished()
    }
}
