/// A stable, snake_case error code carried by `error` messages and HTTP error bodies.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as it appears on the wire.
    public let rawValue: String

    /// Creates a code from its wire form.
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// The frame or body is not valid JSON.
    public static let invalidJSON = ErrorCode(rawValue: "invalid_json")
    /// Valid JSON that is not a valid message (missing field, wrong type, bad name, non-finite value).
    public static let invalidMessage = ErrorCode(rawValue: "invalid_message")
    /// `type` names no message this endpoint knows.
    public static let unknownType = ErrorCode(rawValue: "unknown_type")
    /// No token, or a token that is invalid or expired.
    public static let unauthorized = ErrorCode(rawValue: "unauthorized")
    /// The token's role or device pattern does not allow this.
    public static let forbidden = ErrorCode(rawValue: "forbidden")
    /// A device sent something other than `register` (or `ping`) before registering.
    public static let notRegistered = ErrorCode(rawValue: "not_registered")
    /// The thing asked for does not exist.
    public static let notFound = ErrorCode(rawValue: "not_found")
    /// The connection's message rate limit was exceeded.
    public static let rateLimited = ErrorCode(rawValue: "rate_limited")
    /// A frame, batch, message or series count over its configured limit.
    public static let tooLarge = ErrorCode(rawValue: "too_large")
    /// Something did not answer in time.
    public static let timeout = ErrorCode(rawValue: "timeout")
    /// The request conflicts with the current state (e.g. acking an alert that already ended).
    public static let conflict = ErrorCode(rawValue: "conflict")
    /// A fault inside the hub.
    public static let `internal` = ErrorCode(rawValue: "internal")
}

/// An error in a client's message: a stable ``ErrorCode`` plus a message for humans.
///
/// Adapters map it to an `error` message on a WebSocket or a JSON error body with an HTTP status.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The stable code.
    public let code: ErrorCode
    /// What went wrong, for humans.
    public let message: String

    /// Creates an error.
    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalidJSON(_ message: String) -> Self { .init(code: .invalidJSON, message: message) }
    public static func invalidMessage(_ message: String) -> Self { .init(code: .invalidMessage, message: message) }
    public static func unknownType(_ type: String) -> Self {
        .init(code: .unknownType, message: "unknown message type '\(type)'")
    }
    public static func tooLarge(_ message: String) -> Self { .init(code: .tooLarge, message: message) }
    public static func notRegistered() -> Self {
        .init(code: .notRegistered, message: "send 'register' before other messages")
    }
    public static func forbidden(_ message: String) -> Self { .init(code: .forbidden, message: message) }
    public static func unauthorized(_ message: String) -> Self { .init(code: .unauthorized, message: message) }
    public static func notFound(_ message: String) -> Self { .init(code: .notFound, message: message) }
    public static func rateLimited(_ message: String) -> Self { .init(code: .rateLimited, message: message) }
    public static func conflict(_ message: String) -> Self { .init(code: .conflict, message: message) }
}
