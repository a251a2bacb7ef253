// Fuzz target: DashboardMessageDecoder.decode(frame:) on arbitrary bytes, with the default configuration and with
// small limits (so limit checks are reached by small inputs).
//
// Properties of every decoded frame:
// - one item per batch element, never none, at most `maxBatchMessages`; an unparsable frame is one `invalid_json`;
// - every accepted message holds what the decoder promises: `sub` of 1 to 64 name bytes; 1 to `maxSelectors`
//   distinct selectors, each re-parsing from its text and matching as a reference glob matcher does; `rate_ms` 0 or
//   10...3,600,000; `history_ms` 0...`maxHistoryMs`; `after_seq` 0...2^53-1; an `ack_alert` id of 1 to 128 bytes and
//   a comment of at most 4,096; a command's valid room and name, `timeout_ms` 1...`maxTimeoutMs`, `ttl_ms`
//   0...`maxTTLMs`; ids that are strings or finite numbers.
import HubCore

private struct Setup {
    let decoder: DashboardMessageDecoder
    let configuration: DashboardConfiguration
    let commands: CommandConfiguration
    let maxBatchMessages: Int

    init(_ configuration: DashboardConfiguration, maxBatchMessages: Int, commands: CommandConfiguration) {
        self.configuration = configuration
        self.commands = commands
        self.maxBatchMessages = maxBatchMessages
        decoder = DashboardMessageDecoder(
            configuration: configuration, maxBatchMessages: maxBatchMessages, commands: commands)
    }
}

private let setups = [
    Setup(DashboardConfiguration(), maxBatchMessages: 1_000, commands: CommandConfiguration()),
    Setup(
        DashboardConfiguration(maxSelectors: 2, maxHistoryMs: 1_000), maxBatchMessages: 3,
        commands: CommandConfiguration(defaultTimeoutMs: 100, maxTimeoutMs: 1_000, maxTTLMs: 10)),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let parses = (try? JSONParser.parse(bytes)) != nil
    for setup in setups {
        let items = setup.decoder.decode(frame: bytes)
        require(!items.isEmpty, "no items")
        require(items.count <= setup.maxBatchMessages, "\(items.count) items over the batch limit")
        if !parses {
            guard items.count == 1, case .failure(nil, let error) = items[0], error.code == .invalidJSON else {
                require(false, "unparsable frame gave \(items)")
                return 0
            }
        }
        for item in items {
            require(item.id?.isValid ?? true, "invalid id \(String(describing: item.id))")
            switch item {
            case .message(let message): check(message, setup)
            case .failure(_, let error): require(!error.message.isEmpty, "failure without a message")
            }
        }
    }
    return 0
}

private func checkSub(_ sub: String) {
    require(
        !sub.isEmpty && sub.utf8.count <= DashboardMessageDecoder.maxSubscriptionName && Names.isValidName(sub),
        "invalid sub '\(sub)'")
}

private func checkRate(_ rate: Int64) {
    require(
        rate == 0 || (DashboardMessageDecoder.minRateMs...DashboardMessageDecoder.maxRateMs).contains(rate),
        "rate_ms \(rate) accepted")
}

private func checkSelectors(_ selectors: [SeriesSelector], _ setup: Setup) {
    require(
        !selectors.isEmpty && selectors.count <= setup.configuration.maxSelectors,
        "\(selectors.count) selectors accepted")
    require(Set(selectors).count == selectors.count, "duplicate selectors")
    selectors.forEach(checkSelector)
}

private func check(_ message: DashboardMessage, _ setup: Setup) {
    switch message {
    case .subscribe(let subscribe):
        checkSub(subscribe.sub)
        checkSelectors(subscribe.selectors, setup)
        checkRate(subscribe.rateMs)
        require((0...setup.configuration.maxHistoryMs).contains(subscribe.historyMs), "history_ms accepted")
    case .resume(let resume):
        checkSub(resume.sub)
        checkSelectors(resume.selectors, setup)
        checkRate(resume.rateMs)
        require((0...setup.configuration.maxHistoryMs).contains(resume.historyMs), "history_ms accepted")
        require(resume.afterSeq <= 9_007_199_254_740_991, "after_seq \(resume.afterSeq) accepted")
    case .setRate(_, let sub, let rate):
        checkSub(sub)
        checkRate(rate)
    case .unsubscribe(_, let sub):
        checkSub(sub)
    case .subscribeDevices, .unsubscribeDevices, .ping, .unsubscribeAlerts:
        break
    case .subscribeAlerts(_, let filter):
        if let match = filter.match { checkSelector(match) }
    case .ackAlert(_, let alert, let comment):
        require(!alert.isEmpty && alert.utf8.count <= 128, "alert id '\(alert)' accepted")
        require(comment.utf8.count <= 4_096, "comment of \(comment.utf8.count) bytes accepted")
    case .command(_, let request):
        require(Names.isValidRoom(request.room), "room '\(request.room)' accepted")
        require(Names.isValidName(request.name), "command name '\(request.name)' accepted")
        require(
            (1...setup.commands.maxTimeoutMs).contains(request.timeoutMs), "timeout_ms \(request.timeoutMs) accepted")
        require((0...setup.commands.maxTTLMs).contains(request.ttlMs), "ttl_ms \(request.ttlMs) accepted")
    }
}
