import NIOCore
import NIOWebSocket
import Synchronization

/// The bytes of text frames handed to a connection whose write has not completed: the dashboard's "buffered
/// amount".
///
/// The writer adds a frame's size before handing it to the socket; ``BufferedAmountHandler`` subtracts it when
/// NIO reports the write done. NIO's own `bufferedWritableBytes` misses frames still waiting in the event loop's
/// task queue (an async writer called off the loop hands them over with `execute`), so it cannot serve here.
final class BufferedAmount: Sendable {
    private let bytes = Atomic<Int>(0)
    private let lowWater: Int
    private let onDrain: @Sendable () -> Void

    /// Calls `onDrain` each time the amount falls to or under `lowWater`.
    init(lowWater: Int, onDrain: @escaping @Sendable () -> Void) {
        self.lowWater = lowWater
        self.onDrain = onDrain
    }

    /// The bytes not yet written.
    var value: Int { bytes.load(ordering: .relaxed) }

    /// A frame of `count` bytes was handed to the socket.
    func add(_ count: Int) {
        bytes.wrappingAdd(count, ordering: .relaxed)
    }

    /// A frame of `count` bytes was written (or failed).
    func written(_ count: Int) {
        let after = bytes.wrappingSubtract(count, ordering: .relaxed).newValue
        if after <= lowWater, after + count > lowWater { onDrain() }
    }
}

/// Sits right after the WebSocket frame encoder and reports each text frame's completion to a ``BufferedAmount``.
final class BufferedAmountHandler: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let amount: BufferedAmount

    init(amount: BufferedAmount) {
        self.amount = amount
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        guard frame.opcode == .text else {
            context.write(data, promise: promise)
            return
        }
        let count = frame.data.readableBytes
        let promise = promise ?? context.eventLoop.makePromise()
        let amount = self.amount
        promise.futureResult.whenComplete { _ in amount.written(count) }
        context.write(data, promise: promise)
    }

    /// Installs a handler after the channel's frame encoder (first in the pipeline when there is none).
    static func install(_ amount: BufferedAmount, on channel: any Channel) async throws {
        try await channel.eventLoop.submit {
            let pipeline = channel.pipeline.syncOperations
            let handler = BufferedAmountHandler(amount: amount)
            if let encoder = try? pipeline.handler(type: WebSocketFrameEncoder.self) {
                try pipeline.addHandler(handler, position: .after(encoder))
            } else {
                try pipeline.addHandler(handler, position: .first)
            }
        }.get()
    }
}

/// A one-slot wake-up signal: rings coalesce until the single waiter takes them.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Wakes the waiter, or the next one to wait.
    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns once rung (at once if it rang since the last wait) or when the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            ring()
        }
    }
}
