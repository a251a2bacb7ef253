import HTTPTypes
import HubCore
import Hummingbird
import NIOCore
import NIOPosix

/// The alert API: `/api/rules` (admin to change), `/api/alerts` (current and history, ack) and `/api/silences`.
struct AlertRoutes: Sendable {
    let hub: Hub
    let authenticator: Authenticator

    func register(on router: Router<HubRequestContext>) {
        router.get("api/rules") { request, _ in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            return Self.rulesResponse(hub.alertRules)
        }
        router.post("api/rules") { request, _ in
            let principal = try await authenticator.principal(for: request, requiring: .admin)
            let rules = try await parseRules(request, allowSingle: true)
            try await change(by: principal) { AlertRuleSet.upserting(rules, into: $0) }
            return Self.rulesResponse(rules)
        }
        router.put("api/rules") { request, _ in
            let principal = try await authenticator.principal(for: request, requiring: .admin)
            let rules = try await parseRules(request, allowSingle: false)
            try await change(by: principal) { AlertRuleSet.replacingAPIRules(with: rules, in: $0) }
            return Self.rulesResponse(hub.alertRules)
        }
        router.get("api/rules/:id") { request, context in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            let id = try context.parameters.require("id")
            guard let rule = hub.alertRules.first(where: { $0.id == id }) else {
                throw HubHTTPError(.notFound("no rule '\(id)'"))
            }
            return JSONResponse.make { json in
                json.raw("{\"rule\":")
                rule.write(to: &json)
                json.raw("}")
            }
        }
        router.put("api/rules/:id") { request, context in
            let principal = try await authenticator.principal(for: request, requiring: .admin)
            let id = try context.parameters.require("id")
            guard case .object(var object) = try await body(request) else {
                throw HubHTTPError(.invalidMessage("the body must be one rule object"))
            }
            if object["id"] == nil { object["id"] = .string(id) }
            guard object["id"] == .string(id) else {
                throw HubHTTPError(
                    .invalidMessage("id: the body names '\(object["id"]?.stringValue ?? "?")', the path '\(id)'"))
            }
            let rule: AlertRule
            do throws(RuleProblems) {
                rule = try hub.configuration.alerts.parser.parse(.object(object), source: .api)
            } catch {
                throw Self.problemsError(error)
            }
            try await change(by: principal) { AlertRuleSet.upserting([rule], into: $0) }
            return JSONResponse.make { json in
                json.raw("{\"rule\":")
                rule.write(to: &json)
                json.raw("}")
            }
        }
        router.delete("api/rules/:id") { request, context in
            let principal = try await authenticator.principal(for: request, requiring: .admin)
            let id = try context.parameters.require("id")
            guard hub.alertRules.contains(where: { $0.id == id }) else {
                throw HubHTTPError(.notFound("no rule '\(id)'"))
            }
            try await change(by: principal) { AlertRuleSet.removing(id, from: $0) }
            return JSONResponse.make { json in
                json.raw("{\"deleted\":")
                json.string(id)
                json.raw("}")
            }
        }

        router.get("api/alerts") { request, _ in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            return try await alerts(request)
        }
        router.get("api/alerts/:id") { request, context in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            return try await alert(context.parameters.require("id"))
        }
        router.post("api/alerts/:id/ack") { request, context in
            let principal = try await authenticator.principal(for: request, requiring: .operator)
            let id = try context.parameters.require("id")
            let comment = try await optionalString(body(request, allowEmpty: true), "comment") ?? ""
            let hub = self.hub
            let event: AlertEvent
            do {
                event = try await NIOThreadPool.singleton.runIfActive {
                    try hub.ackAlert(id, by: principal.subject, comment: comment)
                }
            } catch let error as ProtocolError {
                throw HubHTTPError(error)
            }
            return JSONResponse.make { json in
                json.raw("{\"alert\":")
                event.write(to: &json)
                json.raw("}")
            }
        }

        router.get("api/silences") { request, _ in
            _ = try await authenticator.principal(for: request, requiring: .viewer)
            let silences = hub.silences
            return JSONResponse.make { json in
                json.raw("{\"silences\":[")
                for (index, silence) in silences.enumerated() {
                    if index > 0 { json.raw(",") }
                    silence.write(to: &json)
                }
                json.raw("]}")
            }
        }
        router.post("api/silences") { request, _ in
            let principal = try await authenticator.principal(for: request, requiring: .operator)
            let document = try await body(request)
            guard let match = try optionalString(document, "match") else {
                throw HubHTTPError(.invalidMessage("match: is required (a series selector such as thermo-*/temp)"))
            }
            let now = hub.now
            let until: Int64
            if let value = try optionalInteger(document, "until") {
                until = value
            } else if let forMs = try optionalInteger(document, "for_ms") {
                guard forMs > 0 else { throw HubHTTPError(.invalidMessage("for_ms: must be positive")) }
                until = now + forMs
            } else {
                throw HubHTTPError(.invalidMessage("until: is required (Unix ms), or give for_ms"))
            }
            let rule = try optionalString(document, "rule")
            let comment = try optionalString(document, "comment") ?? ""
            let hub = self.hub
            let silence: Silence
            do {
                silence = try await NIOThreadPool.singleton.runIfActive {
                    try hub.addSilence(match: match, rule: rule, until: until, comment: comment, by: principal.subject)
                }
            } catch let error as ProtocolError {
                throw HubHTTPError(error)
            }
            return JSONResponse.make(.created) { json in
                json.raw("{\"silence\":")
                silence.write(to: &json)
                json.raw("}")
            }
        }
        router.delete("api/silences/:id") { request, context in
            _ = try await authenticator.principal(for: request, requiring: .operator)
            let id = try context.parameters.require("id")
            let hub = self.hub
            do {
                try await NIOThreadPool.singleton.runIfActive { try hub.removeSilence(id) }
            } catch let error as ProtocolError {
                throw HubHTTPError(error)
            }
            return JSONResponse.make { json in
                json.raw("{\"deleted\":")
                json.string(id)
                json.raw("}")
            }
        }
    }

