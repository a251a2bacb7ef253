import HubCore
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// `/ws/device`: carries out a ``DeviceSessionStateMachine`` over one WebSocket connection.
struct DeviceEndpoint: Sendable {
    let hub: Hub

    /// Close code for a session replaced by a newer one of the same device.
    static let closeReplaced: UInt16 = 4009
    /// Close code after repeated bad messages.
    static let closeProtocolError: UInt16 = 4000
    /// Close code when the session's token expired.
    static let closePolicy: UInt16 = 1008
    /// Close code when the hub shuts down.
    static let closeGoingAway: UInt16 = 1001

    func run(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
        context: WebSocketRouterContext<HubRequestContext>
    ) async throws {
        let configuration = hub.configuration
        let principal = context.requestContext.principal ?? .unrestricted
        let channel = context.requestContext.channel
        let session = DeviceSession(
            id: hub.sessions.makeID(), outbound: outbound, channel: channel, now: hub.now,
            tokenExpiresAt: principal.expiresAt, quota: principal.quotaOwner)
        hub.metrics.connections.record(hub.sessions.add(session))
        hub.metrics.connectionsTotal.increment()
        let tracker = ActivityTracker(session: session)
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(tracker, position: .first)
        }.get()
        var logger = context.logger
        logger[metadataKey: "session.id"] = "\(session.id)"
        defer {
            hub.metrics.connections.record(hub.sessions.remove(session.id))
            if let device = session.device {
                hub.deviceUnlinked(device, key: session.id)
                // On shutdown SessionDrainService has already marked the device offline with `shutdown`.
                hub.sessionEnded(device: device, session: session.id, reason: .closed)
            }
        }
        let decoder = DeviceMessageDecoder(limits: configuration.decoderLimits)
        var machine = DeviceSessionStateMachine(
            principal: principal, messagesPerSecond: configuration.limits.messagesPerSecond,
            burst: configuration.limits.messageBurst, maxConsecutiveErrors: configuration.limits.maxConsecutiveErrors)

        try await handleFrames(inbound: inbound, session: session, decoder: decoder, machine: &machine, logger: logger)
    }

    private func handleFrames(
        inbound: WebSocketInboundStream, session: DeviceSession, decoder: DeviceMessageDecoder,
        machine: inout DeviceSessionStateMachine, logger: Logger
    ) async throws {
        frames: for try await message in inbound.messages(maxSize: hub.configuration.limits.maxFrameBytes) {
            // A session the hub is closing (replaced, expired, shutting down) is no longer listened to.
            if session.isClosing { break }
            hub.metrics.messagesIn.increment()
            let items: [DecodedItem]
            switch message {
            case .text(let text):
                items = decoder.decode(frame: text.utf8)
            case .binary:
                items = [.failure(id: nil, .invalidMessage("binary frames are not supported; send JSON text"))]
            }
            for item in items where !session.isClosing {
                let action = machine.receive(item, now: hub.now)
                try await perform(action, machine: &machine, session: session, logger: logger)
                if machine.mustClose {
                    logger.info("closing after repeated bad messages")
                    await session.close(code: Self.closeProtocolError, reason: "too many bad messages")
                    break frames
                }
            }
        }
    }

    private func perform(
        _ action: DeviceSessionStateMachine.Action, machine: inout DeviceSessionStateMachine, session: DeviceSession,
        logger: Logger
    ) async throws {
        switch action {
        case .reply(let message):
            try await send(message, on: session)
        case .register(let register):
            let outcome: RegistrationOutcome
            do {
                outcome = try hub.register(register, session: session.id, transport: "ws", quota: session.quota)
            } catch {
                machine.registrationFailed()
                try await perform(
                    machine.failed(id: register.id, error), machine: &machine, session: session, logger: logger)
                return
            }
            session.device = register.device
            if let replaced = outcome.replacedSession, let old = hub.sessions[replaced] {
                // In the background: an old session that stopped reading must not delay the new one's answer.
                Task { await old.close(code: Self.closeReplaced, reason: "replaced by a newer session") }
            }
            try await send(
                .registered(id: register.id, device: register.device, heartbeatMs: hub.configuration.heartbeatMs),
                on: session)
            // After the ack: commands pending or queued for the device follow it.
            hub.deviceLinked(
                register.device, link: WebSocketDeviceLink(session: session, metrics: hub.metrics), key: session.id)
        case .ingest(let device, let telemetry):
            let ingested: Ingested
            do {
                ingested = try hub.ingest(
                    device: device, samples: telemetry.samples, transport: "ws", quota: session.quota)
            } catch {
                // `rate_limited` from ingest means the storage backlog is full: the hub's doing, not the device's.
                let action = machine.failed(id: telemetry.id, error, byHub: error.code == .rateLimited)
                try await perform(action, machine: &machine, session: session, logger: logger)
                return
            }
            machine.succeeded()
            if let id = telemetry.id { acknowledgeWhenDurable(id: id, ingested, on: session) }
        case .commandResult(let device, let result):
            do {
                try hub.commandResult(result, from: device)
                machine.succeeded()
            } catch {
                try await perform(
                    machine.failed(id: result.id, error), machine: &machine, session: session, logger: logger)
            }
        }
    }

    /// Sends the ack once the write-behind has committed the samples, without holding up the session's next
    /// frames (acks of different messages may therefore arrive in any order; `id` tells them apart).
    private func acknowledgeWhenDurable(id: MessageID, _ ingested: Ingested, on session: DeviceSession) {
        Task {
            let reply: ServerMessage
            do {
                try await hub.waitDurable(ingested.ticket)
                reply = .accepted(id: id, accepted: ingested.accepted)
            } catch {
                reply = .error(
                    id: id, ProtocolError(code: .internal, message: "the samples could not be persisted: \(error)"))
            }
            try? await send(reply, on: session)
        }
    }

    private func send(_ message: ServerMessage, on session: DeviceSession) async throws {
        if case .error(_, let error) = message { hub.metrics.error(error.code) }
        hub.metrics.messagesOut.increment()
        try await session.write(message.encoded, now: Hub.systemMilliseconds())
    }
}
