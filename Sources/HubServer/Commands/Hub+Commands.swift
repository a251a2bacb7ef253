import HubCore
import Logging
import NIOPosix

extension Hub {
    /// Loads open commands and room membership decisions from the command archive at start-up.
    func restoreCommands() throws {
        let startup = try commandArchive.startup()
        let now = self.now
        state.withLock { $0.rooms.restore(startup.memberships) }
        commands.withLock { $0.tracker.restore(startup, now: now) }
        let (open, queued) = commands.withLock { ($0.tracker.openCount, $0.tracker.queuedCount) }
        metrics.commandsOpen.record(open)
        metrics.commandsQueued.record(queued)
        if !startup.open.isEmpty {
            logger.info(
                "commands restored", metadata: ["open": "\(open)", "queued": "\(queued)"])
        }
    }

    // MARK: Sending

    /// Sends `request` to every member of its room and waits for the answer (every device answered, or
    /// `timeout_ms` passed). The command is written to the archive as soon as it is handed over, and with every
    /// outcome before this returns (when the archive refuses, the write is retried on every tick).
    ///
    /// - Throws: ``ProtocolError`` `rate_limited` (the sender's rate, or too many open commands), `not_found` (no
    ///   member), `too_large`.
    func sendCommand(_ request: CommandRequest, by principal: Principal, source: String) async throws(ProtocolError)
        -> CommandRecord
    {
        let now = self.now
        let pattern = GlobPattern(request.room)
        let members = state.withLock { $0.rooms.members(of: pattern, in: $0.registry) }
        let connected = links.connected(members.map(\.device))
        let roster = members.map {
            CommandMember(device: $0.device, online: $0.record?.state == .online && connected.contains($0.device))
        }
        let started = try commands.withLock { desk throws(ProtocolError) in
            guard desk.limiter.allow(principal.subject, now: now) else {
                throw .rateLimited(
                    "\(principal.subject) is over the command rate (\(configuration.commands.perUserPerSecond)/s, "
                        + "bursts of \(Int(configuration.commands.perUserBurst))); retry shortly")
            }
            return try desk.tracker.start(request, sender: principal.subject, source: source, members: roster, now: now)
        }
        metrics.commands.increment()
        logger.info(
            "command sent",
            metadata: [
                "command": "\(started.record.id)", "room": "\(request.room)", "name": "\(request.name)",
                "sender": "\(principal.subject)", "devices": "\(roster.count)", "online": "\(started.sends.count)",
            ])
        deliver(started.sends)
        // Written while the devices work on it (the audit holds it from here on), and again with every outcome
        // before the answer, so what the answer reports (queued deliveries included) survives a restart. A failed
        // write is logged, counted and retried on every tick.
        try? await writeCommands()
        var answer = started.record
        if !started.answered {
            let id = started.record.id
            answer = await withCheckedContinuation { continuation in
                let early = commands.withLock { desk -> CommandRecord? in
                    if let early = desk.early.removeValue(forKey: id) { return early }
                    desk.waiters[id] = continuation
                    return nil
                }
                if let early { continuation.resume(returning: early) }
            }
        }
        metrics.commandAnswered(answer)
        try? await writeCommands()
        return answer
    }

    /// Hands commands to the devices' links.
    func deliver(_ sends: [CommandSend]) {
        guard !sends.isEmpty else { return }
        for send in sends {
            // A device without a link (it just dropped) keeps its delivery pending until it returns or times out.
            if links[send.device]?.send(send) == true { metrics.commandSends.increment() }
        }
    }

    // MARK: Devices

    /// A device's link came up: remembers it and hands over what waits for the device.
    func deviceLinked(_ device: String, link: any DeviceLink, key: UInt64) {
        links.set(device, link, key: key)
        let now = self.now
        let sends = commands.withLock { $0.tracker.deviceOnline(device, now: now) }
        deliver(sends)
    }

    /// A device's link went down (when `key` still set it): its pending deliveries wait for it.
    func deviceUnlinked(_ device: String, key: UInt64) {
        guard links.remove(device, key: key) else { return }
        let now = self.now
        commands.withLock { $0.tracker.deviceOffline(device, now: now) }
    }

    /// Records a device's `command_result`.
    ///
    /// - Throws: ``ProtocolError`` `not_found` when it answers no delivery of this device the hub knows.
    public func commandResult(_ result: DeviceMessage.CommandResult, from device: String) throws(ProtocolError) {
        let now = self.now
        let (outcome, waiter) = commands.withLock { desk in
            let outcome = desk.tracker.receive(result, from: device, now: now)
            if case .recorded(let answer?) = outcome { return (outcome, desk.answered(answer)) }
            return (outcome, nil)
        }
        switch outcome {
        case .recorded(let answer):
            if let answer, let waiter { waiter.resume(returning: answer) }
        case .late:
            metrics.commandResultsLate.increment()
        case .duplicate:
            metrics.commandResultsDuplicate.increment()
        case .unknown:
            throw .notFound("no pending command with id '\(result.id)' for device '\(device)'")
        }
    }

