import ArgumentParser
import Foundation
import HubClient
import HubCore
import HubServer
import Logging

extension Bench {
    /// `bench alerts`: the ingest path (store append, write-behind hand-over, alert checks) in process, with 0,
    /// 100 and 1,000 rules over the same series.
    struct Alerts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Ingest in process through the hub's ingest path with 0, 100 and 1,000 alert rules over the same series; report samples/s per rule count."
        )

        @Option(help: "Devices (series = devices x metrics).")
        var devices: Int = 1_000
        @Option(help: "Metrics per device.")
        var metrics: Int = 10
        @Option(help: "Rule counts to measure, comma-separated.")
        var rules: String = "0,100,1000"
        @Option(help: "Seconds to measure each rule count.")
        var seconds: Double = 5

        func validate() throws {
            guard (1...100_000).contains(devices) else { throw ValidationError("--devices must be 1 to 100000") }
            guard (1...100).contains(metrics) else { throw ValidationError("--metrics must be 1 to 100") }
            guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be above 0, at most 600") }
        }

        func run() async throws {
            let counts = try rules.split(separator: ",").map { text -> Int in
                guard let count = Int(text), (0...100_000).contains(count) else {
                    throw ValidationError("--rules must be comma-separated counts from 0 to 100000")
                }
                return count
            }
            say(
                "bench alerts: \(devices) devices x \(metrics) metrics = \(devices * metrics) series, messages of \(metrics) samples, \(seconds) s per rule count"
            )
            say("rules  samples/s   ns/sample  instances  alert events  tick ms")
            for count in counts {
                let result = try measure(rules: count)
                say(
                    String(
                        format: "%5d  %9.0f  %10.1f  %9d  %12d  %7.2f", count, result.rate, 1e9 / result.rate,
                        result.instances, result.events, result.tickMs))
            }
        }

        /// Rule `i` covers the devices whose id starts with one of 100 prefixes and one metric, so 1,000 rules cover
        /// every series once and 100 rules a tenth of them; every tenth rule judges a 60 s average, every fifth
        /// has a `for_ms`, every seventh a no-data timer.
        func makeRules(_ count: Int) throws -> [AlertRule] {
            try (0..<count).map { index in
                let prefix = String(format: "d%02d", index % 100)
                let metric = (index / 100) % metrics
                return AlertRule(
                    id: "rule-\(index)", match: try SeriesSelector(parsing: "\(prefix)*/m\(metric)"),
                    when: AlertCondition(.greater, 95),
                    over: index % 10 == 0 ? AlertSmoothing(fn: .avg, windowMs: 60_000) : nil,
                    forMs: index % 5 == 0 ? 5_000 : 0, clear: AlertCondition(.less, 90),
                    nodataMs: index % 7 == 0 ? 60_000 : 0, severity: .warning,
                    description: "{{series}} is {{value}}")
            }
        }

        func measure(rules count: Int) throws -> (rate: Double, instances: Int, events: Int, tickMs: Double) {
            var configuration = HubConfiguration()
            configuration.auth.enabled = false
            configuration.storage.engine = .memory
            configuration.storage.maxPendingSamples = 100_000_000
            configuration.store.maxSeries = max(
                configuration.store.resolved(memoryBytes: ProcessInfo.processInfo.physicalMemory).maxSeries,
                devices * metrics)
            var logger = Logger(label: "bench-alerts")
            logger.logLevel = .error
            let hub = Hub(
                configuration: configuration, authority: nil, archive: MemoryArchive(),
                alertArchive: MemoryAlertArchive(), logger: logger)
            let ids = (0..<devices).map { String(format: "d%02d%03d", $0 % 100, $0 / 100) }
            let names = (0..<metrics).map { "m\($0)" }
            // Every series exists before the rules arrive, as on a running hub.
            var values = [Double](repeating: 50, count: devices * metrics)
            for (device, id) in ids.enumerated() {
                _ = try hub.ingest(
                    device: id,
                    samples: names.enumerated().map {
                        MetricSample(metric: $1, ts: nil, value: values[device * metrics + $0])
                    },
                    transport: "bench")
            }
            let rules = try makeRules(count)
            try hub.applyRuleSet(source: "bench") { _ in rules }
            var generator = SystemRandomNumberGenerator()
            var samples = 0
            let start = ContinuousClock.now
            let deadline = start + .milliseconds(Int(seconds * 1_000))
            var device = 0
            var drained = ContinuousClock.now
            while ContinuousClock.now < deadline {
                for _ in 0..<1_000 {
                    let base = device * metrics
                    var message: [MetricSample] = []
                    message.reserveCapacity(metrics)
                    for metric in 0..<metrics {
                        // A random walk in 0...100 that now and then crosses 95 and falls back under 90.
                        var value = values[base + metric] + Double.random(in: -2...2, using: &generator)
                        value = min(100, max(0, value))
                        values[base + metric] = value
                        message.append(MetricSample(metric: names[metric], ts: nil, value: value))
                    }
                    _ = try hub.ingest(device: ids[device], samples: message, transport: "bench")
                    samples += metrics
                    device = (device + 1) % devices
                }
                if drained.duration(to: .now) > .milliseconds(200) {
                    // What the write-behind would take off the hub; here it is dropped.
                    _ = hub.takeBenchBatch()
                    drained = .now
                }
            }
            let elapsed = start.duration(to: .now)
            let rate =
                Double(samples) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            let tickStart = ContinuousClock.now
            hub.alertTick()
            let tick = tickStart.duration(to: .now)
            let tickMs = Double(tick.components.attoseconds) / 1e15 + Double(tick.components.seconds) * 1_000
            let (instances, events) = hub.alertFigures
            return (rate, instances, events, tickMs)
        }
    }
}

