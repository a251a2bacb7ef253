import HubCore
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix

/// `/ws/dashboard`: subscriptions, snapshots, resume, presence and alerts for one dashboard connection. The reader
/// turns messages into scheduler changes and queued replies; ``DashboardConnection/runWriter()`` sends.
///
/// `/ws/alerts` is the same connection subscribed to alerts from the start (`alerts` set), filtered by its query.
struct DashboardEndpoint: Sendable {
    let hub: Hub
    /// Subscribe to alerts at once, with the filter the request's query gives.
    var alerts = false

    func run(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
        context: WebSocketRouterContext<HubRequestContext>
    ) async throws {
        let configuration = hub.configuration.dashboards
        let principal = context.requestContext.principal ?? .unrestricted
        let channel = context.requestContext.channel
        let connection = DashboardConnection(
            id: hub.sessions.makeID(), owner: principal.subject, tokenExpiresAt: principal.expiresAt,
            outbound: outbound, channel: channel, configuration: configuration, metrics: hub.metrics,
            clock: { Hub.systemMilliseconds() })
        try? await BufferedAmountHandler.install(connection.buffered, on: channel)
        // NIO marks a channel unwritable past 64 KiB by default, and the async writer then waits inside `write`:
        // the buffered amount would never reach a larger high-water mark and a stuck client would never be seen.
        // NIO's marks go above ours, so it is our mark that stops the writer.
        _ = try? await channel.setOption(
            ChannelOptions.writeBufferWaterMark,
            value: .init(low: configuration.highWaterBytes, high: configuration.highWaterBytes * 2)
        ).get()
        if configuration.socketSendBufferBytes > 0 {
            _ = try? await channel.setOption(
                ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(configuration.socketSendBufferBytes)
            ).get()
        }
        hub.metrics.dashboards.record(hub.fanout.attach(connection))
        hub.metrics.dashboardsTotal.increment()
        var logger = context.logger
        logger[metadataKey: "dashboard.id"] = "\(connection.id)"
        defer {
            hub.rememberForResume(connection.remembered(now: hub.now), owner: connection.owner)
            hub.metrics.dashboards.record(hub.fanout.detach(connection, series: connection.routedSeries))
        }
        if alerts { hub.subscribeAlerts(connection, filter: try AlertRoutes.filter(context.request), reply: nil) }
        let reader = DashboardReader(hub: hub, connection: connection, principal: principal, logger: logger)
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await connection.runWriter()
                return false
            }
            group.addTask {
                await reader.run(inbound: inbound)
                return true
            }
            // The client went away: stop the writer. The writer stopped (closing, or the socket failed): keep
            // reading until the connection ends, so the close frame is not cut off by returning early.
            if await group.next() == true { group.cancelAll() }
        }
    }
}

/// Reads a dashboard connection's messages and carries them out.
struct DashboardReader: Sendable {
    let hub: Hub
    let connection: DashboardConnection
    let principal: Principal
    let logger: Logger

