import HTTPTypes
import HubCore
import Hummingbird

/// Checks the token on a request and the role it needs; used by HTTP routes and before WebSocket upgrades.
struct Authenticator: Sendable {
    let authority: TokenAuthority?
    let allowedOrigins: [String]

    /// The principal for `request`, or an HTTP 401/403 error.
    func principal(for request: Request, requiring role: Role) async throws(HubHTTPError) -> Principal {
        guard let authority else { return .unrestricted }
        guard let token = Self.token(in: request) else {
            throw HubHTTPError(.unauthorized("a token is required (Authorization: Bearer <token> or ?token=)"))
        }
        let principal: Principal
        do {
            principal = try await authority.verify(token)
        } catch {
            throw HubHTTPError(error)
        }
        guard principal.role.satisfies(role) else {
            throw HubHTTPError(
                .forbidden("this needs the \(role.rawValue) role; the token has \(principal.role.rawValue)"))
        }
        return principal
    }

    /// Rejects WebSocket upgrades from origins that are not allowed: requests without `Origin` (non-browser
    /// clients) and origins on the hub's own host name pass, others must be listed in `auth.allowed_origins`.
    func checkOrigin(_ request: Request) throws(HubHTTPError) {
        guard let origin = request.headers[.origin] else { return }
        if allowedOrigins.contains("*") || allowedOrigins.contains(origin) { return }
        if let authority = request.head.authority, Self.hostName(origin) == Self.hostName(authority) { return }
        throw HubHTTPError(.forbidden("origin \(origin) is not allowed (auth.allowed_origins)"))
    }

    /// Without auth, answers only requests addressed to an IP address, `localhost`, or a host named in
    /// `auth.allowed_origins`: a page whose DNS name is rebound to this machine (DNS rebinding) sends its own name
    /// as `Host` and `Origin`, which the origin check alone would take for the hub's own.
    func checkHost(_ request: Request) throws(HubHTTPError) {
        guard authority == nil else { return }
        let host = Self.hostName(request.head.authority ?? "")
        if Self.isAddressOrLocal(host) { return }
        if allowedOrigins.contains("*") || allowedOrigins.contains(where: { Self.hostName($0) == host }) { return }
        throw HubHTTPError(
            .forbidden(
                "without auth the hub answers only requests to an IP address or localhost, not '\(host.prefix(80))' (list it in auth.allowed_origins)"
            ))
    }

    /// Whether `host` is an IP literal (no DNS name to rebind) or `localhost`.
    static func isAddressOrLocal(_ host: String) -> Bool {
        if host.isEmpty || host == "localhost" || host.hasPrefix("[") { return true }
        return host.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
    }

    /// The host name of an origin (`scheme://host:port`) or authority (`host:port`), lowercased.
    static func hostName(_ text: String) -> String {
        var rest = Substring(text)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { return String(rest[...close]).lowercased() }
        if let colon = rest.lastIndex(of: ":") { rest = rest[..<colon] }
        return rest.lowercased()
    }

    static func token(in request: Request) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
        }
        if let query = request.uri.queryParameters.get("token"), !query.isEmpty { return query }
        return nil
    }
}

/// Middleware that authenticates every request of a route group and stores the principal in the context.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let authenticator: Authenticator
    let role: Role

    func handle(
        _ request: Request, context: HubRequestContext,
        next: (Request, HubRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.principal = try await authenticator.principal(for: request, requiring: role)
        return try await next(request, context)
    }
}
