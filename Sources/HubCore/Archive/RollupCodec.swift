/// Compresses a run of rollup points of one series and one tier into a block of bytes, and back.
///
/// The points are expected in time order with timestamps on multiples of the tier's step, as ``Rollup`` makes them;
/// any points encode, but that is the shape the format is small for. The block is a version byte and five
/// ``ChunkCodec`` chunks, each pairing the point timestamps with one field and prefixed by its length:
///
/// `[version: 1 byte]` then `[length: LEB128][chunk]` for `(ts, min)`, `(ts, max)`, `(ts, sum)`,
/// `(ts, Double(count))` and `(ts, sum correction)`, in that order. A sum-correction length of 0 (no chunk) means
/// every correction is 0.
///
/// Reusing ``ChunkCodec`` means regular timestamps cost about one bit per point in each chunk, and fields that are
/// short decimals (typically `min` and `max`, and always `count`) are stored as differences of scaled integers.
/// A sum accumulated in floating point is rarely a short decimal even when the samples are (0.1 + 0.2 is
/// 0.30000000000000004), and as such would fall back to costly XOR encoding; so the sum chunk holds each sum rounded
/// to the decimal places of the block's `min` and `max` values, and the correction chunk the distance from that
/// rounded sum to the actual one in units in the last place (a few, for sums of decimals). A sum that is far from any
/// such decimal is stored as it is, with correction 0. Every field round-trips bit for bit, including the sign of
/// zero.
public enum RollupCodec {
    /// The format version written in the first byte.
    public static let version: UInt8 = 1

    /// The largest `count` a point may have: counts travel as doubles, which hold every integer up to 2^53.
    public static let maxCount = 1 << 53

    /// Encodes points (one series, one tier; time order compresses best).
    ///
    /// - Precondition: every point's `count` is in `1...maxCount`.
    public static func encode(_ points: [RollupPoint]) -> [UInt8] {
        precondition(points.allSatisfy { $0.count > 0 && $0.count <= maxCount }, "rollup counts must be 1...maxCount")
        let (sums, corrections) = splitSums(points)
        var bytes: [UInt8] = [version]
        func append(_ values: [Double]) {
            let chunk = ChunkCodec.encode(zip(points, values).map { Sample(ts: $0.ts, value: $1) })
            ChunkCodec.writeLEB128(UInt64(chunk.count), to: &bytes)
            bytes += chunk
        }
        append(points.map(\.min))
        append(points.map(\.max))
        append(sums)
        append(points.map { Double($0.count) })
        if corrections.allSatisfy({ $0 == 0 }) {
            bytes.append(0)
        } else {
            append(corrections.map { Double($0) })
        }
        return bytes
    }

    /// Decodes a block made by ``encode(_:)``.
    ///
    /// Throws when the version is unknown, a chunk is truncated or undecodable, bytes follow the last chunk, the
    /// chunks disagree on the number of points or on their timestamps, a count is not a positive integer, or a sum
    /// correction is out of range.
    public static func decode(_ bytes: [UInt8]) throws(ChunkCodec.DecodingError) -> [RollupPoint] {
        guard let first = bytes.first else { throw ChunkCodec.DecodingError(message: "empty rollup block") }
        guard first == version else { throw ChunkCodec.DecodingError(message: "unknown rollup block version \(first)") }
        var offset = 1
        let mins = try readChunk(bytes, offset: &offset, name: "min")
        let maxes = try readChunk(bytes, offset: &offset, name: "max")
        let sums = try readChunk(bytes, offset: &offset, name: "sum")
        let counts = try readChunk(bytes, offset: &offset, name: "count")
        let corrections = try readChunk(bytes, offset: &offset, name: "sum correction", optional: true)
        guard offset == bytes.count else {
            throw ChunkCodec.DecodingError(message: "\(bytes.count - offset) bytes after the rollup block")
        }
        guard maxes.count == mins.count, sums.count == mins.count, counts.count == mins.count,
            corrections.isEmpty || corrections.count == mins.count
        else {
            throw ChunkCodec.DecodingError(message: "rollup chunks disagree on the number of points")
        }
        var points: [RollupPoint] = []
        points.reserveCapacity(mins.count)
        for index in mins.indices {
            let ts = mins[index].ts
            guard maxes[index].ts == ts, sums[index].ts == ts, counts[index].ts == ts,
                corrections.isEmpty || corrections[index].ts == ts
            else {
                throw ChunkCodec.DecodingError(message: "rollup chunks disagree on the timestamp of point \(index)")
            }
            let count = counts[index].value
            guard count >= 1, count <= Double(maxCount), count.rounded(.towardZero) == count else {
                throw ChunkCodec.DecodingError(message: "bad count \(count) at point \(index)")
            }
            var sum = sums[index].value
            if !corrections.isEmpty {
                let correction = corrections[index].value
                guard correction.magnitude <= maxCorrection, correction.rounded(.towardZero) == correction else {
                    throw ChunkCodec.DecodingError(message: "bad sum correction \(correction) at point \(index)")
                }
                sum = fromOrderedBits(orderedBits(sum) &+ Int64(correction))
            }
            points.append(
                RollupPoint(
                    ts: ts, min: mins[index].value, max: maxes[index].value, sum: sum, count: Int(count)))
        }
        return points
    }

