// Fuzz target: SeriesQuery, the checked parameters of `GET /api/series/{device}/{metric}?from&to&step&limit`.
//
// The input is a query string, `name=value&name=value…`, split on `&` and at each pair's first `=`, names and values
// percent-decoded; a name given twice reads as its first value (as the HTTP layer does).
//
// Properties: parsing never traps; a refusal is `invalid_message`; a present parameter that is not an Int64 is
// refused; an accepted query holds the documented invariants (`0 <= from <= to <= Timestamps.max`, `step` nil or in
// `1...Timestamps.max`, `(to - from) / step <= maxPoints` when `to` was given, `1 <= limit <= maxLimit`), with
// `from` and `to` the given values clamped (or 0 and `Timestamps.max` when absent), `limit` the given one (or
// `defaultLimit`) and `step` the given one. `SeriesQuery.positive` accepts exactly 1...max and returns the value (or
// the default when absent).
import HubCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parameters = queryParameters(fuzzInput(data, size))
    let lookup: (String) -> String? = { name in parameters.first { $0.name == name }?.value }
    let given = { (name: String) -> Int64?? in lookup(name).map { Int64($0) } }

    let query: SeriesQuery
    do {
        query = try SeriesQuery(lookup)
    } catch {
        require(error.code == .invalidMessage, "refused with \(error.code)")
        checkPositive(lookup, given)
        return 0
    }
    for name in ["from", "to", "step", "limit"] {
        if case .some(.none) = given(name) { require(false, "accepted '\(name)=\(lookup(name)!)', not an integer") }
    }
    let max = Timestamps.max
    require(0 <= query.from && query.from <= query.to && query.to <= max, "from \(query.from), to \(query.to)")
    require((1...SeriesQuery.maxLimit).contains(query.limit), "limit \(query.limit)")
    if let step = query.step {
        require((1...max).contains(step), "step \(step)")
        // Only a given `to` bounds the buckets (without it the stored data do).
        if given("to") != nil {
            require(
                (query.to - query.from) / step <= SeriesQuery.maxPoints, "\((query.to - query.from) / step) points")
        }
    }
    let clamp = { (value: Int64) in Swift.min(Swift.max(value, 0), max) }
    require(query.from == (given("from")?.map(clamp) ?? 0), "from \(query.from) is not the given one clamped")
    require(query.to == (given("to")?.map(clamp) ?? max), "to \(query.to) is not the given one clamped")
    require(query.step == given("step") ?? nil, "step \(String(describing: query.step)) is not the given one")
    require(
        Int64(query.limit) == (given("limit") ?? Int64(SeriesQuery.defaultLimit)),
        "limit \(query.limit) is not the given one")
    checkPositive(lookup, given)
    return 0
}

private func checkPositive(_ lookup: (String) -> String?, _ given: (String) -> Int64??) {
    for max in [1, 10_000, SeriesQuery.maxLimit, Int.max] {
        let result = Result { () throws(ProtocolError) in
            try SeriesQuery.positive(lookup, "limit", default: 7, max: max)
        }
        switch (given("limit"), result) {
        case (nil, .success(let value)):
            require(value == 7, "absent limit gave \(value), not the default")
        case (.some(.some(let number)), .success(let value)):
            require(
                number >= 1 && Int(number) <= max && value == Int(number), "positive(\(number), max \(max)) = \(value)")
        case (.some(.some(let number)), .failure(let error)):
            require(error.code == .invalidMessage, "refused with \(error.code)")
            require(number < 1 || number > max, "positive refused \(number) within 1...\(max)")
        case (.some(.none), .failure(let error)):
            require(error.code == .invalidMessage, "refused with \(error.code)")
        case (nil, .failure(let error)):
            require(false, "absent limit refused: \(error)")
        case (.some(.none), .success(let value)):
            require(false, "accepted a limit that is not an integer as \(value)")
        }
    }
}

/// `a=1&b=2` as name/value pairs, percent-decoded (`+` stays `+`; a `%` not followed by two hex digits stays as is).
private func queryParameters(_ bytes: UnsafeBufferPointer<UInt8>) -> [(name: String, value: String)] {
    bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { pair in
        if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
            return (percentDecoded(pair[..<equals]), percentDecoded(pair[(equals + 1)...]))
        }
        return (percentDecoded(pair[...]), "")
    }
}

private func percentDecoded(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> String {
    func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var output: [UInt8] = []
    var index = bytes.startIndex
    while index < bytes.endIndex {
        if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.endIndex, let high = hex(bytes[index + 1]),
            let low = hex(bytes[index + 2])
        {
            output.append(high << 4 | low)
            index += 3
        } else {
            output.append(bytes[index])
            index += 1
        }
    }
    return String(decoding: output, as: UTF8.self)
}
