import Testing

@testable import HubCore

@Suite("RoomDirectory")
struct RoomDirectoryTests {
    private func register(
        _ device: String, kind: String = "thermostat", rooms: [String] = [], commands: [CommandSpec] = []
    ) -> DeviceMessage.Register {
        DeviceMessage.Register(
            id: nil, device: device, kind: kind, rooms: rooms, meta: JSONObject(), commands: commands)
    }

    /// A registry with t1, t2 (thermostats on floor:1 and floor:2, online), l1 (a lamp on floor:1, offline) and s1
    /// (a sensor that only ever posted data).
    private func registry() -> DeviceRegistry {
        var registry = DeviceRegistry()
        _ = registry.register(
            register("t1", rooms: ["floor:1", "kitchen"], commands: [CommandSpec(name: "setpoint", args: ["value"])]),
            session: 1, transport: "ws", now: 100)
        _ = registry.register(
            register("t2", rooms: ["floor:2"], commands: [CommandSpec(name: "setpoint"), CommandSpec(name: "reboot")]),
            session: 2, transport: "ws", now: 100)
        _ = registry.register(
            register("l1", kind: "lamp", rooms: ["floor:1"], commands: [CommandSpec(name: "blink")]), session: 3,
            transport: "ws", now: 100)
        _ = registry.sessionEnded(device: "l1", session: 3, reason: .closed, now: 200)
        registry.touch(device: "s1", transport: "http", now: 300)
        return registry
    }

    private func members(_ pattern: String, _ directory: RoomDirectory, _ registry: DeviceRegistry) -> [String] {
        directory.members(of: GlobPattern(pattern), in: registry).map(\.device)
    }

    private func addError(
        _ directory: inout RoomDirectory, _ device: String, _ room: String, record: DeviceRecord? = nil
    ) -> ProtocolError? {
        do {
            _ = try directory.add(device, to: room, record: record)
            return nil
        } catch {
            return error
        }
    }

