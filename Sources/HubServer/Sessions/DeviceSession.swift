import HubCore
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Synchronization

/// One live device WebSocket connection as the rest of the hub sees it: how to write to it, close it, and when it
/// was last heard from.
final class DeviceSession: Sendable {
    let id: SessionID
    let outbound: WebSocketOutboundWriter
    let channel: any Channel
    /// Unix ms of the last bytes received (any frame, pongs included).
    let lastActivity: Atomic<Int64>
    /// Unix ms when the write now in progress started, 0 when none: a peer that stops reading stalls it.
    let writeStartedAt = Atomic<Int64>(0)
    /// Unix ms when the session's token expires (`Int64.max` when it does not).
    let tokenExpiresAt: Int64
    /// Whose quota the devices and series this session brings in count against (``Principal/quotaOwner``).
    let quota: String?
    private let closing = Atomic<Bool>(false)
    private let pingInFlight = Atomic<Bool>(false)
    private let registeredDevice = Mutex<String?>(nil)

    init(
        id: SessionID, outbound: WebSocketOutboundWriter, channel: any Channel, now: Int64, tokenExpiresAt: Int64?,
        quota: String? = nil
    ) {
        self.id = id
        self.quota = quota
        self.outbound = outbound
        self.channel = channel
        self.lastActivity = Atomic(now)
        self.tokenExpiresAt = tokenExpiresAt ?? .max
    }

    /// The device this session registered as.
    var device: String? {
        get { registeredDevice.withLock { $0 } }
        set { registeredDevice.withLock { $0 = newValue } }
    }

    /// True once the hub decided to close the session; its frames are no longer handled.
    var isClosing: Bool { closing.load(ordering: .relaxed) }

    /// Sends a close frame with `code` and drops the connection after `grace` whether or not the peer answers (a
    /// peer that stopped reading would otherwise keep the close frame, and everything before it, waiting).
    func close(code: UInt16, reason: String, grace: TimeAmount = .seconds(2)) async {
        guard !closing.exchange(true, ordering: .relaxed) else { return }
        let channel = self.channel
        channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
        try? await outbound.close(.unknown(code), reason: reason)
    }

    /// Drops the connection at once.
    func abort() {
        closing.store(true, ordering: .relaxed)
        channel.close(promise: nil)
    }

    /// Writes one text frame, noting when the write started so a stalled peer can be found.
    func write(_ bytes: [UInt8], now: Int64) async throws {
        writeStartedAt.store(now, ordering: .relaxed)
        defer { writeStartedAt.store(0, ordering: .relaxed) }
        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
    }

    /// Sends a WebSocket ping in the background, at most one at a time, so a peer that stopped reading never holds
    /// up the caller.
    func ping() {
        guard !pingInFlight.exchange(true, ordering: .relaxed) else { return }
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(id))
        let frame = WebSocketFrame(fin: true, opcode: .ping, data: payload)
        Task {
            try? await outbound.write(.custom(frame))
            pingInFlight.store(false, ordering: .relaxed)
        }
    }
}

/// The live device sessions, by session id.
final class SessionTable: Sendable {
    private let sessions = Mutex<[SessionID: DeviceSession]>([:])
    private let nextID = Atomic<UInt64>(1)

    /// A new, unique session id.
    func makeID() -> SessionID {
        nextID.add(1, ordering: .relaxed).oldValue
    }

    func add(_ session: DeviceSession) -> Int {
        sessions.withLock {
            $0[session.id] = session
            return $0.count
        }
    }

    func remove(_ id: SessionID) -> Int {
        sessions.withLock {
            $0[id] = nil
            return $0.count
        }
    }

    subscript(id: SessionID) -> DeviceSession? {
        sessions.withLock { $0[id] }
    }

    var count: Int { sessions.withLock { $0.count } }

    var all: [DeviceSession] { sessions.withLock { Array($0.values) } }
}

/// Records the time of every read on a connection, so the heartbeat sees pongs and data alike.
final class ActivityTracker: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    private let session: DeviceSession

    init(session: DeviceSession) {
        self.session = session
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.lastActivity.store(Hub.systemMilliseconds(), ordering: .relaxed)
        context.fireChannelRead(data)
    }
}
