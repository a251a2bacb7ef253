/// Per-token quotas: how many devices each token (by its subject) has brought into the hub, and how many series
/// those devices have, against `maxDevices` and `maxSeries` (0 means no quota).
///
/// A device counts for the token that first sent for it or registered it (its *owner*); its series count for
/// that owner, whoever sends them. Devices the hub knew before a restart have no owner until a token with a
/// quota uses them again. Principals without a quota (admin tokens, `--no-auth`, the MQTT bridge) pass `nil`.
///
/// Without it one device token restricted to `junk-*` could fill `max_devices` and lock every other token's new
/// devices out.
///
/// Invariants: `owners[o].devices` is the number of devices whose owner is `o`; an owner's `series` is the sum
/// of its devices' `seriesOf`.
public struct TokenQuotas: Sendable {
    /// Most devices per token; 0 means no quota.
    public let maxDevices: Int
    /// Most series per token; 0 means no quota.
    public let maxSeries: Int
    /// What each owner holds.
    public private(set) var owners: [String: Usage] = [:]
    /// Each owned device's owner and its series count.
    private var devices: [String: (owner: String, series: Int)] = [:]

    /// What one token holds.
    public struct Usage: Sendable, Equatable {
        /// Devices it brought in.
        public var devices = 0
        /// Series of those devices.
        public var series = 0
    }

    /// Creates empty quotas.
    public init(maxDevices: Int, maxSeries: Int) {
        self.maxDevices = maxDevices
        self.maxSeries = maxSeries
    }

    /// The token that owns `device`, if any.
    public func owner(of device: String) -> String? { devices[device]?.owner }

    /// How many new series `device` may get when `claimant` sends for it, or `too_large` when `claimant` may not
    /// bring it in at all. An unowned device (with `existingSeries` already) would become `claimant`'s; an owned
    /// one counts for its owner. `Int.max` when no quota applies. Changes nothing: ``record`` does once stored.
    public func allowance(device: String, existingSeries: Int, claimant: String?) throws(ProtocolError) -> Int {
        if let entry = devices[device] { return remaining(entry.owner) }
        guard let claimant else { return .max }
        let usage = owners[claimant, default: Usage()]
        if maxDevices > 0, usage.devices >= maxDevices {
            throw .tooLarge("this token has brought in \(usage.devices) devices; its quota is \(maxDevices)")
        }
        if maxSeries > 0, usage.series + existingSeries > maxSeries {
            throw .tooLarge("this token's devices have \(usage.series) series; its quota is \(maxSeries)")
        }
        return maxSeries > 0 ? maxSeries - usage.series - existingSeries : .max
    }

    /// Records what a message did: `device` becomes `claimant`'s if it had no owner (with its `existingSeries`),
    /// and its owner gets `newSeries` more series. Call after ``allowance`` let it through.
    public mutating func record(device: String, existingSeries: Int, newSeries: Int, claimant: String?) {
        if devices[device] == nil {
            guard let claimant else { return }
            devices[device] = (claimant, existingSeries)
            owners[claimant, default: Usage()].devices += 1
            owners[claimant, default: Usage()].series += existingSeries
        }
        guard newSeries > 0, let owner = devices[device]?.owner else { return }
        devices[device]?.series += newSeries
        owners[owner, default: Usage()].series += newSeries
    }

    private func remaining(_ owner: String) -> Int {
        maxSeries > 0 ? Swift.max(0, maxSeries - (owners[owner]?.series ?? 0)) : .max
    }

    /// Stops counting `device` (it expired).
    public mutating func forget(device: String) {
        guard let entry = devices.removeValue(forKey: device) else { return }
        guard var usage = owners[entry.owner] else { return }
        usage.devices -= 1
        usage.series -= entry.series
        owners[entry.owner] = usage.devices > 0 ? usage : nil
    }
}
