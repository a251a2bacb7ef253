import Testing

@testable import HubCore

@Suite("AlertEvent decoding: reading back the alert message")
struct AlertEventDecodingTests {
    /// An event with every optional field set, and awkward strings and numbers.
    private let full = AlertEvent(
        alert: "al-17", rule: "hot-rooms", name: "Room \"too\" hot\\\n\t°C 🔥\u{01}",
        series: SeriesKey(device: "thermo-1", metric: "temp"),
        state: .firing, previous: .pending, event: .transition, reason: "for_elapsed", severity: .critical,
        value: 31.2, threshold: 30, op: .greaterOrEqual, ts: 1_764_640_000_000, since: 1_764_639_999_000,
        started: 1_764_639_990_000, ack: AlertAck(by: "alice", comment: "on it, \"really\"", at: 1_764_639_995_000),
        silence: "sil-3", labels: ["team": "facilities", "floor": "2", "ünï": "çødé"],
        description: "thermo-1/temp is 31.2 °C (threshold 30)")

    /// An event with no optional field.
    private let bare = AlertEvent(
        alert: "al-1", rule: "r", name: "r", series: SeriesKey(device: "d", metric: "m"), state: .nodata,
        previous: nil, event: .current, reason: "current", severity: .info, value: nil, threshold: nil, op: nil,
        ts: 0, since: -5, started: -10, ack: nil, silence: nil, labels: [:], description: "")

    private func fields(_ event: AlertEvent) throws -> JSONObject {
        guard case .object(let object) = try JSONParser.parse(event.encoded) else {
            Issue.record("not an object")
            return JSONObject()
        }
        return object
    }

    private func decodingError(_ object: JSONObject) -> ProtocolError? {
        do {
            _ = try AlertEvent(json: .object(object))
            return nil
        } catch {
            return error
        }
    }

    @Test func eventsWithAndWithoutOptionalFieldsRoundTrip() throws {
        for event in [full, bare] {
            let decoded = try AlertEvent(parsing: event.encoded)
            #expect(decoded == event)
            #expect(decoded.encoded == event.encoded)
            #expect(try AlertEvent(json: JSONParser.parse(event.encoded)) == event)
        }
        #expect(try AlertEvent(parsing: full.encoded).silenced)
        #expect(try !AlertEvent(parsing: bare.encoded).silenced)
    }

    @Test func everyStateKindSeverityAndOperatorRoundTrips() throws {
        let kinds: [AlertEventKind] = [.current, .transition, .ack, .silence, .unsilence]
        for state in AlertState.allCases {
            for kind in kinds {
                var event = full
                event.state = state
                event.previous = state == .ok ? nil : .ok
                event.event = kind
                #expect(try AlertEvent(parsing: event.encoded) == event)
            }
        }
        for severity in AlertSeverity.allCases {
            for op in ComparisonOperator.allCases {
                var event = full
                event.severity = severity
                event.op = op
                #expect(try AlertEvent(parsing: event.encoded) == event)
            }
        }
    }

    @Test func numbersKeepTheirValue() throws {
        let values: [Double] = [
            0, -1, 0.1 + 0.2, 1e-7, -123_456.789, 1e300, 9_007_199_254_740_994, .leastNonzeroMagnitude,
            .greatestFiniteMagnitude,
        ]
        for value in values {
            var event = full
            event.value = value
            event.threshold = -value
            #expect(try AlertEvent(parsing: event.encoded) == event, "value \(value)")
        }
        var event = bare
        event.ts = -1_000
        event.since = 4_102_444_800_000
        event.started = 9_007_199_254_740_992
        #expect(try AlertEvent(parsing: event.encoded) == event)
    }

    @Test func theSpecExampleDecodes() throws {
        let text = """
            {"type":"alert","alert":"al-17","rule":"hot-rooms","name":"Room too hot","series":"thermo-1/temp",
             "device":"thermo-1","metric":"temp","state":"firing","previous":"pending","event":"transition",
             "reason":"threshold","severity":"critical","value":31.2,"threshold":30,"op":">",
             "ts":1764640000000,"since":1764640000000,"started":1764639990000,
             "acked":false,"silenced":false,"labels":{"team":"facilities"},
             "description":"thermo-1/temp is 31.2 °C (threshold 30)","unknown":[1,2]}
            """
        let event = try AlertEvent(parsing: Array(text.utf8))
        #expect(event.alert == "al-17")
        #expect(event.series == SeriesKey(device: "thermo-1", metric: "temp"))
        #expect(event.previous == .pending)
        #expect(event.op == .greater)
        #expect(event.value == 31.2)
        #expect(event.threshold == 30)
        #expect(event.started == 1_764_639_990_000)
        #expect(event.ack == nil)
        #expect(event.silence == nil)
        #expect(event.labels == ["team": "facilities"])
    }

