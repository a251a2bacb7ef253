import HubCore

/// Opens the alert store a storage engine names (next to the sample archive ``HubStorage`` opens).
public enum HubAlertStorage {
    /// `sqlite`: `<dataDirectory>/alerts.db` (``SQLiteAlertArchive``); `memory`: a fresh ``MemoryAlertArchive``.
    ///
    /// - Parameters:
    ///   - engine: The configured storage engine.
    ///   - dataDirectory: The hub's data directory (created when missing; unused for `memory`).
    ///   - clock: Hub time in Unix milliseconds, by which expired silences are dropped at start-up.
    public static func open(
        engine: StorageEngine, dataDirectory: String,
        clock: @escaping @Sendable () -> Int64 = SQLiteAlertArchive.systemMilliseconds
    ) throws -> any AlertArchive {
        switch engine {
        case .sqlite: try SQLiteAlertArchive(dataDirectory: dataDirectory, clock: clock)
        case .memory: MemoryAlertArchive()
        }
    }
}
