/// What a token may do. Each role includes the rights of the ones before it, except `device`.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Send telemetry and answer commands, for the device ids its pattern allows.
    case device
    /// Read devices, series and alerts; subscribe dashboards.
    case viewer
    /// Viewer plus sending commands.
    case `operator`
    /// Operator plus rules and tokens.
    case admin

    private var rank: Int {
        switch self {
        case .device: 0
        case .viewer: 1
        case .operator: 2
        case .admin: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// Whether this role has at least the rights of `required` (devices only have device rights).
    public func satisfies(_ required: Role) -> Bool {
        if required == .device { return self == .device || self == .admin }
        return self != .device && self >= required
    }
}

/// The authenticated caller: who (the token subject), which role, and for device tokens which devices.
public struct Principal: Sendable, Equatable {
    /// The token's subject (a user or device name), for logs and audit.
    public var subject: String
    /// The role.
    public var role: Role
    /// For device tokens: the device ids this token may act as (nil: any).
    public var devicePattern: GlobPattern?
    /// When the token expires (Unix ms); nil when it never does.
    public var expiresAt: Int64?

    /// Creates a principal.
    public init(subject: String, role: Role, devicePattern: GlobPattern? = nil, expiresAt: Int64? = nil) {
        self.subject = subject
        self.role = role
        self.devicePattern = devicePattern
        self.expiresAt = expiresAt
    }

    /// Whether the principal may act as (send data for) `device`.
    public func mayActAs(device: String) -> Bool {
        guard role.satisfies(.device) else { return false }
        return devicePattern?.matches(device) ?? true
    }

    /// Whose quota (``TokenQuotas``) devices and series this principal brings in count against: a device token
    /// restricted to a pattern counts under its subject and pattern; unrestricted device tokens (a fleet's gateway
    /// credential, which may act as any device), admins and `--no-auth` have none (only `limits.max_devices`).
    public var quotaOwner: String? {
        guard role == .device, let devicePattern else { return nil }
        return "\(subject) \(devicePattern.text)"
    }

    /// A principal with every right, used when auth is disabled (`--no-auth`).
    public static let unrestricted = Principal(subject: "anonymous", role: .admin)
}