    // MARK: Rules

    private func parseRules(_ request: Request, allowSingle: Bool) async throws -> [AlertRule] {
        let document = try await body(request)
        do throws(RuleProblems) {
            return try hub.configuration.alerts.parser.parseSet(document, source: .api, allowSingle: allowSingle)
        } catch {
            throw Self.problemsError(error)
        }
    }

    /// Applies a rule-set change off the event loop (it writes to the alert store).
    private func change(by principal: Principal, _ change: @escaping @Sendable ([AlertRule]) -> [AlertRule])
        async throws
    {
        let hub = self.hub
        do {
            try await NIOThreadPool.singleton.runIfActive {
                try hub.applyRuleSet(source: "api (\(principal.subject))", change)
            }
        } catch let problems as RuleProblems {
            throw Self.problemsError(problems)
        } catch {
            hub.logger.error("rule change not stored", metadata: ["error": "\(error)"])
            throw HubHTTPError(
                .internalServerError,
                ProtocolError(code: .internal, message: "the alert store could not be written; nothing changed"))
        }
    }

    static func problemsError(_ problems: RuleProblems) -> HubHTTPError {
        HubHTTPError(
            .badRequest, .invalidMessage(problems.problems.first ?? "invalid rules"), problems: problems.problems)
    }

    static func rulesResponse(_ rules: [AlertRule]) -> Response {
        JSONResponse.make { json in
            json.raw("{\"rules\":[")
            for (index, rule) in rules.enumerated() {
                if index > 0 { json.raw(",") }
                rule.write(to: &json)
            }
            json.raw("]}")
        }
    }

    // MARK: Alerts

