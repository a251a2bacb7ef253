import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real mosquitto broker on 127.0.0.1 and a free port, started from a config kept in `scripts/mosquitto/`, for
/// one test. It can be stopped and started again on the same port and data (persistence survives).
public final class MosquittoBroker: @unchecked Sendable {
    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// Its scratch folder (config, persistence).
    public let directory: String
    private let configPath: String
    private var process: Process?

    /// The repo's `scripts/mosquitto` folder.
    public static var configFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/mosquitto").path
    }

    /// Whether the broker is installed (`make test` installs Debian's `mosquitto`).
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/mosquitto") }

    /// Writes the config (`test-plain.conf` or `test-auth.conf`) for a free port and starts the broker.
    public init(config: String = "test-plain.conf") throws {
        port = try Self.freePort()
        directory = NSTemporaryDirectory() + "telemetryhub-mosquitto-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let template = try String(contentsOfFile: Self.configFolder + "/" + config, encoding: .utf8)
        configPath = directory + "/mosquitto.conf"
        try template.replacingOccurrences(of: "{{PORT}}", with: String(port))
            .replacingOccurrences(of: "{{DATA}}", with: directory + "/data")
            .replacingOccurrences(of: "{{DIR}}", with: Self.configFolder)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts the broker and waits until it accepts connections.
    public func start() throws {
        let process = Process()
        // Started through a one-line exec that unblocks signals: the test process blocks SIGTERM in its threads
        // and a child inherits the mask, so mosquitto would never see the SIGTERM that makes it save and exit.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            "/usr/sbin/mosquitto", "-c", configPath,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.accepts(port: port) { return }
            if !process.isRunning { throw BrokerError("mosquitto exited at start (\(process.terminationStatus))") }
            usleep(20_000)
        }
        throw BrokerError("mosquitto did not listen on \(port) within 10 s")
    }

    /// Stops the broker gracefully (it saves its persistence) and waits for it to exit.
    public func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError("no socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw BrokerError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// The broker could not be started.
public struct BrokerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
