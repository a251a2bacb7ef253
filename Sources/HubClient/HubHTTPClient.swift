import Foundation
import HubCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A small client of the hub's HTTP API, used by the CLI and benchmarks.
public struct HubHTTPClient: Sendable {
    /// Base URL such as `http://127.0.0.1:8080`.
    public var baseURL: String
    /// Token sent as `Authorization: Bearer`.
    public var token: String?

    /// Creates a client.
    public init(baseURL: String, token: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    /// A response: status and body.
    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
        /// The body as text.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends a request.
    public func send(_ method: String, _ path: String, body: Data? = nil) async throws -> Reply {
        guard let url = URL(string: baseURL + path) else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// GETs `path`.
    public func get(_ path: String) async throws -> Reply {
        try await send("GET", path)
    }

    /// Reads one unlabelled value from the Prometheus text at `/metrics`.
    public func metric(_ name: String) async throws -> Double? {
        let reply = try await get("/metrics")
        guard reply.status == 200 else { return nil }
        return Self.metric(name, in: reply.text)
    }

    /// Finds `name value` in Prometheus text.
    public static func metric(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
