import ArgumentParser
import Foundation
import HTTPTypes
import HubClient
import HubCore
import HubServer
import HummingbirdWSClient
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension Bench {
    /// `bench fanout`: simulated devices stream while many dashboards subscribe to all their series; reports
    /// sample deliveries/s, device → dashboard latency, coalescing, hub CPU and RSS.
    struct Fanout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream from simulated devices to many dashboards; report deliveries/s, latency p50/p99, RSS.")

        @OptionGroup var target: Target
        @Option(help: "Dashboards reading their batches.")
        var dashboards: Int = 100
        @Option(help: "Dashboards that subscribe and then never read (stalled clients).")
        var stalled: Int = 0
        @Option(help: "Simulated devices.")
        var devices: Int = 100
        @Option(help: "Metrics per device (series = devices x metrics; every dashboard subscribes to all of them).")
        var metrics: Int = 10
        @Option(help: "Messages per second per device.")
        var rate: Double = 10
        @Option(help: "The dashboards' rate_ms (0: as fast as possible).")
        var rateMs: Int = 0
        @Option(help: "Viewer token for the dashboards (or TELEMETRYHUB_VIEWER_TOKEN; none with --no-auth).")
        var dashboardToken: String?
        @Option(help: "How long to measure, in seconds, after a 3 s warm-up.")
        var seconds: Double = 15

        func validate() throws {
            guard (0...5_000).contains(dashboards), (0...5_000).contains(stalled) else {
                throw ValidationError("--dashboards and --stalled must be 0 to 5000")
            }
            guard (1...10_000).contains(devices) else { throw ValidationError("--devices must be 1 to 10000") }
            guard (1...1_000).contains(metrics) else { throw ValidationError("--metrics must be 1 to 1000") }
            guard rate > 0, rate <= 10_000 else { throw ValidationError("--rate must be above 0, at most 10000") }
            guard rateMs == 0 || (10...3_600_000).contains(rateMs) else {
                throw ValidationError("--rate-ms must be 0 or 10 to 3600000")
            }
            guard seconds > 0, seconds <= 3_600 else {
                throw ValidationError("--seconds must be above 0, at most 3600")
            }
        }

        func run() async throws {
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let profile = DeviceProfile(
                kind: "bench", idPrefix: "fan",
                metrics: (0..<metrics).map {
                    .init(name: "m\($0)", min: 0, max: 100, shape: .randomWalk, noise: 0.5, decimals: 2)
                })
            let options = SimulationOptions(
                url: target.webSocketURL, token: tokenFromEnvironment(target.token), profiles: [profile],
                count: devices, rate: rate, jitter: 0, rampMs: 1)
            let simulation = Simulation(options: options, logger: logger)
            let feed = Task { await simulation.run() }
            // Let every series exist before the dashboards subscribe (later ones would join anyway).
            try await Task.sleep(for: .seconds(1))

            let viewerToken = dashboardToken ?? ProcessInfo.processInfo.environment["TELEMETRYHUB_VIEWER_TOKEN"]
            let tally = FanoutTally()
            let url = target.webSocketURL + "/ws/dashboard"
            let subscribe =
                #"{"type":"subscribe","id":1,"sub":"bench","series":["fan-*/*"],"rate_ms":\#(rateMs)}"#
            var watchers: [Task<Void, Never>] = []
            for _ in 0..<dashboards {
                watchers.append(
                    Task {
                        await Self.dashboard(
                            url: url, token: viewerToken, subscribe: subscribe, tally: tally, logger: logger)
                    })
            }
            let hostPort = target.url.replacingOccurrences(of: "http://", with: "").split(separator: "/").first ?? ""
            let parts = hostPort.split(separator: ":")
            let stalledSockets = try (0..<stalled).map { _ in
                try StalledDashboard(
                    host: String(parts.first ?? "127.0.0.1"), port: Int(parts.last ?? "8080") ?? 8080,
                    token: viewerToken, subscribe: subscribe)
            }
            try await Task.sleep(for: .seconds(3))

            let hubBefore = try await HubFigures.read(target.http)
            let before = tally.snapshot()
            tally.measuring.store(true, ordering: .relaxed)
            let started = ContinuousClock.now
            var rssSamples: [Double] = []
            let end = started + .milliseconds(Int(seconds * 1_000))
            while ContinuousClock.now < end {
                try await Task.sleep(for: .milliseconds(min(5_000, Int(seconds * 1_000))))
                if let figures = try? await HubFigures.read(target.http) { rssSamples.append(figures.residentBytes) }
            }
            tally.measuring.store(false, ordering: .relaxed)
            let wall = started.duration(to: .now).inSeconds
            let after = tally.snapshot()
            let hubAfter = try await HubFigures.read(target.http)
            let metricsText = (try? await target.http.get("/metrics").text) ?? ""
            let slowCloses = HubHTTPClient.metric("telemetryhub_dashboard_slow_closes_total", in: metricsText) ?? 0
            let openDashboards =
                HubHTTPClient.metric("telemetryhub_connections{endpoint=\"dashboard\"}", in: metricsText) ?? 0
            for socket in stalledSockets { socket.close() }
            for watcher in watchers { watcher.cancel() }
            feed.cancel()
            for watcher in watchers { await watcher.value }
            await feed.value

            let deliveries = Double(after.samples - before.samples) / wall
            let ingested = (hubAfter.samplesIngested - hubBefore.samplesIngested) / wall
            var latencies = tally.latencies()
            latencies.sort()
            func percentile(_ p: Double) -> String {
                guard !latencies.isEmpty else { return "n/a" }
                return "\(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) ms"
            }
            let cpu = (hubAfter.cpuSeconds - hubBefore.cpuSeconds) / wall * 100
            let rss = rssSamples.map { String(format: "%.0f", $0 / 1_048_576) }.joined(separator: ", ")
            say(
                """
                bench fanout: \(devices) devices x \(metrics) metrics x \(rate) msg/s -> \(dashboards) dashboards (+\(stalled) stalled) on \(devices * metrics) series, rate_ms \(rateMs), \(String(format: "%.1f", wall)) s measured
                  dashboards           : \(after.connected - after.closed)/\(dashboards) reading connected (closed early: \(after.closed), close codes: \(after.closeCodes)); hub holds \(Int(openDashboards)) dashboard connections, slow-consumer closes so far: \(Int(slowCloses))
                  hub ingested         : \(Int(ingested)) samples/s
                  deliveries           : \(Int(deliveries)) samples/s to dashboards (\(Int(Double(after.batches - before.batches) / wall)) batches/s)
                  coalesced            : \(Int(Double(after.coalesced - before.coalesced) / wall)) samples/s
                  latency device->dash : p50 \(percentile(0.5)), p99 \(percentile(0.99)), max \(percentile(1.0)) (\(latencies.count) samples)
                  hub CPU              : \(String(format: "%.0f", cpu)) % of one core
                  hub RSS              : \(String(format: "%.1f", hubAfter.residentBytes / 1_048_576)) MiB (every 5 s: \(rss) MiB)
                """)
        }

        /// One dashboard: subscribes and counts what arrives.
        static func dashboard(url: String, token: String?, subscribe: String, tally: FanoutTally, logger: Logger) async
        {
            var headers = HTTPFields()
            if let token { headers[.authorization] = "Bearer \(token)" }
            do {
                let close = try await WebSocketClient.connect(
                    url: url, configuration: .init(maxFrameSize: 16 << 20, additionalHeaders: headers), logger: logger
                ) { inbound, outbound, _ in
                    tally.connected.add(1, ordering: .relaxed)
                    try await outbound.write(.text(subscribe))
                    var latencies: [Int32] = []
                    var counter = 0
                    for try await message in inbound.messages(maxSize: 16 << 20) {
                        guard case .text(var text) = message else { continue }
                        let now = Hub.systemMilliseconds()
                        text.withUTF8 { bytes in
                            BatchScan.scan(bytes, now: now, into: &latencies, counter: &counter, tally: tally)
                        }
                        if latencies.count >= 4_096 {
                            tally.add(latencies)
                            latencies.removeAll(keepingCapacity: true)
                        }
                    }
                    tally.add(latencies)
                }
                if let close, case .unknown(let code) = close.closeCode { tally.closedWith(code) }
            } catch {
                if !Task.isCancelled { tally.closedWith(0) }
            }
        }
    }
}