    // MARK: Sums: rounded decimal plus a correction in units in the last place

    /// The largest correction: corrections travel as doubles, which hold every integer up to 2^53.
    private static let maxCorrection = 9_007_199_254_740_992.0

    /// Each sum as a decimal rounded to the places of the block's min and max values (or the sum itself when no such
    /// decimal is near), and the corrections that recover the sums bit for bit.
    private static func splitSums(_ points: [RollupPoint]) -> (sums: [Double], corrections: [Int64]) {
        let extremes = points.flatMap { [Sample(ts: $0.ts, value: $0.min), Sample(ts: $0.ts, value: $0.max)] }
        guard let decimals = ChunkCodec.scaledDecimals(extremes) else {
            return (points.map(\.sum), Array(repeating: 0, count: points.count))
        }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        var sums: [Double] = []
        var corrections: [Int64] = []
        sums.reserveCapacity(points.count)
        corrections.reserveCapacity(points.count)
        for point in points {
            let scaled = (point.sum * scale).rounded()
            if scaled.magnitude < maxCorrection {
                // Through Int64 as ChunkCodec decodes, so that the rounded sum is exactly what its scaled form yields.
                let rounded = Double(Int64(scaled)) / scale
                let correction = orderedBits(point.sum) &- orderedBits(rounded)
                if correction.magnitude <= UInt64(maxCorrection) {
                    sums.append(rounded)
                    corrections.append(correction)
                    continue
                }
            }
            sums.append(point.sum)
            corrections.append(0)
        }
        return (sums, corrections)
    }

    /// The bit pattern of `value` as an integer that orders like the value: 0.0 is 0, -0.0 is -1, and one unit is one
    /// step to the next representable double.
    private static func orderedBits(_ value: Double) -> Int64 {
        let bits = Int64(bitPattern: value.bitPattern)
        return bits >= 0 ? bits : ~(bits & Int64.max)
    }

    /// The inverse of ``orderedBits(_:)``.
    private static func fromOrderedBits(_ ordered: Int64) -> Double {
        let bits = ordered >= 0 ? ordered : ~ordered | Int64.min
        return Double(bitPattern: UInt64(bitPattern: bits))
    }

    /// Reads one length-prefixed chunk; an optional chunk of length 0 reads as no samples.
    private static func readChunk(
        _ bytes: [UInt8], offset: inout Int, name: String, optional: Bool = false
    ) throws(ChunkCodec.DecodingError) -> [Sample] {
        guard let length = ChunkCodec.readLEB128(bytes, offset: &offset), length <= UInt64(bytes.count - offset) else {
            throw ChunkCodec.DecodingError(message: "truncated \(name) chunk")
        }
        if optional, length == 0 { return [] }
        let end = offset + Int(length)
        defer { offset = end }
        return try ChunkCodec.decode(Array(bytes[offset..<end]))
    }
}

extension Rollup {
    /// Re-aggregates time-ordered points of a finer tier into buckets of `stepMs` aligned to multiples of the step.
    ///
    /// Each coarse point takes the smallest `min`, the largest `max`, and the totals of `sum` and `count` of the fine
    /// points whose timestamps fall in its bucket; its timestamp is the bucket start. `stepMs` should be a multiple
    /// of the finer step, so that no fine bucket straddles two coarse ones.
    public static func merge(_ points: [RollupPoint], stepMs: Int64) -> [RollupPoint] {
        precondition(stepMs > 0)
        var merged: [RollupPoint] = []
        for point in points {
            let start = floorDiv(point.ts, stepMs) * stepMs
            if let last = merged.last, last.ts == start {
                merged[merged.count - 1] = combine(last, point)
            } else {
                var first = point
                first.ts = start
                merged.append(first)
            }
        }
        return merged
    }

    /// Aggregates two points into one: the earlier timestamp, the smaller `min`, the larger `max`, and the totals of
    /// `sum` and `count`. Ties (0.0 against -0.0) break as `Swift.min` and `Swift.max` break them, as in
    /// ``buckets(_:stepMs:)``.
    public static func combine(_ a: RollupPoint, _ b: RollupPoint) -> RollupPoint {
        RollupPoint(
            ts: Swift.min(a.ts, b.ts), min: Swift.min(a.min, b.min), max: Swift.max(a.max, b.max), sum: a.sum + b.sum,
            count: a.count + b.count)
    }
}
