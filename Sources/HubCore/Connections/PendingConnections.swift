/// Counts the connections that have not yet become an authenticated WebSocket session (plain HTTP requests and
/// upgrades still being decided), in all and per remote address, and decides whether one more may open.
///
/// Without a cap a client could hold every file descriptor with half-sent requests, and then `/healthz` timed out
/// for everyone.
///
/// Connections from `127.0.0.1` and `::1` (local clients, or a reverse proxy on the same machine, through which
/// every remote client arrives) have no per-address cap; the total cap still counts them.
///
/// Invariants: `total` is the sum of `perAddress`; no address has an entry of 0; `admit` never lets `total` pass
/// `maxTotal` nor an address other than a local one pass `maxPerAddress`.
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
        guard count < maxPerAddress || Self.local.contains(address) else { return .address }
        perAddress[address] = count + 1
        total += 1
        return nil
    }

    /// The key an IPv6 address is counted under: its /64 network (one host usually holds a whole /64, so counting
    /// single addresses would cap nothing), or the IPv4 address of an IPv4-mapped one (`::ffff:a.b.c.d`).
    public static func key(ipv6 bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return "invalid" }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12..<16].map(String.init).joined(separator: ".")
        }
        if bytes[0..<15].allSatisfy({ $0 == 0 }), bytes[15] == 1 { return "::1" }
        let groups = stride(from: 0, to: 8, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }
        return groups.joined(separator: ":") + "::/64"
    }

    /// The addresses without a per-address cap.
    public static let local: Set<String> = ["127.0.0.1", "::1"]

    /// Stops counting a connection `admit` counted (it closed, or became an authenticated session).
    public mutating func release(_ address: String) {
        guard let count = perAddress[address] else { return }
        perAddress[address] = count > 1 ? count - 1 : nil
        total -= 1
    }
}

/// Finds the end of an HTTP request head in bytes that arrive in pieces, as an HTTP parser does: empty lines before
/// the request line are skipped, lines end with LF (a CR before it is ignored), and the head ends at the first empty
/// line. Notes whether the head has an `Upgrade` header naming `websocket`. Keeps at most one line's first bytes.
public struct RequestHeadScanner: Sendable, Equatable {
    /// Whether the request line has begun (leading empty lines are skipped).
    private var started = false
    /// Bytes of the current line, CRs left out.
    private var lineLength = 0
    /// The current line's first bytes, lowercased (enough to read a header's name and a short value).
    private var line: [UInt8] = []
    /// Whether the end of the head was seen.
    public private(set) var complete = false
    /// Whether the head has `Upgrade: websocket` (any case, among other protocols or not).
    public private(set) var isWebSocketUpgrade = false

    private static let upgradeName = Array("upgrade:".utf8)
    private static let webSocket = Array("websocket".utf8)
    private static let keptBytes = 256

    /// Creates a scanner at the start of a request.
    public init() {}

    /// Scans the next bytes; once the head is complete, returns the offset in `bytes` just past its end (the bytes
    /// after it are not looked at). Nil while the head goes on.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !complete else { return 0 }
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case 0x0D:
                continue
            case 0x0A:
                guard started else { continue }
                if lineLength == 0 {
                    complete = true
                    return index + 1
                }
                if line.starts(with: Self.upgradeName), Self.contains(line, Self.webSocket) {
                    isWebSocketUpgrade = true
                }
                lineLength = 0
                line.removeAll(keepingCapacity: true)
            default:
                started = true
                lineLength += 1
                if line.count < Self.keptBytes { line.append(byte | (byte >= 0x41 && byte <= 0x5A ? 0x20 : 0)) }
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

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
