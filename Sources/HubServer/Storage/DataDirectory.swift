import Foundation

/// The data directory holds the token secret and the databases: only the hub's own user may read it.
public enum DataDirectory {
    /// Creates `path` with mode 0700 (or takes away group and other access from an existing one the hub's user
    /// owns), and sets the process's umask to 077 so every file the hub creates there (databases, their WAL and
    /// shared-memory files, the secret, the MQTT client id) is 0600.
    public static func prepare(_ path: String) throws {
        umask(0o077)
        var info = stat()
        if stat(path, &info) != 0 {
            do {
                try FileManager.default.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw ConfigurationError(message: "cannot create the data directory \(path): \(error)")
            }
            return
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ConfigurationError(message: "the data directory \(path) is not a directory")
        }
        if info.st_uid == geteuid(), info.st_mode & 0o077 != 0 {
            chmod(path, 0o700)
            // Files an older version left readable to others.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                let file = (path as NSString).appendingPathComponent(name)
                var fileInfo = stat()
                if stat(file, &fileInfo) == 0, (fileInfo.st_mode & S_IFMT) == S_IFREG, fileInfo.st_uid == geteuid() {
                    chmod(file, fileInfo.st_mode & 0o700)
                }
            }
        }
    }
}
