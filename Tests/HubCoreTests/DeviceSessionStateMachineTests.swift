import Testing

@testable import HubCore

@Suite("DeviceSessionStateMachine")
struct DeviceSessionStateMachineTests {
    private func machine(
        principal: Principal = .unrestricted, rate: Double = 1_000, burst: Double = 1_000, maxErrors: Int = 3
    ) -> DeviceSessionStateMachine {
        DeviceSessionStateMachine(
            principal: principal, messagesPerSecond: rate, burst: burst, maxConsecutiveErrors: maxErrors)
    }

    private func register(_ device: String, id: MessageID? = nil) -> DecodedItem {
        .message(.register(.init(id: id, device: device, kind: "generic", rooms: [], meta: JSONObject())))
    }

    private func telemetry(device: String? = nil, id: MessageID? = nil) -> DecodedItem {
        .message(.telemetry(.init(id: id, device: device, samples: [MetricSample(metric: "t", ts: nil, value: 1)])))
    }

    private func errorCode(_ action: DeviceSessionStateMachine.Action) -> ErrorCode? {
        if case .reply(.error(_, let error)) = action { return error.code }
        return nil
    }

    @Test func telemetryBeforeRegisterIsNotRegistered() {
        var machine = machine()
        let action = machine.receive(telemetry(id: .string("t1")), now: 0)
        #expect(action == .reply(.error(id: .string("t1"), .notRegistered())))
        #expect(machine.device == nil)
        let result = DecodedItem.message(.commandResult(.init(id: .string("c"), ok: true, result: nil, error: nil)))
        #expect(machine.receive(result, now: 0) == .reply(.error(id: .string("c"), .notRegistered())))
    }

