/// The framing every WebSocket endpoint shares: a frame is one JSON object, or an array of them (a batch) decoded
/// element by element, each with an optional `id`. Endpoints supply how one message object is decoded and how an
/// item is made.
enum FrameDecoding {
    /// Decodes a parsed frame into one item per message: `decode(object, id)` for each object, or `failure(id,
    /// error)` for an element that is not an object, has a bad `id`, or fails to decode.
    static func items<Item>(
        document: JSONValue, maxBatchMessages: Int,
        decode: (JSONObject, MessageID?) throws(ProtocolError) -> Item,
        failure: (MessageID?, ProtocolError) -> Item
    ) -> [Item] {
        func item(_ value: JSONValue) -> Item {
            guard case .object(let object) = value else {
                return failure(nil, .invalidMessage("expected a JSON object, got \(value.typeName)"))
            }
            var id: MessageID?
            if let rawID = object["id"] {
                guard let parsed = MessageID(rawID) else {
                    return failure(nil, .invalidMessage("'id' must be a string or a number"))
                }
                id = parsed
            }
            do {
                return try decode(object, id)
            } catch {
                return failure(id, error)
            }
        }
        guard case .array(let elements) = document else { return [item(document)] }
        guard elements.count <= maxBatchMessages else {
            return [
                failure(nil, .tooLarge("batch of \(elements.count) messages exceeds the limit of \(maxBatchMessages)"))
            ]
        }
        if elements.isEmpty { return [failure(nil, .invalidMessage("empty batch"))] }
        return elements.map(item)
    }
}