    @Test func optionalFieldsMayBeAbsentOrNull() throws {
        var object = try fields(full)
        for name in ["type", "series", "previous", "value", "threshold", "op", "acked", "acked_by", "ack_comment"] {
            object[name] = nil
        }
        object["acked_at"] = nil
        object["silenced"] = nil
        object["labels"] = .null
        object["description"] = nil
        let event = try AlertEvent(json: .object(object))
        #expect(event.previous == nil && event.value == nil && event.threshold == nil && event.op == nil)
        #expect(event.ack == nil)
        #expect(event.silence == "sil-3")
        #expect(event.labels.isEmpty)
        #expect(event.description.isEmpty)

        object = try fields(bare)
        object["value"] = .null
        object["previous"] = .null
        #expect(try AlertEvent(json: .object(object)) == bare)
    }

    @Test func theSeriesStandsInForMissingDeviceAndMetric() throws {
        var object = try fields(full)
        object["device"] = nil
        object["metric"] = nil
        #expect(try AlertEvent(json: .object(object)) == full)
        object["series"] = .string("no-slash")
        #expect(decodingError(object)?.message == "series: must be device/metric, not 'no-slash'")
        object["series"] = nil
        #expect(decodingError(object)?.message == "device: is required")
    }

    @Test func aMissingRequiredFieldIsNamed() throws {
        let required = [
            "alert", "rule", "name", "device", "metric", "state", "event", "reason", "severity", "ts", "since",
            "started",
        ]
        for name in required {
            var object = try fields(full)
            object[name] = nil
            let error = decodingError(object)
            #expect(error?.code == .invalidMessage, "\(name)")
            #expect(error?.message == "\(name): is required", "\(name)")
            object[name] = .null
            #expect(decodingError(object)?.message == "\(name): is required", "\(name) null")
        }
        for name in ["acked_by", "ack_comment", "acked_at"] {
            var object = try fields(full)
            object[name] = nil
            #expect(decodingError(object)?.message == "\(name): is required when acked is true")
        }
        var object = try fields(full)
        object["silence"] = nil
        #expect(decodingError(object)?.message == "silence: is required when silenced is true")
    }

    @Test func aMalformedFieldIsNamed() throws {
        let cases: [(String, JSONValue, String)] = [
            ("alert", .number(17), "alert: must be a string, not number"),
            ("state", .string("burning"), "state: must be one of ok, pending, firing, resolved, nodata, not 'burning'"),
            ("previous", .string("x"), "previous: must be one of ok, pending, firing, resolved, nodata, not 'x'"),
            ("event", .string("x"), "event: must be one of current, transition, ack, silence, unsilence, not 'x'"),
            ("severity", .string("fatal"), "severity: must be one of info, warning, critical, not 'fatal'"),
            ("op", .string("=>"), "op: must be one of > >= < <= == !=, not '=>'"),
            ("value", .string("31"), "value: must be a finite number, not string"),
            ("ts", .number(1.5), "ts: must be a whole number of milliseconds"),
            ("since", .string("1"), "since: must be a whole number of milliseconds"),
            ("started", .number(1e300), "started: must be a whole number of milliseconds"),
            ("acked", .string("yes"), "acked: must be true or false, not string"),
            ("silenced", .number(1), "silenced: must be true or false, not number"),
            ("labels", .array([]), "labels: must be an object of strings, not array"),
            ("labels", .object(JSONObject([(key: "n", value: .number(1))])), "labels.n: must be a string, not number"),
            ("type", .string("pong"), "type: must be 'alert', not 'pong'"),
        ]
        for (name, value, message) in cases {
            var object = try fields(full)
            object[name] = value
            let error = decodingError(object)
            #expect(error?.code == .invalidMessage, "\(name)")
            #expect(error?.message == message)
        }
    }

    @Test func silencedFalseWinsOverAStraySilenceId() throws {
        var object = try fields(full)
        object["silenced"] = .bool(false)
        #expect(try AlertEvent(json: .object(object)).silence == nil)
    }

    @Test func somethingElseThanAnAlertObjectIsRefused() {
        #expect(throws: ProtocolError.invalidMessage("an alert event must be an object, not array")) {
            try AlertEvent(json: .array([]))
        }
        #expect {
            try AlertEvent(parsing: Array("{\"alert\":".utf8))
        } throws: { error in
            (error as? ProtocolError)?.code == .invalidJSON
        }
    }
}
