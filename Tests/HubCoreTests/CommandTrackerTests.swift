import Testing

@testable import HubCore

/// A request to `floor:1` (timeout 1 s unless given).
private func request(
    name: String = "reboot", args: JSONObject = JSONObject(), timeoutMs: Int64 = 1_000, ttlMs: Int64 = 0
) -> CommandRequest {
    CommandRequest(room: "floor:1", name: name, args: args, timeoutMs: timeoutMs, ttlMs: ttlMs)
}

/// A `command_result` for `delivery`.
private func result(
    _ delivery: String, ok: Bool = true, value: JSONValue? = nil, error: String? = nil
) -> DeviceMessage.CommandResult {
    DeviceMessage.CommandResult(id: .string(delivery), ok: ok, result: value, error: error)
}

/// Members given as `name` (online) or `name!` (offline).
private func members(_ names: String...) -> [CommandMember] {
    names.map { name in
        name.hasSuffix("!")
            ? CommandMember(device: String(name.dropLast()), online: false)
            : CommandMember(device: name, online: true)
    }
}

/// The error `start` throws, nil when it starts the command.
private func startError(
    _ tracker: inout CommandTracker, _ request: CommandRequest, members: [CommandMember], now: Int64
) -> ProtocolError? {
    do {
        _ = try tracker.start(request, sender: "alice", source: "api", members: members, now: now)
        return nil
    } catch {
        return error
    }
}

/// The answer a `.recorded` outcome carries (nil for any other outcome, or when it carries none).
private func answerOf(_ outcome: CommandResultOutcome) -> CommandRecord? {
    if case .recorded(let answer) = outcome { return answer }
    return nil
}

private func delivery(_ tracker: CommandTracker, _ command: String, _ index: Int) -> CommandDelivery? {
    tracker.record(command)?.deliveries[index]
}

@Suite("CommandTracker")
struct CommandTrackerTests {
    private func start(
        _ tracker: inout CommandTracker, _ request: CommandRequest, _ members: [CommandMember], now: Int64
    ) throws -> CommandStarted {
        try tracker.start(request, sender: "alice", source: "api", members: members, now: now)
    }

    // MARK: Fan-out

    @Test func fansOutToOnlineMembers() throws {
        var tracker = CommandTracker()
        let args = JSONObject([(key: "value", value: .number(21.5))])
        let started = try start(
            &tracker, request(name: "setpoint", args: args), members("a", "b", "c"), now: 1_000)
        #expect(!started.answered)
        #expect(started.sends.map(\.device) == ["a", "b", "c"])
        #expect(started.sends.map(\.delivery) == ["cmd-1.1", "cmd-1.2", "cmd-1.3"])
        #expect(Set(started.sends.map(\.delivery)).count == 3)
        for send in started.sends {
            #expect(send.name == "setpoint")
            #expect(send.args == args)
            #expect(send.message == .command(id: send.delivery, name: "setpoint", args: .object(args)))
        }
        let record = started.record
        #expect(record.id == "cmd-1")
        #expect(record.number == 1)
        #expect(record.room == "floor:1")
        #expect(record.sender == "alice")
        #expect(record.source == "api")
        #expect(record.createdAt == 1_000)
        #expect(record.deadline == 2_000)
        #expect(record.answeredAt == nil)
        #expect(record.isOpen)
        for (index, delivery) in record.deliveries.enumerated() {
            #expect(delivery.id == "cmd-1.\(index + 1)")
            #expect(delivery.status == .pending)
            #expect(delivery.sentAt == 1_000)
            #expect(delivery.deadline == 2_000)
            #expect(delivery.attempts == 1)
            #expect(delivery.connected)
            #expect(delivery.answeredAt == nil)
            #expect(delivery.latencyMs == nil)
        }
        #expect(tracker.record("cmd-1") == record)
        #expect(tracker.openCount == 1)
        #expect(tracker.pendingCount == 3)
        #expect(tracker.queuedCount == 0)
        #expect(tracker.lastCommandNumber == 1)

        let second = try start(&tracker, request(), members("a"), now: 1_100)
        #expect(second.record.id == "cmd-2")
        #expect(second.sends.map(\.delivery) == ["cmd-2.1"])
        #expect(tracker.openCount == 2)
        #expect(tracker.pendingCount == 4)
        #expect(tracker.lastCommandNumber == 2)
    }

