import Foundation
import Testing

@testable import HubCore

// MARK: - Helpers

/// Decodes a dashboard frame given as text.
private func dashboardItems(
    _ text: String, configuration: DashboardConfiguration = DashboardConfiguration(), maxBatchMessages: Int = 1_000
) -> [DashboardDecodedItem] {
    DashboardMessageDecoder(configuration: configuration, maxBatchMessages: maxBatchMessages)
        .decode(frame: Array(text.utf8))
}

/// The single message a frame decodes to, or nil when it is not exactly one message.
private func dashboardMessage(
    _ text: String, configuration: DashboardConfiguration = DashboardConfiguration()
) -> DashboardMessage? {
    let items = dashboardItems(text, configuration: configuration)
    guard items.count == 1, case .message(let message) = items[0] else { return nil }
    return message
}

/// The single failure a frame decodes to, or nil when it is not exactly one failure.
private func dashboardFailure(
    _ text: String, configuration: DashboardConfiguration = DashboardConfiguration()
) -> (id: MessageID?, error: ProtocolError)? {
    let items = dashboardItems(text, configuration: configuration)
    guard items.count == 1, case .failure(let id, let error) = items[0] else { return nil }
    return (id, error)
}

/// The error code of the single failure a frame decodes to.
private func failureCode(_ text: String, configuration: DashboardConfiguration = DashboardConfiguration())
    -> ErrorCode?
{
    dashboardFailure(text, configuration: configuration)?.error.code
}

/// A selector the test knows to be valid.
private func selector(_ text: String) -> SeriesSelector {
    do {
        return try SeriesSelector(parsing: text)
    } catch {
        fatalError("bad selector \(text)")
    }
}

/// A reply parsed back with Foundation.
private func parsed(_ reply: DashboardReply) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(reply.encoded))
    return try #require(value as? [String: Any], "not an object: \(reply.text)")
}

/// A number from `JSONSerialization`.
private func number(_ value: Any?) -> Double? {
    if let number = value as? NSNumber { return number.doubleValue }
    if let value = value as? Int { return Double(value) }
    return value as? Double
}

/// `[[ts, value], …]` from `JSONSerialization`.
private func points(_ value: Any?) -> [[Double]]? {
    guard let rows = value as? [[Any]] else { return nil }
    let points = rows.map { $0.compactMap(number) }
    return points.allSatisfy { $0.count == 2 } ? points : nil
}

// MARK: - Decoder

