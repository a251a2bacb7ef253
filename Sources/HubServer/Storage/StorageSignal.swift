import Foundation

/// Wakes the write-behind thread early (a full batch, shutdown).
final class StorageSignal: @unchecked Sendable {
    // NSCondition is thread-safe; it is not marked Sendable in corelibs-foundation.
    private let condition = NSCondition()

    /// Wakes the waiting thread.
    func signal() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    /// Waits up to `milliseconds` for a signal, if `shouldWait` still holds under the lock.
    func wait(milliseconds: Int64, while shouldWait: () -> Bool) {
        condition.lock()
        if shouldWait() { _ = condition.wait(until: Date(timeIntervalSinceNow: Double(milliseconds) / 1_000)) }
        condition.unlock()
    }
}
