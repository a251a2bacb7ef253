import HubCore
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// The request context of the hub: Hummingbird's core storage, the WebSocket handler slot, the channel (for
/// connection-level handlers) and the authenticated principal.
public struct HubRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<HubRequestContext>
    /// The connection's channel.
    public let channel: any Channel
    /// Who the request speaks for, once authenticated.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }

    public var maxUploadSize: Int { 1 << 20 }
}