extension Bench {
    /// `bench alert-latency`: the time from a threshold crossing to the line in `telemetryhub alerts tail`.
    struct AlertLatency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "alert-latency",
            abstract:
                "Cross a threshold over and over and time each crossing to its line in a running `alerts tail` (p50/p99)."
        )

        @Option(help: "Hub HTTP base URL.")
        var url: String = "http://127.0.0.1:8080"
        @Option(
            help: "Admin token (or TELEMETRYHUB_TOKEN; none with --no-auth): it creates a rule and sends telemetry.")
        var token: String?
        @Option(help: "Crossings (half fire, half resolve).")
        var crossings: Int = 100

        func validate() throws {
            guard (2...100_000).contains(crossings) else { throw ValidationError("--crossings must be 2 to 100000") }
        }

        func run() async throws {
            let token = tokenFromEnvironment(self.token)
            let http = HubHTTPClient(baseURL: url, token: token)
            let device = "bench-latency-\(getpid())"
            let rule = #"{"id":"\#(device)","match":"\#(device)/v","when":{"op":">","value":50},"severity":"info"}"#
            let created = try await http.send("POST", "/api/rules", body: Data(rule.utf8))
            guard created.status == 200 else {
                throw CLIError(
                    message: "POST /api/rules answered \(created.status): \(created.text) (an admin token is needed)")
            }
            defer { Task { _ = try? await http.send("DELETE", "/api/rules/\(device)") } }

            let tail = Process()
            tail.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            tail.arguments = ["alerts", "tail", "--url", url, "--no-color", "--match", "\(device)/v"]
            var environment = ProcessInfo.processInfo.environment
            if let token { environment["TELEMETRYHUB_TOKEN"] = token }
            tail.environment = environment
            let output = Pipe()
            tail.standardOutput = output
            tail.standardError = FileHandle.nullDevice
            let (lines, continuation) = AsyncStream.makeStream(of: (ContinuousClock.Instant, String).self)
            try tail.run()
            defer { tail.terminate() }
            let reader = Thread {
                var pending = Data()
                while true {
                    let chunk = output.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        pending.removeSubrange(pending.startIndex...newline)
                        continuation.yield((.now, line))
                    }
                }
                continuation.finish()
            }
            reader.start()
            // Wait until the tail's connection is up (the hub counts it among its dashboard connections).
            let before = ContinuousClock.now
            while before.duration(to: .now) < .seconds(10) {
                let health = try await http.get("/healthz")
                if let count = (try? JSONParser.parse(health.text))?["dashboards"]?.numberValue, count >= 1 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(300))

            var iterator = lines.makeAsyncIterator()
            var firing: [Double] = []
            var resolved: [Double] = []
            for crossing in 0..<crossings {
                let fire = crossing % 2 == 0
                let body = #"{"device":"\#(device)","metrics":{"v":\#(fire ? 100 : 0)}}"#
                let sent = ContinuousClock.now
                let reply = try await http.send("POST", "/api/telemetry", body: Data(body.utf8))
                guard reply.status == 202 else {
                    throw CLIError(message: "POST /api/telemetry answered \(reply.status): \(reply.text)")
                }
                let wanted = fire ? "firing" : "resolved"
                while true {
                    guard let (at, line) = await iterator.next() else {
                        throw CLIError(message: "alerts tail stopped")
                    }
                    guard line.contains(" \(wanted) "), line.contains(device) else { continue }
                    let elapsed = sent.duration(to: at)
                    let ms = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
                    if fire { firing.append(ms) } else { resolved.append(ms) }
                    break
                }
            }
            say(
                "bench alert-latency: \(crossings) crossings of one threshold, POST /api/telemetry -> line in `alerts tail`"
            )
            for (name, values) in [("firing", firing), ("resolved", resolved)] {
                let sorted = values.sorted()
                func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
                say(
                    "  \(name.padding(toLength: 8, withPad: " ", startingAt: 0))"
                        + String(
                            format: " n=%d  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms", sorted.count,
                            percentile(0.5), percentile(0.9), percentile(0.99), sorted.last ?? 0))
            }
        }
    }
}
