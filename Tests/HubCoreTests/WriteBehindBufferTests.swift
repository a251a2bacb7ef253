import Testing

@testable import HubCore

@Suite("WriteBehindBuffer: flush timing, tickets, commit and retry")
struct WriteBehindBufferTests {
    private let key = SeriesKey(device: "d1", metric: "temp")

    private func buffer(interval: Int64 = 1_000, maxSamples: Int = 5, maxPending: Int = 8) -> WriteBehindBuffer {
        WriteBehindBuffer(flushIntervalMs: interval, flushMaxSamples: maxSamples, maxPendingSamples: maxPending)
    }

    private func sample(_ ts: Int64, _ value: Double = 1) -> ArchiveSample {
        ArchiveSample(series: key, ts: ts, value: value)
    }

    /// Takes a batch (a function, so that `#require` can wrap it).
    private func take(_ buffer: inout WriteBehindBuffer) -> WriteBehindBuffer.Batch? {
        buffer.take()
    }

    @Test func emptyBufferIsNeverDue() {
        var buffer = buffer()
        #expect(buffer.isEmpty)
        #expect(buffer.flushDueAt == nil)
        #expect(!buffer.isFlushDue(now: .max))
        #expect(!buffer.isFull)
        #expect(buffer.lastTicket == 0 && buffer.committedTicket == 0)
        #expect(buffer.take() == nil)
    }

    @Test func flushIsDueTheIntervalAfterTheOldestAppendAndNotBefore() {
        var buffer = buffer(interval: 1_000)
        buffer.append(sample(1), now: 10_000)
        _ = buffer.endMessage(device: nil, now: 10_000)
        #expect(buffer.oldestAt == 10_000)
        #expect(buffer.flushDueAt == 11_000)
        // Later appends do not push the deadline back.
        buffer.append([sample(2)], now: 10_900)
        #expect(buffer.flushDueAt == 11_000)
        #expect(!buffer.isFlushDue(now: 10_000))
        #expect(!buffer.isFlushDue(now: 10_999))
        #expect(buffer.isFlushDue(now: 11_000))
        #expect(buffer.isFlushDue(now: 50_000))
        // After a take the clock restarts with the next append.
        _ = buffer.take()
        #expect(buffer.flushDueAt == nil)
        buffer.append([sample(3)], now: 20_000)
        #expect(buffer.flushDueAt == 21_000)
        #expect(!buffer.isFlushDue(now: 20_999))
    }

    @Test func flushIsDueAtOnceWhenFlushMaxSamplesWait() {
        var buffer = buffer(interval: 60_000, maxSamples: 5)
        buffer.append((0..<4).map { sample($0) }, now: 100)
        #expect(!buffer.isFlushDue(now: 200))
        buffer.append([sample(4)], now: 200)
        #expect(buffer.samples.count == 5)
        #expect(buffer.isFlushDue(now: 200))
        #expect(buffer.flushDueAt! <= 200)
        // Per-sample appends count the same way.
        var single = self.buffer(interval: 60_000, maxSamples: 3)
        for ts in 0..<3 { single.append(sample(Int64(ts)), now: 500) }
        #expect(single.isFlushDue(now: 500))
    }

    @Test func ticketsIncreasePerMessage() {
        var buffer = buffer(maxPending: 100)
        let first = buffer.append([sample(1), sample(2)], now: 0)
        buffer.append(sample(3), now: 1)
        buffer.append(sample(4), now: 1)
        let second = buffer.endMessage(device: "d1", now: 1)
        let third = buffer.append([], devices: ["d2"], now: 2)
        let fourth = buffer.endMessage(device: nil, now: 3)
        #expect([first, second, third, fourth] == [1, 2, 3, 4])
        #expect(buffer.lastTicket == 4)
        #expect(buffer.committedTicket == 0)
        #expect(buffer.samples.map(\.ts) == [1, 2, 3, 4])
        #expect(buffer.devices == ["d1", "d2"])
    }

    @Test func takeEmptiesTheBufferAndReturnsThroughTicket() throws {
        var buffer = buffer()
        buffer.append([sample(1)], devices: ["d1"], now: 100)
        buffer.append([sample(2), sample(3)], now: 300)
        let batch = try #require(take(&buffer))
        #expect(batch.samples.map(\.ts) == [1, 2, 3])
        #expect(batch.devices == ["d1"])
        #expect(batch.throughTicket == 2)
        #expect(batch.oldestAt == 100)
        #expect(buffer.isEmpty)
        #expect(buffer.samples.isEmpty && buffer.devices.isEmpty)
        #expect(buffer.oldestAt == nil && buffer.flushDueAt == nil)
        // Taken is not durable yet.
        #expect(buffer.committedTicket == 0)
        #expect(buffer.take() == nil)
    }