    private func removeError(
        _ directory: inout RoomDirectory, _ device: String, _ room: String, record: DeviceRecord? = nil
    ) -> ProtocolError? {
        do {
            _ = try directory.remove(device, from: room, record: record)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Rooms of a device

    @Test func implicitRooms() {
        #expect(RoomDirectory.implicitRooms(device: "t1", kind: "thermostat") == ["device:t1", "kind:thermostat"])
        #expect(RoomDirectory.isImplicit("device:t1"))
        #expect(RoomDirectory.isImplicit("kind:lamp"))
        #expect(RoomDirectory.isImplicit("device:"))
        #expect(!RoomDirectory.isImplicit("floor:1"))
        #expect(!RoomDirectory.isImplicit("devices"))
        #expect(!RoomDirectory.isImplicit("my-device:1"))
    }

    @Test func roomsOfADeviceAreImplicitPlusDeclared() throws {
        let registry = registry()
        let directory = RoomDirectory()
        #expect(
            directory.rooms(of: try #require(registry["t1"])) == ["device:t1", "floor:1", "kind:thermostat", "kitchen"])
        #expect(directory.rooms(of: try #require(registry["l1"])) == ["device:l1", "floor:1", "kind:lamp"])
        #expect(directory.rooms(of: try #require(registry["s1"])) == ["device:s1", "kind:generic"])
    }

    @Test func membersOfImplicitAndDeclaredRooms() {
        let registry = registry()
        let directory = RoomDirectory()
        #expect(members("device:t1", directory, registry) == ["t1"])
        #expect(members("device:s1", directory, registry) == ["s1"])
        #expect(members("device:nobody", directory, registry) == [])
        #expect(members("kind:thermostat", directory, registry) == ["t1", "t2"])
        #expect(members("kind:lamp", directory, registry) == ["l1"])
        #expect(members("kind:generic", directory, registry) == ["s1"])
        #expect(members("floor:1", directory, registry) == ["l1", "t1"])
        #expect(members("floor:2", directory, registry) == ["t2"])
        #expect(members("kitchen", directory, registry) == ["t1"])
        #expect(members("floor", directory, registry) == [])
        #expect(members("garage", directory, registry) == [])
        let found = directory.members(of: GlobPattern("floor:1"), in: registry)
        #expect(found.map(\.record) == [registry["l1"], registry["t1"]])
    }

    @Test func membersOfPatterns() {
        let registry = registry()
        let directory = RoomDirectory()
        #expect(members("floor:*", directory, registry) == ["l1", "t1", "t2"])
        #expect(members("*", directory, registry) == ["l1", "s1", "t1", "t2"])
        #expect(members("kind:*", directory, registry) == ["l1", "s1", "t1", "t2"])
        #expect(members("*:2", directory, registry) == ["t2"])
        #expect(members("device:t*", directory, registry) == ["t1", "t2"])
        #expect(members("*itch*", directory, registry) == ["t1"])
        #expect(members("floor:3*", directory, registry) == [])
        #expect(members("floor:1", directory, registry) == ["l1", "t1"])  // exact, no prefix match
        #expect(members("floor:", directory, registry) == [])
    }

    // MARK: Operator changes

    @Test func addingAKnownDevice() throws {
        let registry = registry()
        var directory = RoomDirectory()
        let t2 = try #require(registry["t2"])
        let change = try directory.add("t2", to: "kitchen", record: t2)
        #expect(change == RoomMembership(room: "kitchen", device: "t2", member: true))
        #expect(directory.rooms(of: t2).contains("kitchen"))
        #expect(members("kitchen", directory, registry) == ["t1", "t2"])
        #expect(directory.memberships == [RoomMembership(room: "kitchen", device: "t2", member: true)])
        // Adding again changes nothing; so does adding a device to a room it declares.
        #expect(try directory.add("t2", to: "kitchen", record: t2) == nil)
        #expect(try directory.add("t2", to: "floor:2", record: t2) == nil)
        #expect(directory.memberships.count == 1)
        // Removing undoes it.
        let removal = try directory.remove("t2", from: "kitchen", record: t2)
        #expect(removal == RoomMembership(room: "kitchen", device: "t2", member: nil))
        #expect(directory.memberships.isEmpty)
        #expect(members("kitchen", directory, registry) == ["t1"])
    }

    @Test func removingAndReaddingADeclaredRoom() throws {
        let registry = registry()
        var directory = RoomDirectory()
        let t1 = try #require(registry["t1"])
        let removal = try directory.remove("t1", from: "floor:1", record: t1)
        #expect(removal == RoomMembership(room: "floor:1", device: "t1", member: false))
        #expect(!directory.rooms(of: t1).contains("floor:1"))
        #expect(members("floor:1", directory, registry) == ["l1"])
        #expect(members("floor:*", directory, registry) == ["l1", "t2"])
        #expect(members("kitchen", directory, registry) == ["t1"])
        #expect(directory.memberships == [removal])
        // Not a member any more.
        #expect(removeError(&directory, "t1", "floor:1", record: t1)?.code == .notFound)

        // Re-adding forgets the operator's decision: the declaration holds again.
        let change = try directory.add("t1", to: "floor:1", record: t1)
        #expect(change == RoomMembership(room: "floor:1", device: "t1", member: nil))
        #expect(directory.memberships.isEmpty)
        #expect(members("floor:1", directory, registry) == ["l1", "t1"])
    }

    @Test func removalOfADeclaredRoomOutlivesReRegistration() throws {
        var registry = registry()
        var directory = RoomDirectory()
        _ = try directory.remove("t1", from: "kitchen", record: registry["t1"])
        _ = registry.register(register("t1", rooms: ["floor:1", "kitchen"]), session: 9, transport: "ws", now: 500)
        #expect(members("kitchen", directory, registry) == [])
        // The device stops declaring the room: adding it now is an operator addition.
        _ = registry.register(register("t1", rooms: ["floor:1"]), session: 10, transport: "ws", now: 600)
        let change = try directory.add("t1", to: "kitchen", record: registry["t1"])
        #expect(change == RoomMembership(room: "kitchen", device: "t1", member: true))
        #expect(members("kitchen", directory, registry) == ["t1"])
    }

    @Test func addingAnUnknownDeviceThatAppearsLater() throws {
        var registry = registry()
        var directory = RoomDirectory()
        let change = try directory.add("future", to: "floor:1", record: nil)
        #expect(change == RoomMembership(room: "floor:1", device: "future", member: true))
        #expect(try directory.add("future", to: "floor:1", record: nil) == nil)
        let found = directory.members(of: GlobPattern("floor:1"), in: registry)
        #expect(found.map(\.device) == ["future", "l1", "t1"])
        #expect(found[0].record == nil)
        #expect(members("floor:*", directory, registry) == ["future", "l1", "t1", "t2"])
        #expect(members("*", directory, registry) == ["future", "l1", "s1", "t1", "t2"])
        #expect(members("floor:2", directory, registry) == ["t2"])

        // It registers (declaring nothing): it is a member by the operator's decision, with its record.
        _ = registry.register(register("future", kind: "lamp"), session: 5, transport: "ws", now: 700)
        let record = try #require(registry["future"])
        #expect(directory.rooms(of: record) == ["device:future", "floor:1", "kind:lamp"])
        let now = directory.members(of: GlobPattern("floor:1"), in: registry)
        #expect(now.map(\.device) == ["future", "l1", "t1"])
        #expect(now[0].record == record)
        #expect(try directory.add("future", to: "floor:1", record: record) == nil)

        // Removing it, known or not.
        let removal = try directory.remove("future", from: "floor:1", record: record)
        #expect(removal == RoomMembership(room: "floor:1", device: "future", member: nil))
        #expect(members("floor:1", directory, registry) == ["l1", "t1"])
        _ = try directory.add("ghost", to: "garage", record: nil)
        #expect(try directory.remove("ghost", from: "garage", record: nil).member == nil)
        #expect(directory.memberships.isEmpty)
    }

    @Test func removingANonMemberIsNotFound() throws {
        let registry = registry()
        var directory = RoomDirectory()
        let error = removeError(&directory, "t2", "floor:1", record: registry["t2"])
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("t2") == true)
        #expect(removeError(&directory, "ghost", "floor:1")?.code == .notFound)
        #expect(removeError(&directory, "ghost", "floor:1", record: nil)?.code == .notFound)
        #expect(directory.memberships.isEmpty)
    }

    @Test func implicitRoomsCannotBeChanged() throws {
        let registry = registry()
        var directory = RoomDirectory()
        let t1 = try #require(registry["t1"])
        #expect(addError(&directory, "t1", "device:t2", record: t1)?.code == .conflict)
        #expect(addError(&directory, "t2", "kind:lamp", record: registry["t2"])?.code == .conflict)
        #expect(addError(&directory, "ghost", "kind:lamp")?.code == .conflict)
        #expect(removeError(&directory, "t1", "device:t1", record: t1)?.code == .conflict)
        #expect(removeError(&directory, "t1", "kind:thermostat", record: t1)?.code == .conflict)
        #expect(directory.memberships.isEmpty)
        #expect(members("device:t1", directory, registry) == ["t1"])
    }

    @Test func invalidNamesAndPatternsAreRejected() {
        var directory = RoomDirectory()
        let longName = String(repeating: "r", count: 129)
        for room in ["", "floor 1", "floor:*", "*", "a*b", "room/1", longName, "é"] {
            #expect(addError(&directory, "t1", room)?.code == .invalidMessage, "add to '\(room)'")
            #expect(removeError(&directory, "t1", room)?.code == .invalidMessage, "remove from '\(room)'")
        }
        for device in ["", "bad device", "d*", "x/y", longName] {
            #expect(addError(&directory, device, "garage")?.code == .invalidMessage, "add '\(device)'")
            #expect(removeError(&directory, device, "garage")?.code == .invalidMessage, "remove '\(device)'")
        }
        // A pattern on an implicit room is an invalid name first.
        #expect(addError(&directory, "t1", "device:*")?.code == .invalidMessage)
        #expect(directory.memberships.isEmpty)
        #expect(addError(&directory, "t1", String(repeating: "r", count: 128)) == nil)
    }

    // MARK: Summaries

    @Test func summariesCountMembersOnlineAndCommands() throws {
        var registry = registry()
        var directory = RoomDirectory()
        _ = try directory.add("ghost", to: "floor:1", record: nil)
        _ = try directory.add("ghost", to: "garage", record: nil)
        _ = try directory.remove("t1", from: "kitchen", record: registry["t1"])
        _ = registry.register(register("t3", rooms: ["floor:2"]), session: 4, transport: "ws", now: 400)

        let summaries = directory.summaries(in: registry)
        #expect(
            summaries.map(\.room) == [
                "device:l1", "device:s1", "device:t1", "device:t2", "device:t3", "floor:1", "floor:2", "garage",
                "kind:generic", "kind:lamp", "kind:thermostat",
            ])
        let byRoom = Dictionary(uniqueKeysWithValues: summaries.map { ($0.room, $0) })
        #expect(
            byRoom["floor:1"]
                == RoomSummary(
                    room: "floor:1", members: 3, online: 1, commands: ["blink", "setpoint"], origin: "declared"))
        #expect(
            byRoom["floor:2"]
                == RoomSummary(
                    room: "floor:2", members: 2, online: 2, commands: ["reboot", "setpoint"], origin: "declared"))
        #expect(
            byRoom["garage"] == RoomSummary(room: "garage", members: 1, online: 0, commands: [], origin: "declared"))
        #expect(byRoom["kitchen"] == nil)  // its only member was removed
        #expect(
            byRoom["kind:thermostat"]
                == RoomSummary(
                    room: "kind:thermostat", members: 3, online: 3, commands: ["reboot", "setpoint"], origin: "kind"))
        #expect(
            byRoom["kind:lamp"]
                == RoomSummary(room: "kind:lamp", members: 1, online: 0, commands: ["blink"], origin: "kind"))
        #expect(byRoom["device:l1"]?.origin == "device")
        #expect(byRoom["device:l1"]?.online == 0)
        #expect(
            byRoom["device:t1"]
                == RoomSummary(room: "device:t1", members: 1, online: 1, commands: ["setpoint"], origin: "device"))
        #expect(byRoom["device:s1"]?.commands == [])

        let declared = directory.summaries(in: registry, implicit: false)
        #expect(declared.map(\.room) == ["floor:1", "floor:2", "garage"])
        #expect(declared.allSatisfy { $0.origin == "declared" })
        #expect(declared == summaries.filter { $0.origin == "declared" })
    }

    @Test func summariesOfAnEmptyRegistry() throws {
        var directory = RoomDirectory()
        #expect(directory.summaries(in: DeviceRegistry()).isEmpty)
        _ = try directory.add("ghost", to: "garage", record: nil)
        #expect(
            directory.summaries(in: DeviceRegistry())
                == [RoomSummary(room: "garage", members: 1, online: 0, commands: [], origin: "declared")])
    }

    // MARK: Persistence

    @Test func restoreAndMembershipsRoundTrip() throws {
        let registry = registry()
        var directory = RoomDirectory()
        var changes: [RoomMembership] = []
        changes.append(try #require(try directory.add("t2", to: "kitchen", record: registry["t2"])))
        changes.append(try directory.remove("t1", from: "floor:1", record: registry["t1"]))
        changes.append(try #require(try directory.add("ghost", to: "garage", record: nil)))
        changes.append(try #require(try directory.add("ghost", to: "floor:2", record: nil)))
        changes.append(try #require(try directory.add("l1", to: "garage", record: registry["l1"])))
        let memberships = directory.memberships
        #expect(
            memberships == [
                RoomMembership(room: "floor:1", device: "t1", member: false),
                RoomMembership(room: "floor:2", device: "ghost", member: true),
                RoomMembership(room: "garage", device: "ghost", member: true),
                RoomMembership(room: "garage", device: "l1", member: true),
                RoomMembership(room: "kitchen", device: "t2", member: true),
            ])

        // Replaying the stored changes, or the memberships, gives the same directory.
        for stored in [changes, memberships] {
            var restored = RoomDirectory()
            restored.restore(stored)
            #expect(restored.memberships == memberships)
            for pattern in ["*", "floor:*", "floor:1", "floor:2", "garage", "kitchen"] {
                #expect(members(pattern, restored, registry) == members(pattern, directory, registry), "\(pattern)")
            }
            #expect(restored.summaries(in: registry) == directory.summaries(in: registry))
        }

        // A later nil undoes an earlier decision.
        var replayed = RoomDirectory()
        replayed.restore(
            changes + [
                RoomMembership(room: "floor:1", device: "t1", member: nil),
                RoomMembership(room: "garage", device: "ghost", member: nil),
            ])
        #expect(
            replayed.memberships == [
                RoomMembership(room: "floor:2", device: "ghost", member: true),
                RoomMembership(room: "garage", device: "l1", member: true),
                RoomMembership(room: "kitchen", device: "t2", member: true),
            ])
        #expect(members("floor:1", replayed, registry) == ["l1", "t1"])
        #expect(RoomDirectory().memberships.isEmpty)
    }
}
