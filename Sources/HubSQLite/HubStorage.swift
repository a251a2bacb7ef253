import HubCore

/// Opens the archive a storage engine names.
public enum HubStorage {
    /// `sqlite`: `<dataDirectory>/telemetry.db`; `memory`: a fresh ``MemoryArchive``.
    public static func open(engine: StorageEngine, dataDirectory: String) throws -> any SampleArchive {
        switch engine {
        case .sqlite: try SQLiteArchive(dataDirectory: dataDirectory)
        case .memory: MemoryArchive()
        }
    }
}
