import HubCore

extension Hub {
    /// Samples of `key` with `from <= ts <= to`, oldest first, at most `limit` (the newest when cut), merged from
    /// the ring (the newest samples) and the archive (everything older); nil when the hub knows no such series.
    ///
    /// Reads the archive: call it off the event loops.
    public func history(_ key: SeriesKey, from: Int64, to: Int64, limit: Int = .max) throws -> [Sample]? {
        let (recent, oldest, known) = read { store, _ in
            let ring = store.ring(key)
            return (ring?.range(from: from, to: to, limit: limit) ?? [], ring?.oldest?.ts, ring != nil)
        }
        if let oldest, oldest <= from { return recent }
        if recent.count >= limit { return recent }
        let diskTo = min(to, (oldest ?? .max) &- 1)
        let older = from <= diskTo ? try archive.sealedSamples(key, from: from, to: diskTo) : []
        if !known && older.isEmpty {
            // The archive may know a series the rings do not hold (e.g. with no recent data); nil only if neither.
            guard try archive.rollups(key, tier: .minute, from: 0, to: 0) != nil else { return nil }
        }
        let merged = older + recent
        return merged.count > limit ? Array(merged.suffix(limit)) : merged
    }

    /// Aggregates of `key` in buckets of `stepMs` (aligned to multiples of it) covering `from...to`, from the
    /// coarsest tier that divides the step (1 h, then 1 min, then raw samples); nil for an unknown series.
    ///
    /// Reads the archive: call it off the event loops.
    public func rollups(_ key: SeriesKey, from: Int64, to: Int64, stepMs: Int64) throws -> [RollupPoint]? {
        precondition(stepMs > 0)
        let start = Rollup.floorDiv(from, stepMs) * stepMs
        guard let tier = RollupTier.allCases.reversed().first(where: { stepMs % $0.stepMs == 0 }) else {
            return try history(key, from: start, to: to).map { Rollup.buckets($0, stepMs: stepMs) }
        }
        guard let points = try tierPoints(key, tier: tier, from: start, to: to) else { return nil }
        return Rollup.merge(points, stepMs: stepMs)
    }

    /// Points of `tier`: written blocks before the tier's watermark, then computed from the next finer tier.
    private func tierPoints(_ key: SeriesKey, tier: RollupTier, from: Int64, to: Int64) throws -> [RollupPoint]? {
        let aligned = Rollup.floorDiv(from, tier.stepMs) * tier.stepMs
        let written = try archive.rollups(key, tier: tier, from: aligned, to: to)
        let until = written?.rolledUntil ?? .min
        var points = (written?.points ?? []).filter { $0.ts < until }
        let restFrom = max(aligned, until)
        guard restFrom <= to else { return points }
        let rest: [RollupPoint]?
        if tier == .hour {
            rest = try tierPoints(key, tier: .minute, from: restFrom, to: to).map {
                Rollup.merge($0, stepMs: tier.stepMs)
            }
        } else {
            rest = try history(key, from: restFrom, to: to).map { Rollup.buckets($0, stepMs: tier.stepMs) }
        }
        if written == nil && rest == nil { return nil }
        points.append(contentsOf: rest ?? [])
        return points
    }
}
