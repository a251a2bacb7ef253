/// The schema of `commands.db`, as numbered migrations (`PRAGMA user_version` holds how many ran).
///
/// - `meta`: small counters; `last_command_number` is the highest `cmd-N` ever written, kept when the command
///   itself is pruned so ids are never reused.
/// - `commands`: one row per command, `number` the N of its `cmd-N` id; `body` is the record's
///   `CommandRecord.storageJSON`, with the fields it is searched by copied into columns (`open` 1 while
///   `CommandRecord.isOpen`, else 0).
/// - `room_members`: operators' room membership decisions (`member` 1 added, 0 removed); no decision, no row.
enum SQLiteCommandSchema {
    static let migrations: [String] = [
        """
        CREATE TABLE meta(
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta(key, value) VALUES('last_command_number', 0);
        CREATE TABLE commands(
            number INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            room TEXT NOT NULL,
            name TEXT NOT NULL,
            sender TEXT NOT NULL,
            open INTEGER NOT NULL,
            body TEXT NOT NULL);
        CREATE INDEX commands_by_room ON commands(room, created_at);
        CREATE INDEX commands_by_created_at ON commands(created_at);
        CREATE INDEX commands_open ON commands(number) WHERE open = 1;
        CREATE TABLE room_members(
            room TEXT NOT NULL,
            device TEXT NOT NULL,
            member INTEGER NOT NULL,
            PRIMARY KEY(room, device)) WITHOUT ROWID;
        """
    ]
}
