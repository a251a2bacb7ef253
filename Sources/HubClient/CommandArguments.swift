import Foundation
import HubCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The arguments of a command as given on the command line: `key=value` pairs, and optionally a JSON object.
///
/// A value is taken as JSON when it is valid JSON (`21`, `-3.5`, `true`, `null`, `"text"`, `{"a":1}`, `[1,2]`),
/// else as a string (`mode=eco` is `"eco"`; `mode=` is `""`; to send the string `true`, write `mode='"true"'`).
public enum CommandArguments {
    /// Why the arguments cannot be used.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }

        /// Creates a problem.
        public init(_ message: String) {
            self.message = message
        }
    }

    /// The object of `pairs` on top of `base`: each `key=value` sets `key` (replacing the same key of `base`).
    ///
    /// - Throws: ``Problem`` for a pair without `=`, an invalid key (`[A-Za-z0-9._:-]{1,128}`) or a key given twice.
    public static func parse(_ pairs: [String], base: JSONObject = JSONObject()) throws(Problem) -> JSONObject {
        var object = base
        var seen: Set<String> = []
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "=") else {
                throw Problem("'\(pair.prefix(140))' is not key=value (for example value=21 or mode=eco)")
            }
            let key = String(pair[..<equals])
            guard Names.isValidName(key) else {
                throw Problem(
                    "'\(key.prefix(140))' in '\(pair.prefix(140))' is not a valid argument name ([A-Za-z0-9._:-]{1,128})"
                )
            }
            guard seen.insert(key).inserted else { throw Problem("argument '\(key)' is given twice") }
            object[key] = value(String(pair[pair.index(after: equals)...]))
        }
        return object
    }

    /// The value of one `key=value`: its JSON when the text is valid JSON with finite numbers, else the text as a
    /// string.
    public static func value(_ text: String) -> JSONValue {
        guard let parsed = try? JSONParser.parse(text), isFinite(parsed) else { return .string(text) }
        return parsed
    }

    /// Parses `--args`: a JSON object.
    ///
    /// - Throws: ``Problem`` when the text is not JSON or not an object.
    public static func object(_ text: String) throws(Problem) -> JSONObject {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(text)
        } catch {
            throw Problem("--args is not JSON: \(error)")
        }
        guard case .object(let object) = parsed else {
            let article = parsed.typeName.first.map { "aeiou".contains($0) } == true ? "an" : "a"
            throw Problem("--args must be a JSON object such as {\"value\":21}, not \(article) \(parsed.typeName)")
        }
        guard isFinite(parsed) else { throw Problem("--args must not hold NaN or Infinity") }
        return object
    }

    /// The body of `POST /api/rooms/{room}/commands`: `{"name":…,"args":{…}}` with `timeout_ms` and `ttl_ms` when
    /// given.
    public static func body(name: String, args: JSONObject, timeoutMs: Int64? = nil, ttlMs: Int64? = nil) -> Data {
        var json = JSONWriter()
        json.raw("{\"name\":")
        json.string(name)
        json.raw(",\"args\":")
        json.value(.object(args))
        if let timeoutMs {
            json.raw(",\"timeout_ms\":")
            json.int(timeoutMs)
        }
        if let ttlMs {
            json.raw(",\"ttl_ms\":")
            json.int(ttlMs)
        }
        json.raw("}")
        return Data(json.bytes)
    }

    private static func isFinite(_ value: JSONValue) -> Bool {
        switch value {
        case .number(let number): number.isFinite
        case .array(let items): items.allSatisfy(isFinite)
        case .object(let object): object.members.allSatisfy { isFinite($0.value) }
        case .null, .bool, .string: true
        }
    }
}

extension HubHTTPClient {
    /// A session whose requests may stay silent for `timeout` seconds before they fail (`POST …/commands` answers
    /// only once every device answered or the command's timeout passed). Invalidate it when done.
    public static func session(timeout: TimeInterval) -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = max(timeout, configuration.timeoutIntervalForResource)
        return URLSession(configuration: configuration)
    }

    /// Sends a request that may take up to `timeout` seconds to be answered, on `session` (or on a session of its
    /// own made by ``session(timeout:)``).
    public func send(
        _ method: String, _ path: String, body: Data? = nil, timeout: TimeInterval, session: URLSession? = nil
    ) async throws -> Reply {
        guard let url = URL(string: baseURL + path) else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = timeout
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let own = session == nil ? Self.session(timeout: timeout) : nil
        defer { own?.finishTasksAndInvalidate() }
        let (data, response) = try await (session ?? own!).data(for: request)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}
