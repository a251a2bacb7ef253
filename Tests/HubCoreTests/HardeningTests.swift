import Testing

@testable import HubCore

/// The pure decisions behind the hub's hardening: checked query ranges, the WebSocket frame guard, the pending
/// connection caps, token quotas, device expiry and the decoder's caps.
@Suite("Hardening")
struct HardeningTests {
    // MARK: SeriesQuery

    private func query(_ parameters: [String: String]) throws(ProtocolError) -> SeriesQuery {
        try SeriesQuery { parameters[$0] }
    }

    @Test func queryDefaults() throws {
        let parsed = try query([:])
        #expect(parsed == SeriesQuery(from: 0, to: Timestamps.max, step: nil, limit: SeriesQuery.defaultLimit))
    }

    /// The GET that used to trap on `(to - from) / step` and `floorDiv(from, step) * step`.
    @Test func queryClampsExtremeRanges() throws {
        let parsed = try query(["from": "-9223372036854775807", "to": "9223372036854775807"])
        #expect(parsed.from == 0)
        #expect(parsed.to == Timestamps.max)
        let stepped = try query(["from": "-9223372036854775807", "to": "1000", "step": "3"])
        #expect(stepped.from == 0 && stepped.to == 1_000 && stepped.step == 3)
    }

    @Test func queryRefusesTooManyBuckets() throws {
        #expect(throws: ProtocolError.self) { try query(["from": "0", "to": "9000000000000000", "step": "1000"]) }
        #expect(throws: ProtocolError.self) {
            try query(["from": "-9223372036854775807", "to": "9223372036854775807", "step": "3"])
        }
        // Without `to`, the stored samples bound the buckets.
        #expect(try query(["from": "-9223372036854775807", "step": "3"]).step == 3)
    }

    @Test(arguments: [
        ["from": "-9e18"], ["to": "x"], ["step": "0"], ["step": "-5"], ["step": "9223372036854775807"],
        ["limit": "0"], ["limit": "100000000"], ["from": "10", "to": "5"], ["from": "9223372036854775808"],
    ])
    func queryRefusesBadParameters(_ parameters: [String: String]) {
        #expect(throws: ProtocolError.self) { try query(parameters) }
    }

    @Test func queryNamesTheField() {
        do {
            _ = try query(["step": "-1"])
            Issue.record("accepted a negative step")
        } catch {
            #expect(error.code == .invalidMessage)
            #expect(error.message.contains("'step'"))
        }
    }

    @Test func queryAcceptsAnOrdinaryRange() throws {
        let parsed = try query(["from": "1000", "to": "61000", "step": "60000", "limit": "10"])
        #expect(parsed == SeriesQuery(from: 1_000, to: 61_000, step: 60_000, limit: 10))
    }

    @Test func rollupAverageStaysFiniteAndBounded() {
        let point = RollupPoint(ts: 0, min: 1e308, max: 1.5e308, sum: .infinity, count: 2)
        #expect(point.avg.isFinite)
        #expect(point.avg <= point.max && point.avg >= point.min)
        #expect(RollupPoint(ts: 0, min: 1, max: 3, sum: 4, count: 2).avg == 2)
    }

    // MARK: WebSocketFrameGuard

    @Test func unmaskedFrameCloses1002() {
        var guardState = WebSocketFrameGuard(maxMessageBytes: 1_024, maxFragments: 4)
        #expect(
            guardState.receive(opcode: 1, fin: true, masked: false, payloadLength: 3)
                == .close(code: 1002, reason: "client frames must be masked"))
        // Closed for good.
        #expect(guardState.receive(opcode: 1, fin: true, masked: true, payloadLength: 3) != .pass)
    }

    @Test func fragmentsUpToTheCapPass() {
        var guardState = WebSocketFrameGuard(maxMessageBytes: 1_024, maxFragments: 4)
        #expect(guardState.receive(opcode: 1, fin: false, masked: true, payloadLength: 1) == .pass)
        #expect(guardState.receive(opcode: 0, fin: false, masked: true, payloadLength: 1) == .pass)
        #expect(guardState.receive(opcode: 9, fin: true, masked: true, payloadLength: 0) == .pass)  // a ping between
        #expect(guardState.receive(opcode: 0, fin: false, masked: true, payloadLength: 1) == .pass)
        #expect(guardState.receive(opcode: 0, fin: true, masked: true, payloadLength: 1) == .pass)
        #expect(guardState.fragments == 0)
        // The next message starts afresh.
        #expect(guardState.receive(opcode: 2, fin: true, masked: true, payloadLength: 1_024) == .pass)
    }

    /// A million one-byte fragments used to cost the hub over 100 MB; now the 257th frame closes the connection.
    @Test func tooManyFragmentsClose1009() {
        var guardState = WebSocketFrameGuard(maxMessageBytes: 1 << 20, maxFragments: 256)
        #expect(guardState.receive(opcode: 1, fin: false, masked: true, payloadLength: 1) == .pass)
        for _ in 2...256 {
            #expect(guardState.receive(opcode: 0, fin: false, masked: true, payloadLength: 1) == .pass)
        }
        guard case .close(1009, _) = guardState.receive(opcode: 0, fin: false, masked: true, payloadLength: 1) else {
            Issue.record("the 257th fragment passed")
            return
        }
    }

    /// The guard is installed just after the upgrade: a flood whose first frame passed before counts from there.
    @Test func continuationsOfAnUnseenStartAreCounted() {
        var guardState = WebSocketFrameGuard(maxMessageBytes: 1 << 20, maxFragments: 3)
        for _ in 0..<3 {
            #expect(guardState.receive(opcode: 0, fin: false, masked: true, payloadLength: 1) == .pass)
        }
        #expect(guardState.receive(opcode: 0, fin: false, masked: true, payloadLength: 1) != .pass)
    }

    @Test func tooManyBytesClose1009() {
        var guardState = WebSocketFrameGuard(maxMessageBytes: 100, maxFragments: 10)
        #expect(guardState.receive(opcode: 1, fin: false, masked: true, payloadLength: 60) == .pass)
        #expect(guardState.receive(opcode: 0, fin: true, masked: true, payloadLength: 41) != .pass)
    }

    /// Found by the `ws_frames` fuzzer: a frame longer than 2^40 bytes was counted as 2^40 and passed a 2^40 cap.
    @Test func aFrameBeyondTheLargestCapIsRefused() {
        var guardState = WebSocketFrameGuard(maxMessageBytes: 1 << 40, maxFragments: 1)
        #expect(guardState.receive(opcode: 1, fin: true, masked: true, payloadLength: 1 << 41) != .pass)
    }

    @Test func guardNeverTrapsOnWildLengths() {
        var guardState = WebSocketFrameGuard(maxMessageBytes: 1 << 20, maxFragments: 1_000_000)
        #expect(guardState.receive(opcode: 1, fin: false, masked: true, payloadLength: .max) != .pass)
        var other = WebSocketFrameGuard(maxMessageBytes: .max, maxFragments: .max)
        _ = other.receive(opcode: 1, fin: false, masked: true, payloadLength: .max)
        _ = other.receive(opcode: 0, fin: false, masked: true, payloadLength: -5)
    }

    // MARK: Pending connections

    @Test func pendingConnectionsCapTotalAndPerAddress() {
        var pending = PendingConnections(maxTotal: 3, maxPerAddress: 2)
        #expect(pending.admit("a") == nil)
        #expect(pending.admit("a") == nil)
        #expect(pending.admit("a") == .address)
        #expect(pending.admit("b") == nil)
        #expect(pending.admit("c") == .total)
        pending.release("a")
        #expect(pending.total == 2)
        #expect(pending.admit("c") == nil)
        pending.release("a")
        pending.release("a")  // released twice: ignored
        pending.release("b")
        pending.release("c")
        #expect(pending.total == 0)
        #expect(pending.perAddress.isEmpty)
        // Local clients (or a reverse proxy on the same machine) have only the total cap.
        for _ in 0..<3 { #expect(pending.admit("127.0.0.1") == nil) }
        #expect(pending.admit("::1") == .total)
    }

    @Test func requestHeadScannerFindsTheEndAcrossReads() {
        var scanner = RequestHeadScanner()
        var seen: [Bool] = []
        for piece in ["GET / HTTP/1.1\r\nHost: x\r", "\n", "\r", "\nbody"] {
            seen.append(scanner.scan(Array(piece.utf8)))
        }
        #expect(seen == [false, false, false, true])
    }

    @Test func ipv6AddressesCountByTheirSlash64() {
        var address = [UInt8](repeating: 0, count: 16)
        address[0] = 0x20
        address[1] = 0x01
        address[2] = 0x0d
        address[3] = 0xb8
        address[15] = 7
        #expect(PendingConnections.key(ipv6: address) == "2001:db8:0:0::/64")
        address[15] = 9
        address[9] = 1
        #expect(PendingConnections.key(ipv6: address) == "2001:db8:0:0::/64")
        let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1]
        #expect(PendingConnections.key(ipv6: mapped) == "127.0.0.1")
        #expect(PendingConnections.key(ipv6: Array(repeating: 0, count: 15) + [1]) == "::1")
    }

    @Test func requestHeadScannerNotesUpgradeRequests() {
        var upgrade = RequestHeadScanner()
        let head = Array("GET /ws/device HTTP/1.1\r\nUpgrade: WebSocket\r\n\r\nrest".utf8)
        let end = head.withUnsafeBytes { upgrade.scan($0) }
        #expect(end == head.count - 4)
        #expect(upgrade.isWebSocketUpgrade)
        // "websocket" elsewhere in the head is not an upgrade.
        var plain = RequestHeadScanner()
        let done = plain.scan(Array("POST /api/websocket HTTP/1.1\r\nUser-Agent: websocket-gw\r\n\r\n".utf8))
        #expect(done && !plain.isWebSocketUpgrade)
    }

    /// An HTTP parser skips empty lines before the request line: so does the scanner, or `\r\n\r\n` first would
    /// end an empty "head" and the real upgrade after it would go unjudged.
    @Test func requestHeadScannerSkipsLeadingEmptyLinesAndTakesBareLineFeeds() {
        var scanner = RequestHeadScanner()
        let head = Array("\r\n\r\n\nGET /ws/device HTTP/1.1\nupgrade: websocket\n\n".utf8)
        let end = head.withUnsafeBytes { scanner.scan($0) }
        #expect(end == head.count)
        #expect(scanner.isWebSocketUpgrade)
    }

    @Test func frameScannerFindsHeadersAcrossPieces() {
        var frames: [UInt8] = []
        frames += [0x01, 0x80 | 3, 1, 2, 3, 4, 0xAA, 0xBB, 0xCC]  // text, not FIN, masked, 3 bytes
        frames += [0x80, 0x80 | 126, 0x01, 0x00, 9, 9, 9, 9] + Array(repeating: 0x55, count: 256)  // continuation
        frames += [0x81, 2, 0x41, 0x42]  // unmasked text
        var scanner = WebSocketFrameScanner()
        var headers: [WebSocketFrameScanner.Header] = []
        for piece in stride(from: 0, to: frames.count, by: 5) {
            let slice = Array(frames[piece..<min(piece + 5, frames.count)])
            _ = slice.withUnsafeBytes {
                scanner.scan($0) {
                    headers.append($0); return true
                }
            }
        }
        #expect(
            headers == [
                .init(opcode: 1, fin: false, masked: true, payloadLength: 3),
                .init(opcode: 0, fin: true, masked: true, payloadLength: 256),
                .init(opcode: 1, fin: true, masked: false, payloadLength: 2),
            ])
        var huge = WebSocketFrameScanner()
        var seen: [WebSocketFrameScanner.Header] = []
        let absurd: [UInt8] = [0x82, 0x80 | 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]
        _ = absurd.withUnsafeBytes {
            huge.scan($0) {
                seen.append($0); return true
            }
        }
        #expect(seen.first?.payloadLength == .max)
    }

    // MARK: Token quotas

    @Test func deviceQuotaStopsOneTokenFillingTheHub() throws {
        var quotas = TokenQuotas(maxDevices: 2, maxSeries: 0)
        for device in ["junk-1", "junk-2"] {
            _ = try quotas.allowance(device: device, existingSeries: 0, claimant: "junk")
            quotas.record(device: device, existingSeries: 0, newSeries: 1, claimant: "junk")
        }
        #expect(throws: ProtocolError.self) {
            try quotas.allowance(device: "junk-3", existingSeries: 0, claimant: "junk")
        }
        // Another token is unaffected, and so are principals without a quota.
        #expect(try quotas.allowance(device: "good-1", existingSeries: 0, claimant: "good") == .max)
        #expect(try quotas.allowance(device: "junk-3", existingSeries: 0, claimant: nil) == .max)
        // An owned device goes on sending.
        #expect(try quotas.allowance(device: "junk-1", existingSeries: 1, claimant: "junk") == .max)
        quotas.forget(device: "junk-1")
        #expect(quotas.owners["junk"]?.devices == 1)
        _ = try quotas.allowance(device: "junk-3", existingSeries: 0, claimant: "junk")
    }

    @Test func seriesQuotaCountsForTheOwner() throws {
        var quotas = TokenQuotas(maxDevices: 0, maxSeries: 5)
        #expect(try quotas.allowance(device: "d1", existingSeries: 0, claimant: "t") == 5)
        quotas.record(device: "d1", existingSeries: 0, newSeries: 3, claimant: "t")
        // Whoever sends for d1, its series count for t.
        #expect(try quotas.allowance(device: "d1", existingSeries: 3, claimant: "other") == 2)
        #expect(try quotas.allowance(device: "d2", existingSeries: 0, claimant: "t") == 2)
        // A device restored after a restart (unowned, 4 series) would put t over its quota.
        #expect(throws: ProtocolError.self) { try quotas.allowance(device: "d3", existingSeries: 4, claimant: "t") }
        quotas.forget(device: "d1")
        #expect(quotas.owners["t"] == nil)
    }

    @Test func storeRefusesSeriesPastTheAllowance() throws {
        var store = SeriesStore()
        let samples = ["a", "b", "c"].map { MetricSample(metric: $0, ts: 1, value: 1) }
        #expect(throws: ProtocolError.self) {
            try store.ingest(device: "d", samples: samples, now: 1, seriesAllowance: 2) { _, _, _ in }
        }
        #expect(store.seriesCount == 0)
        _ = try store.ingest(device: "d", samples: samples, now: 1, seriesAllowance: 3) { _, _, _ in }
        #expect(store.seriesCount == 3)
    }

    // MARK: Device expiry

    @Test func expiryForgetsOnlyLongOfflineDevices() {
        var registry = DeviceRegistry()
        registry.touch(device: "old", transport: "http", now: 1_000)
        registry.touch(device: "recent", transport: "http", now: 9_000)
        _ = registry.register(
            DeviceMessage.Register(id: nil, device: "live", kind: "k", rooms: [], meta: JSONObject()), session: 1,
            transport: "ws", now: 500)
        #expect(registry.expire(lastSeenBefore: 5_000) == ["old"])
        #expect(registry["old"] == nil)
        #expect(registry["recent"] != nil)
        #expect(registry["live"] != nil)  // online: never forgotten
        #expect(registry.count == 2)
    }

    @Test func removeDeviceDropsItsSeries() throws {
        var store = SeriesStore()
        _ = try store.ingest(device: "d1", samples: [MetricSample(metric: "t", ts: 1, value: 1)], now: 1)
        _ = try store.ingest(device: "d2", samples: [MetricSample(metric: "t", ts: 1, value: 1)], now: 1)
        #expect(store.removeDevice("d1") == [SeriesKey(device: "d1", metric: "t")])
        #expect(store.seriesCount == 1)
        #expect(store.sampleCount == 1)
        #expect(try store.series(matching: SeriesSelector(parsing: "*/t")) == [SeriesKey(device: "d2", metric: "t")])
        #expect(store.removeDevice("nobody").isEmpty)
    }

    // MARK: Memory-sized defaults

    @Test func seriesLimitIsSizedFromMemory() {
        let store = StoreConfiguration()
        #expect(store.maxSeries == 0)
        #expect(store.bytesPerFullSeries == 174_848)
        #expect(store.seriesFitting(memoryBytes: 24 << 30) == 73_692)
        #expect(store.seriesFitting(memoryBytes: 1 << 20) == 1_000)
        #expect(StoreConfiguration(ringCapacity: 1).seriesFitting(memoryBytes: 1 << 40) == 1_000_000)
        #expect(store.resolved(memoryBytes: 24 << 30).maxSeries == 73_692)
        #expect(StoreConfiguration(maxSeries: 5).resolved(memoryBytes: 24 << 30).maxSeries == 5)
    }

    // MARK: Decoder caps

    @Test func registerRoomsAreCappedAndDedupedInLinearTime() {
        let decoder = DeviceMessageDecoder(limits: DecoderLimits(maxRooms: 64))
        let many = (0..<100_000).map { "\"r\($0)\"" }.joined(separator: ",")
        let refused = decoder.decode(frame: Array(#"{"type":"register","device":"d","rooms":[\#(many)]}"#.utf8))
        guard case .failure(_, let error) = refused.first else {
            Issue.record("100,000 rooms accepted")
            return
        }
        #expect(error.code == .tooLarge)
        let repeated = Array(repeating: "\"same\"", count: 64).joined(separator: ",")
        let accepted = decoder.decode(frame: Array(#"{"type":"register","device":"d","rooms":[\#(repeated)]}"#.utf8))
        guard case .message(.register(let register)) = accepted.first else {
            Issue.record("64 rooms refused")
            return
        }
        #expect(register.rooms == ["same"])
    }

    @Test func hugeValuesAreRefused() {
        let decoder = DeviceMessageDecoder()
        let items = decoder.decode(frame: Array(#"{"type":"telemetry","metrics":{"x":1.5e308}}"#.utf8))
        guard case .failure(_, let error) = items.first else {
            Issue.record("1.5e308 accepted")
            return
        }
        #expect(error.code == .invalidMessage)
        let ok = decoder.decode(frame: Array(#"{"type":"telemetry","metrics":{"x":-1e300}}"#.utf8))
        guard case .message = ok.first else {
            Issue.record("-1e300 refused")
            return
        }
    }
}
