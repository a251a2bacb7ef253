import HTTPTypes
import HubCore
import Hummingbird

/// Guards requests that change state (every method but GET, HEAD and OPTIONS) against cross-site use: a browser
/// page on another origin may not send them. Browsers send `Origin` with every such request (an HTML form or a
/// `text/plain` fetch, which they send without asking the hub first, included), so the `Origin` rules of WebSocket
/// upgrades apply: no `Origin` (curl, scripts, devices), the hub's own host, or one in `auth.allowed_origins`.
/// Without it, under `--no-auth`, any web page could POST rules, silences and telemetry. Under `--no-auth` every
/// request must also be addressed to an IP address or `localhost` (``Authenticator/checkHost(_:)``: DNS rebinding).
struct RequestGuardMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let authenticator: Authenticator

    func handle(
        _ request: Request, context: HubRequestContext,
        next: (Request, HubRequestContext) async throws -> Response
    ) async throws -> Response {
        try authenticator.checkHost(request)
        switch request.method {
        case .get, .head, .options:
            break
        default:
            try authenticator.checkOrigin(request)
        }
        return try await next(request, context)
    }
}