    func run(inbound: WebSocketInboundStream) async {
        let configuration = hub.configuration
        let decoder = DashboardMessageDecoder(
            configuration: configuration.dashboards, maxBatchMessages: configuration.limits.maxBatchMessages,
            commands: configuration.commands)
        var bucket = TokenBucket(
            ratePerSecond: configuration.dashboards.messagesPerSecond, burst: configuration.dashboards.messageBurst)
        var consecutiveErrors = 0
        do {
            frames: for try await message in inbound.messages(maxSize: configuration.limits.maxFrameBytes) {
                if connection.isClosing { continue }  // closing: let the close handshake finish
                hub.metrics.messagesIn.increment()
                let items: [DashboardDecodedItem]
                switch message {
                case .text(let text): items = decoder.decode(frame: text.utf8)
                case .binary:
                    items = [.failure(id: nil, .invalidMessage("binary frames are not supported; send JSON text"))]
                }
                for item in items {
                    let outcome: ProtocolError?
                    if !bucket.take(now: hub.now) {
                        outcome = .rateLimited("over the connection's message rate; slow down")
                    } else {
                        switch item {
                        case .failure(_, let error): outcome = error
                        case .message(let message): outcome = await handle(message)
                        }
                    }
                    if let error = outcome {
                        reply(.server(.error(id: item.id, error)))
                        hub.metrics.error(error.code)
                        consecutiveErrors += 1
                        if consecutiveErrors >= configuration.limits.maxConsecutiveErrors {
                            logger.info("closing dashboard after repeated bad messages")
                            await connection.close(
                                code: DeviceEndpoint.closeProtocolError, reason: "too many bad messages")
                            break frames
                        }
                    } else {
                        consecutiveErrors = 0
                    }
                }
            }
        } catch {
            logger.debug("dashboard connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func reply(_ message: DashboardReply) {
        connection.enqueue(message.encoded)
    }

    /// Carries out one message; returns the error to answer with, if any.
    private func handle(_ message: DashboardMessage) async -> ProtocolError? {
        do {
            switch message {
            case .subscribe(let subscribe):
                try await start(
                    sub: subscribe.sub, selectors: subscribe.selectors, rateMs: subscribe.rateMs,
                    historyMs: subscribe.historyMs, id: subscribe.id, resumeAfter: nil)
            case .resume(let resume):
                try await start(
                    sub: resume.sub, selectors: resume.selectors, rateMs: resume.rateMs, historyMs: resume.historyMs,
                    id: resume.id, resumeAfter: resume.afterSeq)
            case .setRate(let id, let sub, let rateMs):
                try connection.withScheduler { scheduler throws(ProtocolError) in
                    try scheduler.setRate(sub, rateMs: rateMs)
                    scheduler.enqueue(DashboardReply.rateSet(id: id, sub: sub, rateMs: rateMs).encoded)
                    return ((), true)
                }
            case .unsubscribe(let id, let sub):
                let released = try connection.withScheduler { scheduler throws(ProtocolError) in
                    let released = try scheduler.unsubscribe(sub)
                    scheduler.enqueue(DashboardReply.unsubscribed(id: id, sub: sub).encoded)
                    return (released, true)
                }
                hub.fanout.removeRoutes(released, from: connection)
            case .subscribeDevices(let id):
                let hub = self.hub
                connection.withScheduler { scheduler in
                    scheduler.wantsPresence = true
                    scheduler.enqueue(DashboardReply.devices(id: id, hub.devicesSnapshot).encoded)
                    return ((), true)
                }
            case .unsubscribeDevices(let id):
                connection.withScheduler { scheduler in
                    scheduler.wantsPresence = false
                    scheduler.enqueue(DashboardReply.ack(id: id).encoded)
                    return ((), true)
                }
            case .ping(let id):
                reply(.server(.pong(id: id, ts: hub.now)))
            case .subscribeAlerts(let id, let filter):
                hub.subscribeAlerts(connection, filter: filter) { count in
                    DashboardReply.alertsSubscribed(id: id, alerts: count).encoded
                }
            case .unsubscribeAlerts(let id):
                connection.withScheduler { scheduler in
                    scheduler.alertFilter = nil
                    scheduler.enqueue(DashboardReply.ack(id: id).encoded)
                    return ((), true)
                }
            case .ackAlert(let id, let alert, let comment):
                guard principal.role.satisfies(.operator) else {
                    throw ProtocolError.forbidden(
                        "acking alerts needs the operator role; this token is \(principal.role.rawValue)")
                }
                let hub = self.hub
                let principal = self.principal
                _ = try await NIOThreadPool.singleton.runIfActive {
                    try hub.ackAlert(alert, by: principal.subject, comment: comment)
                }
                reply(.alertAcked(id: id, alert: alert))
            case .command(let id, let request):
                guard principal.role.satisfies(.operator) else {
                    throw ProtocolError.forbidden(
                        "sending commands needs the operator role; this token is \(principal.role.rawValue)")
                }
                // Answered when every device has: the reader goes on with the connection's other messages.
                let hub = self.hub
                let principal = self.principal
                let connection = self.connection
                Task {
                    do throws(ProtocolError) {
                        let answer = try await hub.sendCommand(request, by: principal, source: "dashboard")
                        connection.enqueue(DashboardReply.commandAnswered(id: id, answer).encoded)
                    } catch {
                        hub.metrics.error(error.code)
                        connection.enqueue(DashboardReply.server(.error(id: id, error)).encoded)
                    }
                }
            }
            return nil
        } catch let error as ProtocolError {
            return error
        } catch {
            logger.error("dashboard request failed", metadata: ["error": "\(error)"])
            return ProtocolError(code: .internal, message: "the hub could not carry this out: \(error)")
        }
    }

    /// Starts (or resumes) a subscription: registers it, routes the series it matches, then sends the ack and a
    /// snapshot, or the missed samples when resuming and the hub still holds them.
    private func start(
        sub: String, selectors: [SeriesSelector], rateMs: Int64, historyMs: Int64, id: MessageID?,
        resumeAfter: UInt64?
    ) async throws {
        let now = hub.now
        // Refused before anything changes, so a subscription replaced under the same name survives a refusal.
        // Through the series index, outside the hub's state lock; a refusal stops looking past the limit.
        let limit = hub.configuration.dashboards.maxSeriesPerSubscription
        let (found, generation) = hub.series(matching: selectors, limit: limit)
        guard !found.exceeded else {
            throw ProtocolError.tooLarge(
                "the selectors match more than \(limit) series; the limit is \(limit) per subscription")
        }
        let released = try connection.withScheduler { scheduler throws(ProtocolError) in
            (try scheduler.subscribe(sub, selectors: selectors, rateMs: rateMs, now: now, seq: resumeAfter ?? 0), false)
        }
        hub.fanout.removeRoutes(released, from: connection)
        // Series that appeared since the lookup and before the subscription was registered are not missed: look
        // again only if the index changed meanwhile (those appearing later join through `seriesAppeared`).
        let keys =
            hub.seriesIndexGeneration == generation
            ? found.keys : Array(hub.series(matching: selectors, limit: limit).match.keys.prefix(limit))
        let routes: [(SeriesKey, DashboardScheduler.Handle)]
        do {
            routes = try connection.withScheduler { scheduler throws(ProtocolError) in
                (try scheduler.add(keys, to: sub), false)
            }
        } catch {
            let dropped = connection.withScheduler { scheduler in ((try? scheduler.unsubscribe(sub)) ?? [], false) }
            hub.fanout.removeRoutes(dropped, from: connection)
            throw error
        }
        hub.fanout.addRoutes(routes, to: connection)
        let series = connection.withScheduler { ($0.series(of: sub), false) }

        if let afterSeq = resumeAfter {
            if let replay = hub.resumeReplay(
                owner: connection.owner, sub: sub, selectors: selectors, series: series, afterSeq: afterSeq, now: now)
            {
                connection.withScheduler { scheduler in
                    scheduler.activateResumed(
                        sub,
                        reply: DashboardReply.resumed(
                            id: id, sub: sub, recovered: true, series: series.count, rateMs: rateMs
                        ).encoded, replay: replay, now: hub.now)
                    return ((), true)
                }
                hub.metrics.dashboardResumes.increment()
                return
            }
        }
        let snapshot = try await self.snapshot(series, historyMs: historyMs, now: now)
        var floors: [SeriesKey: Int64] = [:]
        for (key, samples) in snapshot { if let last = samples.last { floors[key] = last.ts } }
        let ack: DashboardReply =
            resumeAfter == nil
            ? .subscribed(id: id, sub: sub, series: series.count, rateMs: rateMs)
            : .resumed(id: id, sub: sub, recovered: false, series: series.count, rateMs: rateMs)
        let frame = DashboardReply.snapshot(sub: sub, series: snapshot).encoded
        connection.withScheduler { scheduler in
            scheduler.activate(sub, reply: ack.encoded, snapshot: frame, floors: floors, now: hub.now)
            return ((), true)
        }
    }

    /// The latest sample of each series, or the last `historyMs` of them (from the rings, and from disk for what
    /// reaches past them), at most `max_snapshot_samples` in all.
    private func snapshot(_ series: [SeriesKey], historyMs: Int64, now: Int64) async throws -> [(SeriesKey, [Sample])] {
        if historyMs == 0 {
            return hub.read { store, _ in series.map { ($0, store.latest($0).map { [$0] } ?? []) } }
        }
        let perSeries = max(1, hub.configuration.dashboards.maxSnapshotSamples / max(1, series.count))
        let from = now - historyMs
        let hub = self.hub
        return try await NIOThreadPool.singleton.runIfActive {
            try series.map { key in (key, try hub.history(key, from: from, to: .max, limit: perSeries) ?? []) }
        }
    }
}
