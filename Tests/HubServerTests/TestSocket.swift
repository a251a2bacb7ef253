import Foundation
import HTTPTypes
import HubCore
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket

/// A real WebSocket client (swift-websocket's WSClient) for tests: send text, await text with a timeout, and see
/// the close code the server sent.
final class TestSocket: Sendable {
    private let inbox = Inbox()
    private let outboundBox = OutboundBox()
    private let task: Task<WebSocketCloseFrame?, any Error>

    private actor OutboundBox {
        var writer: WebSocketOutboundWriter?
        var waiters: [CheckedContinuation<WebSocketOutboundWriter?, Never>] = []
        var failed = false

        func set(_ writer: WebSocketOutboundWriter) {
            self.writer = writer
            waiters.forEach { $0.resume(returning: writer) }
            waiters = []
        }

        func fail() {
            failed = true
            waiters.forEach { $0.resume(returning: nil) }
            waiters = []
        }

        func get() async -> WebSocketOutboundWriter? {
            if let writer { return writer }
            if failed { return nil }
            return await withCheckedContinuation { waiters.append($0) }
        }
    }

    /// Connects to `url` with an optional bearer token; throws when the upgrade is refused.
    static func connect(_ url: String, token: String?) async throws -> TestSocket {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        let socket = TestSocket(url: url, headers: headers)
        guard await socket.outboundBox.get() != nil else {
            _ = try await socket.task.value
            throw TestFailure("connection to \(url) failed")
        }
        return socket
    }

    private init(url: String, headers: HTTPFields) {
        let inbox = self.inbox
        let box = self.outboundBox
        var logger = Logger(label: "test-socket")
        logger.logLevel = .critical
        task = Task {
            defer {
                Task {
                    await inbox.finish(); await box.fail()
                }
            }
            return try await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: 1 << 22, additionalHeaders: headers), logger: logger
            ) { inbound, outbound, _ in
                await box.set(outbound)
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    if case .text(let text) = message { await inbox.push(text) }
                }
            }
        }
    }

    func send(_ text: String) async throws {
        guard let writer = await outboundBox.get() else { throw TestFailure("socket closed") }
        try await writer.write(.text(text))
    }

    /// The next text message, or nil after `timeout` or when the connection ended.
    func receive(timeout: Duration = .seconds(5)) async -> String? {
        await inbox.next(timeout: timeout)
    }

    /// The next message parsed as JSON.
    func receiveJSON(timeout: Duration = .seconds(5)) async throws -> JSONValue {
        guard let text = await receive(timeout: timeout) else { throw TestFailure("no message within \(timeout)") }
        return try JSONParser.parse(text)
    }

    /// Sends `text` and returns the next message as JSON.
    func request(_ text: String) async throws -> JSONValue {
        try await send(text)
        return try await receiveJSON()
    }

    /// Closes from our side.
    func close() async {
        try? await outboundBox.get()?.close(.normalClosure, reason: nil)
        _ = try? await task.value
    }

    /// The close frame the server sent, waiting for the connection to end.
    func closeCode(timeout: Duration = .seconds(5)) async -> UInt16? {
        let task = self.task
        return await withTaskGroup(of: UInt16??.self) { group in
            group.addTask {
                guard let frame = try? await task.value else { return .some(nil) }
                return .some(Self.code(frame.closeCode))
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .none
            }
            let first = await group.next()!
            group.cancelAll()
            return first ?? nil
        }
    }

    static func code(_ code: WebSocketErrorCode) -> UInt16 {
        var buffer = ByteBuffer()
        buffer.write(webSocketErrorCode: code)
        return buffer.readInteger(as: UInt16.self) ?? 0
    }
}

/// Messages received, handed out in order with a timeout.
actor Inbox {
    private var items: [String] = []
    private var finished = false
    private var waiter: (id: Int, continuation: CheckedContinuation<String?, Never>)?
    private var nextWaiterID = 0

    func push(_ item: String) {
        if let waiter {
            self.waiter = nil
            waiter.continuation.resume(returning: item)
        } else {
            items.append(item)
        }
    }

    func finish() {
        finished = true
        waiter?.continuation.resume(returning: nil)
        waiter = nil
    }

    func next(timeout: Duration) async -> String? {
        if !items.isEmpty { return items.removeFirst() }
        if finished { return nil }
        nextWaiterID += 1
        let id = nextWaiterID
        return await withCheckedContinuation { continuation in
            waiter = (id, continuation)
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
        }
    }

    private func expire(_ id: Int) {
        guard let waiter, waiter.id == id else { return }
        self.waiter = nil
        waiter.continuation.resume(returning: nil)
    }
}