/// Totals of all bench dashboards.
final class FanoutTally: Sendable {
    let connected = Atomic<Int>(0)
    let samples = Atomic<Int>(0)
    let batches = Atomic<Int>(0)
    let coalesced = Atomic<Int>(0)
    let measuring = Atomic<Bool>(false)
    private let state = Mutex<(latencies: [Int32], closed: Int, codes: [UInt16: Int])>(([], 0, [:]))

    struct Snapshot {
        var connected: Int
        var samples: Int
        var batches: Int
        var coalesced: Int
        var closed: Int
        var closeCodes: String
    }

    func snapshot() -> Snapshot {
        let (closed, codes) = state.withLock { ($0.closed, $0.codes) }
        return Snapshot(
            connected: connected.load(ordering: .relaxed), samples: samples.load(ordering: .relaxed),
            batches: batches.load(ordering: .relaxed), coalesced: coalesced.load(ordering: .relaxed), closed: closed,
            closeCodes: codes.isEmpty
                ? "none"
                : codes.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }
                    .joined(separator: ", "))
    }

    func add(_ latencies: [Int32]) {
        guard !latencies.isEmpty, measuring.load(ordering: .relaxed) else { return }
        state.withLock { $0.latencies.append(contentsOf: latencies) }
    }

    func latencies() -> [Int32] { state.withLock { $0.latencies } }

    func closedWith(_ code: UInt16) {
        state.withLock {
            $0.closed += 1
            $0.codes[code, default: 0] += 1
        }
    }
}

