import Testing

@testable import HubCore

@Suite("DeviceMessageDecoder")
struct DeviceMessageDecoderTests {
    // MARK: register

    @Test func registerAppliesDefaults() {
        let message = singleMessage(#"{"type":"register","device":"thermo-1"}"#)
        #expect(
            message == .register(.init(id: nil, device: "thermo-1", kind: "generic", rooms: [], meta: JSONObject())))
        #expect(message?.id == nil)
    }

    @Test func registerWithEverything() throws {
        let message = singleMessage(
            #"{"type":"register","id":"r1","device":"thermo-1","kind":"thermostat","rooms":["kitchen","floor:1","kitchen"],"meta":{"fw":"1.2","n":3}}"#
        )
        guard case .register(let register) = message else {
            Issue.record("expected register, got \(String(describing: message))")
            return
        }
        #expect(register.id == .string("r1"))
        #expect(register.device == "thermo-1")
        #expect(register.kind == "thermostat")
        #expect(register.rooms == ["kitchen", "floor:1"])  // duplicates removed, order kept
        #expect(register.meta == JSONObject([(key: "fw", value: .string("1.2")), (key: "n", value: .number(3))]))
    }

    @Test func registerAcceptsLongestName() {
        let name = String(repeating: "a", count: 128)
        guard case .register(let register) = singleMessage(#"{"type":"register","device":"\#(name)"}"#) else {
            Issue.record("128-byte device id rejected")
            return
        }
        #expect(register.device == name)
    }