    @Test func committedMakesTheBatchTicketsDurableButNotNewerOnes() throws {
        var buffer = buffer()
        buffer.append([sample(1)], now: 0)
        buffer.append([sample(2)], now: 0)
        let batch = try #require(take(&buffer))
        let newer = buffer.append([sample(3)], now: 10)
        buffer.committed(batch)
        #expect(buffer.committedTicket == 2)
        #expect(buffer.committedTicket < newer)
        let next = try #require(take(&buffer))
        #expect(next.throughTicket == newer)
        buffer.committed(next)
        #expect(buffer.committedTicket == 3)
        // Committing an older batch again never moves the ticket back.
        buffer.committed(batch)
        #expect(buffer.committedTicket == 3)
    }

    @Test func messagesWithNothingToWriteAreDurableAtOnce() throws {
        var buffer = buffer()
        let ticket = buffer.append([], now: 0)
        #expect(buffer.isEmpty)
        #expect(buffer.flushDueAt == nil)
        #expect(buffer.take() == nil)
        #expect(buffer.committedTicket == ticket)
        // An empty message that arrives while a batch is being written is durable once that batch commits.
        buffer.append([sample(1)], now: 1)
        let batch = try #require(take(&buffer))
        let empty = buffer.endMessage(device: nil, now: 2)
        buffer.committed(batch)
        #expect(buffer.committedTicket == empty)
    }

    @Test func failedPutsTheBatchBackInFrontOfNewerSamples() throws {
        var buffer = buffer(interval: 1_000, maxPending: 100)
        buffer.append([sample(1), sample(2)], devices: ["d1"], now: 100)
        let batch = try #require(take(&buffer))
        let newer = buffer.append([sample(3)], devices: ["d2"], now: 700)
        buffer.append(sample(4), now: 800)
        let newest = buffer.endMessage(device: nil, now: 800)
        buffer.failed(batch)
        #expect(buffer.samples.map(\.ts) == [1, 2, 3, 4])
        #expect(buffer.devices == ["d1", "d2"])
        #expect(buffer.oldestAt == 100)
        #expect(buffer.flushDueAt == 1_100)
        #expect(buffer.committedTicket == 0)
        #expect(newer < newest)
        let retry = try #require(take(&buffer))
        #expect(retry.samples.map(\.ts) == [1, 2, 3, 4])
        #expect(retry.throughTicket == newest)
        #expect(retry.oldestAt == 100)
        buffer.committed(retry)
        #expect(buffer.committedTicket == newest)
    }

    @Test func failedIntoAnEmptyBufferRestoresTheBatch() throws {
        var buffer = buffer()
        buffer.append([sample(1), sample(2)], now: 50)
        let batch = try #require(take(&buffer))
        buffer.failed(batch)
        #expect(buffer.samples == batch.samples)
        #expect(buffer.oldestAt == 50)
        #expect(buffer.isFlushDue(now: 1_050))
        #expect(try #require(take(&buffer)) == batch)
    }

    @Test func isFullAtMaxPendingSamples() {
        var buffer = buffer(maxSamples: 1_000, maxPending: 8)
        buffer.append((0..<7).map { sample($0) }, now: 0)
        #expect(!buffer.isFull)
        buffer.append(sample(7), now: 0)
        #expect(buffer.isFull)
        // The batch being written still counts: a failing disk must not let the backlog grow past the limit.
        let batch = buffer.take()!
        #expect(buffer.isFull)
        #expect(buffer.pendingCount == 8)
        buffer.failed(batch)
        #expect(buffer.isFull)
        let again = buffer.take()!
        buffer.committed(again)
        #expect(!buffer.isFull)
        #expect(buffer.pendingCount == 0)
    }

    @Test func deviceOnlyChangesMakeAFlushDue() throws {
        var buffer = buffer(interval: 1_000)
        buffer.changed(device: "d1", now: 5_000)
        #expect(!buffer.isEmpty)
        #expect(buffer.flushDueAt == 6_000)
        #expect(!buffer.isFlushDue(now: 5_999))
        #expect(buffer.isFlushDue(now: 6_000))
        let batch = try #require(take(&buffer))
        #expect(batch.samples.isEmpty)
        #expect(batch.devices == ["d1"])

        let ticket = buffer.append([], devices: ["d2"], now: 7_000)
        #expect(buffer.flushDueAt == 8_000)
        _ = buffer.endMessage(device: "d3", now: 7_500)
        let second = try #require(take(&buffer))
        #expect(second.devices == ["d2", "d3"])
        #expect(second.throughTicket == ticket + 1)
        #expect(second.oldestAt == 7_000)
    }
}
