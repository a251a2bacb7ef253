import Synchronization

/// Tickets of accepted messages and who waits for them to be durable.
///
/// The write-behind calls ``commit(through:)`` after each transaction; a device session or `POST ?sync=1` awaits
/// ``wait(for:)`` before acknowledging.
final class Durability: Sendable {
    private struct State {
        var committed: UInt64 = 0
        var failure: (any Error)?
        var waiters: [(ticket: UInt64, id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }

    /// A wait that ran out of time (the samples are accepted and will still be written).
    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "not committed in time" }
    }

    private let state = Mutex(State())

    /// Returns once every ticket up to `ticket` is durable; throws when storage failed for good, or ``TimedOut``
    /// when `timeout` passes first.
    func wait(for ticket: UInt64, timeout: Duration? = nil) async throws {
        let ready: Result<Void, any Error>? = state.withLock { state in
            if state.committed >= ticket { return .success(()) }
            if let failure = state.failure { return .failure(failure) }
            return nil
        }
        if let ready { return try ready.get() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let immediate: Result<Void, any Error>? = state.withLock { state in
                if state.committed >= ticket { return .success(()) }
                if let failure = state.failure { return .failure(failure) }
                state.nextID += 1
                let id = state.nextID
                state.waiters.append((ticket, id, continuation))
                if let timeout {
                    Task { [self] in
                        try? await Task.sleep(for: timeout)
                        expire(id)
                    }
                }
                return nil
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }

    /// Ends waiter `id` with ``TimedOut`` if it still waits.
    private func expire(_ id: UInt64) {
        let waiter = state.withLock { state in
            state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
        }
        waiter?.continuation.resume(throwing: TimedOut())
    }

    /// The highest durable ticket.
    var committed: UInt64 { state.withLock { $0.committed } }

    /// Records that every ticket up to `ticket` is durable and wakes those waiting for them.
    func commit(through ticket: UInt64) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard ticket > state.committed else { return [] }
            state.committed = ticket
            var ready: [CheckedContinuation<Void, any Error>] = []
            state.waiters.removeAll { waiter in
                guard waiter.ticket <= ticket else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Fails every current and future waiter (storage is gone for good, e.g. at shutdown after retries failed).
    func fail(_ error: any Error) {
        let waiters = state.withLock { state in
            state.failure = error
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
    }
}
