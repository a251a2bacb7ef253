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
    private let registeredDevice = Mutex<String?>(nil)

    init(id: SessionID, outbound: WebSocketOutboundWriter, channel: any Channel, now: Int64) {
        self.id = id
        self.outbound = outbound
        self.channel = channel
        self.lastActivity = Atomic(now)
    }

    /// The device this session registered as.
    var device: String? {
        get { registeredDevice.withLock { $0 } }
        set { registeredDevice.withLock { $0 = newValue } }
    }

    /// Sends a close frame with `code`, then drops the connection if the peer does not finish the handshake soon.
    func close(code: UInt16, reason: String, grace: TimeAmount = .seconds(2)) async {
        try? await outbound.close(.unknown(code), reason: reason)
        let channel = self.channel
        channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
    }

    /// Sends a WebSocket ping.
    func ping() async {
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(id))
        try? await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .ping, data: payload)))
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