    @Test(arguments: [
        (#"{"type":"register","id":7}"#, "missing field 'device'"),
        (#"{"type":"register","id":7,"device":5}"#, "'device' must be a string"),
        (#"{"type":"register","id":7,"device":"bad name"}"#, "'device' must match"),
        (#"{"type":"register","id":7,"device":""}"#, "'device' must match"),
        (#"{"type":"register","id":7,"device":"a/b"}"#, "'device' must match"),
        (#"{"type":"register","id":7,"device":"thermo-*"}"#, "'device' must match"),
        (#"{"type":"register","id":7,"device":"\#(String(repeating: "x", count: 129))"}"#, "'device' must match"),
        (#"{"type":"register","id":7,"device":"d","kind":3}"#, "'kind' must be a string"),
        (#"{"type":"register","id":7,"device":"d","kind":"tab\there"}"#, "'kind' must be a string"),
        (#"{"type":"register","id":7,"device":"d","kind":""}"#, "'kind' must be a string"),
        (#"{"type":"register","id":7,"device":"d","rooms":"kitchen"}"#, "'rooms' must be an array"),
        (#"{"type":"register","id":7,"device":"d","rooms":[1]}"#, "invalid room name number"),
        (#"{"type":"register","id":7,"device":"d","rooms":["ok","floor:*"]}"#, "invalid room name 'floor:*'"),
        (#"{"type":"register","id":7,"device":"d","rooms":["*"]}"#, "invalid room name '*'"),
        (#"{"type":"register","id":7,"device":"d","rooms":["a b"]}"#, "invalid room name 'a b'"),
        (#"{"type":"register","id":7,"device":"d","rooms":[""]}"#, "invalid room name ''"),
        (#"{"type":"register","id":7,"device":"d","meta":[]}"#, "'meta' must be an object"),
        (#"{"type":"register","id":7,"device":"d","meta":"x"}"#, "'meta' must be an object"),
    ])
    func registerValidation(frame: String, fragment: String) throws {
        let failure = try #require(singleFailure(frame), "\(frame) did not fail")
        #expect(failure.id == .number(7))
        #expect(failure.error.code == .invalidMessage)
        #expect(failure.error.message.contains(fragment), "\(failure.error.message)")
    }

    // MARK: telemetry

    @Test func telemetryMetricsFormUsesTopLevelTimestamp() {
        let message = singleMessage(
            #"{"type":"telemetry","id":1,"ts":1732240000000,"metrics":{"temp":21.5,"hum":40,"neg":-0.5}}"#)
        #expect(
            message
                == .telemetry(
                    .init(
                        id: .number(1), device: nil,
                        samples: [
                            MetricSample(metric: "temp", ts: 1_732_240_000_000, value: 21.5),
                            MetricSample(metric: "hum", ts: 1_732_240_000_000, value: 40),
                            MetricSample(metric: "neg", ts: 1_732_240_000_000, value: -0.5),
                        ])))
    }

    @Test func telemetryWithoutTimestampLeavesItNil() {
        let message = singleMessage(#"{"type":"telemetry","metrics":{"temp":21.5}}"#)
        #expect(
            message
                == .telemetry(
                    .init(id: nil, device: nil, samples: [MetricSample(metric: "temp", ts: nil, value: 21.5)])))
        let list = singleMessage(#"{"type":"telemetry","samples":[{"metric":"temp","value":1}]}"#)
        #expect(
            list == .telemetry(.init(id: nil, device: nil, samples: [MetricSample(metric: "temp", ts: nil, value: 1)])))
    }

    @Test func telemetrySamplesFormFallsBackToTopLevelTimestamp() {
        let message = singleMessage(
            #"{"type":"telemetry","id":"t","ts":5000,"samples":[{"metric":"a","value":1,"ts":1000},{"metric":"b","value":2},{"metric":"a","value":3,"ts":0}]}"#
        )
        #expect(
            message
                == .telemetry(
                    .init(
                        id: .string("t"), device: nil,
                        samples: [
                            MetricSample(metric: "a", ts: 1_000, value: 1),
                            MetricSample(metric: "b", ts: 5_000, value: 2),
                            MetricSample(metric: "a", ts: 0, value: 3),
                        ])))
    }

    @Test func telemetryBothFormsMetricsFirst() {
        let message = singleMessage(
            #"{"type":"telemetry","ts":10,"samples":[{"metric":"s","value":2}],"metrics":{"m":1}}"#)
        #expect(
            message
                == .telemetry(
                    .init(
                        id: nil, device: nil,
                        samples: [
                            MetricSample(metric: "m", ts: 10, value: 1), MetricSample(metric: "s", ts: 10, value: 2),
                        ]
                    )))
    }

    @Test func telemetryCarriesNamedDevice() {
        guard case .telemetry(let telemetry) = singleMessage(#"{"type":"telemetry","device":"d-2","metrics":{"x":1}}"#)
        else {
            Issue.record("not telemetry")
            return
        }
        #expect(telemetry.device == "d-2")
        let bad = singleFailure(#"{"type":"telemetry","device":"no good","metrics":{"x":1}}"#)
        #expect(bad?.error.code == .invalidMessage)
    }

    @Test func telemetryTimestampBounds() {
        let largest = singleMessage(#"{"type":"telemetry","ts":9007199254740991,"metrics":{"x":1}}"#)
        #expect(
            largest
                == .telemetry(
                    .init(
                        id: nil, device: nil, samples: [MetricSample(metric: "x", ts: 9_007_199_254_740_991, value: 1)])
                ))
        let zero = singleMessage(#"{"type":"telemetry","ts":0,"metrics":{"x":1}}"#)
        #expect(zero == .telemetry(.init(id: nil, device: nil, samples: [MetricSample(metric: "x", ts: 0, value: 1)])))
        let exponent = singleMessage(#"{"type":"telemetry","ts":1.7e12,"metrics":{"x":1}}"#)
        #expect(
            exponent
                == .telemetry(
                    .init(id: nil, device: nil, samples: [MetricSample(metric: "x", ts: 1_700_000_000_000, value: 1)])))
    }

    @Test(arguments: [
        (#"{"type":"telemetry","id":3}"#, "needs 'metrics'"),
        (#"{"type":"telemetry","id":3,"metrics":[1]}"#, "'metrics' must be an object"),
        (#"{"type":"telemetry","id":3,"samples":{"a":1}}"#, "'samples' must be an array"),
        (#"{"type":"telemetry","id":3,"metrics":{}}"#, "carries no samples"),
        (#"{"type":"telemetry","id":3,"samples":[]}"#, "carries no samples"),
        (#"{"type":"telemetry","id":3,"samples":[5]}"#, "samples[0] must be an object"),
        (
            #"{"type":"telemetry","id":3,"samples":[{"metric":"a","value":1},{"value":1}]}"#,
            "samples[1] is missing field 'metric'"
        ),
        (
            #"{"type":"telemetry","id":3,"samples":[{"metric":"a b","value":1}]}"#,
            "samples[0].metric is not a valid metric name"
        ),
        (
            #"{"type":"telemetry","id":3,"samples":[{"metric":7,"value":1}]}"#,
            "samples[0].metric is not a valid metric name"
        ),
        (#"{"type":"telemetry","id":3,"samples":[{"metric":"a"}]}"#, "samples[0] is missing field 'value'"),
        (#"{"type":"telemetry","id":3,"metrics":{"bad name":1}}"#, "invalid metric name 'bad name'"),
        (#"{"type":"telemetry","id":3,"metrics":{"":1}}"#, "invalid metric name ''"),
        (#"{"type":"telemetry","id":3,"metrics":{"a*":1}}"#, "invalid metric name 'a*'"),
        (#"{"type":"telemetry","id":3,"metrics":{"x":"1"}}"#, "must be a number, got string"),
        (#"{"type":"telemetry","id":3,"metrics":{"x":null}}"#, "must be a number, got null"),
        (#"{"type":"telemetry","id":3,"metrics":{"x":true}}"#, "must be a number, got boolean"),
        (#"{"type":"telemetry","id":3,"samples":[{"metric":"x","value":[1]}]}"#, "must be a number, got array"),
        (#"{"type":"telemetry","id":3,"ts":1.5,"metrics":{"x":1}}"#, "'ts' must be a non-negative integer"),
        (#"{"type":"telemetry","id":3,"ts":-1,"metrics":{"x":1}}"#, "'ts' must be a non-negative integer"),
        (#"{"type":"telemetry","id":3,"ts":"1732240000000","metrics":{"x":1}}"#, "'ts' must be a non-negative integer"),
        (#"{"type":"telemetry","id":3,"ts":null,"metrics":{"x":1}}"#, "'ts' must be a non-negative integer"),
        (
            #"{"type":"telemetry","id":3,"ts":9007199254740992,"metrics":{"x":1}}"#,
            "'ts' must be a non-negative integer"
        ),
        (#"{"type":"telemetry","id":3,"ts":1e999,"metrics":{"x":1}}"#, "'ts' must be a non-negative integer"),
        (#"{"type":"telemetry","id":3,"ts":NaN,"metrics":{"x":1}}"#, "'ts' must be a non-negative integer"),
        (
            #"{"type":"telemetry","id":3,"samples":[{"metric":"x","value":1,"ts":2.5}]}"#,
            "'samples[0].ts' must be a non-negative integer"
        ),
        (
            #"{"type":"telemetry","id":3,"samples":[{"metric":"x","value":1},{"metric":"x","value":1,"ts":-5}]}"#,
            "'samples[1].ts' must be"
        ),
        (#"{"type":"telemetry","id":3,"device":5,"metrics":{"x":1}}"#, "'device' must be a string"),
    ])
    func telemetryValidation(frame: String, fragment: String) throws {
        let failure = try #require(singleFailure(frame), "\(frame) did not fail")
        #expect(failure.id == .number(3))
        #expect(failure.error.code == .invalidMessage)
        #expect(failure.error.message.contains(fragment), "\(failure.error.message)")
    }

    @Test(arguments: [
        #"{"type":"telemetry","id":3,"metrics":{"x":NaN}}"#,
        #"{"type":"telemetry","id":3,"metrics":{"x":Infinity}}"#,
        #"{"type":"telemetry","id":3,"metrics":{"x":-Infinity}}"#,
        #"{"type":"telemetry","id":3,"metrics":{"x":1e999}}"#,
        #"{"type":"telemetry","id":3,"metrics":{"ok":1,"x":-1e999}}"#,
        #"{"type":"telemetry","id":3,"samples":[{"metric":"x","value":NaN}]}"#,
        #"{"type":"telemetry","id":3,"samples":[{"metric":"x","value":1e999}]}"#,
    ])
    func nonFiniteValuesAreRejected(frame: String) throws {
        let failure = try #require(singleFailure(frame), "\(frame) did not fail")
        #expect(failure.id == .number(3))
        #expect(failure.error.code == .invalidMessage)
        #expect(failure.error.message == "value of 'x' is not finite")
    }

    @Test func sampleLimitPerMessage() {
        let limits = DecoderLimits(maxBatchMessages: 10, maxSamplesPerMessage: 3)
        let atLimit = singleMessage(#"{"type":"telemetry","metrics":{"a":1,"b":2,"c":3}}"#, limits: limits)
        #expect(atLimit != nil)
        let mixedAtLimit = singleMessage(
            #"{"type":"telemetry","metrics":{"a":1,"b":2},"samples":[{"metric":"c","value":3}]}"#, limits: limits)
        #expect(mixedAtLimit != nil)

        for frame in [
            #"{"type":"telemetry","id":"big","metrics":{"a":1,"b":2,"c":3,"d":4}}"#,
            #"{"type":"telemetry","id":"big","samples":[{"metric":"a","value":1},{"metric":"a","value":1},{"metric":"a","value":1},{"metric":"a","value":1}]}"#,
            #"{"type":"telemetry","id":"big","metrics":{"a":1,"b":2},"samples":[{"metric":"c","value":3},{"metric":"d","value":4}]}"#,
        ] {
            let failure = singleFailure(frame, limits: limits)
            #expect(failure?.id == .string("big"))
            #expect(failure?.error.code == .tooLarge, "\(frame)")
            #expect(failure?.error.message.contains("exceed the limit of 3") == true)
        }
    }

    @Test func defaultLimits() {
        let limits = DecoderLimits()
        #expect(limits.maxBatchMessages == 1_000)
        #expect(limits.maxSamplesPerMessage == 10_000)
        #expect(DeviceMessageDecoder().limits == limits)
    }

    // MARK: command_result and ping

    @Test func commandResultOK() {
        let message = singleMessage(#"{"type":"command_result","id":"c1","ok":true,"result":{"x":1}}"#)
        #expect(
            message == .commandResult(.init(id: .string("c1"), ok: true, result: object(("x", .number(1))), error: nil))
        )
        #expect(message?.id == .string("c1"))
    }

    @Test func commandResultFailureWithError() {
        let message = singleMessage(#"{"type":"command_result","id":12,"ok":false,"error":"boom"}"#)
        #expect(message == .commandResult(.init(id: .number(12), ok: false, result: nil, error: "boom")))
        let nullResult = singleMessage(#"{"type":"command_result","id":12,"ok":true,"result":null}"#)
        #expect(nullResult == .commandResult(.init(id: .number(12), ok: true, result: .null, error: nil)))
    }

    @Test(
        arguments: [
            (#"{"type":"command_result","ok":true}"#, nil as MessageID?, "needs the command's 'id'"),
            (#"{"type":"command_result","id":"c","result":1}"#, MessageID.string("c"), "missing field 'ok'"),
            (#"{"type":"command_result","id":"c","ok":"yes"}"#, MessageID.string("c"), "'ok' must be a boolean"),
            (#"{"type":"command_result","id":"c","ok":1}"#, MessageID.string("c"), "'ok' must be a boolean"),
            (
                #"{"type":"command_result","id":"c","ok":false,"error":5}"#, MessageID.string("c"),
                "'error' must be a string"
            ),
        ] as [(String, MessageID?, String)])
    func commandResultValidation(frame: String, id: MessageID?, fragment: String) throws {
        let failure = try #require(singleFailure(frame))
        #expect(failure.id == id)
        #expect(failure.error.code == .invalidMessage)
        #expect(failure.error.message.contains(fragment), "\(failure.error.message)")
    }

    @Test func ping() {
        #expect(singleMessage(#"{"type":"ping"}"#) == .ping(id: nil))
        #expect(singleMessage(#"{"type":"ping","id":42}"#) == .ping(id: .number(42)))
        #expect(singleMessage(#"{"type":"ping","id":"p","extra":[1,2]}"#) == .ping(id: .string("p")))
        #expect(DeviceMessage.ping(id: .string("q")).id == .string("q"))
    }

    // MARK: type and id

    @Test func unknownType() throws {
        let failure = try #require(singleFailure(#"{"type":"reboot","id":"u"}"#))
        #expect(failure.id == .string("u"))
        #expect(failure.error == ProtocolError(code: .unknownType, message: "unknown message type 'reboot'"))
        #expect(singleFailure(#"{"type":""}"#)?.error.code == .unknownType)
        #expect(singleFailure(#"{"type":"Ping"}"#)?.error.code == .unknownType)
    }

    @Test func missingOrBadType() {
        let missing = singleFailure(#"{"id":1,"device":"d"}"#)
        #expect(missing?.id == .number(1))
        #expect(missing?.error == .invalidMessage("missing field 'type'"))
        #expect(singleFailure(#"{"type":5}"#)?.error == .invalidMessage("'type' must be a string"))
        #expect(singleFailure(#"{"type":null}"#)?.error == .invalidMessage("'type' must be a string"))
    }

    @Test func idForms() {
        #expect(singleMessage(#"{"type":"ping","id":"abc"}"#)?.id == .string("abc"))
        #expect(singleMessage(#"{"type":"ping","id":7}"#)?.id == .number(7))
        #expect(singleMessage(#"{"type":"ping","id":-2.5}"#)?.id == .number(-2.5))
        #expect(singleMessage(#"{"type":"ping","id":""}"#)?.id == .string(""))
    }

    @Test(arguments: [
        #"{"type":"ping","id":null}"#, #"{"type":"ping","id":true}"#, #"{"type":"ping","id":[1]}"#,
        #"{"type":"ping","id":{"a":1}}"#, #"{"type":"ping","id":NaN}"#, #"{"type":"ping","id":1e999}"#,
        #"{"type":"ping","id":-Infinity}"#,
    ])
    func badIDIsRejectedWithoutID(frame: String) throws {
        let failure = try #require(singleFailure(frame))
        #expect(failure.id == nil)
        #expect(failure.error == .invalidMessage("'id' must be a string or a number"))
    }

    @Test(arguments: [("5", "number"), ("\"x\"", "string"), ("null", "null"), ("true", "boolean")])
    func nonObjectFrames(frame: String, typeName: String) throws {
        let failure = try #require(singleFailure(frame))
        #expect(failure.id == nil)
        #expect(failure.error == .invalidMessage("expected a JSON object, got \(typeName)"))
    }

    @Test func invalidJSONFrame() throws {
        let failure = try #require(singleFailure(#"{"type":"ping","id":1"#))
        #expect(failure.id == nil)
        #expect(failure.error.code == .invalidJSON)
        #expect(singleFailure("")?.error.code == .invalidJSON)
    }

    // MARK: batches

    @Test func batchDecodesElementByElement() throws {
        let items = decode(
            #"[{"type":"ping","id":1},{"type":"telemetry","id":"b","metrics":{"x":NaN}},5,{"type":"register","device":"d"},{"type":"ping","id":false},{"type":"nope","id":"n"}]"#
        )
        try #require(items.count == 6)
        #expect(items[0] == .message(.ping(id: .number(1))))
        #expect(items[1] == .failure(id: .string("b"), .invalidMessage("value of 'x' is not finite")))
        #expect(items[2] == .failure(id: nil, .invalidMessage("expected a JSON object, got number")))
        #expect(
            items[3] == .message(.register(.init(id: nil, device: "d", kind: "generic", rooms: [], meta: JSONObject())))
        )
        #expect(items[4] == .failure(id: nil, .invalidMessage("'id' must be a string or a number")))
        #expect(items[5] == .failure(id: .string("n"), .unknownType("nope")))
        #expect(items.map(\.id) == [.number(1), .string("b"), nil, nil, nil, .string("n")])
    }

    @Test func emptyBatch() {
        #expect(decode("[]") == [.failure(id: nil, .invalidMessage("empty batch"))])
        #expect(decode(" [ ] ") == [.failure(id: nil, .invalidMessage("empty batch"))])
    }

    @Test func batchSizeLimit() {
        let limits = DecoderLimits(maxBatchMessages: 2, maxSamplesPerMessage: 10)
        let two = decode(#"[{"type":"ping"},{"type":"ping","id":2}]"#, limits: limits)
        #expect(two == [.message(.ping(id: nil)), .message(.ping(id: .number(2)))])
        let three = decode(#"[{"type":"ping","id":1},{"type":"ping"},{"type":"ping"}]"#, limits: limits)
        #expect(three.count == 1)
        guard case .failure(let id, let error) = three.first else {
            Issue.record("expected a failure, got \(three)")
            return
        }
        #expect(id == nil)
        #expect(error.code == .tooLarge)
        #expect(error.message == "batch of 3 messages exceeds the limit of 2")
    }

    @Test func nestedArrayInBatchIsAnElementError() {
        let items = decode(#"[[{"type":"ping"}]]"#)
        #expect(items == [.failure(id: nil, .invalidMessage("expected a JSON object, got array"))])
    }

    // MARK: direct entry points

    @Test func decodeTelemetryWithoutType() throws {
        let decoder = DeviceMessageDecoder()
        let body = try json(#"{"device":"d","ts":7,"metrics":{"a":1}}"#)
        guard case .object(let members) = body else {
            Issue.record("not an object")
            return
        }
        let telemetry = try decoder.decodeTelemetry(members, id: .string("h"))
        #expect(
            telemetry == .init(id: .string("h"), device: "d", samples: [MetricSample(metric: "a", ts: 7, value: 1)]))
        #expect(throws: ProtocolError.invalidMessage("telemetry needs 'metrics' (an object) or 'samples' (an array)")) {
            try decoder.decodeTelemetry(JSONObject(), id: nil)
        }
    }

    @Test func decodeFrameFromSlice() {
        let bytes = Array(#"xx{"type":"ping","id":"s"}"#.utf8)
        let items = DeviceMessageDecoder().decode(frame: bytes[2...])
        #expect(items == [.message(.ping(id: .string("s")))])
    }
}

@Suite("DeviceMessageDecoder meta limit")
struct DeviceMessageDecoderMetaTests {
    @Test func metaOverTheLimitIsTooLarge() {
        let decoder = DeviceMessageDecoder(limits: DecoderLimits(maxMetaBytes: 32))
        let small = decoder.decode(frame: Array(#"{"type":"register","device":"d","meta":{"fw":"1.2"}}"#.utf8))
        guard case .message = small.first else {
            Issue.record("small meta refused")
            return
        }
        let big = decoder.decode(
            frame: Array(
                #"{"type":"register","id":1,"device":"d","meta":{"notes":"0123456789012345678901234567890123456789"}}"#
                    .utf8))
        guard case .failure(let id, let error) = big.first else {
            Issue.record("big meta accepted")
            return
        }
        #expect(id == .number(1))
        #expect(error.code == .tooLarge)
        let kind = decoder.decode(frame: Array(#"{"type":"register","device":"d","kind":"Smart Thermostat"}"#.utf8))
        guard case .message(.register(let register)) = kind.first else {
            Issue.record("kind with a space refused")
            return
        }
        #expect(register.kind == "Smart Thermostat")
    }
}
