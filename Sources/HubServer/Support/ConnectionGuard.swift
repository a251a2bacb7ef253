import HubCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// The hub's count of pending connections (``PendingConnections``), shared by every connection.
final class ConnectionAdmission: Sendable {
    private let counts: Mutex<PendingConnections>
    let metrics: HubMetrics

    init(limits: HubConfiguration.LimitsConfiguration, metrics: HubMetrics) {
        counts = Mutex(
            PendingConnections(
                maxTotal: limits.maxPendingConnections, maxPerAddress: limits.maxPendingConnectionsPerAddress))
        self.metrics = metrics
    }

    func admit(_ address: String) -> PendingConnections.Refusal? {
        let (refusal, total) = counts.withLock { ($0.admit(address), $0.total) }
        metrics.pendingConnections.record(total)
        if let refusal { metrics.connectionsRefused(refusal) }
        return refusal
    }

    func release(_ address: String) {
        let total = counts.withLock {
            $0.release(address)
            return $0.total
        }
        metrics.pendingConnections.record(total)
    }
}

/// First in every connection's pipeline, on the raw bytes:
///
/// - admits the connection against the pending caps, and stops counting it once it is an authenticated WebSocket
///   session (``Promote``) or closes;
/// - closes it when its first request head is not complete within `header_timeout_ms` (every request is then
///   bounded by `RequestDeadlineHandler`, and a kept-alive connection's silence by the HTTP idle timeout);
/// - on an upgrade request, judges every WebSocket frame header with a ``WebSocketFrameGuard`` from the first byte
///   after the head, before NIO decodes or buffers anything: an unmasked frame is closed with 1002, a message in too
///   many fragments or bytes with 1009. Frames sent before the hub answered the upgrade (which no real client does)
///   that break a rule close the connection at once.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Sent down the pipeline (`fireUserInboundEventTriggered`) once the connection is an authenticated session.
    struct Promote: Sendable {}

    /// What the bytes of the connection are now.
    private enum Phase {
        /// The first request head is still arriving.
        case head
        /// An upgrade request was read: what follows it would be WebSocket frames, if the hub upgrades.
        case upgrading
        /// The hub answered 101: WebSocket frames.
        case webSocket
        /// Plain HTTP (or a refused upgrade): nothing more to look at.
        case plain
        /// A rule was broken; the connection is closing and nothing more is read.
        case closed
    }

    private let admission: ConnectionAdmission
    private let headerTimeout: TimeAmount
    private var address: String?
    private var phase = Phase.head
    private var head = RequestHeadScanner()
    private var frames = WebSocketFrameScanner()
    private var frameGuard: WebSocketFrameGuard
    private var deadline: Scheduled<Void>?

    init(admission: ConnectionAdmission, limits: HubConfiguration.LimitsConfiguration) {
        self.admission = admission
        self.headerTimeout = .milliseconds(limits.headerTimeoutMs)
        self.frameGuard = WebSocketFrameGuard(
            maxMessageBytes: limits.maxFrameBytes, maxFragments: limits.maxFragmentsPerMessage)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard address == nil, phase == .head else { return }
        let address = Self.pendingKey(context.channel.remoteAddress)
        if admission.admit(address) != nil {
            phase = .closed
            context.close(promise: nil)
            return
        }
        self.address = address
        // Runs on the channel's event loop, where the handler and its context live.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let metrics = admission.metrics
        deadline = context.eventLoop.scheduleTask(in: headerTimeout) {
            guard bound.value.handler.phase == .head else { return }
            metrics.headerTimeouts.increment()
            bound.value.context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .plain:
            context.fireChannelRead(data)
        case .closed:
            return
        case .head, .upgrading, .webSocket:
            let buffer = unwrapInboundIn(data)
            if let refusal = buffer.withUnsafeReadableBytes({ judge($0) }) {
                refuse(refusal, context: context)
            } else {
                context.fireChannelRead(data)
            }
        }
    }

    /// Reads the head, then the frame headers after it; the guard's verdict when a rule is broken.
    private func judge(_ bytes: UnsafeRawBufferPointer) -> WebSocketFrameGuard.Verdict? {
        var rest = bytes
        if phase == .head {
            guard let end = head.scan(bytes) else { return nil }
            headComplete()
            guard head.isWebSocketUpgrade else {
                phase = .plain
                return nil
            }
            phase = .upgrading
            rest = UnsafeRawBufferPointer(rebasing: bytes[end...])
        }
        var verdict: WebSocketFrameGuard.Verdict?
        _ = frames.scan(rest) { header in
            let judged = frameGuard.receive(
                opcode: header.opcode, fin: header.fin, masked: header.masked, payloadLength: header.payloadLength)
            if judged == .pass { return true }
            verdict = judged
            return false
        }
        return verdict
    }

    private func refuse(_ verdict: WebSocketFrameGuard.Verdict, context: ChannelHandlerContext) {
        let upgraded = phase == .webSocket
        phase = .closed
        admission.metrics.framesRefused.increment()
        guard upgraded, case .close(let code, let reason) = verdict else {
            context.close(promise: nil)
            return
        }
        // A server frame is unmasked: FIN + close opcode, the length, the code and the reason (at most 123 bytes).
        let text = Array(reason.utf8.prefix(123))
        var frame = context.channel.allocator.buffer(capacity: 4 + text.count)
        frame.writeBytes([0x88, UInt8(2 + text.count)])
        frame.writeInteger(code)
        frame.writeBytes(text)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(frame)), promise: nil)
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if phase != .webSocket, phase != .closed, case .byteBuffer(let buffer) = unwrapOutboundIn(data),
            buffer.readableBytesView.starts(with: Self.switchingProtocols)
        {
            // 101: WebSocket frames follow. Only after an upgrade head the guard read (it judged every byte since);
            // a head it read otherwise would let frames pass unjudged, so that connection is closed instead.
            guard phase == .upgrading else {
                phase = .closed
                admission.metrics.framesRefused.increment()
                promise?.fail(ChannelError.ioOnClosedChannel)
                context.close(promise: nil)
                return
            }
            phase = .webSocket
        } else if phase == .head || phase == .upgrading {
            // Any other answer: the server read a head (whatever it looked like); HTTP from here on.
            head.markComplete()
            headComplete()
            phase = .plain
        }
        context.write(data, promise: promise)
    }

    private static let switchingProtocols = Array("HTTP/1.1 101".utf8)

    /// What a connection from `address` is counted under: the IPv4 address, or the /64 of an IPv6 one.
    static func pendingKey(_ address: SocketAddress?) -> String {
        guard case .v6(let v6)? = address else { return address?.ipAddress ?? "unknown" }
        let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        return PendingConnections.key(ipv6: bytes)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Promote else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        releaseSlot()
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseSlot()
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseSlot()
        deadline?.cancel()
    }

    private func headComplete() {
        deadline?.cancel()
        deadline = nil
    }

    private func releaseSlot() {
        guard let address else { return }
        self.address = nil
        admission.release(address)
    }
}

/// Wraps a server child channel so that every accepted connection gets a ``ConnectionGuardHandler`` first.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    let inner: Inner
    let admission: ConnectionAdmission
    let limits: HubConfiguration.LimitsConfiguration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(
                ConnectionGuardHandler(admission: admission, limits: limits), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
