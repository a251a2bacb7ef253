/// A change of one device's membership in one room, as an operator made it (and the archive keeps it).
public struct RoomMembership: Equatable, Hashable, Sendable {
    public var room: String
    public var device: String
    /// true: the device is a member (added by an operator); false: it is not, although it declares the room
    /// (removed by an operator); nil: no operator decision (the device's own declaration holds).
    public var member: Bool?

    /// Creates a membership change.
    public init(room: String, device: String, member: Bool?) {
        self.room = room
        self.device = device
        self.member = member
    }
}

/// One room as `GET /api/rooms` lists it.
public struct RoomSummary: Equatable, Sendable {
    public var room: String
    /// Member devices (known to the hub or added by an operator before they ever connected).
    public var members: Int
    /// Members online now.
    public var online: Int
    /// Names of the commands the members say they accept, sorted (a member that declares none adds none).
    public var commands: [String]
    /// `device`, `kind` (rooms every device is in by its id and kind), or `declared` (named by devices or by
    /// operators).
    public var origin: String
}

/// Rooms: every device is in `device:{id}` and `kind:{kind}`, plus the rooms it declares at registration; operators
/// add and remove members on top of that. Pure: membership is computed from the device registry and the
/// operators' decisions.
public struct RoomDirectory: Sendable {
    /// Operators' decisions: (room, device) → member or not.
    private var decisions: [String: [String: Bool]] = [:]

    /// Creates a directory with no operator decisions.
    public init() {}

    /// The rooms every device is in by itself: `device:{id}` and `kind:{kind}`.
    public static func implicitRooms(device: String, kind: String) -> [String] {
        ["device:\(device)", "kind:\(kind)"]
    }

    /// Whether `room` is one every device is in by its id or kind (operators cannot change those).
    public static func isImplicit(_ room: String) -> Bool {
        room.hasPrefix("device:") || room.hasPrefix("kind:")
    }

    /// Loads stored decisions.
    public mutating func restore(_ memberships: [RoomMembership]) {
        for membership in memberships { apply(membership) }
    }

    /// Every operator decision, sorted by room and device.
    public var memberships: [RoomMembership] {
        decisions.keys.sorted().flatMap { room in
            decisions[room]!.keys.sorted().map {
                RoomMembership(room: room, device: $0, member: decisions[room]![$0])
            }
        }
    }

    private mutating func apply(_ membership: RoomMembership) {
        decisions[membership.room, default: [:]][membership.device] = membership.member
        if decisions[membership.room]?.isEmpty == true { decisions[membership.room] = nil }
    }

    /// The rooms `record`'s device is in, sorted: implicit, declared and added by operators, less those operators
    /// removed it from.
    public func rooms(of record: DeviceRecord) -> [String] {
        var rooms = Set(Self.implicitRooms(device: record.device, kind: record.kind))
        rooms.formUnion(record.rooms)
        for (room, members) in decisions {
            switch members[record.device] {
            case true?: rooms.insert(room)
            case false?: rooms.remove(room)
            case nil: break
            }
        }
        return rooms.sorted()
    }

    /// Adds `device` to `room`; returns the change to store, nil when it already was a member.
    ///
    /// - Throws: ``ProtocolError`` `invalid_message` for a room pattern or invalid name, `conflict` for the implicit
    ///   rooms.
    public mutating func add(_ device: String, to room: String, record: DeviceRecord?) throws(ProtocolError)
        -> RoomMembership?
    {
        try Self.check(room: room, device: device)
        if let record, rooms(of: record).contains(room) { return nil }
        if record == nil, decisions[room]?[device] == true { return nil }
        // A device that declares the room was only kept out by an operator: forget that decision.
        let declares = record?.rooms.contains(room) ?? false
        let change = RoomMembership(room: room, device: device, member: declares ? nil : true)
        apply(change)
        return change
    }

    /// Removes `device` from `room`; returns the change to store.
    ///
    /// - Throws: ``ProtocolError`` `invalid_message` for a room pattern or invalid name, `conflict` for the implicit
    ///   rooms, `not_found` when the device is not a member.
    public mutating func remove(_ device: String, from room: String, record: DeviceRecord?) throws(ProtocolError)
        -> RoomMembership
    {
        try Self.check(room: room, device: device)
        let isMember = record.map { rooms(of: $0).contains(room) } ?? (decisions[room]?[device] == true)
        guard isMember else { throw .notFound("device '\(device)' is not a member of room '\(room)'") }
        let declares = record?.rooms.contains(room) ?? false
        let change = RoomMembership(room: room, device: device, member: declares ? false : nil)
        apply(change)
        return change
    }

    private static func check(room: String, device: String) throws(ProtocolError) {
        guard Names.isValidRoom(room), !room.contains("*") else {
            throw .invalidMessage("room '\(room.prefix(140))' must match [A-Za-z0-9._:-]{1,128} (no '*' here)")
        }
        guard Names.isValidName(device) else {
            throw .invalidMessage("device '\(device.prefix(140))' must match [A-Za-z0-9._:-]{1,128}")
        }
        if isImplicit(room) {
            throw .conflict("every device is in device:{id} and kind:{kind} by itself; those rooms cannot be changed")
        }
    }

    /// The member devices of the rooms `pattern` matches (`*` matches any run of characters), sorted by id, with
    /// their records (nil for a device an operator added that the hub has never seen).
    public func members(of pattern: GlobPattern, in registry: DeviceRegistry) -> [(
        device: String, record: DeviceRecord?
    )] {
        var found: [String: DeviceRecord?] = [:]
        for record in registry.all where rooms(of: record).contains(where: { pattern.matches($0) }) {
            found[record.device] = .some(record)
        }
        for (room, members) in decisions where pattern.matches(room) {
            for (device, member) in members where member && registry[device] == nil {
                found[device] = .some(nil)
            }
        }
        return found.keys.sorted().map { ($0, found[$0]!) }
    }

    /// Every room with its member and online counts and the commands its members accept, sorted by name.
    ///
    /// - Parameter implicit: Include the `device:{id}` and `kind:{kind}` rooms (one per device and per kind).
    public func summaries(in registry: DeviceRegistry, implicit: Bool = true) -> [RoomSummary] {
        var rooms: [String: (members: Int, online: Int, commands: Set<String>)] = [:]
        for record in registry.all {
            for room in self.rooms(of: record) where implicit || !Self.isImplicit(room) {
                var entry = rooms[room] ?? (0, 0, [])
                entry.members += 1
                if record.state == .online { entry.online += 1 }
                entry.commands.formUnion(record.commands.map(\.name))
                rooms[room] = entry
            }
        }
        for (room, members) in decisions {
            for (device, member) in members where member && registry[device] == nil {
                rooms[room, default: (0, 0, [])].members += 1
            }
        }
        return rooms.keys.sorted().map { room in
            let entry = rooms[room]!
            let origin = room.hasPrefix("device:") ? "device" : room.hasPrefix("kind:") ? "kind" : "declared"
            return RoomSummary(
                room: room, members: entry.members, online: entry.online, commands: entry.commands.sorted(),
                origin: origin)
        }
    }
}
