extension CommandRecord {
    /// The record in the form an archive stores it: every field, including the tracker's working ones (`deadline`,
    /// `connected`), so an open command resumes exactly after a restart. Read back by ``init(storage:)``.
    public var storageJSON: [UInt8] {
        var json = JSONWriter(capacity: 256 + deliveries.count * 96)
        json.raw("{\"id\":")
        json.string(id)
        json.raw(",\"number\":")
        json.int(Int64(number))
        json.raw(",\"room\":")
        json.string(room)
        json.raw(",\"name\":")
        json.string(name)
        json.raw(",\"args\":")
        json.value(.object(args))
        json.raw(",\"sender\":")
        json.string(sender)
        json.raw(",\"source\":")
        json.string(source)
        json.raw(",\"created_at\":")
        json.int(createdAt)
        json.raw(",\"timeout_ms\":")
        json.int(timeoutMs)
        json.raw(",\"ttl_ms\":")
        json.int(ttlMs)
        if let answeredAt {
            json.raw(",\"answered_at\":")
            json.int(answeredAt)
        }
        json.raw(",\"deliveries\":[")
        for (index, delivery) in deliveries.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"device\":")
            json.string(delivery.device)
            json.raw(",\"id\":")
            json.string(delivery.id)
            json.raw(",\"status\":")
            json.string(delivery.status.rawValue)
            if let result = delivery.result {
                json.raw(",\"result\":")
                json.value(result)
            }
            if let error = delivery.error {
                json.raw(",\"error\":")
                json.string(error)
            }
            for (key, value) in [
                ("sent_at", delivery.sentAt), ("answered_at", delivery.answeredAt), ("deadline", delivery.deadline),
            ] {
                guard let value else { continue }
                json.raw(",")
                json.key(key)
                json.int(value)
            }
            json.raw(",\"attempts\":")
            json.int(Int64(delivery.attempts))
            json.raw(",\"late\":")
            json.bool(delivery.late)
            json.raw(",\"connected\":")
            json.bool(delivery.connected)
            json.raw("}")
        }
        json.raw("]}")
        return json.bytes
    }

    /// Reads a record back from ``storageJSON``.
    ///
    /// - Throws: ``ProtocolError`` `invalid_json` or `invalid_message` naming the first field that is missing or
    ///   malformed.
    public init(storage bytes: some Collection<UInt8>) throws(ProtocolError) {
        guard case .object(let object) = try JSONParser.parse(bytes) else {
            throw .invalidMessage("a stored command must be an object")
        }
        let fields = StoredFields(object: object, path: "")
        var deliveries: [CommandDelivery] = []
        guard case .array(let items)? = object["deliveries"] else {
            throw .invalidMessage("deliveries: must be an array")
        }
        for (index, item) in items.enumerated() {
            guard case .object(let member) = item else { throw .invalidMessage("deliveries[\(index)]: not an object") }
            let field = StoredFields(object: member, path: "deliveries[\(index)].")
            let statusText = try field.string("status")
            guard let status = DeliveryStatus(rawValue: statusText) else {
                throw .invalidMessage("deliveries[\(index)].status: unknown status '\(statusText)'")
            }
            deliveries.append(
                CommandDelivery(
                    device: try field.string("device"), id: try field.string("id"), status: status,
                    result: member["result"], error: try field.optionalString("error"),
                    sentAt: try field.optionalInteger("sent_at"), answeredAt: try field.optionalInteger("answered_at"),
                    deadline: try field.optionalInteger("deadline"),
                    attempts: Int(try field.optionalInteger("attempts") ?? 0),
                    late: member["late"] == .bool(true), connected: member["connected"] == .bool(true)))
        }
        guard case .object(let args)? = object["args"] else { throw .invalidMessage("args: must be an object") }
        self.init(
            id: try fields.string("id"), number: UInt64(max(0, try fields.integer("number"))),
            room: try fields.string("room"), name: try fields.string("name"), args: args,
            sender: try fields.string("sender"), source: try fields.string("source"),
            createdAt: try fields.integer("created_at"), timeoutMs: try fields.integer("timeout_ms"),
            ttlMs: try fields.integer("ttl_ms"), answeredAt: try fields.optionalInteger("answered_at"),
            deliveries: deliveries)
    }
}

/// Reads typed fields of a stored object, naming the field in errors.
private struct StoredFields {
    let object: JSONObject
    let path: String

    func string(_ key: String) throws(ProtocolError) -> String {
        guard let text = try optionalString(key) else { throw .invalidMessage("\(path)\(key): is required") }
        return text
    }

    func optionalString(_ key: String) throws(ProtocolError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw .invalidMessage("\(path)\(key): must be a string")
        }
    }

    func integer(_ key: String) throws(ProtocolError) -> Int64 {
        guard let value = try optionalInteger(key) else { throw .invalidMessage("\(path)\(key): is required") }
        return value
    }

    func optionalInteger(_ key: String) throws(ProtocolError) -> Int64? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let number)? where number == number.rounded() && abs(number) <= 9_007_199_254_740_991:
            return Int64(number)
        default: throw .invalidMessage("\(path)\(key): must be an integer")
        }
    }
}
