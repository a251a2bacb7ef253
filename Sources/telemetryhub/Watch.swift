import ArgumentParser
import Foundation
import HubClient
import HubCore
import Logging
import Synchronization

/// `telemetryhub watch`: a live terminal view of series (latest value, min/max, sparkline), reconnecting by itself.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch series live in the terminal: latest value, min/max and a sparkline per series.")

    @Argument(help: "Series selectors, e.g. 'thermo-*/temp' or '*/*'.")
    var selectors: [String]
    @Option(help: "How often the hub sends batches (e.g. 250ms, 1s, 5s; 0 as fast as possible).")
    var rate: String = "1s"
    @Option(help: "History loaded first, e.g. 5m (default: latest values only).")
    var history: String = "0"
    @Option(help: "Hub WebSocket base URL.")
    var url: String = "ws://127.0.0.1:8080"
    @Option(help: "Viewer token (or set TELEMETRYHUB_TOKEN); not needed when the hub runs with --no-auth.")
    var token: String?
    @Option(help: "Stop after this long, e.g. 30s (default: run until interrupted).")
    var duration: String?
    @Option(help: "Most series shown.")
    var limit: Int = 40
    @Flag(help: "Print a plain table each refresh instead of redrawing the screen.")
    var plain = false
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        for selector in selectors {
            do { _ = try SeriesSelector(parsing: selector) } catch {
                throw ValidationError("'\(selector)' is not a series selector: \(error.message)")
            }
        }
        guard !selectors.isEmpty else { throw ValidationError("give at least one series selector") }
        guard url.hasPrefix("ws://") || url.hasPrefix("wss://") else {
            throw ValidationError("--url must start with ws:// or wss://")
        }
        guard limit > 0 else { throw ValidationError("--limit must be positive") }
        _ = try rateMs()
        _ = try historyMs()
    }

    func rateMs() throws -> Int64 {
        guard let ms = DurationText.milliseconds(rate), ms == 0 || (10...3_600_000).contains(ms) else {
            throw ValidationError("--rate must be 0 or a duration from 10ms to 1h, e.g. 250ms or 1s")
        }
        return ms
    }

    func historyMs() throws -> Int64 {
        guard let ms = DurationText.milliseconds(history), (0...604_800_000).contains(ms) else {
            throw ValidationError("--history must be a duration up to 7d, e.g. 5m")
        }
        return ms
    }

    func run() async throws {
        var logger = try logging.makeLogger(label: "telemetryhub.watch")
        if logger.logLevel == .info { logger.logLevel = .warning }
        let deadline = try duration.map {
            ContinuousClock.now + .seconds(try durationSeconds($0, option: "--duration"))
        }
        let client = DashboardClient(
            url: url, token: tokenFromEnvironment(token),
            subscriptions: [.init(sub: "watch", series: selectors, rateMs: try rateMs(), historyMs: try historyMs())],
            logger: logger)
        let state = WatchState(status: "connecting to \(url)")
        let interactive = !plain && isatty(STDOUT_FILENO) != 0
        let limit = self.limit
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await client.run(until: deadline) { event in
                    state.value.withLock { state in
                        state.dirty = true
                        switch event {
                        case .connected: state.status = "live"
                        case .subscribed(_, let series, let recovered):
                            state.status =
                                "live: \(series) series"
                                + (recovered.map { $0 ? ", resumed" : ", fresh snapshot" } ?? "")
                        case .snapshot(_, let series):
                            for (key, samples) in series { state.board.load(key, samples: samples) }
                        case .batch(_, _, let samples, let coalesced):
                            state.board.batch(samples, coalesced: coalesced)
                        case .presence: break
                        case .error(let code, let message): state.status = "error \(code): \(message)"
                        case .disconnected(let reason, let retry):
                            state.status = retry.map { "reconnecting in \($0) ms (\(reason))" } ?? "stopped (\(reason))"
                        }
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(interactive ? 250 : 1_000))
                    Self.draw(state: state, interactive: interactive, limit: limit)
                }
            }
            await group.next()
            group.cancelAll()
        }
        Self.draw(state: state, interactive: false, limit: limit, force: true)
    }

    private static func draw(
        state: WatchState, interactive: Bool, limit: Int,
        force: Bool = false
    ) {
        let lines: [String]? = state.value.withLock { state in
            guard state.dirty || force else { return nil }
            state.dirty = false
            let board = state.board
            let header =
                "\(state.status) | \(board.rows.count) series, \(board.batches) batches, \(board.samples) samples, coalesced \(board.coalesced)"
            return [header] + board.render(now: Int64(Date().timeIntervalSince1970 * 1_000), limit: limit)
        }
        guard let lines else { return }
        let text =
            (interactive ? "\u{1B}[H\u{1B}[2J" : "") + lines.joined(separator: "\n") + "\n" + (interactive ? "" : "\n")
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// What `watch` shows, shared by the client's callback and the drawing loop.
final class WatchState: Sendable {
    let value: Mutex<(board: WatchBoard, status: String, dirty: Bool)>

    init(status: String) {
        value = Mutex((board: WatchBoard(), status: status, dirty: true))
    }
}
