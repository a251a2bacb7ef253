import HubCore
import NIOCore
import NIOHTTPTypes

/// Gives every HTTP request, from its head to the end of its body, `limits.request_timeout_ms` to arrive; a request
/// still arriving then (a body trickling in a byte at a time) closes the connection. The connection guard bounds
/// the first head and Hummingbird's idle timeout bounds silence, but neither a slow body: the hub reads what a
/// client sends even after answering it early (a 401), to reach the next request.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private let metrics: HubMetrics
    private var deadline: Scheduled<Void>?

    init(timeoutMs: Int64, metrics: HubMetrics) {
        self.timeout = .milliseconds(timeoutMs)
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let metrics = self.metrics
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                metrics.requestTimeouts.increment()
                bound.value.close(promise: nil)
            }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }
}
