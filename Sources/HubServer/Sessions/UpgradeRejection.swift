import HTTPTypes
import HubCore
import Hummingbird
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Gives a refused WebSocket upgrade its real answer (401, 403, 503 with a JSON body).
///
/// Hummingbird answers every refused upgrade with an empty 400. The protocol promises 401 for a missing or bad
/// token before the upgrade, so the WebSocket router records why it refused (keyed by the connection) and an
/// outbound handler on the HTTP pipeline rewrites that 400 into the recorded response.
final class UpgradeRejections: Sendable {
    private let pending = Mutex<[ObjectIdentifier: HubHTTPError]>([:])

    func record(_ error: HubHTTPError, on channel: any Channel) {
        pending.withLock { $0[ObjectIdentifier(channel)] = error }
    }

    func take(for channel: any Channel) -> HubHTTPError? {
        pending.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// Records the error that made the WebSocket router refuse an upgrade.
struct UpgradeRejectionMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let rejections: UpgradeRejections

    func handle(
        _ request: Request, context: HubRequestContext,
        next: (Request, HubRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HubHTTPError {
            rejections.record(error, on: context.channel)
            throw error
        }
    }
}

/// Rewrites Hummingbird's empty 400 for a refused upgrade into the recorded status and JSON error body.
final class UpgradeRejectionWriter: ChannelOutboundHandler, RemovableChannelHandler, Sendable {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    private let rejections: UpgradeRejections

    init(rejections: UpgradeRejections) {
        self.rejections = rejections
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        guard case .head(let head) = part, head.status == .badRequest,
            let rejection = rejections.take(for: context.channel)
        else {
            context.write(data, promise: promise)
            return
        }
        var body = ByteBuffer()
        body.writeBytes(rejection.jsonBody)
        var response = HTTPResponse(status: rejection.status)
        response.headerFields[.connection] = "close"
        response.headerFields[.contentType] = "application/json"
        response.headerFields[.contentLength] = String(body.readableBytes)
        if rejection.status == .unauthorized { response.headerFields[.wwwAuthenticate] = "Bearer" }
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        _ = rejections.take(for: context.channel)
        context.fireChannelInactive()
    }
}