@Suite("DashboardMessageDecoder: every message, its defaults and its errors")
struct DashboardMessageDecoderTests {
    @Test func subscribeWithEveryField() {
        let message = dashboardMessage(
            #"{"type":"subscribe","id":2,"sub":"s1","series":["thermo-*/temp","*/hum"],"rate_ms":250,"history_ms":60000}"#
        )
        #expect(
            message
                == .subscribe(
                    .init(
                        id: .number(2), sub: "s1", selectors: [selector("thermo-*/temp"), selector("*/hum")],
                        rateMs: 250, historyMs: 60_000)))
        #expect(message?.id == .number(2))
    }

    @Test func subscribeDefaultsToRate1000AndNoHistory() {
        let expected = DashboardMessage.subscribe(
            .init(id: .string("a"), sub: "s1", selectors: [selector("*/*")], rateMs: 1_000, historyMs: 0))
        #expect(dashboardMessage(#"{"type":"subscribe","id":"a","sub":"s1","series":["*/*"]}"#) == expected)
        #expect(
            dashboardMessage(#"{"type":"subscribe","id":"a","sub":"s1","series":["*/*"],"history_ms":null}"#)
                == expected)
        // Without an id the message still decodes; it simply gets no echo.
        #expect(dashboardMessage(#"{"type":"subscribe","sub":"s1","series":["*/*"]}"#)?.id == nil)
    }

    @Test func subscribeSelectorsAreDeduplicatedAndASingleStringIsAccepted() {
        guard
            case .subscribe(let subscribe) = dashboardMessage(
                #"{"type":"subscribe","sub":"s1","series":["a/*","*/b","a/*"]}"#)
        else {
            Issue.record("not a subscribe")
            return
        }
        #expect(subscribe.selectors == [selector("a/*"), selector("*/b")])
        guard case .subscribe(let single) = dashboardMessage(#"{"type":"subscribe","sub":"s1","series":"a/*"}"#)
        else {
            Issue.record("not a subscribe")
            return
        }
        #expect(single.selectors == [selector("a/*")])
    }

    @Test func resumeWithEveryFieldAndWithDefaults() {
        #expect(
            dashboardMessage(
                #"{"type":"resume","id":5,"sub":"s1","series":["thermo-*/temp"],"rate_ms":250,"after_seq":17,"history_ms":1000}"#
            )
                == .resume(
                    .init(
                        id: .number(5), sub: "s1", selectors: [selector("thermo-*/temp")], rateMs: 250, afterSeq: 17,
                        historyMs: 1_000)))
        #expect(
            dashboardMessage(#"{"type":"resume","sub":"s1","series":["*/*"],"after_seq":0}"#)
                == .resume(
                    .init(id: nil, sub: "s1", selectors: [selector("*/*")], rateMs: 1_000, afterSeq: 0, historyMs: 0)))
        guard
            case .resume(let largest) = dashboardMessage(
                #"{"type":"resume","sub":"s1","series":["*/*"],"after_seq":9007199254740991}"#)
        else {
            Issue.record("not a resume")
            return
        }
        #expect(largest.afterSeq == 9_007_199_254_740_991)
    }

    @Test func theSmallMessages() {
        #expect(
            dashboardMessage(#"{"type":"set_rate","id":3,"sub":"s1","rate_ms":1000}"#)
                == .setRate(id: .number(3), sub: "s1", rateMs: 1_000))
        #expect(
            dashboardMessage(#"{"type":"set_rate","sub":"s1","rate_ms":0}"#) == .setRate(id: nil, sub: "s1", rateMs: 0))
        #expect(
            dashboardMessage(#"{"type":"unsubscribe","id":4,"sub":"s1"}"#) == .unsubscribe(id: .number(4), sub: "s1"))
        #expect(dashboardMessage(#"{"type":"subscribe_devices","id":6}"#) == .subscribeDevices(id: .number(6)))
        #expect(dashboardMessage(#"{"type":"unsubscribe_devices","id":"u"}"#) == .unsubscribeDevices(id: .string("u")))
        #expect(dashboardMessage(#"{"type":"ping","id":9}"#) == .ping(id: .number(9)))
        #expect(dashboardMessage(#"{"type":"ping"}"#) == .ping(id: nil))
        // Unknown fields are ignored.
        #expect(dashboardMessage(#"{"type":"ping","id":1,"extra":{"a":[1]}}"#) == .ping(id: .number(1)))
        #expect(dashboardMessage(#"{"type":"unsubscribe","id":4,"sub":"s1"}"#)?.id == .number(4))
        #expect(dashboardMessage(#"{"type":"set_rate","id":"r","sub":"s1","rate_ms":10}"#)?.id == .string("r"))
        #expect(dashboardMessage(#"{"type":"unsubscribe_devices","id":7}"#)?.id == .number(7))
    }

    @Test func subscriptionNames() {
        let longest = String(repeating: "a", count: 64)
        for name in ["s1", "A.b_c:d-9", longest] {
            #expect(dashboardMessage(#"{"type":"unsubscribe","sub":"\#(name)"}"#) == .unsubscribe(id: nil, sub: name))
        }
        for bad in [#""""#, #""s 1""#, #""s/1""#, #""é""#, #""\#(longest)a""#, "42", "null", #"["s1"]"#] {
            let failure = dashboardFailure(#"{"type":"unsubscribe","id":4,"sub":\#(bad)}"#)
            #expect(failure?.error.code == .invalidMessage, "sub \(bad)")
            #expect(failure?.id == .number(4))
        }
    }

    @Test func missingSubOrSeriesIsInvalid() {
        let frames = [
            #"{"type":"subscribe","id":1,"series":["*/*"]}"#,
            #"{"type":"subscribe","id":1,"sub":"s1"}"#,
            #"{"type":"resume","id":1,"series":["*/*"],"after_seq":1}"#,
            #"{"type":"resume","id":1,"sub":"s1","after_seq":1}"#,
            #"{"type":"set_rate","id":1,"rate_ms":100}"#,
            #"{"type":"set_rate","id":1,"sub":"s1"}"#,
            #"{"type":"unsubscribe","id":1}"#,
        ]
        for frame in frames {
            let failure = dashboardFailure(frame)
            #expect(failure?.error.code == .invalidMessage, "\(frame)")
            #expect(failure?.id == .number(1), "\(frame)")
        }
    }

    @Test func badSelectorsAreInvalid() {
        let bad = [
            #"[]"#, #"["thermo-1"]"#, #"["a/b/c"]"#, #"["/temp"]"#, #"["thermo-1/"]"#, #"["thermo 1/temp"]"#,
            #"[""]"#, #"[42]"#, #"["*/*",null]"#, "42", "{}", "null",
        ]
        for series in bad {
            #expect(
                failureCode(#"{"type":"subscribe","id":1,"sub":"s1","series":\#(series)}"#) == .invalidMessage,
                "series \(series)")
            #expect(
                failureCode(#"{"type":"resume","id":1,"sub":"s1","series":\#(series),"after_seq":1}"#)
                    == .invalidMessage, "series \(series)")
        }
    }

    @Test func tooManySelectorsIsTooLarge() {
        func frame(_ count: Int) -> String {
            let list = (0..<count).map { #""d\#($0)/*""# }.joined(separator: ",")
            return #"{"type":"subscribe","id":1,"sub":"s1","series":[\#(list)]}"#
        }
        guard case .subscribe(let allowed) = dashboardMessage(frame(64)) else {
            Issue.record("64 selectors are allowed")
            return
        }
        #expect(allowed.selectors.count == 64)
        let failure = dashboardFailure(frame(65))
        #expect(failure?.error.code == .tooLarge)
        #expect(failure?.id == .number(1))
        let small = DashboardConfiguration(maxSelectors: 2)
        #expect(dashboardMessage(frame(2), configuration: small) != nil)
        #expect(failureCode(frame(3), configuration: small) == .tooLarge)
        #expect(
            failureCode(
                #"{"type":"resume","sub":"s1","series":["a/*","b/*","c/*"],"after_seq":1}"#, configuration: small)
                == .tooLarge)
    }

    @Test func rateBoundaries() {
        for rate in ["0", "10", "11", "250", "3600000", "1e3"] {
            #expect(dashboardMessage(#"{"type":"set_rate","sub":"s1","rate_ms":\#(rate)}"#) != nil, "rate \(rate)")
            #expect(dashboardMessage(#"{"type":"subscribe","sub":"s1","series":["*/*"],"rate_ms":\#(rate)}"#) != nil)
        }
        #expect(
            dashboardMessage(#"{"type":"set_rate","sub":"s1","rate_ms":3600000}"#)
                == .setRate(id: nil, sub: "s1", rateMs: DashboardMessageDecoder.maxRateMs))
        for rate in ["1", "5", "9", "-1", "-10", "3600001", "250.5", #""250""#, "null", "true", "[250]"] {
            let frames = [
                #"{"type":"set_rate","id":3,"sub":"s1","rate_ms":\#(rate)}"#,
                #"{"type":"subscribe","id":3,"sub":"s1","series":["*/*"],"rate_ms":\#(rate)}"#,
                #"{"type":"resume","id":3,"sub":"s1","series":["*/*"],"rate_ms":\#(rate),"after_seq":1}"#,
            ]
            for frame in frames {
                let failure = dashboardFailure(frame)
                #expect(failure?.error.code == .invalidMessage, "\(frame)")
                #expect(failure?.id == .number(3), "\(frame)")
            }
        }
    }

    @Test func historyBoundaries() {
        func frame(_ history: String) -> String {
            #"{"type":"subscribe","id":2,"sub":"s1","series":["*/*"],"history_ms":\#(history)}"#
        }
        for (text, value) in [("0", Int64(0)), ("1", 1), ("60000", 60_000), ("604800000", 604_800_000)] {
            guard case .subscribe(let subscribe) = dashboardMessage(frame(text)) else {
                Issue.record("history \(text) is allowed")
                continue
            }
            #expect(subscribe.historyMs == value)
        }
        for bad in ["-1", "604800001", "1.5", #""60000""#, "true", "{}"] {
            let failure = dashboardFailure(frame(bad))
            #expect(failure?.error.code == .invalidMessage, "history \(bad)")
            #expect(failure?.id == .number(2))
            #expect(
                failureCode(#"{"type":"resume","sub":"s1","series":["*/*"],"after_seq":1,"history_ms":\#(bad)}"#)
                    == .invalidMessage)
        }
        let short = DashboardConfiguration(maxHistoryMs: 1_000)
        #expect(dashboardMessage(frame("1000"), configuration: short) != nil)
        #expect(failureCode(frame("1001"), configuration: short) == .invalidMessage)
    }

    @Test func afterSeqIsRequiredAndANonNegativeInteger() {
        func frame(_ afterSeq: String) -> String {
            #"{"type":"resume","id":5,"sub":"s1","series":["*/*"]\#(afterSeq)}"#
        }
        for bad in [
            "", #","after_seq":-1"#, #","after_seq":1.5"#, #","after_seq":"17""#, #","after_seq":null"#,
            #","after_seq":9007199254740992"#,
        ] {
            let failure = dashboardFailure(frame(bad))
            #expect(failure?.error.code == .invalidMessage, "\(bad)")
            #expect(failure?.id == .number(5))
        }
    }

    @Test func unknownAndMissingTypes() {
        let unknown = dashboardFailure(#"{"type":"frobnicate","id":8}"#)
        #expect(unknown?.error.code == .unknownType)
        #expect(unknown?.error.message.contains("frobnicate") == true)
        #expect(unknown?.id == .number(8))
        // Device-protocol messages are not dashboard messages.
        #expect(failureCode(#"{"type":"register","id":1,"device":"d1"}"#) == .unknownType)
        #expect(failureCode(#"{"type":"telemetry","metrics":{"t":1}}"#) == .unknownType)
        let missing = dashboardFailure(#"{"id":1}"#)
        #expect(missing?.error.code == .invalidMessage)
        #expect(missing?.id == .number(1))
        #expect(failureCode(#"{"type":7}"#) == .invalidMessage)
        #expect(failureCode(#"{"type":null}"#) == .invalidMessage)
    }

    @Test func invalidJSONAndNonObjects() {
        for text in [#"{"type":"ping""#, "", "{", #"{"type":"ping"} x"#, "{'type':'ping'}", "[1,]"] {
            let failure = dashboardFailure(text)
            #expect(failure?.error.code == .invalidJSON, "\(text)")
            #expect(failure != nil && failure?.id == nil)
        }
        for text in ["42", #""ping""#, "null", "true"] {
            let failure = dashboardFailure(text)
            #expect(failure?.error.code == .invalidMessage, "\(text)")
            #expect(failure != nil && failure?.id == nil)
        }
    }

    @Test func badIdsAreInvalidWithoutAnEcho() {
        for id in ["true", "null", "{}", "[1]"] {
            let failure = dashboardFailure(#"{"type":"ping","id":\#(id)}"#)
            #expect(failure?.error.code == .invalidMessage, "id \(id)")
            #expect(failure != nil && failure?.id == nil)
        }
        #expect(dashboardMessage(#"{"type":"ping","id":1.5}"#) == .ping(id: .number(1.5)))
        #expect(dashboardMessage(#"{"type":"ping","id":""}"#) == .ping(id: .string("")))
    }

    @Test func batchesDecodeEachElementInOrder() {
        let items = dashboardItems(
            #"[{"type":"ping","id":1},{"type":"frobnicate","id":2},5,{"type":"unsubscribe","id":3},{"type":"set_rate","id":4,"sub":"s1","rate_ms":100}]"#
        )
        #expect(items.count == 5)
        guard items.count == 5 else { return }
        #expect(items[0] == .message(.ping(id: .number(1))))
        #expect(items[1] == .failure(id: .number(2), .unknownType("frobnicate")))
        guard case .failure(nil, let notObject) = items[2] else {
            Issue.record("element 3 is not an object")
            return
        }
        #expect(notObject.code == .invalidMessage)
        guard case .failure(.number(3), let missingSub) = items[3] else {
            Issue.record("element 4 misses 'sub'")
            return
        }
        #expect(missingSub.code == .invalidMessage)
        #expect(items[4] == .message(.setRate(id: .number(4), sub: "s1", rateMs: 100)))
        #expect(items.map(\.id) == [.number(1), .number(2), nil, .number(3), .number(4)])
    }

    @Test func batchLimits() {
        let empty = dashboardItems("[]")
        #expect(empty.count == 1)
        if case .failure(nil, let error) = empty.first {
            #expect(error.code == .invalidMessage)
        } else {
            Issue.record("an empty batch is invalid")
        }
        let pings = "[" + (1...3).map { #"{"type":"ping","id":\#($0)}"# }.joined(separator: ",") + "]"
        #expect(dashboardItems(pings, maxBatchMessages: 3).count == 3)
        let over = dashboardItems(pings, maxBatchMessages: 2)
        #expect(over.count == 1)
        if case .failure(nil, let error) = over.first {
            #expect(error.code == .tooLarge)
        } else {
            Issue.record("a batch over the limit is too large")
        }
        // A nested array is an element that is not an object.
        let nested = dashboardItems(#"[[{"type":"ping"}]]"#)
        #expect(nested.count == 1)
        if case .failure(nil, let error) = nested.first {
            #expect(error.code == .invalidMessage)
        } else {
            Issue.record("a nested batch is invalid")
        }
    }
}

// MARK: - Replies

@Suite("DashboardReply: encodings parse back to the documented fields")
struct DashboardReplyEncodingTests {
    @Test func subscribeAck() throws {
        let reply = DashboardReply.subscribed(id: .number(2), sub: "s1", series: 12, rateMs: 250)
        #expect(reply.text == #"{"type":"ack","id":2,"sub":"s1","series":12,"rate_ms":250}"#)
        #expect(reply.encoded == Array(reply.text.utf8))
        let object = try parsed(reply)
        #expect(object["type"] as? String == "ack")
        #expect(number(object["id"]) == 2)
        #expect(object["sub"] as? String == "s1")
        #expect(number(object["series"]) == 12)
        #expect(number(object["rate_ms"]) == 250)
    }

    @Test func resumeAcks() throws {
        for recovered in [true, false] {
            let reply = DashboardReply.resumed(id: .string("r5"), sub: "s1", recovered: recovered, series: 3, rateMs: 0)
            let object = try parsed(reply)
            #expect(Set(object.keys) == ["type", "id", "sub", "recovered", "series", "rate_ms"])
            #expect(object["type"] as? String == "ack")
            #expect(object["id"] as? String == "r5")
            #expect(object["recovered"] as? Bool == recovered)
            #expect(number(object["series"]) == 3)
            #expect(number(object["rate_ms"]) == 0)
        }
    }

    @Test func smallAcks() throws {
        let rate = try parsed(.rateSet(id: .number(3), sub: "s1", rateMs: 1_000))
        #expect(Set(rate.keys) == ["type", "id", "sub", "rate_ms"])
        #expect(number(rate["rate_ms"]) == 1_000)
        #expect(rate["sub"] as? String == "s1")

        let unsubscribed = try parsed(.unsubscribed(id: .number(4), sub: "s1"))
        #expect(Set(unsubscribed.keys) == ["type", "id", "sub"])
        #expect(unsubscribed["type"] as? String == "ack")
        #expect(number(unsubscribed["id"]) == 4)

        #expect(DashboardReply.ack(id: .number(7)).text == #"{"type":"ack","id":7}"#)
        #expect(DashboardReply.ack(id: .string("x\"y")).text == #"{"type":"ack","id":"x\"y"}"#)
        // Without an id there is no id member at all.
        #expect(DashboardReply.ack(id: nil).text == #"{"type":"ack"}"#)
        #expect(try parsed(.unsubscribed(id: nil, sub: "s1")).keys.sorted() == ["sub", "type"])
    }

    @Test func snapshot() throws {
        let reply = DashboardReply.snapshot(
            sub: "s1",
            series: [
                (
                    SeriesKey(device: "thermo-1", metric: "temp"),
                    [Sample(ts: 1_000, value: 21.5), Sample(ts: 2_000, value: -1)]
                ),
                (SeriesKey(device: "thermo-2", metric: "temp"), [Sample(ts: 1_500, value: 0)]),
                (SeriesKey(device: "thermo-3", metric: "temp"), []),
            ])
        let object = try parsed(reply)
        #expect(Set(object.keys) == ["type", "sub", "series"])
        #expect(object["type"] as? String == "snapshot")
        #expect(object["sub"] as? String == "s1")
        let series = try #require(object["series"] as? [String: Any])
        #expect(Set(series.keys) == ["thermo-1/temp", "thermo-2/temp", "thermo-3/temp"])
        #expect(points(series["thermo-1/temp"]) == [[1_000, 21.5], [2_000, -1]])
        #expect(points(series["thermo-2/temp"]) == [[1_500, 0]])
        #expect(points(series["thermo-3/temp"]) == [])
        // Series keep their order in the text.
        #expect(
            reply.text.hasPrefix(#"{"type":"snapshot","sub":"s1","series":{"thermo-1/temp":[[1000,21.5],[2000,-1]]"#))

        let empty = try parsed(.snapshot(sub: "s2", series: []))
        #expect((empty["series"] as? [String: Any])?.isEmpty == true)
    }

    @Test func devices() throws {
        let record = DeviceRecord(
            device: "thermo-1", kind: "thermostat", rooms: ["floor:3", "lab"], meta: JSONObject(), state: .online,
            since: 1_000, reason: .registered, session: 7, transport: "ws", firstSeen: 500, lastSeen: 1_200)
        let object = try parsed(.devices(id: .number(6), [record]))
        #expect(object["type"] as? String == "devices")
        #expect(number(object["id"]) == 6)
        let devices = try #require(object["devices"] as? [[String: Any]])
        #expect(devices.count == 1)
        let device = try #require(devices.first)
        #expect(device["device"] as? String == "thermo-1")
        #expect(device["kind"] as? String == "thermostat")
        #expect(device["rooms"] as? [String] == ["floor:3", "lab"])
        #expect(device["state"] as? String == "online")
        #expect(device["reason"] as? String == "registered")
        #expect(number(device["since"]) == 1_000)
        #expect(number(device["last_seen"]) == 1_200)

        let none = try parsed(.devices(id: nil, []))
        #expect(none["id"] == nil)
        #expect((none["devices"] as? [Any])?.isEmpty == true)
    }

    @Test func presenceEvent() throws {
        let event = PresenceEvent(device: "thermo-1", state: .offline, reason: .heartbeatTimeout, ts: 5_000)
        let full = try parsed(.device(event, kind: "thermostat", rooms: ["floor:3"]))
        #expect(full["type"] as? String == "device")
        #expect(full["device"] as? String == "thermo-1")
        #expect(full["state"] as? String == "offline")
        #expect(full["reason"] as? String == "heartbeat_timeout")
        #expect(number(full["ts"]) == 5_000)
        #expect(full["kind"] as? String == "thermostat")
        #expect(full["rooms"] as? [String] == ["floor:3"])

        let bare = try parsed(.device(event, kind: nil, rooms: nil))
        #expect(Set(bare.keys) == ["type", "device", "state", "reason", "ts"])
        let noRooms = try parsed(.device(event, kind: "thermostat", rooms: []))
        #expect(noRooms["rooms"] as? [String] == [])
    }

    @Test func errorsAndPongsAreTheSharedMessages() throws {
        let error = try parsed(.server(.error(id: .number(3), .notFound("no subscription 's9'"))))
        #expect(Set(error.keys) == ["type", "id", "code", "message"])
        #expect(error["type"] as? String == "error")
        #expect(error["code"] as? String == "not_found")
        #expect(error["message"] as? String == "no subscription 's9'")
        let tooLarge = try parsed(.server(.error(id: nil, .tooLarge("65 selectors"))))
        #expect(tooLarge["code"] as? String == "too_large")
        #expect(tooLarge["id"] == nil)

        let pong = try parsed(.server(.pong(id: .number(9), ts: 1_732_240_000_000)))
        #expect(pong["type"] as? String == "pong")
        #expect(number(pong["id"]) == 9)
        #expect(number(pong["ts"]) == 1_732_240_000_000)
    }

    @Test func repliesAreEqualWhenTheirEncodingsAre() {
        let key = SeriesKey(device: "d", metric: "m")
        #expect(
            DashboardReply.snapshot(sub: "s", series: [(key, [Sample(ts: 1, value: 2)])])
                == .snapshot(sub: "s", series: [(key, [Sample(ts: 1, value: 2)])]))
        #expect(
            DashboardReply.snapshot(sub: "s", series: [(key, [Sample(ts: 1, value: 2)])])
                != .snapshot(sub: "s", series: [(key, [Sample(ts: 1, value: 3)])]))
        #expect(DashboardReply.ack(id: .number(1)) != .ack(id: .string("1")))
    }
}