    @Test func pingBeforeAndAfterRegister() {
        var machine = machine()
        #expect(
            machine.receive(.message(.ping(id: .number(1))), now: 1_234) == .reply(.pong(id: .number(1), ts: 1_234)))
        #expect(machine.receive(.message(.ping(id: nil)), now: 99) == .reply(.pong(id: nil, ts: 99)))
        _ = machine.receive(register("d"), now: 100)
        #expect(
            machine.receive(.message(.ping(id: .string("p"))), now: 5_000) == .reply(.pong(id: .string("p"), ts: 5_000))
        )
    }

    @Test func registerThenTelemetry() {
        var machine = machine()
        let registerItem = register("thermo-1", id: .string("r"))
        guard case .message(.register(let message)) = registerItem else { return }
        #expect(machine.receive(registerItem, now: 0) == .register(message))
        #expect(machine.device == "thermo-1")
        guard case .message(.telemetry(let body)) = telemetry(id: .number(5)) else { return }
        #expect(machine.receive(telemetry(id: .number(5)), now: 1) == .ingest(device: "thermo-1", body))
        // Naming its own device is fine.
        guard case .message(.telemetry(let named)) = telemetry(device: "thermo-1") else { return }
        #expect(machine.receive(telemetry(device: "thermo-1"), now: 2) == .ingest(device: "thermo-1", named))
        let result = DeviceMessage.CommandResult(id: .string("c"), ok: true, result: nil, error: nil)
        #expect(machine.receive(.message(.commandResult(result)), now: 3) == .commandResult(device: "thermo-1", result))
    }

    @Test func registerAllowedByDevicePattern() {
        let principal = Principal(subject: "fleet", role: .device, devicePattern: GlobPattern("thermo-*"))
        var machine = machine(principal: principal)
        let action = machine.receive(register("thermo-7"), now: 0)
        guard case .register(let message) = action else {
            Issue.record("expected register, got \(action)")
            return
        }
        #expect(message.device == "thermo-7")
        #expect(machine.device == "thermo-7")
    }

    @Test func registerForbiddenByDevicePattern() {
        let principal = Principal(subject: "fleet", role: .device, devicePattern: GlobPattern("thermo-*"))
        var machine = machine(principal: principal)
        let action = machine.receive(register("meter-1", id: .number(9)), now: 0)
        #expect(action == .reply(.error(id: .number(9), .forbidden("this token may not act as device 'meter-1'"))))
        #expect(machine.device == nil)
        // Still unregistered afterwards.
        #expect(errorCode(machine.receive(telemetry(), now: 1)) == .notRegistered)
    }

    @Test func viewerTokenMayNotRegister() {
        var machine = machine(principal: Principal(subject: "v", role: .viewer))
        #expect(errorCode(machine.receive(register("d"), now: 0)) == .forbidden)
        var admin = self.machine(principal: Principal(subject: "a", role: .admin, devicePattern: GlobPattern("d")))
        guard case .register = admin.receive(register("d"), now: 0) else {
            Issue.record("admin token with a matching pattern could not register")
            return
        }
        #expect(admin.device == "d")
    }

    @Test func reRegisterAsAnotherDeviceRefused() {
        var machine = machine()
        _ = machine.receive(register("a"), now: 0)
        let action = machine.receive(register("b", id: .string("x")), now: 1)
        #expect(
            action == .reply(.error(id: .string("x"), .invalidMessage("this session is already registered as 'a'"))))
        #expect(machine.device == "a")
        // Re-registering as the same device is allowed.
        guard case .register = machine.receive(register("a"), now: 2) else {
            Issue.record("re-register as the same device refused")
            return
        }
        #expect(machine.device == "a")
    }

    @Test func telemetryNamingAnotherDeviceForbidden() {
        var machine = machine()
        _ = machine.receive(register("a"), now: 0)
        let action = machine.receive(telemetry(device: "b", id: .number(3)), now: 1)
        #expect(action == .reply(.error(id: .number(3), .forbidden("this session is registered as 'a', not 'b'"))))
    }

    @Test func rateLimitDoesNotCountTowardClosing() {
        var machine = machine(rate: 1, burst: 2, maxErrors: 1)
        #expect(machine.receive(.message(.ping(id: nil)), now: 0) == .reply(.pong(id: nil, ts: 0)))
        #expect(machine.receive(.message(.ping(id: nil)), now: 0) == .reply(.pong(id: nil, ts: 0)))
        for _ in 0..<5 {
            let action = machine.receive(.message(.ping(id: .string("p"))), now: 0)
            #expect(
                action
                    == .reply(.error(id: .string("p"), .rateLimited("over the connection's message rate; slow down"))))
        }
        #expect(!machine.mustClose)
        // A rate-limited failure item keeps its id, and still does not count.
        #expect(errorCode(machine.receive(.failure(id: .number(1), .invalidJSON("x")), now: 0)) == .rateLimited)
        #expect(!machine.mustClose)
        // One second later one token is back.
        #expect(machine.receive(.message(.ping(id: nil)), now: 1_000) == .reply(.pong(id: nil, ts: 1_000)))
        #expect(errorCode(machine.receive(.message(.ping(id: nil)), now: 1_000)) == .rateLimited)
    }

    @Test func mustCloseAfterConsecutiveFailures() {
        var machine = machine(maxErrors: 3)
        #expect(!machine.mustClose)
        let bad = DecodedItem.failure(id: .string("b"), .invalidJSON("nope"))
        #expect(machine.receive(bad, now: 0) == .reply(.error(id: .string("b"), .invalidJSON("nope"))))
        #expect(!machine.mustClose)
        _ = machine.receive(telemetry(), now: 0)  // not_registered counts too
        #expect(!machine.mustClose)
        _ = machine.receive(bad, now: 0)
        #expect(machine.mustClose)
    }

    @Test func succeededResetsTheCount() {
        var machine = machine(maxErrors: 2)
        let bad = DecodedItem.failure(id: nil, .invalidMessage("x"))
        _ = machine.receive(bad, now: 0)
        machine.succeeded()
        _ = machine.receive(bad, now: 0)
        #expect(!machine.mustClose)
        _ = machine.receive(bad, now: 0)
        #expect(machine.mustClose)
        machine.succeeded()
        #expect(!machine.mustClose)
    }

    @Test func registerAndPingResetTheCount() {
        var machine = machine(maxErrors: 2)
        let bad = DecodedItem.failure(id: nil, .invalidMessage("x"))
        _ = machine.receive(bad, now: 0)
        _ = machine.receive(.message(.ping(id: nil)), now: 0)
        _ = machine.receive(bad, now: 0)
        #expect(!machine.mustClose)
        _ = machine.receive(bad, now: 0)
        #expect(machine.mustClose)
        _ = machine.receive(register("d"), now: 0)
        #expect(!machine.mustClose)
    }

    @Test func aRefusedRegistrationLeavesTheSessionUnregistered() {
        var machine = machine(maxErrors: 5)
        _ = machine.receive(register("d"), now: 0)
        machine.registrationFailed()
        #expect(machine.device == nil)
        // Unregistered again: telemetry is refused, and another device may be registered.
        #expect(machine.receive(.message(.ping(id: nil)), now: 0) == .reply(.pong(id: nil, ts: 0)))
        guard case .register = machine.receive(register("e"), now: 0) else {
            Issue.record("registration after a refusal was not allowed")
            return
        }
        #expect(machine.device == "e")
    }

    @Test func failedReportsTheErrorAndCounts() {
        var machine = machine(maxErrors: 1)
        let action = machine.failed(id: .number(4), .tooLarge("big"))
        #expect(action == .reply(.error(id: .number(4), .tooLarge("big"))))
        #expect(machine.mustClose)
    }

    @Test func decodedItemID() {
        #expect(DecodedItem.failure(id: .string("x"), .invalidJSON("")).id == .string("x"))
        #expect(DecodedItem.message(.ping(id: .number(2))).id == .number(2))
        #expect(DecodedItem.failure(id: nil, .invalidJSON("")).id == nil)
    }

    /// A full storage backlog is the hub's doing: refusals for it never close the device's connection.
    @Test func refusalsByTheHubDoNotCountAsBadMessages() {
        var session = self.machine(maxErrors: 2)
        for _ in 0..<5 { _ = session.failed(id: nil, ProtocolError.rateLimited("storage is behind"), byHub: true) }
        #expect(!session.mustClose)
        _ = session.failed(id: nil, ProtocolError.invalidMessage("bad"))
        _ = session.failed(id: nil, ProtocolError.invalidMessage("bad"))
        #expect(session.mustClose)
    }
}

