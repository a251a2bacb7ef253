import Foundation
import HubCore

/// Loads device profiles from JSON files.
public enum ProfileLoader {
    /// Loads one profile file, or every `*.json` in a folder (sorted by name).
    public static func load(path: String) throws -> [DeviceProfile] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ProfileError(message: "no profile at \(path)")
        }
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".json") }
                .sorted()
            guard !names.isEmpty else { throw ProfileError(message: "no *.json profiles in \(path)") }
            return try names.map { try loadFile((path as NSString).appendingPathComponent($0)) }
        }
        return [try loadFile(path)]
    }

    static func loadFile(_ path: String) throws -> DeviceProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProfileError(message: "cannot read \(path)")
        }
        let profile: DeviceProfile
        do {
            profile = try JSONDecoder().decode(DeviceProfile.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ProfileError(
                message: "\(path): missing '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ProfileError(
                message: "\(path): wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch let DecodingError.dataCorrupted(context) {
            throw ProfileError(
                message:
                    "\(path): \(context.debugDescription) at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
            )
        } catch {
            throw ProfileError(message: "\(path): \(error)")
        }
        let problems = profile.problems()
        guard problems.isEmpty else { throw ProfileError(message: "\(path): " + problems.joined(separator: "; ")) }
        return profile
    }
}

/// A profile that cannot be used.
public struct ProfileError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
