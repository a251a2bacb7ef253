import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A deliberately primitive WebSocket client over a POSIX socket, for what a well-behaved client library will not
/// do: stay silent to pings, send oversized frames, or look at the HTTP status of a refused upgrade.
final class RawSocket: @unchecked Sendable {  // a file descriptor; the kernel serialises access
    private let fd: Int32

    /// Connects to 127.0.0.1:`port`, from `source` when given (another loopback address, e.g. 127.0.0.2);
    /// `receiveBuffer` shrinks the kernel receive buffer (to stall sooner).
    init(port: Int, receiveBuffer: Int? = nil, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw TestFailure("bind \(source) failed") }
        }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw TestFailure("connect failed") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    /// Ends the connection now (the descriptor is released with the object).
    func close() { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Reads up to `count` bytes (fewer when the peer sends less or closes); empty on timeout or close.
    func readBlocking(max count: Int = 65_536) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
        return received > 0 ? Array(buffer[..<received]) : []
    }

    /// Sends the upgrade request and returns the HTTP status and the response head.
    func handshakeBlocking(path: String, token: String?) -> (status: Int, head: String) {
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        write(Array(request.utf8))
        var head = [UInt8]()
        while !String(decoding: head, as: UTF8.self).contains("\r\n\r\n") {
            let chunk = readBlocking(max: 1)
            if chunk.isEmpty { break }
            head += chunk
        }
        let text = String(decoding: head, as: UTF8.self)
        let status = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, text)
    }

    /// A masked client frame.
    static func frame(opcode: UInt8, payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes.append(0x80 | 126)
            bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return bytes
    }

    /// Blocking calls run on a thread of their own, never on the Swift concurrency or Dispatch pools that the hub
    /// under test needs (on Linux both draw from the same few worker threads).
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }

    func read(max count: Int = 65_536) async -> [UInt8] {
        await Self.offPool { self.readBlocking(max: count) }
    }

    /// Reads until the bytes received contain `text` (pings may come first); false on timeout or close.
    func read(until text: String) async -> Bool {
        await Self.offPool {
            var received = [UInt8]()
            while true {
                let chunk = self.readBlocking()
                if chunk.isEmpty { return false }
                received += chunk
                if String(decoding: received, as: UTF8.self).contains(text) { return true }
            }
        }
    }

    func handshake(path: String, token: String?) async -> (status: Int, head: String) {
        await Self.offPool { self.handshakeBlocking(path: path, token: token) }
    }

    func readCloseCode() async -> UInt16? {
        await Self.offPool { self.readCloseCodeBlocking() }
    }

    func sendText(_ text: String) {
        write(Self.frame(opcode: 0x1, payload: Array(text.utf8)))
    }

    /// Reads frames until a text frame satisfies `wanted` (returned), or the connection ends, or `seconds` pass
    /// (nil).
    func readTextFramesBlocking(seconds: Double = 10, until wanted: (String) -> Bool) -> String? {
        var buffer = [UInt8]()
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            let chunk = readBlocking()
            if chunk.isEmpty { return nil }
            buffer += chunk
            while let (opcode, payload, size) = Self.parseFrame(buffer) {
                buffer.removeFirst(size)
                if opcode == 0x8 { return nil }
                if opcode == 0x1 {
                    let text = String(decoding: payload, as: UTF8.self)
                    if wanted(text) { return text }
                }
            }
        }
        return nil
    }

    /// The first complete (unmasked, unfragmented) server frame in `buffer`: opcode, payload and total size.
    static func parseFrame(_ buffer: [UInt8]) -> (UInt8, ArraySlice<UInt8>, Int)? {
        guard buffer.count >= 2 else { return nil }
        var length = Int(buffer[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard buffer.count >= 4 else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            guard buffer.count >= 10 else { return nil }
            length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard buffer.count >= offset + length else { return nil }
        return (buffer[0] & 0x0F, buffer[offset..<(offset + length)], offset + length)
    }

    /// Reads frames until a close frame arrives; returns its code (nil when the connection ends without one, or
    /// none came within `seconds`).
    func readCloseCodeBlocking(seconds: Double = 20) -> UInt16? {
        var buffer = [UInt8]()
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            let chunk = readBlocking()
            if chunk.isEmpty { return nil }
            buffer += chunk
            while buffer.count >= 2 {
                let opcode = buffer[0] & 0x0F
                var length = Int(buffer[1] & 0x7F)
                var offset = 2
                if length == 126 {
                    guard buffer.count >= 4 else { break }
                    length = Int(buffer[2]) << 8 | Int(buffer[3])
                    offset = 4
                } else if length == 127 {
                    guard buffer.count >= 10 else { break }
                    length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
                    offset = 10
                }
                guard buffer.count >= offset + length else { break }
                if opcode == 0x8 {
                    return length >= 2 ? UInt16(buffer[offset]) << 8 | UInt16(buffer[offset + 1]) : 1005
                }
                buffer.removeFirst(offset + length)
            }
        }
        return nil
    }
}