    @Test func emptyRoomIsNotFound() {
        var tracker = CommandTracker()
        let error = startError(&tracker, request(), members: [], now: 1_000)
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("floor:1") == true)
        #expect(tracker.lastCommandNumber == 0)
        #expect(tracker.openCount == 0)
        #expect(tracker.takeDirty().isEmpty)
    }

    @Test func tooManyMembersIsTooLarge() {
        var tracker = CommandTracker(configuration: CommandConfiguration(maxMembers: 2))
        #expect(startError(&tracker, request(), members: members("a", "b", "c"), now: 1_000)?.code == .tooLarge)
        #expect(startError(&tracker, request(), members: members("a", "b"), now: 1_000) == nil)
        #expect(tracker.lastCommandNumber == 1)
    }

    // MARK: Results

    @Test func resultsCompleteTheCommandOnce() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(), members("a", "b", "c"), now: 1_000)
        let first = tracker.receive(result("cmd-1.1", value: .number(1)), from: "a", now: 1_100)
        #expect(first == .recorded(answer: nil))
        let second = tracker.receive(result("cmd-1.2", ok: false, error: "boom"), from: "b", now: 1_250)
        #expect(second == .recorded(answer: nil))
        #expect(tracker.pendingCount == 1)
        let third = tracker.receive(result("cmd-1.3", ok: false), from: "c", now: 1_400)
        let answer = try #require(answerOf(third))
        #expect(answer == tracker.record("cmd-1"))
        #expect(answer.answeredAt == 1_400)
        #expect(!answer.isOpen)
        #expect(!answer.deliveries.contains { $0.status == .pending })

        let a = answer.deliveries[0]
        #expect(a.status == .ok)
        #expect(a.result == .number(1))
        #expect(a.error == nil)
        #expect(a.answeredAt == 1_100)
        #expect(a.latencyMs == 100)
        #expect(a.deadline == nil)
        #expect(!a.late)
        let b = answer.deliveries[1]
        #expect(b.status == .error)
        #expect(b.error == "boom")
        #expect(b.result == nil)
        #expect(b.latencyMs == 250)
        let c = answer.deliveries[2]
        #expect(c.status == .error)
        #expect(c.error == "the device reported a failure")
        #expect(c.latencyMs == 400)
        #expect(answer.counts == [.ok: 1, .error: 2])

        #expect(tracker.openCount == 0)
        #expect(tracker.pendingCount == 0)
        // The deadline passing later answers nothing again.
        #expect(tracker.tick(now: 2_000).isEmpty)
        #expect(tracker.tick(now: 5_000).isEmpty)
        #expect(tracker.record("cmd-1")?.answeredAt == 1_400)
    }

    @Test func singleMemberResultAnswersAtOnce() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(), members("a"), now: 1_000)
        let outcome = tracker.receive(result("cmd-1.1", value: object(("t", .number(20)))), from: "a", now: 1_030)
        let answer = try #require(answerOf(outcome))
        #expect(answer.deliveries[0].latencyMs == 30)
        #expect(answer.deliveries[0].result == object(("t", .number(20))))
    }

    @Test func silentConnectedDeviceTimesOutAtTimeoutMs() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 1_000), members("a", "b"), now: 1_000)
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 1_200) == .recorded(answer: nil))
        #expect(tracker.tick(now: 1_500).isEmpty)
        #expect(tracker.tick(now: 1_999).isEmpty)
        #expect(tracker.record("cmd-1")?.answeredAt == nil)
        let answers = tracker.tick(now: 2_000)
        #expect(answers.count == 1)
        let answer = try #require(answers.first)
        #expect(answer.id == "cmd-1")
        #expect(answer.answeredAt == 2_000)
        #expect(answer.deliveries[0].status == .ok)
        #expect(answer.deliveries[1].status == .timeout)
        #expect(answer.deliveries[1].deadline == nil)
        #expect(answer.deliveries[1].answeredAt == nil)
        #expect(answer.deliveries[1].latencyMs == nil)
        #expect(answer.counts == [.ok: 1, .timeout: 1])
        #expect(!answer.isOpen)
        #expect(tracker.openCount == 0)
        #expect(tracker.tick(now: 2_050).isEmpty)
        // A reconnect after the timeout hands nothing over again.
        tracker.deviceOffline("b", now: 2_100)
        #expect(tracker.deviceOnline("b", now: 2_200).isEmpty)
    }

    @Test func lateResultAfterTimeoutIsRecordedButNotAnsweredAgain() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(), members("a", "b"), now: 1_000)
        #expect(tracker.tick(now: 2_000).count == 1)
        #expect(tracker.receive(result("cmd-1.1", value: .bool(true)), from: "a", now: 2_500) == .late)
        #expect(tracker.receive(result("cmd-1.2", ok: false, error: "too late"), from: "b", now: 2_600) == .late)
        let record = try #require(tracker.record("cmd-1"))
        #expect(record.answeredAt == 2_000)
        #expect(record.deliveries[0].status == .ok)
        #expect(record.deliveries[0].late)
        #expect(record.deliveries[0].result == .bool(true))
        #expect(record.deliveries[0].latencyMs == 1_500)
        #expect(record.deliveries[1].status == .error)
        #expect(record.deliveries[1].late)
        #expect(record.deliveries[1].error == "too late")
        #expect(!record.isOpen)
        // A second copy of a late result is a duplicate.
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 2_700) == .duplicate)
        #expect(tracker.record("cmd-1") == record)
        #expect(tracker.tick(now: 3_000).isEmpty)
        #expect(tracker.openCount == 0)
    }

    @Test func duplicateResultLeavesTheRecordUnchanged() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(), members("a", "b"), now: 1_000)
        #expect(tracker.receive(result("cmd-1.1", value: .number(1)), from: "a", now: 1_100) == .recorded(answer: nil))
        _ = tracker.takeDirty()
        let before = tracker.record("cmd-1")
        #expect(tracker.receive(result("cmd-1.1", value: .number(2)), from: "a", now: 1_200) == .duplicate)
        #expect(tracker.receive(result("cmd-1.1", ok: false, error: "x"), from: "a", now: 1_300) == .duplicate)
        #expect(tracker.record("cmd-1") == before)
        #expect(tracker.takeDirty().isEmpty)
        // After the command is answered too.
        #expect(answerOf(tracker.receive(result("cmd-1.2"), from: "b", now: 1_400)) != nil)
        let answered = tracker.record("cmd-1")
        #expect(tracker.receive(result("cmd-1.2"), from: "b", now: 1_500) == .duplicate)
        #expect(tracker.record("cmd-1") == answered)
    }

    @Test func resultsFromTheWrongDeviceOrWithUnknownIdsAreUnknown() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(), members("a", "b"), now: 1_000)
        _ = tracker.takeDirty()
        let before = tracker.record("cmd-1")
        let unknown: [(DeviceMessage.CommandResult, String)] = [
            (result("cmd-1.1"), "b"),  // a's delivery
            (result("cmd-1.2"), "a"),
            (result("cmd-1.1"), "stranger"),
            (DeviceMessage.CommandResult(id: .number(1), ok: true, result: nil, error: nil), "a"),
            (result("cmd-1"), "a"),
            (result("cmd-1."), "a"),
            (result("cmd-1.0"), "a"),
            (result("cmd-1.3"), "a"),
            (result("cmd-1.-1"), "a"),
            (result("cmd-1.+1"), "a"),
            (result("cmd-1.01"), "a"),
            (result("cmd-2.1"), "a"),
            (result("cmd-x.1"), "a"),
            (result("job-1.1"), "a"),
            (result(""), "a"),
            (result("nonsense"), "a"),
            (result("cmd-1.99999999999999999999999"), "a"),
        ]
        for (message, device) in unknown {
            #expect(tracker.receive(message, from: device, now: 1_100) == .unknown, "\(message.id) from \(device)")
        }
        #expect(tracker.record("cmd-1") == before)
        #expect(tracker.takeDirty().isEmpty)
        #expect(tracker.pendingCount == 2)
    }

    // MARK: Offline members

    @Test func offlineMembersWithoutTTLAreOfflineAtOnce() throws {
        var tracker = CommandTracker()
        let started = try start(&tracker, request(), members("a!", "b!"), now: 1_000)
        #expect(started.answered)
        #expect(started.sends.isEmpty)
        #expect(started.record.answeredAt == 1_000)
        #expect(!started.record.isOpen)
        for delivery in started.record.deliveries {
            #expect(delivery.status == .offline)
            #expect(delivery.error == "the device is offline")
            #expect(delivery.attempts == 0)
            #expect(delivery.sentAt == nil)
            #expect(!delivery.connected)
        }
        #expect(tracker.openCount == 0)
        #expect(tracker.record("cmd-1") == started.record)
        #expect(tracker.deviceOnline("a", now: 1_100).isEmpty)
        #expect(tracker.tick(now: 5_000).isEmpty)
    }

    @Test func offlineMemberBesideAnOnlineOne() throws {
        var tracker = CommandTracker()
        let started = try start(&tracker, request(), members("a", "b!"), now: 1_000)
        #expect(!started.answered)
        #expect(started.sends.map(\.device) == ["a"])
        #expect(started.record.deliveries[1].status == .offline)
        #expect(started.record.deliveries[1].id == "cmd-1.2")
        // Coming online later gets it nothing.
        #expect(tracker.deviceOnline("b", now: 1_100).isEmpty)
        let answer = try #require(answerOf(tracker.receive(result("cmd-1.1"), from: "a", now: 1_200)))
        #expect(answer.counts == [.ok: 1, .offline: 1])
    }

    @Test func offlineMemberWithTTLIsQueuedAndDeliveredOnReconnect() throws {
        var tracker = CommandTracker()
        let started = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 10_000), members("a", "b!"), now: 1_000)
        #expect(!started.answered)
        #expect(started.sends.map(\.device) == ["a"])
        let queued = started.record.deliveries[1]
        #expect(queued.status == .queued)
        #expect(queued.error == nil)
        #expect(queued.deadline == nil)
        #expect(queued.attempts == 0)
        #expect(tracker.queuedCount == 1)
        #expect(tracker.pendingCount == 1)

        // a answers: the answer goes out with b still queued, the command stays open for b.
        let answer = try #require(answerOf(tracker.receive(result("cmd-1.1"), from: "a", now: 1_100)))
        #expect(answer.answeredAt == 1_100)
        #expect(answer.deliveries[1].status == .queued)
        #expect(answer.isOpen)
        #expect(tracker.openCount == 1)
        #expect(tracker.tick(now: 2_000).isEmpty)
        #expect(tracker.record("cmd-1")?.deliveries[1].status == .queued)

        // b comes back within the TTL.
        let sends = tracker.deviceOnline("b", now: 5_000)
        #expect(sends == [CommandSend(device: "b", delivery: "cmd-1.2", name: "reboot", args: JSONObject())])
        let pending = try #require(delivery(tracker, "cmd-1", 1))
        #expect(pending.status == .pending)
        #expect(pending.attempts == 1)
        #expect(pending.sentAt == 5_000)
        #expect(pending.deadline == 6_000)  // the full timeout, the answer having gone out
        #expect(pending.connected)
        #expect(tracker.queuedCount == 0)
        #expect(tracker.pendingCount == 1)
        #expect(tracker.deviceOnline("b", now: 5_001).count == 1)  // a second link gets it again
        #expect(delivery(tracker, "cmd-1", 1)?.attempts == 2)

        #expect(
            tracker.receive(result("cmd-1.2", value: .string("done")), from: "b", now: 5_300) == .recorded(answer: nil))
        let done = try #require(delivery(tracker, "cmd-1", 1))
        #expect(done.status == .ok)
        #expect(!done.late)
        #expect(done.latencyMs == 299)
        #expect(tracker.record("cmd-1")?.answeredAt == 1_100)
        #expect(tracker.record("cmd-1")?.isOpen == false)
        #expect(tracker.openCount == 0)
    }

    @Test func queuedMemberComingBackBeforeTheAnswerIsDueWithTheOthers() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 10_000), members("a", "b!"), now: 1_000)
        let sends = tracker.deviceOnline("b", now: 1_200)
        #expect(sends.map(\.delivery) == ["cmd-1.2"])
        #expect(delivery(tracker, "cmd-1", 1)?.deadline == 2_000)
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 1_300) == .recorded(answer: nil))
        let answer = try #require(answerOf(tracker.receive(result("cmd-1.2"), from: "b", now: 1_400)))
        #expect(answer.counts == [.ok: 2])
        #expect(answer.deliveries[1].latencyMs == 200)
        #expect(tracker.openCount == 0)
    }

    @Test func everyMemberQueuedIsAnsweredAtOnceButStaysOpen() throws {
        var tracker = CommandTracker()
        let started = try start(&tracker, request(ttlMs: 5_000), members("a!", "b!"), now: 1_000)
        #expect(started.answered)
        #expect(started.record.answeredAt == 1_000)
        #expect(started.record.isOpen)
        #expect(tracker.openCount == 1)
        #expect(tracker.queuedCount == 2)
        let sends = tracker.deviceOnline("a", now: 2_000)
        #expect(sends.map(\.delivery) == ["cmd-1.1"])
        #expect(delivery(tracker, "cmd-1", 0)?.deadline == 3_000)
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 2_100) == .recorded(answer: nil))
        #expect(tracker.openCount == 1)
    }

    @Test func queuedDeliveryExpiresAfterTheTTL() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 5_000), members("a!"), now: 1_000)
        #expect(tracker.queuedCount == 1)
        #expect(tracker.tick(now: 5_999).isEmpty)
        #expect(delivery(tracker, "cmd-1", 0)?.status == .queued)
        // At the TTL the device is too late even before the tick.
        #expect(tracker.deviceOnline("a", now: 6_000).isEmpty)
        #expect(tracker.tick(now: 6_000).isEmpty)  // answered when it started
        let expired = try #require(delivery(tracker, "cmd-1", 0))
        #expect(expired.status == .expired)
        #expect(expired.error == "ttl_ms passed before the device came back")
        #expect(tracker.queuedCount == 0)
        #expect(tracker.openCount == 0)
        #expect(tracker.record("cmd-1")?.isOpen == false)
        #expect(tracker.deviceOnline("a", now: 6_100).isEmpty)
    }

    @Test func queuedBesideAPendingMemberExpiresWithoutAnsweringEarly() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 2_000, ttlMs: 500), members("a", "b!"), now: 1_000)
        #expect(tracker.tick(now: 1_500).isEmpty)  // b expired, a still pending
        #expect(delivery(tracker, "cmd-1", 1)?.status == .expired)
        #expect(tracker.record("cmd-1")?.answeredAt == nil)
        let answer = try #require(answerOf(tracker.receive(result("cmd-1.1"), from: "a", now: 1_600)))
        #expect(answer.counts == [.ok: 1, .expired: 1])
    }

    // MARK: Reconnects

    @Test func deviceReconnectingMidCommandGetsTheSameDeliveryAgain() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(name: "blink"), members("a"), now: 1_000)
        tracker.deviceOffline("a", now: 1_200)
        let dropped = try #require(delivery(tracker, "cmd-1", 0))
        #expect(dropped.status == .pending)
        #expect(!dropped.connected)
        #expect(tracker.tick(now: 1_300).isEmpty)

        let sends = tracker.deviceOnline("a", now: 1_400)
        #expect(sends == [CommandSend(device: "a", delivery: "cmd-1.1", name: "blink", args: JSONObject())])
        let resent = try #require(delivery(tracker, "cmd-1", 0))
        #expect(resent.status == .pending)
        #expect(resent.attempts == 2)
        #expect(resent.sentAt == 1_400)
        #expect(resent.connected)
        #expect(resent.deadline == 2_000)

        let answer = try #require(answerOf(tracker.receive(result("cmd-1.1"), from: "a", now: 1_450)))
        #expect(answer.deliveries[0].attempts == 2)
        #expect(answer.deliveries[0].latencyMs == 50)
        // Its first link's copy of the answer is a duplicate.
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 1_460) == .duplicate)
        #expect(tracker.openCount == 0)
    }

    @Test func deviceThatDropsAndDoesNotReturnIsQueuedWithTTL() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 10_000), members("a", "b"), now: 1_000)
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 1_050) == .recorded(answer: nil))
        tracker.deviceOffline("b", now: 1_100)
        let answers = tracker.tick(now: 2_000)
        let answer = try #require(answers.first)
        #expect(answers.count == 1)
        #expect(answer.deliveries[1].status == .queued)
        #expect(answer.deliveries[1].deadline == nil)
        #expect(answer.isOpen)
        #expect(tracker.queuedCount == 1)
        #expect(tracker.openCount == 1)

        let sends = tracker.deviceOnline("b", now: 3_000)
        #expect(sends.map(\.delivery) == ["cmd-1.2"])
        let resent = try #require(delivery(tracker, "cmd-1", 1))
        #expect(resent.attempts == 2)
        #expect(resent.deadline == 4_000)
        #expect(tracker.queuedCount == 0)
        // Connected and silent this time: timeout.
        #expect(tracker.tick(now: 3_999).isEmpty)
        #expect(tracker.tick(now: 4_000).isEmpty)
        #expect(delivery(tracker, "cmd-1", 1)?.status == .timeout)
        #expect(tracker.openCount == 0)
        #expect(tracker.receive(result("cmd-1.2"), from: "b", now: 4_100) == .late)
    }

    @Test func deviceThatDropsAndDoesNotReturnIsOfflineWithoutTTL() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 1_000), members("a"), now: 1_000)
        tracker.deviceOffline("a", now: 1_100)
        let answer = try #require(tracker.tick(now: 2_000).first)
        #expect(answer.deliveries[0].status == .offline)
        #expect(answer.deliveries[0].error == "the device went offline before answering")
        #expect(!answer.isOpen)
        #expect(tracker.openCount == 0)
        #expect(tracker.deviceOnline("a", now: 2_100).isEmpty)
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 2_200) == .late)
        let late = try #require(delivery(tracker, "cmd-1", 0))
        #expect(late.status == .ok)
        #expect(late.late)
        #expect(late.error == nil)
    }

    @Test func droppedDeviceWhoseTTLIsOverAtTheDeadlineIsOffline() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 2_000, ttlMs: 1_000), members("a"), now: 1_000)
        tracker.deviceOffline("a", now: 1_100)
        let answer = try #require(tracker.tick(now: 3_000).first)
        #expect(answer.deliveries[0].status == .offline)
        #expect(tracker.queuedCount == 0)
    }

    // MARK: Limits

    @Test func maxQueuedPerDevice() throws {
        var tracker = CommandTracker(configuration: CommandConfiguration(maxQueuedPerDevice: 2))
        for number in 1...3 {
            _ = try start(&tracker, request(ttlMs: 10_000), members("a!", "b!"), now: Int64(1_000 + number))
        }
        #expect(tracker.queuedCount == 4)  // two each; the third command found both queues full
        let third = try #require(tracker.record("cmd-3"))
        #expect(third.deliveries.map(\.status) == [.offline, .offline])
        #expect(third.deliveries[0].error == "the device is offline and already has 2 queued commands")
        #expect(!third.isOpen)
        #expect(tracker.openCount == 2)

        // Delivering one frees a place.
        #expect(tracker.deviceOnline("a", now: 2_000).map(\.delivery) == ["cmd-1.1", "cmd-2.1"])
        tracker.deviceOffline("a", now: 2_001)
        #expect(tracker.queuedCount == 2)
        _ = try start(&tracker, request(ttlMs: 10_000), members("a!"), now: 2_002)
        #expect(tracker.record("cmd-4")?.deliveries[0].status == .queued)
    }

    @Test func fullQueueAtTheDeadlineMeansOffline() throws {
        var tracker = CommandTracker(configuration: CommandConfiguration(maxQueuedPerDevice: 1))
        _ = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 10_000), members("a"), now: 1_000)
        tracker.deviceOffline("a", now: 1_100)
        _ = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 10_000), members("a!"), now: 1_200)
        #expect(tracker.queuedCount == 1)
        let answer = try #require(tracker.tick(now: 2_000).first)
        #expect(answer.id == "cmd-1")
        #expect(answer.deliveries[0].status == .offline)
        #expect(tracker.queuedCount == 1)
    }

    @Test func noQueueWhenMaxQueuedIsZero() throws {
        var tracker = CommandTracker(configuration: CommandConfiguration(maxQueuedPerDevice: 0))
        let started = try start(&tracker, request(ttlMs: 10_000), members("a!"), now: 1_000)
        #expect(started.record.deliveries[0].status == .offline)
        #expect(tracker.queuedCount == 0)
        #expect(tracker.openCount == 0)
    }

    @Test func maxOpenCommandsIsRateLimited() throws {
        var tracker = CommandTracker(configuration: CommandConfiguration(maxOpenCommands: 2))
        _ = try start(&tracker, request(), members("a"), now: 1_000)
        _ = try start(&tracker, request(), members("b"), now: 1_000)
        let error = startError(&tracker, request(), members: members("c"), now: 1_001)
        #expect(error?.code == .rateLimited)
        #expect(error?.message.contains("2 commands are open") == true)
        #expect(tracker.lastCommandNumber == 2)
        // Even one that would close at once is refused while the limit is reached.
        #expect(startError(&tracker, request(), members: members("c!"), now: 1_001)?.code == .rateLimited)
        #expect(answerOf(tracker.receive(result("cmd-1.1"), from: "a", now: 1_100)) != nil)
        #expect(tracker.openCount == 1)
        // Commands born closed do not count.
        for _ in 0..<5 { #expect(startError(&tracker, request(), members: members("z!"), now: 1_200) == nil) }
        #expect(tracker.openCount == 1)
        #expect(startError(&tracker, request(), members: members("c"), now: 1_300) == nil)
        #expect(tracker.record("cmd-8")?.isOpen == true)
        #expect(tracker.openCount == 2)
        #expect(startError(&tracker, request(), members: members("z!"), now: 1_400)?.code == .rateLimited)
    }

    // MARK: Restart and shutdown

    @Test func restoreAfterARestart() throws {
        var before = CommandTracker()
        // cmd-1: pending with a TTL, unanswered.
        _ = try start(&before, request(timeoutMs: 1_000, ttlMs: 60_000), members("a"), now: 1_000)
        // cmd-2: pending without a TTL, unanswered.
        _ = try start(&before, request(timeoutMs: 1_000), members("b"), now: 1_000)
        // cmd-3: queued with a short TTL that runs out during the restart.
        _ = try start(&before, request(timeoutMs: 1_000, ttlMs: 300), members("c", "d!"), now: 1_000)
        // cmd-4: answered, still queued for e.
        _ = try start(&before, request(timeoutMs: 1_000, ttlMs: 60_000), members("e!"), now: 1_000)
        let stored = before.takeDirty()
        #expect(stored.map(\.id) == ["cmd-1", "cmd-2", "cmd-3", "cmd-4"])

        var startup = CommandStartup()
        startup.open = stored
        startup.lastCommandNumber = 7
        var tracker = CommandTracker()
        tracker.restore(startup, now: 1_500)
        #expect(tracker.lastCommandNumber == 7)

        let first = try #require(tracker.record("cmd-1"))
        #expect(first.answeredAt == 1_500)
        #expect(first.deliveries[0].status == .queued)
        #expect(first.deliveries[0].deadline == nil)
        #expect(!first.deliveries[0].connected)
        #expect(first.isOpen)

        let second = try #require(tracker.record("cmd-2"))
        #expect(second.answeredAt == 1_500)
        #expect(second.deliveries[0].status == .offline)
        #expect(second.deliveries[0].error == "the hub restarted before the device answered")
        #expect(!second.isOpen)

        let third = try #require(tracker.record("cmd-3"))
        #expect(third.deliveries[0].status == .offline)  // c's TTL ran out too
        #expect(third.deliveries[1].status == .expired)
        #expect(!third.isOpen)

        let fourth = try #require(tracker.record("cmd-4"))
        #expect(fourth.answeredAt == 1_000)  // answered before the restart
        #expect(fourth.deliveries[0].status == .queued)

        #expect(tracker.openCount == 2)
        #expect(tracker.queuedCount == 2)
        #expect(tracker.pendingCount == 0)
        #expect(tracker.takeDirty().map(\.id) == ["cmd-1", "cmd-2", "cmd-3", "cmd-4"])
        #expect(tracker.tick(now: 1_600).isEmpty)  // nothing is answered again

        // a comes back: it gets cmd-1 with the full timeout.
        let sends = tracker.deviceOnline("a", now: 2_000)
        #expect(sends.map(\.delivery) == ["cmd-1.1"])
        let resent = try #require(delivery(tracker, "cmd-1", 0))
        #expect(resent.status == .pending)
        #expect(resent.attempts == 2)
        #expect(resent.deadline == 3_000)
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 2_100) == .recorded(answer: nil))
        #expect(delivery(tracker, "cmd-1", 0)?.status == .ok)
        #expect(tracker.deviceOnline("b", now: 2_000).isEmpty)
        #expect(tracker.deviceOnline("e", now: 2_000).map(\.delivery) == ["cmd-4.1"])

        // Numbers continue after the stored highest.
        let next = try start(&tracker, request(), members("a"), now: 2_200)
        #expect(next.record.id == "cmd-8")
        #expect(next.sends.map(\.delivery) == ["cmd-8.1"])
    }

    @Test func restoreKeepsTheHighestNumberOfTheRecords() throws {
        var before = CommandTracker()
        for _ in 0..<3 { _ = try start(&before, request(ttlMs: 60_000), members("a!"), now: 1_000) }
        var startup = CommandStartup()
        startup.open = before.takeDirty()
        startup.lastCommandNumber = 1
        var tracker = CommandTracker()
        tracker.restore(startup, now: 1_100)
        #expect(tracker.lastCommandNumber == 3)
        #expect(tracker.queuedCount == 3)
        #expect(try start(&tracker, request(), members("a"), now: 1_200).record.id == "cmd-4")
        // Queued ones in order, and the pending one again.
        #expect(
            tracker.deviceOnline("a", now: 1_300).map(\.delivery) == ["cmd-1.1", "cmd-2.1", "cmd-3.1", "cmd-4.1"])
    }

    @Test func restoreOfAnEmptyStartup() throws {
        var tracker = CommandTracker()
        tracker.restore(CommandStartup(), now: 1_000)
        #expect(tracker.openCount == 0)
        #expect(tracker.lastCommandNumber == 0)
        #expect(tracker.takeDirty().isEmpty)
        #expect(try start(&tracker, request(), members("a"), now: 1_000).record.id == "cmd-1")
    }

    @Test func shutdownAnswersEverythingStillWaiting() throws {
        var tracker = CommandTracker()
        _ = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 60_000), members("a", "b!"), now: 1_000)
        _ = try start(&tracker, request(timeoutMs: 1_000), members("c"), now: 1_000)
        _ = try start(&tracker, request(timeoutMs: 1_000, ttlMs: 60_000), members("d!"), now: 1_000)  // answered
        _ = tracker.takeDirty()
        let answers = tracker.shutdown(now: 1_200)
        #expect(answers.map(\.id).sorted() == ["cmd-1", "cmd-2"])
        #expect(answers.allSatisfy { $0.answeredAt == 1_200 })
        #expect(answers.allSatisfy { !$0.deliveries.contains { $0.status == .pending } })

        let first = try #require(tracker.record("cmd-1"))
        #expect(first.deliveries.map(\.status) == [.queued, .queued])
        #expect(first.deliveries[0].deadline == nil)
        #expect(!first.deliveries[0].connected)
        let second = try #require(tracker.record("cmd-2"))
        #expect(second.deliveries[0].status == .offline)
        #expect(second.deliveries[0].error == "the hub shut down before the device answered")
        #expect(!second.isOpen)
        #expect(tracker.record("cmd-3")?.answeredAt == 1_000)

        #expect(tracker.pendingCount == 0)
        #expect(tracker.queuedCount == 3)
        #expect(tracker.openCount == 2)
        #expect(Set(tracker.takeDirty().map(\.id)) == ["cmd-1", "cmd-2", "cmd-3"])
        #expect(tracker.shutdown(now: 1_300).isEmpty)

        // What it leaves is what a restart resumes.
        var startup = CommandStartup()
        startup.open = [first, second, try #require(tracker.record("cmd-3"))]
        startup.lastCommandNumber = tracker.lastCommandNumber
        var restarted = CommandTracker()
        restarted.restore(startup, now: 2_000)
        #expect(restarted.queuedCount == 3)
        #expect(restarted.openCount == 2)
    }

    // MARK: Archive and memory

    @Test func takeDirtyReturnsChangedRecordsOnce() throws {
        var tracker = CommandTracker()
        #expect(tracker.takeDirty().isEmpty)
        _ = try start(&tracker, request(), members("a", "b"), now: 1_000)
        _ = try start(&tracker, request(), members("c"), now: 1_000)
        let first = tracker.takeDirty()
        #expect(first.map(\.id) == ["cmd-1", "cmd-2"])
        #expect(first[0] == tracker.record("cmd-1"))
        #expect(tracker.takeDirty().isEmpty)

        _ = tracker.receive(result("cmd-2.1"), from: "c", now: 1_100)
        let second = tracker.takeDirty()
        #expect(second.map(\.id) == ["cmd-2"])
        #expect(second[0].deliveries[0].status == .ok)
        #expect(tracker.takeDirty().isEmpty)

        // Nothing changes: nothing dirty.
        _ = tracker.receive(result("cmd-2.1"), from: "c", now: 1_150)
        _ = tracker.receive(result("cmd-9.1"), from: "c", now: 1_150)
        #expect(tracker.tick(now: 1_200).isEmpty)
        #expect(tracker.deviceOnline("nobody", now: 1_200).isEmpty)
        tracker.deviceOffline("nobody", now: 1_200)
        #expect(tracker.takeDirty().isEmpty)

        tracker.deviceOffline("a", now: 1_300)
        #expect(tracker.takeDirty().map(\.id) == ["cmd-1"])
        _ = tracker.deviceOnline("a", now: 1_400)
        #expect(tracker.takeDirty().map(\.id) == ["cmd-1"])
        #expect(tracker.tick(now: 2_000).count == 1)
        let timedOut = tracker.takeDirty()
        #expect(timedOut.map(\.id) == ["cmd-1"])
        #expect(timedOut[0].deliveries.map(\.status) == [.timeout, .timeout])
        #expect(tracker.takeDirty().isEmpty)
    }

    @Test func closedCommandsAreForgottenAfterTheLateResultWindow() throws {
        var tracker = CommandTracker(configuration: CommandConfiguration(lateResultWindowMs: 10_000))
        _ = try start(&tracker, request(timeoutMs: 1_000), members("a"), now: 1_000)
        _ = try start(&tracker, request(timeoutMs: 1_000), members("b"), now: 1_000)
        _ = try start(&tracker, request(timeoutMs: 5_000), members("c"), now: 1_000)
        #expect(tracker.tick(now: 2_000).count == 2)  // cmd-1 and cmd-2 close at 2 000
        #expect(tracker.tick(now: 6_000).map(\.id) == ["cmd-3"])  // cmd-3 at 6 000
        _ = tracker.takeDirty()

        // Within the window a late result is still taken.
        #expect(tracker.receive(result("cmd-2.1"), from: "b", now: 11_000) == .late)
        _ = tracker.takeDirty()
        _ = tracker.tick(now: 11_999)
        #expect(tracker.record("cmd-1") != nil)

        #expect(tracker.tick(now: 12_000).isEmpty)
        #expect(tracker.record("cmd-1") == nil)
        #expect(tracker.record("cmd-2") == nil)
        #expect(tracker.receive(result("cmd-1.1"), from: "a", now: 12_100) == .unknown)
        #expect(tracker.receive(result("cmd-2.1"), from: "b", now: 12_100) == .unknown)
        // cmd-3 is kept until 16 000.
        #expect(tracker.record("cmd-3")?.deliveries[0].status == .timeout)
        _ = tracker.takeDirty()
        _ = tracker.tick(now: 15_999)
        #expect(tracker.record("cmd-3") != nil)
        _ = tracker.tick(now: 16_000)
        #expect(tracker.record("cmd-3") == nil)
        #expect(tracker.receive(result("cmd-3.1"), from: "c", now: 16_100) == .unknown)
        #expect(tracker.lastCommandNumber == 3)
    }

    @Test func unwrittenChangesKeepAClosedCommand() throws {
        var tracker = CommandTracker(configuration: CommandConfiguration(lateResultWindowMs: 1_000))
        _ = try start(&tracker, request(), members("a!"), now: 1_000)  // closed at once
        _ = tracker.tick(now: 5_000)
        #expect(tracker.record("cmd-1") != nil)  // not written yet
        #expect(tracker.takeDirty().map(\.id) == ["cmd-1"])
        _ = tracker.tick(now: 5_001)
        #expect(tracker.record("cmd-1") == nil)
    }

    @Test func manyClosedCommandsAreForgotten() throws {
        var tracker = CommandTracker(configuration: CommandConfiguration(lateResultWindowMs: 100))
        for step in 0..<3_000 {
            let now = Int64(1_000 + step)
            _ = try start(&tracker, request(), members("a!"), now: now)
            _ = tracker.takeDirty()
            _ = tracker.tick(now: now)
        }
        #expect(tracker.record("cmd-1") == nil)
        #expect(tracker.record("cmd-2900") == nil)
        #expect(tracker.record("cmd-2950") != nil)
        #expect(tracker.record("cmd-3000") != nil)
        #expect(tracker.openCount == 0)
        _ = tracker.tick(now: 10_000)
        #expect(tracker.record("cmd-3000") == nil)
    }

    // MARK: Randomized consistency

    @Test(arguments: [1, 2, 3, 42, 2_024] as [UInt64])
    func randomOperationsKeepTheBookkeepingConsistent(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let configuration = CommandConfiguration(
            maxOpenCommands: 8, maxQueuedPerDevice: 2, lateResultWindowMs: 3_000)
        var tracker = CommandTracker(configuration: configuration)
        let devices = (0..<8).map { "d\($0)" }
        var online: [String: Bool] = [:]
        for device in devices { online[device] = random.next() % 2 == 0 }
        /// Delivery ids each device has been handed.
        var handed: [String: [String]] = [:]
        var recent: [CommandSend] = []
        var answers: [String: Int] = [:]
        var answeredAt: [String: Int64] = [:]
        var live: [String] = []  // commands the tracker may still hold
        var now: Int64 = 1_000
        var outcomes: [String: Int] = [:]
        var seen: Set<DeliveryStatus> = []

        func noteAnswer(_ record: CommandRecord) {
            answers[record.id, default: 0] += 1
            #expect(answers[record.id] == 1, "\(record.id) answered twice (seed \(seed))")
            #expect(record.answeredAt == now)
            #expect(!record.deliveries.contains { $0.status == .pending }, "answer with a pending delivery")
            answeredAt[record.id] = record.answeredAt
        }
        func noteSends(_ sends: [CommandSend], to device: String? = nil) {
            for send in sends {
                if let device { #expect(send.device == device) }
                #expect(online[send.device] == true)
                guard let (command, index) = CommandRecord.parseDeliveryID(send.delivery) else {
                    Issue.record("send with a malformed delivery id \(send.delivery)")
                    continue
                }
                let delivery = tracker.record(command)?.deliveries[index]
                #expect(delivery?.status == .pending)
                #expect(delivery?.device == send.device)
                #expect(delivery?.connected == true)
                #expect(delivery?.sentAt == now)
                handed[send.device, default: []].append(send.delivery)
                recent.append(send)
            }
        }

        for step in 0..<3_000 {
            now += Int64(random.next() % 20)
            switch random.next() % 100 {
            case 0..<22:
                let count = 1 + Int(random.next() % 4)
                let chosen = Array(devices.shuffled(using: &random).prefix(count)).sorted()
                let ttl: Int64 = random.next() % 2 == 0 ? 0 : Int64(200 + random.next() % 3_000)
                let timeout = Int64(100 + random.next() % 1_500)
                let request = CommandRequest(room: "r", name: "n", timeoutMs: timeout, ttlMs: ttl)
                let wasOpen = tracker.openCount
                do {
                    let started = try tracker.start(
                        request, sender: "s", source: "api",
                        members: chosen.map { CommandMember(device: $0, online: online[$0]!) }, now: now)
                    live.append(started.record.id)
                    #expect(started.record == tracker.record(started.record.id))
                    #expect(started.sends.count == chosen.filter { online[$0]! }.count)
                    #expect(started.answered == started.sends.isEmpty)
                    if started.answered { noteAnswer(started.record) }
                    noteSends(started.sends)
                    outcomes["started", default: 0] += 1
                } catch {
                    #expect(error.code == .rateLimited)
                    #expect(wasOpen == configuration.maxOpenCommands)
                    outcomes["refused", default: 0] += 1
                }
            case 22..<55:
                var device = devices[Int(random.next() % UInt64(devices.count))]
                let id: String
                let pick = random.next() % 10
                if pick < 6, !recent.isEmpty {
                    // Mostly a delivery handed over lately, from its device.
                    let send = recent[recent.count - 1 - Int(random.next() % UInt64(min(recent.count, 12)))]
                    (device, id) = (send.device, send.delivery)
                } else if pick < 8, let list = handed[device], !list.isEmpty {
                    id = list[Int(random.next() % UInt64(list.count))]
                } else if let other = live.last, random.next() % 2 == 0 {
                    id = "\(other).\(1 + random.next() % 4)"  // maybe another device's
                } else {
                    id = "cmd-\(random.next() % 200).x"
                }
                let expected: CommandResultOutcome
                let parsed = CommandRecord.parseDeliveryID(id)
                var before: CommandDelivery?
                if let parsed, let record = tracker.record(parsed.command),
                    record.deliveries.indices.contains(parsed.index)
                {
                    before = record.deliveries[parsed.index]
                }
                switch before?.status {
                case nil: expected = .unknown
                case _ where before!.device != device || before!.id != id: expected = .unknown
                case .ok?, .error?: expected = .duplicate
                case .pending?, .queued?: expected = .recorded(answer: nil)
                case .timeout?, .offline?, .expired?: expected = .late
                }
                let ok = random.next() % 3 != 0
                let outcome = tracker.receive(
                    DeviceMessage.CommandResult(id: .string(id), ok: ok, result: nil, error: nil), from: device,
                    now: now)
                switch (outcome, expected) {
                case (.recorded(let answer), .recorded):
                    if let answer { noteAnswer(answer) }
                    outcomes["recorded", default: 0] += 1
                default:
                    #expect(outcome == expected, "result \(id) from \(device) (seed \(seed), step \(step))")
                    outcomes["\(outcome)", default: 0] += 1
                }
                if expected != .unknown, expected != .duplicate {
                    let after = try #require(delivery(tracker, parsed!.command, parsed!.index))
                    #expect(after.status == (ok ? .ok : .error))
                    #expect(after.late == (expected == .late))
                    #expect(after.answeredAt == now)
                }
            case 55..<67:
                let device = devices[Int(random.next() % UInt64(devices.count))]
                guard online[device] == false else { continue }
                online[device] = true
                noteSends(tracker.deviceOnline(device, now: now), to: device)
            case 67..<79:
                let device = devices[Int(random.next() % UInt64(devices.count))]
                guard online[device] == true else { continue }
                online[device] = false
                tracker.deviceOffline(device, now: now)
            default:
                now += Int64(random.next() % 200)
                for answer in tracker.tick(now: now) { noteAnswer(answer) }
                for id in live {
                    if let record = tracker.record(id), record.answeredAt == nil {
                        #expect(record.deadline > now, "\(id) unanswered past its deadline")
                    }
                }
            }
            if random.next() % 4 == 0 {
                for record in tracker.takeDirty() { #expect(live.contains(record.id)) }
            }

            // Invariants.
            var open = 0
            var pending = 0
            var queued = 0
            var queuedPerDevice: [String: Int] = [:]
            live.removeAll { tracker.record($0) == nil }
            for id in live {
                let record = tracker.record(id)!
                if record.isOpen { open += 1 }
                #expect(record.counts.values.reduce(0, +) == record.deliveries.count)
                if let at = record.answeredAt {
                    #expect(answers[id] == 1, "\(id) has answeredAt but was never answered (seed \(seed))")
                    #expect(answeredAt[id] == at)
                } else {
                    #expect(answers[id] == nil)
                    #expect(record.isOpen)
                }
                for (index, delivery) in record.deliveries.enumerated() {
                    seen.insert(delivery.status)
                    #expect(delivery.id == CommandRecord.deliveryID(command: id, index: index))
                    switch delivery.status {
                    case .pending:
                        pending += 1
                        #expect(delivery.deadline != nil)
                        #expect(delivery.connected == online[delivery.device])
                        #expect(delivery.attempts >= 1)
                    case .queued:
                        queued += 1
                        queuedPerDevice[delivery.device, default: 0] += 1
                        #expect(delivery.deadline == nil)
                        #expect(online[delivery.device] == false || now >= record.expiresAt)
                    case .ok, .error:
                        #expect(delivery.deadline == nil)
                        #expect(delivery.answeredAt != nil)
                    case .timeout, .offline, .expired:
                        #expect(delivery.deadline == nil)
                        #expect(!delivery.late)
                        #expect(delivery.answeredAt == nil)
                    }
                    if delivery.late { #expect(delivery.status == .ok || delivery.status == .error) }
                }
            }
            try #require(tracker.openCount == open, "openCount (seed \(seed), step \(step))")
            try #require(tracker.pendingCount == pending, "pendingCount (seed \(seed), step \(step))")
            try #require(tracker.queuedCount == queued, "queuedCount (seed \(seed), step \(step))")
            #expect(queuedPerDevice.values.allSatisfy { $0 <= configuration.maxQueuedPerDevice })
            #expect(open <= configuration.maxOpenCommands)
        }
        // Let everything run out: every command ends answered and closed, then forgotten.
        for device in devices where online[device]! {
            online[device] = false
            tracker.deviceOffline(device, now: now)
        }
        for _ in 0..<4 {
            now += 10_000
            for answer in tracker.tick(now: now) { noteAnswer(answer) }
            _ = tracker.takeDirty()
        }
        #expect(tracker.openCount == 0)
        #expect(tracker.queuedCount == 0)
        #expect(tracker.pendingCount == 0)
        for id in live { #expect(tracker.record(id) == nil) }
        #expect(answers.values.allSatisfy { $0 == 1 })
        // The run exercised every kind of outcome and every status.
        #expect(seen == Set(DeliveryStatus.allCases), "statuses seen (seed \(seed)): \(seen)")
        for kind in ["started", "refused", "recorded", "late", "duplicate", "unknown"] {
            #expect(outcomes[kind, default: 0] > 0, "no \(kind) outcome (seed \(seed)): \(outcomes)")
        }
    }
}
