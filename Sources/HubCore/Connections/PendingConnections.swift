/// Counts the connections that have not yet become an authenticated WebSocket session (plain HTTP requests and
/// upgrades still being decided), in all and per remote address, and decides whether one more may open.
///
/// Without a cap a client could hold every file descriptor with half-sent requests, and then `/healthz` timed out
/// for everyone.
///
/// Invariants: `total` is the sum of `perAddress`; no address has an entry of 0; `admit` never lets `total` pass
/// `maxTotal` nor an address pass `maxPerAddress`.
public struct PendingConnections: Sendable, Equatable {
    /// Most pending connections in all.
    public let maxTotal: Int
    /// Most pending connections from one address.
    public let maxPerAddress: Int
    /// Pending connections now.
    public private(set) var total = 0
    /// Pending connections per address.
    public private(set) var perAddress: [String: Int] = [:]

    /// Creates an empty count with its caps.
    public init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Why a connection was refused.
    public enum Refusal: String, Sendable, Equatable {
        /// `maxTotal` pending connections are open.
        case total
        /// `maxPerAddress` pending connections from the address are open.
        case address
    }

    /// Counts one more connection from `address`, or says why it may not open (then nothing is counted).
    public mutating func admit(_ address: String) -> Refusal? {
        guard total < maxTotal else { return .total }
        let count = perAddress[address, default: 0]
        guard count < maxPerAddress else { return .address }
        perAddress[address] = count + 1
        total += 1
        return nil
    }

    /// Stops counting a connection `admit` counted (it closed, or became an authenticated session).
    public mutating func release(_ address: String) {
        guard let count = perAddress[address] else { return }
        perAddress[address] = count > 1 ? count - 1 : nil
        total -= 1
    }
}

/// Finds the end of an HTTP request head (`CRLF CRLF`) in bytes that arrive in pieces, without keeping them, and
/// notes whether the head mentions `websocket` (an upgrade request), case-insensitively.
public struct RequestHeadScanner: Sendable, Equatable {
    /// How many bytes of `\r\n\r\n` the bytes so far end with.
    private var matched = 0
    /// How many bytes of `websocket` the bytes so far end with.
    private var matchedWord = 0
    /// Whether the end of the head was seen.
    public private(set) var complete = false
    /// Whether the head contains `websocket` (as the `Upgrade` header of an upgrade request does).
    public private(set) var mentionsWebSocket = false

    private static let word = Array("websocket".utf8)

    /// Creates a scanner at the start of a request.
    public init() {}

    /// Scans the next bytes; once the head is complete, returns the offset in `bytes` just past its end (the bytes
    /// after it are not looked at). Nil while the head goes on.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !complete else { return 0 }
        for (index, byte) in bytes.enumerated() {
            let lower = byte | (byte >= 0x41 && byte <= 0x5A ? 0x20 : 0)
            if lower == Self.word[matchedWord] {
                matchedWord += 1
                if matchedWord == Self.word.count {
                    mentionsWebSocket = true
                    matchedWord = 0
                }
            } else {
                matchedWord = lower == Self.word[0] ? 1 : 0
            }
            let expected: UInt8 = matched % 2 == 0 ? 0x0D : 0x0A
            if byte == expected {
                matched += 1
                if matched == 4 {
                    complete = true
                    return index + 1
                }
            } else {
                matched = byte == 0x0D ? 1 : 0
            }
        }
        return nil
    }

    /// ``scan(_:)`` for an array: whether the head is complete.
    public mutating func scan(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { scan($0) } != nil
    }

    /// Marks the head complete without having seen its end (the server answered, so it has read one).
    public mutating func markComplete() {
        complete = true
    }
}
