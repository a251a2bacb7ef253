/// The decisions of one device session, free of sockets: registration state, the message rate limit and the count
/// of consecutive bad messages that ends the connection with 4000.
///
/// The adapter decodes a frame, hands each item to ``receive(_:now:)``, carries out the returned action, and
/// reports the outcome of work done elsewhere (``succeeded()`` / ``failed(id:_:)``).
public struct DeviceSessionStateMachine: Sendable {
    /// What the adapter must do with a message.
    public enum Action: Equatable, Sendable {
        /// Send this message back.
        case reply(ServerMessage)
        /// Register the device (then reply with ``ServerMessage/registered(id:device:heartbeatMs:)``).
        case register(DeviceMessage.Register)
        /// Store telemetry for the session's device (then ack when it carries an id).
        case ingest(device: String, DeviceMessage.Telemetry)
        /// Hand a command result to whoever sent the command.
        case commandResult(device: String, DeviceMessage.CommandResult)
    }

    /// Who the connection's token speaks for.
    public let principal: Principal
    /// The device this session registered as.
    public private(set) var device: String?
    private var bucket: TokenBucket
    private var consecutiveErrors = 0
    private let maxConsecutiveErrors: Int

    /// Creates the state of a new session.
    public init(principal: Principal, messagesPerSecond: Double, burst: Double, maxConsecutiveErrors: Int) {
        self.principal = principal
        self.bucket = TokenBucket(ratePerSecond: messagesPerSecond, burst: burst)
        self.maxConsecutiveErrors = maxConsecutiveErrors
    }

    /// True once too many bad messages came in a row: close with 4000.
    public var mustClose: Bool { consecutiveErrors >= maxConsecutiveErrors }

    /// Decides what to do with one decoded item.
    public mutating func receive(_ item: DecodedItem, now: Int64) -> Action {
        guard bucket.take(now: now) else {
            return .reply(.error(id: item.id, .rateLimited("over the connection's message rate; slow down")))
        }
        let message: DeviceMessage
        switch item {
        case .failure(let id, let error):
            return failed(id: id, error)
        case .message(let decoded):
            message = decoded
        }
        switch message {
        case .ping(let id):
            consecutiveErrors = 0
            return .reply(.pong(id: id, ts: now))
        case .register(let register):
            guard principal.mayActAs(device: register.device) else {
                return failed(id: register.id, .forbidden("this token may not act as device '\(register.device)'"))
            }
            if let device, device != register.device {
                return failed(
                    id: register.id, .invalidMessage("this session is already registered as '\(device)'"))
            }
            device = register.device
            consecutiveErrors = 0
            return .register(register)
        case .telemetry(let telemetry):
            guard let device else { return failed(id: telemetry.id, .notRegistered()) }
            if let named = telemetry.device, named != device {
                return failed(id: telemetry.id, .forbidden("this session is registered as '\(device)', not '\(named)'"))
            }
            return .ingest(device: device, telemetry)
        case .commandResult(let result):
            guard let device else { return failed(id: result.id, .notRegistered()) }
            return .commandResult(device: device, result)
        }
    }

    /// Notes that the hub refused a registration this machine had accepted (only a device it does not know yet can
    /// be refused, so the session cannot have been registered as it): the session is unregistered again.
    public mutating func registrationFailed() {
        device = nil
    }

    /// Notes that the work for a message succeeded.
    public mutating func succeeded() {
        consecutiveErrors = 0
    }

    /// Notes a failed message and returns the error reply to send. A refusal that is the hub's doing, not the
    /// client's (`byHub`: its storage is behind), is answered but not counted towards closing the connection.
    public mutating func failed(id: MessageID?, _ error: ProtocolError, byHub: Bool = false) -> Action {
        if !byHub { consecutiveErrors += 1 }
        return .reply(.error(id: id, error))
    }
}

extension DecodedItem {
    /// The id of the message, when it had one.
    public var id: MessageID? {
        switch self {
        case .message(let message): message.id
        case .failure(let id, _): id
        }
    }
}
