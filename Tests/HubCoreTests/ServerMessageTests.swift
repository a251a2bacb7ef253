import Testing

@testable import HubCore

@Suite("ServerMessage")
struct ServerMessageTests {
    private func parsed(_ message: ServerMessage) throws -> JSONValue {
        try JSONParser.parse(message.encoded)
    }

    @Test func registeredAck() throws {
        let message = ServerMessage.registered(id: .string("r1"), device: "thermo-1", heartbeatMs: 15_000)
        #expect(message.text == #"{"type":"ack","id":"r1","device":"thermo-1","heartbeat_ms":15000}"#)
        let value = try parsed(message)
        #expect(value["type"] == .string("ack"))
        #expect(value["id"] == .string("r1"))
        #expect(value["device"] == .string("thermo-1"))
        #expect(value["heartbeat_ms"] == .number(15_000))
    }

    @Test func registeredWithoutIDOmitsIt() throws {
        let message = ServerMessage.registered(id: nil, device: "d", heartbeatMs: 5)
        #expect(message.text == #"{"type":"ack","device":"d","heartbeat_ms":5}"#)
        #expect(try parsed(message)["id"] == nil)
    }

    @Test func acceptedAck() throws {
        let message = ServerMessage.accepted(id: .number(7), accepted: 3)
        #expect(message.text == #"{"type":"ack","id":7,"accepted":3}"#)
        let value = try parsed(message)
        #expect(value == object(("type", .string("ack")), ("id", .number(7)), ("accepted", .number(3))))
        #expect(
            ServerMessage.accepted(id: .string("x"), accepted: 12_345).text
                == #"{"type":"ack","id":"x","accepted":12345}"#)
    }

