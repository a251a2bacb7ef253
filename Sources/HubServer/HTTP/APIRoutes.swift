import HTTPTypes
import HubCore
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

/// The HTTP API under `/api`, `/healthz` and `/metrics`.
struct APIRoutes: Sendable {
    let hub: Hub
    let authenticator: Authenticator

    func register(on router: Router<HubRequestContext>) {
        router.get("healthz") { request, _ in
            // Details (counts, the broker, the bridge's client id) only for a viewer token or with auth off.
            let detailed = (try? await authenticator.principal(for: request, requiring: .viewer)) != nil
            return health(detailed: detailed)
        }
        router.get("metrics") { request, _ -> Response in
            if !hub.configuration.auth.metricsOpen {
                _ = try await authenticator.principal(for: request, requiring: .viewer)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: hub.metrics.render(gateways: hub.gateways))))
        }
        let viewer = router.group("api").add(middleware: AuthMiddleware(authenticator: authenticator, role: .viewer))
        viewer.get("devices") { _, _ in devices() }
        viewer.get("devices/:id") { _, context in try device(context.parameters.require("id")) }
        viewer.get("series") { request, _ in try seriesList(request) }
        viewer.get("series/:device/:metric") { request, context in
            try await seriesPoints(
                request, device: context.parameters.require("device"), metric: context.parameters.require("metric"))
        }
        router.group("api/telemetry")
            .add(middleware: AuthMiddleware(authenticator: authenticator, role: .device))
            .post { request, context in try await postTelemetry(request, context: context) }
    }

    /// Why the hub is degraded: the store could not be opened for writing (data is accepted into the rings only),
    /// its writes keep failing, its backlog is full (telemetry is refused), or a gateway (the MQTT bridge) is not
    /// connected. Empty when it is healthy.
    /// Without `detailed`, the storage error itself (which may quote SQL and paths) is left out.
    private func degradedReasons(gateways: [any GatewayStatus], detailed: Bool) -> [String] {
        var reasons: [String] = []
        if hub.storageFailed.load(ordering: .relaxed) { reasons.append("storage could not be opened for writing") }
        if let problem = hub.storageProblem.withLock({ $0 }) {
            reasons.append(detailed ? problem : "storage writes are failing")
        }
        if hub.storageBacklogFull { reasons.append("storage is behind: telemetry is refused until it catches up") }
        for gateway in gateways where !gateway.isHealthy { reasons.append("\(gateway.name) is not connected") }
        return reasons
    }

    private func health(detailed: Bool) -> Response {
        let gateways = hub.gateways
        let reasons = degradedReasons(gateways: gateways, detailed: detailed)
        let (devices, online, series) = hub.read { store, registry in
            (registry.count, registry.onlineCount, store.seriesCount)
        }
        // 200 either way: a degraded hub still serves what it can (see `reasons`).
        return JSONResponse.make { json in
            json.raw(reasons.isEmpty ? "{\"status\":\"ok\"" : "{\"status\":\"degraded\"")
            if !reasons.isEmpty {
                json.raw(",\"reasons\":[")
                for (index, reason) in reasons.enumerated() {
                    if index > 0 { json.raw(",") }
                    json.string(reason)
                }
                json.raw("]")
            }
            json.raw(",\"version\":")
            json.string(TelemetryHubVersion.current)
            json.raw(",\"uptime_ms\":")
            json.int(hub.now - hub.startedAt)
            guard detailed else {
                json.raw("}")
                return
            }
            json.raw(",\"devices\":")
            json.int(Int64(devices))
            json.raw(",\"online\":")
            json.int(Int64(online))
            json.raw(",\"series\":")
            json.int(Int64(series))
            json.raw(",\"connections\":")
            json.int(Int64(hub.sessions.count))
            json.raw(",\"dashboards\":")
            json.int(Int64(hub.fanout.connectionCount))
            let (rules, active) = hub.alertSummary
            json.raw(",\"alerts\":{\"rules\":")
            json.int(Int64(rules))
            for state in [AlertState.firing, .pending, .nodata] {
                json.raw(",")
                json.key(state.rawValue)
                json.int(Int64(active[state] ?? 0))
            }
            json.raw("}")
            let (open, queued) = hub.commands.withLock { ($0.tracker.openCount, $0.tracker.queuedCount) }
            json.raw(",\"commands\":{\"open\":")
            json.int(Int64(open))
            json.raw(",\"queued\":")
            json.int(Int64(queued))
            json.raw("}")
            json.raw(",\"auth\":")
            json.bool(hub.authority != nil)
            json.raw(",\"storage\":")
            json.string(hub.configuration.storage.engine.rawValue)
            for gateway in gateways {
                json.raw(",")
                json.key(gateway.name)
                gateway.writeHealth(to: &json)
            }
            json.raw("}")
        }
    }

    private func devices() -> Response {
        let records = hub.read { store, registry in
            registry.all.map { ($0, store.metrics(of: $0.device).count) }
        }
        return JSONResponse.make { json in
            json.raw("{\"devices\":[")
            for (index, (record, seriesCount)) in records.enumerated() {
                if index > 0 { json.raw(",") }
                Self.write(record, seriesCount: seriesCount, to: &json)
                json.raw("}")
            }
            json.raw("]}")
        }
    }

    private func device(_ id: String) throws -> Response {
        let found = hub.read { store, registry -> (DeviceRecord, [(String, Sample?)])? in
            guard let record = registry[id] else { return nil }
            let metrics = store.metrics(of: id).map { ($0, store.latest(SeriesKey(device: id, metric: $0))) }
            return (record, metrics)
        }
        guard let (record, metrics) = found else { throw HubHTTPError(.notFound("no device '\(id)'")) }
        return JSONResponse.make { json in
            json.raw("{\"device\":{")
            Self.write(record, seriesCount: metrics.count, to: &json, open: false)
            json.raw(",\"metrics\":{")
            for (index, (metric, latest)) in metrics.enumerated() {
                if index > 0 { json.raw(",") }
                json.key(metric)
                Self.writePoint(latest, to: &json)
            }
            json.raw("}}}")
        }
    }

    static func write(_ record: DeviceRecord, seriesCount: Int, to json: inout JSONWriter, open: Bool = true) {
        if open { json.raw("{") }
        record.writeFields(to: &json)
        json.raw(",\"series\":")
        json.int(Int64(seriesCount))
    }

    private static func writePoint(_ sample: Sample?, to json: inout JSONWriter) {
        guard let sample else {
            json.raw("null")
            return
        }
        json.raw("[")
        json.int(sample.ts)
        json.raw(",")
        json.number(sample.value)
        json.raw("]")
    }

    private func seriesList(_ request: Request) throws -> Response {
        let text = request.uri.queryParameters.get("match") ?? "*/*"
        let selector: SeriesSelector
        do { selector = try SeriesSelector(parsing: text) } catch { throw HubHTTPError(error) }
        let limit: Int
        do {
            limit = try SeriesQuery.positive(
                { request.uri.queryParameters.get($0) }, "limit", default: 10_000, max: SeriesQuery.maxLimit)
        } catch {
            throw HubHTTPError(error)
        }
        let keys = hub.series(matching: [selector], limit: limit).match.keys.prefix(limit)
        let found = hub.read { store, _ in keys.map { ($0, store.latest($0)) } }
        return JSONResponse.make { json in
            json.raw("{\"match\":")
            json.string(text)
            json.raw(",\"series\":[")
            for (index, (key, latest)) in found.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw("{\"series\":")
                json.string(key.description)
                json.raw(",\"latest\":")
                Self.writePoint(latest, to: &json)
                json.raw("}")
            }
            json.raw("]}")
        }
    }

    private func seriesPoints(_ request: Request, device: String, metric: String) async throws -> Response {
        guard Names.isValidName(device), Names.isValidName(metric) else {
            throw HubHTTPError(.invalidMessage("device and metric must match [A-Za-z0-9._:-]{1,128}"))
        }
        let key = SeriesKey(device: device, metric: metric)
        let query: SeriesQuery
        do {
            query = try SeriesQuery { request.uri.queryParameters.get($0) }
        } catch {
            throw HubHTTPError(error)
        }
        let (from, to, step, limit) = (query.from, query.to, query.step, query.limit)
        let hub = self.hub
        enum Points: Sendable {
            case raw([Sample])
            case rollups([RollupPoint])
        }
        let points: Points?
        do {
            points = try await NIOThreadPool.singleton.runIfActive {
                if let step {
                    return try hub.rollups(key, from: from, to: to, stepMs: step).map { Points.rollups($0) }
                }
                return try hub.history(key, from: from, to: to, limit: limit).map { Points.raw($0) }
            }
        } catch {
            hub.logger.error("series query failed", metadata: ["series": "\(key)", "error": "\(error)"])
            throw HubHTTPError(
                .internalServerError, ProtocolError(code: .internal, message: "the store could not be read"))
        }
        guard let points else { throw HubHTTPError(.notFound("no series '\(key)'")) }
        return JSONResponse.make { json in
            json.raw("{\"series\":")
            json.string(key.description)
            switch points {
            case .rollups(let all):
                json.raw(",\"step\":")
                json.int(step ?? 0)
                json.raw(",\"points\":[")
                for (index, point) in all.suffix(limit).enumerated() {
                    if index > 0 { json.raw(",") }
                    json.raw("[")
                    json.int(point.ts)
                    for value in [point.min, point.max, point.avg] {
                        json.raw(",")
                        json.number(value)
                    }
                    json.raw(",")
                    json.int(Int64(point.count))
                    json.raw("]")
                }
            case .raw(let samples):
                json.raw(",\"points\":[")
                for (index, sample) in samples.enumerated() {
                    if index > 0 { json.raw(",") }
                    Self.writePoint(sample, to: &json)
                }
            }
            json.raw("]}")
        }
    }

    private func postTelemetry(_ request: Request, context: HubRequestContext) async throws -> Response {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: hub.configuration.limits.maxBodyBytes)
        } catch {
            throw HubHTTPError(.tooLarge("body over \(hub.configuration.limits.maxBodyBytes) bytes"))
        }
        let decoder = DeviceMessageDecoder(limits: hub.configuration.decoderLimits)
        let telemetry: DeviceMessage.Telemetry
        do {
            let document = try JSONParser.parse(buffer.readableBytesView)
            guard case .object(let object) = document else {
                throw ProtocolError.invalidMessage("the body must be a JSON object")
            }
            if let type = object["type"], type != .string("telemetry") {
                throw ProtocolError.invalidMessage("'type' must be 'telemetry' when given")
            }
            telemetry = try decoder.decodeTelemetry(object, id: nil)
        } catch let error as ProtocolError {
            hub.metrics.error(error.code)
            throw HubHTTPError(error)
        }
        guard let device = telemetry.device else {
            throw HubHTTPError(.invalidMessage("missing field 'device'"))
        }
        let principal = context.principal ?? .unrestricted
        guard principal.mayActAs(device: device) else {
            throw HubHTTPError(.forbidden("this token may not send data for device '\(device)'"))
        }
        // `?sync=1` only changes the status (200 rather than 202), as it did when 202 meant "in memory".
        let sync = ["1", "true"].contains(request.uri.queryParameters.get("sync") ?? "")
        let ingested: Ingested
        do {
            ingested = try hub.ingest(
                device: device, samples: telemetry.samples, transport: "http", quota: principal.quotaOwner)
        } catch {
            hub.metrics.error(error.code)
            // The storage backlog is full: the hub, not this client, is the bottleneck.
            if error.code == .rateLimited { throw HubHTTPError(.serviceUnavailable, error) }
            throw HubHTTPError(error)
        }
        // Answered once the samples are committed to disk, like a WebSocket ack; a disk that stalls longer than the
        // request timeout gets a 503, so a client never waits (nor holds its connection) forever.
        let timeoutMs = hub.configuration.limits.requestTimeoutMs
        do {
            try await hub.waitDurable(ingested.ticket, timeout: .milliseconds(timeoutMs))
        } catch is Durability.TimedOut {
            throw HubHTTPError(
                .serviceUnavailable,
                ProtocolError(
                    code: .timeout,
                    message:
                        "accepted, but not on disk after \(timeoutMs) ms (storage is behind); send it again with the same timestamps to be sure"
                ))
        } catch {
            throw HubHTTPError(
                .internalServerError,
                ProtocolError(code: .internal, message: "accepted in memory but not persisted: \(error)"))
        }
        return JSONResponse.make(sync ? .ok : .accepted) { json in
            json.raw("{\"accepted\":")
            json.int(Int64(ingested.accepted))
            json.raw(",\"durable\":true}")
        }
    }

    static func integer(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text) else {
            throw HubHTTPError(.invalidMessage("'\(name)' must be an integer, got '\(text.prefix(40))'"))
        }
        return value
    }
}

/// Turns Hummingbird's own errors (unknown route, body too large) into the hub's JSON error shape.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    func handle(
        _ request: Request, context: HubRequestContext,
        next: (Request, HubRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HubHTTPError {
            throw error
        } catch let error as HTTPError {
            let code: ErrorCode =
                switch error.status {
                case .notFound: .notFound
                case .contentTooLarge: .tooLarge
                case .unauthorized: .unauthorized
                case .forbidden: .forbidden
                default: error.status.code >= 500 ? .internal : .invalidMessage
                }
            throw HubHTTPError(
                error.status, ProtocolError(code: code, message: error.body ?? error.status.reasonPhrase))
        }
    }
}

/// The hub's version string.
public enum TelemetryHubVersion {
    public static let current = "0.1.0"
}