@Suite("Role and Principal")
struct RoleTests {
    @Test func satisfies() {
        #expect(Role.device.satisfies(.device))
        #expect(!Role.device.satisfies(.viewer))
        #expect(!Role.viewer.satisfies(.device))
        #expect(Role.viewer.satisfies(.viewer))
        #expect(!Role.viewer.satisfies(.operator))
        #expect(Role.operator.satisfies(.viewer))
        #expect(!Role.operator.satisfies(.device))
        #expect(Role.admin.satisfies(.device))
        #expect(Role.admin.satisfies(.admin))
        #expect(!Role.operator.satisfies(.admin))
        #expect(Role.allCases.sorted() == [.device, .viewer, .operator, .admin])
    }

    @Test func mayActAs() {
        #expect(Principal(subject: "d", role: .device).mayActAs(device: "anything"))
        #expect(Principal(subject: "d", role: .device, devicePattern: GlobPattern("a-*")).mayActAs(device: "a-1"))
        #expect(!Principal(subject: "d", role: .device, devicePattern: GlobPattern("a-*")).mayActAs(device: "b-1"))
        #expect(!Principal(subject: "d", role: .device, devicePattern: GlobPattern("a-1")).mayActAs(device: "a-10"))
        #expect(!Principal(subject: "o", role: .operator).mayActAs(device: "x"))
        #expect(Principal.unrestricted.mayActAs(device: "x"))
        #expect(Principal.unrestricted.role == .admin)
    }
}