    @Test func errorMessage() throws {
        let message = ServerMessage.error(id: .string("e"), .unknownType("reboot"))
        #expect(
            message.text
                == #"{"type":"error","id":"e","code":"unknown_type","message":"unknown message type 'reboot'"}"#)
        let withoutID = try parsed(.error(id: nil, .rateLimited("slow down")))
        #expect(
            withoutID
                == object(
                    ("type", .string("error")), ("code", .string("rate_limited")), ("message", .string("slow down"))))
    }

    @Test func errorCodesOnTheWire() throws {
        let cases: [(ProtocolError, String)] = [
            (.invalidJSON("x"), "invalid_json"), (.invalidMessage("x"), "invalid_message"),
            (.unknownType("x"), "unknown_type"), (.tooLarge("x"), "too_large"), (.notRegistered(), "not_registered"),
            (.forbidden("x"), "forbidden"), (.unauthorized("x"), "unauthorized"), (.notFound("x"), "not_found"),
            (.rateLimited("x"), "rate_limited"), (ProtocolError(code: .timeout, message: "x"), "timeout"),
            (ProtocolError(code: .internal, message: "x"), "internal"),
        ]
        for (error, code) in cases {
            #expect(try parsed(.error(id: nil, error))["code"] == .string(code))
            #expect(error.description.hasPrefix("\(code): "))
        }
    }

    @Test func pong() throws {
        let message = ServerMessage.pong(id: .number(42), ts: 1_732_240_000_000)
        #expect(message.text == #"{"type":"pong","id":42,"ts":1732240000000}"#)
        #expect(try parsed(.pong(id: nil, ts: 0)) == object(("type", .string("pong")), ("ts", .number(0))))
        #expect(ServerMessage.pong(id: nil, ts: -5).text == #"{"type":"pong","ts":-5}"#)
    }

    @Test func command() throws {
        let args = object(
            ("value", .number(21.5)), ("list", .array([.number(1), .null, .bool(true), .bool(false), .string("s")])),
            ("nested", object(("deep", object()))), ("empty", .array([])))
        let message = ServerMessage.command(id: "c-1", name: "set_target", args: args)
        let value = try parsed(message)
        #expect(value["type"] == .string("command"))
        #expect(value["id"] == .string("c-1"))
        #expect(value["name"] == .string("set_target"))
        #expect(value["args"] == args)
        #expect(
            ServerMessage.command(id: "i", name: "n", args: .null).text
                == #"{"type":"command","id":"i","name":"n","args":null}"#)
    }

    @Test func nonFiniteArgsBecomeNull() throws {
        let message = ServerMessage.command(
            id: "i", name: "n", args: .array([.number(.nan), .number(.infinity), .number(-.infinity)]))
        #expect(message.text == #"{"type":"command","id":"i","name":"n","args":[null,null,null]}"#)
    }

    @Test(arguments: [
        MessageID.string("abc"), .string(""), .string("a\"b\\c"), .string("ünï😀"), .number(0), .number(7), .number(-3),
        .number(12.25), .number(-0.001), .number(1_732_240_000_000), .number(9_007_199_254_740_991), .number(1e300),
    ])
    func idsAreEchoedAsGiven(id: MessageID) throws {
        for message in [
            ServerMessage.registered(id: id, device: "d", heartbeatMs: 1), .accepted(id: id, accepted: 1),
            .error(id: id, .invalidMessage("m")), .pong(id: id, ts: 1),
        ] {
            let value = try parsed(message)
            let raw = try #require(value["id"], "\(message.text)")
            #expect(MessageID(raw) == id, "\(message.text)")
        }
    }

    @Test func numericIDsKeepTheirType() throws {
        #expect(ServerMessage.pong(id: .number(5), ts: 1).text.contains(#""id":5,"#))
        #expect(ServerMessage.pong(id: .string("5"), ts: 1).text.contains(#""id":"5","#))
        #expect(ServerMessage.pong(id: .number(2.5), ts: 1).text.contains(#""id":2.5,"#))
    }

    @Test func stringEscaping() throws {
        let tricky = "q\"b\\s/n\nr\rt\tc\u{01}e\u{1F}é😀"
        let message = ServerMessage.error(id: .string(tricky), .invalidMessage(tricky))
        let text = message.text
        #expect(text.contains(#"q\"b\\s/n\nr\rt\tc\u0001e\u001fé😀"#), "\(text)")
        // No raw control characters anywhere in the frame.
        #expect(!message.encoded.contains { $0 < 0x20 })
        let value = try parsed(message)
        #expect(value["id"] == .string(tricky))
        #expect(value["message"] == .string(tricky))

        let command = ServerMessage.command(id: tricky, name: tricky, args: object((tricky, .string(tricky))))
        let back = try parsed(command)
        #expect(back["id"] == .string(tricky))
        #expect(back["name"] == .string(tricky))
        #expect(back["args"]?[tricky] == .string(tricky))
    }

    @Test func encodedMatchesText() {
        let message = ServerMessage.registered(id: .number(1), device: "é", heartbeatMs: 15_000)
        #expect(message.encoded == Array(message.text.utf8))
        var writer = JSONWriter()
        message.write(to: &writer)
        #expect(writer.bytes == message.encoded)
        #expect(writer.string == message.text)
    }

    @Test func writerNumbers() throws {
        var writer = JSONWriter()
        writer.raw("[")
        for (index, number) in [
            0, -0.0, 1, -1, 9, 10, 1.5, -2.75, 1e-7, 1e300, -9_007_199_254_740_991, 123_456_789.125,
        ].enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.number(number)
        }
        writer.raw("]")
        #expect(writer.string.hasPrefix("[0,0,1,-1,9,10,1.5,-2.75,"))
        let back = try JSONParser.parse(writer.bytes)
        #expect(
            back
                == .array(
                    [0, 0, 1, -1, 9, 10, 1.5, -2.75, 1e-7, 1e300, -9_007_199_254_740_991, 123_456_789.125].map {
                        .number($0)
                    }))
        var ints = JSONWriter()
        ints.int(Int64.min)
        ints.byte(UInt8(ascii: " "))
        ints.int(Int64.max)
        #expect(ints.string == "-9223372036854775808 9223372036854775807")
    }
}