/// Reads a `batch` frame without building a JSON tree: counts its samples, notes `coalesced`, and takes the
/// latency (now − ts) of every 8th sample.
enum BatchScan {
    static func scan(
        _ bytes: UnsafeBufferPointer<UInt8>, now: Int64, into latencies: inout [Int32], counter: inout Int,
        tally: FanoutTally
    ) {
        let head = Array(#"{"type":"batch""#.utf8)
        guard bytes.count > head.count, bytes.starts(with: head) else { return }
        var index = 0
        var samples = 0
        let quote = UInt8(ascii: "\""), open = UInt8(ascii: "["), comma = UInt8(ascii: ",")
        // Each sample row is ["device/metric",ts,value]; the only `["` sequences in a batch start rows.
        while index + 1 < bytes.count {
            if bytes[index] == open && bytes[index + 1] == quote {
                samples += 1
                counter += 1
                index += 2
                while index < bytes.count && bytes[index] != quote { index += 1 }
                index += 2  // past `",`
                if counter % 8 == 0 {
                    var ts: Int64 = 0
                    while index < bytes.count, bytes[index] != comma {
                        ts = ts * 10 + Int64(bytes[index] &- 48)
                        index += 1
                    }
                    latencies.append(Int32(clamping: now - ts))
                }
            } else {
                index += 1
            }
        }
        var coalesced = 0
        let key = Array(#""coalesced":"#.utf8)
        if let range = findLast(key, in: bytes) {
            var position = range
            while position < bytes.count, bytes[position] >= 48, bytes[position] <= 57 {
                coalesced = coalesced * 10 + Int(bytes[position] - 48)
                position += 1
            }
        }
        tally.samples.add(samples, ordering: .relaxed)
        tally.batches.add(1, ordering: .relaxed)
        tally.coalesced.add(coalesced, ordering: .relaxed)
    }

    /// The index just after the last occurrence of `needle`.
    static func findLast(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var start = bytes.count - needle.count
        while start >= 0 {
            var match = true
            for offset in 0..<needle.count where bytes[start + offset] != needle[offset] {
                match = false
                break
            }
            if match { return start + needle.count }
            start -= 1
        }
        return nil
    }
}

/// A dashboard that subscribes and then never reads a byte: a plain socket, so no client library drains it.
final class StalledDashboard: Sendable {
    private let fd: Int32

    init(host: String, port: Int, token: String?, subscribe: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host == "localhost" ? "127.0.0.1" : host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw CLIError(message: "cannot connect to \(host):\(port)") }
        var request = "GET /ws/dashboard HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        send(Array(request.utf8))
        // Wait for the 101 (the upgrade must complete before the first frame), then never read again.
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]), recv(fd, &byte, 1, 0) == 1 { head.append(byte) }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw CLIError(
                message: "the hub refused the dashboard upgrade: \(String(decoding: head.prefix(80), as: UTF8.self))")
        }
        // A masked text frame carrying the subscribe message (it is short: one length byte or two).
        let payload = Array(subscribe.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = [1, 2, 3, 4]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        send(frame)
    }

    private func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func close() { Glibc.close(fd) }
}