    // MARK: Clock and storage

    /// Applies deadlines and TTLs; answers the senders whose time is up.
    func commandTick() {
        let now = self.now
        let (resumes, open, queued) = commands.withLock { desk in
            let answers = desk.tracker.tick(now: now)
            let resumes = answers.compactMap { answer in desk.answered(answer).map { ($0, answer) } }
            return (resumes, desk.tracker.openCount, desk.tracker.queuedCount)
        }
        for (waiter, answer) in resumes { waiter.resume(returning: answer) }
        metrics.commandsOpen.record(open)
        metrics.commandsQueued.record(queued)
    }

    /// The hub is stopping: answers every waiting sender now (pending deliveries become queued or offline).
    func shutdownCommands() {
        let now = self.now
        let resumes = commands.withLock { desk in
            desk.tracker.shutdown(now: now).compactMap { answer in desk.answered(answer).map { ($0, answer) } }
        }
        for (waiter, answer) in resumes { waiter.resume(returning: answer) }
    }

    /// Writes the commands changed since the last write (blocking; call it off the event loops).
    func flushCommandWrites() throws {
        try commandWriter.withLock { unwritten in
            // What a failed write left, with newer versions of the same commands laid over it.
            for record in commands.withLock({ $0.tracker.takeDirty() }) { unwritten[record.id] = record }
            guard !unwritten.isEmpty else { return }
            try commandArchive.save(unwritten.values.sorted { $0.number < $1.number })
            unwritten.removeAll()
        }
    }

    /// Writes the changed commands on the thread pool.
    ///
    /// - Throws: ``ProtocolError`` `internal` when the archive refuses them.
    func writeCommands() async throws(ProtocolError) {
        do {
            try await NIOThreadPool.singleton.runIfActive { [self] in try flushCommandWrites() }
        } catch {
            metrics.commandWriteErrors.increment()
            logger.error("commands not written", metadata: ["error": "\(error)"])
            throw ProtocolError(code: .internal, message: "the command store could not be written: \(error)")
        }
    }

    // MARK: Rooms

    /// Every room with its counts (without the `device:{id}` rooms unless `all`).
    func roomSummaries(all: Bool) -> [RoomSummary] {
        state.withLock { $0.rooms.summaries(in: $0.registry, implicit: true) }.filter { all || $0.origin != "device" }
    }

    /// The members of the rooms `pattern` matches, with their records (nil for devices never seen).
    func roomMembers(_ pattern: String) -> [(device: String, record: DeviceRecord?, online: Bool)] {
        let members = state.withLock { $0.rooms.members(of: GlobPattern(pattern), in: $0.registry) }
        let connected = links.connected(members.map(\.device))
        return members.map { ($0.device, $0.record, $0.record?.state == .online && connected.contains($0.device)) }
    }

    /// Adds (`member` true) or removes `device` from `room`, and stores the decision before it takes effect.
    /// Returns false when nothing changed (already a member).
    ///
    /// - Throws: ``ProtocolError`` from ``RoomDirectory`` (`invalid_message`, `conflict`, `not_found`), or
    ///   `internal` when the archive cannot be written (nothing changes then).
    func changeMembership(room: String, device: String, member: Bool, by subject: String) async throws(ProtocolError)
        -> Bool
    {
        let change = try state.withLock { state throws(ProtocolError) -> RoomMembership? in
            var rooms = state.rooms
            let record = state.registry[device]
            if member { return try rooms.add(device, to: room, record: record) }
            return try rooms.remove(device, from: room, record: record)
        }
        guard let change else { return false }
        do {
            let archive = commandArchive
            try await NIOThreadPool.singleton.runIfActive { try archive.save([change]) }
        } catch {
            logger.error("room membership not written", metadata: ["error": "\(error)"])
            throw ProtocolError(code: .internal, message: "the room change could not be stored: \(error)")
        }
        state.withLock { $0.rooms.restore([change]) }
        logger.info(
            "room membership changed",
            metadata: ["room": "\(room)", "device": "\(device)", "member": "\(member)", "by": "\(subject)"])
        return true
    }

    /// A command by id: the tracker's copy while it holds it, else the archive's.
    func command(_ id: String) throws -> CommandRecord? {
        if let record = commands.withLock({ $0.tracker.record(id) }) { return record }
        return try commandArchive.command(id)
    }

    /// Commands matching `query`, newest first, from the archive after writing what changed (blocking; call it off
    /// the event loops).
    func commandHistory(_ query: CommandQuery) throws -> [CommandRecord] {
        try flushCommandWrites()
        return try commandArchive.commands(query)
    }
}
