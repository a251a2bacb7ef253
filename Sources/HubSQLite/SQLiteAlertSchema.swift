/// The schema of `alerts.db`, as numbered migrations (`PRAGMA user_version` holds how many ran).
///
/// - `meta`: small counters; `last_alert_number` is the highest `al-N` ever written (events and instances).
/// - `rules`: the rule set, `position` giving its order; `body` is the rule's JSON without `source`.
/// - `alert_instances`: instances not in `ok`, `body` the `AlertInstance` as Codable JSON.
/// - `silences`: `body` the `Silence` as Codable JSON; `until` and `created_at` copied out for start-up.
/// - `alert_events`: the history, one `alert` message (`json`) per row, with the fields it is searched by copied
///   into columns (`severity_rank` 0 info, 1 warning, 2 critical; `silenced` 0 or 1).
enum SQLiteAlertSchema {
    static let migrations: [String] = [
        """
        CREATE TABLE meta(
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta(key, value) VALUES('last_alert_number', 0);
        CREATE TABLE rules(
            id TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            source TEXT NOT NULL,
            body TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE alert_instances(
            rule TEXT NOT NULL,
            device TEXT NOT NULL,
            metric TEXT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY(rule, device, metric)) WITHOUT ROWID;
        CREATE TABLE silences(
            id TEXT PRIMARY KEY,
            until INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            body TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE alert_events(
            seq INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            alert TEXT NOT NULL,
            rule TEXT NOT NULL,
            device TEXT NOT NULL,
            metric TEXT NOT NULL,
            state TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_rank INTEGER NOT NULL,
            silenced INTEGER NOT NULL,
            json TEXT NOT NULL);
        CREATE INDEX alert_events_by_ts ON alert_events(ts);
        CREATE INDEX alert_events_by_alert ON alert_events(alert, ts);
        """
    ]
}
