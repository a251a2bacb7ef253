import Foundation
import HubCore
import JWTKit

/// The claims of a hub token.
struct HubClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    /// The role name.
    var role: String
    /// For device tokens: the device-id pattern the token may act as.
    var dev: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Issues and checks HS256 tokens with roles.
///
/// The secret comes from (in order) the `TELEMETRYHUB_SECRET` environment variable, the configuration, or
/// `<data_dir>/secret`, which is generated with mode 0600 on first start.
public actor TokenAuthority {
    private let keys = JWTKeyCollection()

    /// Creates an authority with a known secret.
    public init(secret: String) async {
        await keys.add(hmac: HMACKey(from: Array(secret.utf8)), digestAlgorithm: .sha256)
    }

    /// Creates an authority with the secret found (or generated) for `configuration`.
    public init(configuration: HubConfiguration) async throws {
        let secret = try Self.secret(configuration: configuration)
        await self.init(secret: secret)
    }

    /// Signs a token.
    /// - Parameters:
    ///   - role: the role granted.
    ///   - subject: who the token is for (a user or device name).
    ///   - devicePattern: for device tokens, the device ids it may act as (`thermo-*`); nil for any.
    ///   - ttl: how long the token is valid, in seconds.
    public func issue(role: Role, subject: String, devicePattern: String? = nil, ttl: TimeInterval) async throws
        -> String
    {
        let now = Date()
        let claims = HubClaims(
            sub: SubjectClaim(value: subject), exp: ExpirationClaim(value: now.addingTimeInterval(ttl)),
            iat: IssuedAtClaim(value: now), role: role.rawValue, dev: devicePattern)
        return try await keys.sign(claims)
    }

    /// Checks a token and returns who it speaks for; throws `unauthorized` when it is invalid or expired.
    public func verify(_ token: String) async throws(ProtocolError) -> Principal {
        let claims: HubClaims
        do {
            claims = try await keys.verify(token, as: HubClaims.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw .unauthorized("token expired")
        } catch {
            throw .unauthorized("invalid token")
        }
        guard let role = Role(rawValue: claims.role) else { throw .unauthorized("token has an unknown role") }
        // A correctly signed token may carry any `exp`: clamped to the timestamps the hub can hold.
        let expiresMs = (claims.exp.value.timeIntervalSince1970 * 1_000).rounded(.down)
        return Principal(
            subject: claims.sub.value, role: role, devicePattern: claims.dev.map(GlobPattern.init),
            expiresAt: expiresMs < Double(Timestamps.max) ? Int64(expiresMs) : Timestamps.max)
    }

    /// The shortest secret accepted, in characters (the generated one has 64 hex digits).
    public static let minimumSecretLength = 32

    /// The secret for `configuration`, creating `<data_dir>/secret` (mode 0600) when none exists yet.
    ///
    /// A secret shorter than ``minimumSecretLength`` characters, from any source, is an error naming the source:
    /// the hub never signs with a guessable key and never silently replaces a secret its tokens were signed with.
    public static func secret(configuration: HubConfiguration) throws -> String {
        if let fromEnvironment = ProcessInfo.processInfo.environment["TELEMETRYHUB_SECRET"], !fromEnvironment.isEmpty {
            return try checked(fromEnvironment, source: "TELEMETRYHUB_SECRET")
        }
        if !configuration.auth.secret.isEmpty { return try checked(configuration.auth.secret, source: "auth.secret") }
        let manager = FileManager.default
        let path = (configuration.dataDir as NSString).appendingPathComponent("secret")
        if let data = manager.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return try checked(text, source: path)
        }
        try DataDirectory.prepare(configuration.dataDir)
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
            .joined()
        // Created with mode 0600 in one step: never readable by others, not even for a moment.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ConfigurationError(
                message: "cannot write the token secret to \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array((secret + "\n").utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            throw ConfigurationError(
                message: "cannot write the token secret to \(path): \(String(cString: strerror(errno)))")
        }
        return secret
    }

    private static func checked(_ secret: String, source: String) throws -> String {
        guard secret.count >= minimumSecretLength else {
            throw ConfigurationError(
                message:
                    "the token secret from \(source) has \(secret.count) characters; it needs at least \(minimumSecretLength) (e.g. `openssl rand -hex 32`)"
            )
        }
        return secret
    }
}
