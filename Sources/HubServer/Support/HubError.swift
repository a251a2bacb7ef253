import HTTPTypes
import HubCore
import Hummingbird
import NIOCore

/// An HTTP error with a stable code, rendered as `{"error":{"code":…,"message":…}}`.
public struct HubHTTPError: HTTPResponseError, Sendable {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// The protocol error carried.
    public let error: ProtocolError
    /// Every problem found, when there were several (e.g. each invalid field of a rule set).
    public let problems: [String]

    /// Creates an error with an explicit status.
    public init(_ status: HTTPResponse.Status, _ error: ProtocolError, problems: [String] = []) {
        self.status = status
        self.error = error
        self.problems = problems
    }

    /// Maps a protocol error to the HTTP status for its code.
    public init(_ error: ProtocolError) {
        self.init(Self.status(for: error.code), error)
    }

    /// The one place where error codes become HTTP statuses.
    public static func status(for code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .rateLimited: .tooManyRequests
        case .tooLarge: .contentTooLarge
        case .timeout: .gatewayTimeout
        case .internal: .internalServerError
        default: .badRequest
        }
    }

    /// `{"error":{"code":…,"message":…}}`.
    var jsonBody: [UInt8] {
        var writer = JSONWriter()
        writer.raw("{\"error\":{\"code\":")
        writer.string(error.code.rawValue)
        writer.raw(",\"message\":")
        writer.string(error.message)
        if !problems.isEmpty {
            writer.raw(",\"problems\":[")
            for (index, problem) in problems.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                writer.string(problem)
            }
            writer.byte(UInt8(ascii: "]"))
        }
        writer.raw("}}")
        return writer.bytes
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: jsonBody)))
    }
}

/// Builds JSON responses from a ``JSONWriter``.
enum JSONResponse {
    static func make(_ status: HTTPResponse.Status = .ok, _ write: (inout JSONWriter) -> Void) -> Response {
        var writer = JSONWriter(capacity: 1_024)
        write(&writer)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }
}

/// Reads JSON request bodies.
enum JSONBody {
    /// The body parsed as JSON; an empty body is `{}` when `allowEmpty`.
    ///
    /// - Throws: ``HubHTTPError`` `too_large` past `limit` bytes, `invalid_json` when it does not parse.
    static func read(_ request: Request, limit: Int, allowEmpty: Bool = false) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw HubHTTPError(.tooLarge("body over \(limit) bytes"))
        }
        if allowEmpty, buffer.readableBytes == 0 { return .object(JSONObject()) }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw HubHTTPError(error)
        }
    }
}
