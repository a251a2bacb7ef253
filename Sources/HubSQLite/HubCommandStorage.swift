import HubCore

/// Opens the command store a storage engine names (next to the sample archive ``HubStorage`` opens).
public enum HubCommandStorage {
    /// `sqlite`: `<dataDirectory>/commands.db` (``SQLiteCommandArchive``); `memory`: a fresh
    /// ``MemoryCommandArchive``.
    ///
    /// - Parameters:
    ///   - engine: The configured storage engine.
    ///   - dataDirectory: The hub's data directory (created when missing; unused for `memory`).
    public static func open(engine: StorageEngine, dataDirectory: String) throws -> any CommandArchive {
        switch engine {
        case .sqlite: try SQLiteCommandArchive(dataDirectory: dataDirectory)
        case .memory: MemoryCommandArchive()
        }
    }
}
