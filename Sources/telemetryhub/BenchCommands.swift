import ArgumentParser
import Foundation
import HubClient
import HubCore
import Logging

extension Bench {
    /// `bench commands`: idle simulated devices in one room; commands to the room one after another, each timed
    /// until its full answer.
    struct Commands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "commands",
            abstract:
                "Connect idle simulated devices to room bench:cmd and time commands to all of them (p50/p90/max, results/s, hub CPU).",
            discussion: """
                Against a running hub. The devices need a device token (--token or TELEMETRYHUB_TOKEN); sending \
                commands and reading rooms need an operator token (--operator-token or \
                TELEMETRYHUB_OPERATOR_TOKEN); none with --no-auth.

                A hub lets each user send 20 commands at once and 5 per second after that \
                (commands.per_user_burst and per_user_per_second): past --commands 20 the bench waits for the rate \
                limit, says how long, and gives results/s without the waits too.
                """)

        /// The room the devices declare.
        static let room = "bench:cmd"

        @OptionGroup var target: Target
        @Option(help: "Operator token to send the commands and read the rooms (or TELEMETRYHUB_OPERATOR_TOKEN).")
        var operatorToken: String?
        @Option(help: "Simulated devices, all in room bench:cmd.")
        var devices: Int = 1_000
        @Option(help: "Commands sent one after another (after one warm-up command).")
        var commands: Int = 20
        @Option(help: "Each command's timeout_ms, e.g. 10s.")
        var timeout: String = "10s"
        @Option(help: "How long to wait for every device to be online, e.g. 2m.")
        var connectTimeout: String = "2m"

        func validate() throws {
            guard (1...100_000).contains(devices) else { throw ValidationError("--devices must be 1 to 100000") }
            guard (1...100_000).contains(commands) else { throw ValidationError("--commands must be 1 to 100000") }
            let seconds = try durationSeconds(timeout, option: "--timeout")
            guard seconds >= 0.001, seconds <= 3_600 else { throw ValidationError("--timeout must be 1ms to 1h") }
            let connect = try durationSeconds(connectTimeout, option: "--connect-timeout")
            guard connect > 0 else { throw ValidationError("--connect-timeout must be positive") }
        }

        func run() async throws {
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let timeoutMs = Int64((try durationSeconds(timeout, option: "--timeout") * 1_000).rounded())
            let operatorToken =
                operatorToken
                ?? ProcessInfo.processInfo.environment["TELEMETRYHUB_OPERATOR_TOKEN"].flatMap {
                    $0.isEmpty ? nil : $0
                }
            let api = HubHTTPClient(baseURL: target.url, token: operatorToken)
            let metrics = HubHTTPClient(baseURL: target.url, token: target.viewerToken ?? operatorToken)
            // A refused token or an unreachable hub ends the bench before any device connects.
            _ = try await Self.room(api)

            let profile = DeviceProfile(
                kind: "bench", idPrefix: "benchcmd", rooms: [Self.room],
                metrics: [.init(name: "v", min: 0, max: 1, shape: .constant)],
                commands: [.init(name: "noop", action: .ok)])
            let options = SimulationOptions(
                url: target.webSocketURL, token: tokenFromEnvironment(target.token), profiles: [profile],
                count: devices, rate: 0, jitter: 0, rampMs: 1)
            let simulation = Simulation(options: options, logger: logger)
            let fleet = Task { await simulation.run() }
            let result: Result<Void, any Error>
            do {
                try await measure(
                    simulation: simulation, own: Set((0..<devices).map(profile.deviceID)), api: api, metrics: metrics,
                    timeoutMs: timeoutMs)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            fleet.cancel()
            await fleet.value
            try result.get()
        }

        /// Waits for the devices, sends the commands and prints the figures; `own` are the bench's device ids.
        private func measure(
            simulation: Simulation, own: Set<String>, api: HubHTTPClient, metrics: HubHTTPClient, timeoutMs: Int64
        ) async throws {
            let connectStart = ContinuousClock.now
            let connectDeadline =
                connectStart
                + .milliseconds(
                    Int(try durationSeconds(connectTimeout, option: "--connect-timeout") * 1_000))
            var room = try await Self.room(api)
            while simulation.stats.snapshot.connected < devices || (room?.online ?? 0) < devices {
                guard ContinuousClock.now < connectDeadline else {
                    let stats = simulation.stats.snapshot
                    throw CLIError(
                        message:
                            "only \(stats.connected)/\(devices) devices connected (\(room?.online ?? 0) online in \(Self.room)) after \(connectTimeout)"
                            + (stats.lastError.map { "; last error: \($0)" } ?? ""))
                }
                try await Task.sleep(for: .milliseconds(250))
                room = try await Self.room(api)
            }
            let connectSeconds = connectStart.duration(to: .now).inSeconds
            let members = room?.members ?? devices
            if members > own.count {
                sayToStandardError(
                    "note: \(Self.room) has \(members) members, \(members - devices) of them not this bench's devices (from earlier runs with more devices, or added by operators); the hub answers for them too (offline ones as offline), and their statuses are counted apart"
                )
            }

            // The URL session waits for the slowest answer: the command's timeout, and some more.
            let session = HubHTTPClient.session(timeout: Double(timeoutMs) / 1_000 + 10)
            defer { session.finishTasksAndInvalidate() }
            let path = "/api/rooms/\(roomSegment(Self.room))/commands"
            func send(_ sequence: Int) async throws -> (answer: CommandAnswer, waitedSeconds: Double) {
                let body = CommandArguments.body(
                    name: "noop", args: JSONObject([("seq", .number(Double(sequence)))]), timeoutMs: timeoutMs)
                var waited = 0.0
                while true {
                    let reply: HubHTTPClient.Reply
                    do {
                        reply = try await api.send(
                            "POST", path, body: body, timeout: Double(timeoutMs) / 1_000 + 10, session: session)
                    } catch {
                        throw CLIError(
                            message:
                                "POST \(path): cannot reach the hub at \(api.baseURL): \(CommandAPI.describe(error))")
                    }
                    if reply.status == 429, waited < 60 {
                        // The per-user rate limit: wait for a token and send again.
                        try await Task.sleep(for: .milliseconds(100))
                        waited += 0.1
                        continue
                    }
                    guard reply.status == 200 else {
                        throw CLIError(message: "POST \(path): \(CommandAPI.failure(reply))")
                    }
                    do {
                        return (try CommandAnswer.parse(reply.text), waited)
                    } catch {
                        throw CLIError(message: "POST \(path): the hub's answer is not a command: \(error)")
                    }
                }
            }

            // One warm-up command, then a second's pause in which the hub's rate limit refills its burst.
            _ = try await send(0)
            try await Task.sleep(for: .seconds(1))

            let hubBefore = try await HubFigures.read(metrics)
            let ownBefore = threadCPUSeconds()
            let started = ContinuousClock.now
            var times: [Double] = []
            var counts: [String: Int] = [:]
            var others: [String: Int] = [:]
            var waited = 0.0
            var short = 0
            for sequence in 1...commands {
                let sent = ContinuousClock.now
                let (answer, waitedSeconds) = try await send(sequence)
                times.append(sent.duration(to: .now).inMilliseconds - waitedSeconds * 1_000)
                waited += waitedSeconds
                var seen = 0
                for result in answer.results {
                    if own.contains(result.device) {
                        counts[result.status, default: 0] += 1
                        seen += 1
                    } else {
                        others[result.status, default: 0] += 1
                    }
                }
                if seen < devices { short += 1 }
            }
            let wall = started.duration(to: .now).inSeconds
            let ownCPU = threadCPUSeconds() - ownBefore
            let hubAfter = try await HubFigures.read(metrics)

            let sorted = times.sorted()
            func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            let mean = times.reduce(0, +) / Double(times.count)
            let results = counts.values.reduce(0, +)
            let statuses = CommandStatus.ordered(counts).map { "\($0.status) \($0.count)" }.joined(separator: ", ")
            let allOK = counts.keys.allSatisfy { $0 == "ok" } && results == devices * commands
            let otherNote =
                others.isEmpty
                ? ""
                : "\n  other members    : "
                    + CommandStatus.ordered(others).map { "\($0.status) \($0.count)" }.joined(separator: ", ")
                    + " (not this bench's devices; not counted)"
            let hubCPU = (hubAfter.cpuSeconds - hubBefore.cpuSeconds) / wall * 100
            let working = max(wall - waited, 0.001)
            let waitNote =
                waited > 0
                ? " (\(String(format: "%.2f", waited)) s of it waiting for the hub's rate limit; \(Int(Double(devices * commands) / working)) results/s without)"
                : ""
            say(
                """
                bench commands: \(devices) idle devices in \(Self.room), \(commands) noop commands one after another, timeout \(CommandResultTable.seconds(timeoutMs))
                  devices online   : \(simulation.stats.snapshot.connected)/\(devices) (all online after \(String(format: "%.1f", connectSeconds)) s; \(members) members in the room)
                  per command      : p50 \(String(format: "%.1f", percentile(0.5))) ms, p90 \(String(format: "%.1f", percentile(0.9))) ms, max \(String(format: "%.1f", sorted.last ?? 0)) ms, mean \(String(format: "%.1f", mean)) ms
                  results          : \(Int(Double(devices * commands) / wall)) results/s (\(devices) devices x \(commands) commands in \(String(format: "%.2f", wall)) s)\(waitNote)
                  statuses         : \(statuses.isEmpty ? "none" : statuses)\(allOK ? " (all ok)" : " -- NOT all ok")\(short > 0 ? "; \(short) answers lacked some of the bench's devices" : "")\(otherNote)
                  hub CPU          : \(String(format: "%.0f", hubCPU)) % of one core during the commands
                  bench CPU        : \(String(format: "%.0f", ownCPU / wall * 100)) % of one core (\(devices) simulated devices and the HTTP client)
                  hub RSS          : \(String(format: "%.1f", hubAfter.residentBytes / 1_048_576)) MiB
                """)
            if !allOK { throw ExitCode(2) }
        }

        /// `bench:cmd` as `GET /api/rooms` lists it (nil while no device declares it).
        static func room(_ client: HubHTTPClient) async throws -> (members: Int, online: Int)? {
            let reply: HubHTTPClient.Reply
            do {
                reply = try await client.get("/api/rooms")
            } catch {
                throw CLIError(message: "cannot reach the hub at \(client.baseURL): \(CommandAPI.describe(error))")
            }
            guard reply.status == 200 else {
                throw CLIError(message: "GET /api/rooms: \(CommandAPI.failure(reply)) (pass --operator-token)")
            }
            guard let document = try? JSONParser.parse(reply.body), case .array(let rooms) = document["rooms"] else {
                throw CLIError(message: "GET /api/rooms: the answer has no \"rooms\" array: \(reply.text.prefix(200))")
            }
            guard let entry = rooms.first(where: { $0["room"]?.stringValue == room }) else { return nil }
            func count(_ key: String) -> Int {
                guard let number = entry[key]?.numberValue, number.isFinite, abs(number) < 1e15 else { return 0 }
                return Int(number)
            }
            return (count("members"), count("online"))
        }
    }
}
