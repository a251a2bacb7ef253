/// The archive's schema, as numbered migrations (`PRAGMA user_version` holds how many ran).
///
/// - `series`: one row per series with its rollup watermarks.
/// - `staging`: accepted, unsealed samples, one ``ChunkCodec`` run per series per flush, in `seq` order; sealing
///   deletes a prefix.
/// - `chunks`: ``ChunkCodec`` runs of one series; `rollup_1m`, `rollup_1h`: ``RollupCodec`` blocks.
/// - `devices`: the device registry (`commands` added by migration 2).
enum SQLiteSchema {
    static let migrations: [String] = [
        """
        CREATE TABLE series(
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            metric TEXT NOT NULL,
            rolled_1m INTEGER NOT NULL,
            rolled_1h INTEGER NOT NULL,
            UNIQUE(device, metric));
        CREATE TABLE staging(
            seq INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL,
            count INTEGER NOT NULL,
            data BLOB NOT NULL);
        CREATE TABLE chunks(
            id INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL,
            start_ts INTEGER NOT NULL,
            end_ts INTEGER NOT NULL,
            count INTEGER NOT NULL,
            data BLOB NOT NULL);
        CREATE INDEX chunks_by_series ON chunks(series_id, end_ts);
        CREATE TABLE rollup_1m(
            id INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL,
            start_ts INTEGER NOT NULL,
            end_ts INTEGER NOT NULL,
            count INTEGER NOT NULL,
            data BLOB NOT NULL);
        CREATE INDEX rollup_1m_by_series ON rollup_1m(series_id, end_ts);
        CREATE TABLE rollup_1h(
            id INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL,
            start_ts INTEGER NOT NULL,
            end_ts INTEGER NOT NULL,
            count INTEGER NOT NULL,
            data BLOB NOT NULL);
        CREATE INDEX rollup_1h_by_series ON rollup_1h(series_id, end_ts);
        CREATE TABLE devices(
            device TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            rooms TEXT NOT NULL,
            meta TEXT NOT NULL,
            state TEXT NOT NULL,
            since INTEGER NOT NULL,
            reason TEXT NOT NULL,
            transport TEXT NOT NULL,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL) WITHOUT ROWID;
        """,
        // 2: the commands a device says it accepts (`register`'s `commands`), as a JSON array.
        """
        ALTER TABLE devices ADD COLUMN commands TEXT NOT NULL DEFAULT '[]';
        """,
        // 3: the token whose quota the device counts against (`TokenQuotas`), so quotas survive a restart.
        """
        ALTER TABLE devices ADD COLUMN quota_owner TEXT;
        """,
    ]

}