    /// The alert filter in a query (`GET /api/alerts`, `/ws/alerts`): `state`, `severity`, `match`, `rule`,
    /// `silenced=0|1`; a bad one is a 400 naming it.
    static func filter(_ request: Request) throws -> AlertFilter {
        let query = request.uri.queryParameters
        let silenced = query.get("silenced").map { !["0", "false", "no"].contains($0) }
        do {
            return try AlertFilter(
                state: query.get("state"), severity: query.get("severity"), match: query.get("match"),
                rule: query.get("rule"), silenced: silenced)
        } catch {
            throw HubHTTPError(error)
        }
    }

    private func alerts(_ request: Request) async throws -> Response {
        let filter = try Self.filter(request)
        let since = try APIRoutes.integer(request, "since")
        let until = try APIRoutes.integer(request, "until")
        let limit = try APIRoutes.integer(request, "limit") ?? 1_000
        guard (1...100_000).contains(limit) else { throw HubHTTPError(.invalidMessage("limit: must be 1 to 100000")) }
        let wantsHistory =
            since != nil || until != nil || filter.states.contains(.resolved) || filter.states.contains(.ok)
        guard wantsHistory else {
            let active = hub.activeAlerts(filter).prefix(Int(limit))
            return JSONResponse.make { json in
                json.raw("{\"alerts\":[")
                for (index, event) in active.enumerated() {
                    if index > 0 { json.raw(",") }
                    event.write(to: &json)
                }
                json.raw("]}")
            }
        }
        var historyQuery = AlertHistoryQuery()
        historyQuery.since = since ?? .min
        historyQuery.until = until ?? .max
        historyQuery.filter = filter
        historyQuery.limit = Int(limit)
        let events = try await history(historyQuery)
        return JSONResponse.make { json in
            json.raw("{\"history\":true,\"alerts\":[")
            for (index, stored) in events.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(stored.json)
            }
            json.raw("]}")
        }
    }

    private func alert(_ id: String) async throws -> Response {
        var query = AlertHistoryQuery()
        query.alert = id
        query.limit = 10_000
        let events = try await history(query)
        let current = hub.activeAlert(id)
        guard current != nil || !events.isEmpty else { throw HubHTTPError(.notFound("no alert '\(id)'")) }
        return JSONResponse.make { json in
            json.raw("{\"alert\":")
            if let current { current.write(to: &json) } else { json.raw(events.last!.json) }
            json.raw(",\"active\":")
            json.bool(current != nil)
            json.raw(",\"events\":[")
            for (index, stored) in events.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(stored.json)
            }
            json.raw("]}")
        }
    }

    private func history(_ query: AlertHistoryQuery) async throws -> [StoredAlertEvent] {
        let hub = self.hub
        do {
            return try await NIOThreadPool.singleton.runIfActive { try hub.alertHistory(query) }
        } catch {
            hub.logger.error("alert history query failed", metadata: ["error": "\(error)"])
            throw HubHTTPError(
                .internalServerError, ProtocolError(code: .internal, message: "the alert history could not be read"))
        }
    }

    // MARK: Bodies

    private func body(_ request: Request, allowEmpty: Bool = false) async throws -> JSONValue {
        try await JSONBody.read(request, limit: hub.configuration.limits.maxBodyBytes, allowEmpty: allowEmpty)
    }

    private func optionalString(_ document: JSONValue, _ field: String) throws -> String? {
        switch document[field] {
        case nil, .null?: return nil
        case .string(let text)? where text.utf8.count <= 4_096: return text
        default: throw HubHTTPError(.invalidMessage("\(field): must be a string of at most 4096 bytes"))
        }
    }

    private func optionalInteger(_ document: JSONValue, _ field: String) throws -> Int64? {
        switch document[field] {
        case nil, .null?: return nil
        case .number(let number)? where number.isFinite && number == number.rounded() && abs(number) < 9e15:
            return Int64(number)
        default: throw HubHTTPError(.invalidMessage("\(field): must be a whole number"))
        }
    }
}
