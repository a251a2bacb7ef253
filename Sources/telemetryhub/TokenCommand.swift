import ArgumentParser
import Foundation
import HubCore
import HubServer

/// `telemetryhub token`: token management.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create access tokens.", subcommands: [Create.self])

    /// `telemetryhub token create`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token signed with the hub's secret; prints the token alone on stdout.")

        @Option(help: "Role: device, viewer, operator or admin.")
        var role: String
        @Option(help: "For device tokens: the device ids it may act as, e.g. 'thermo-*' (default: any).")
        var device: String?
        @Option(help: "How long the token is valid, e.g. 24h, 30d, 15m.")
        var ttl: String = "24h"
        @Option(help: "Subject recorded in the token (who it is for).")
        var subject: String?
        @Option(help: "The hub's data directory (where its secret lives).")
        var dataDir: String = ".telemetryhub"
        @Option(help: "A configuration file (for auth.secret or data_dir).")
        var config: String?

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role must be one of device, viewer, operator, admin")
            }
            if let device, device.isEmpty || !Names.isValidRoom(device) {
                throw ValidationError("--device must be a device id pattern such as thermo-* ([A-Za-z0-9._:-*])")
            }
            if device != nil && role != .device { throw ValidationError("--device applies to device tokens only") }
            let seconds = try durationSeconds(ttl, option: "--ttl")
            guard seconds > 0 else { throw ValidationError("--ttl must be positive") }
            var configuration = HubConfiguration()
            if let config {
                do { configuration = try HubConfiguration.load(jsonFile: config) } catch {
                    throw CLIError(message: "\(error)")
                }
            }
            if config == nil || dataDir != ".telemetryhub" { configuration.dataDir = dataDir }
            let authority = try await TokenAuthority(configuration: configuration)
            let token = try await authority.issue(
                role: role, subject: subject ?? (device.map { "device:\($0)" } ?? role.rawValue),
                devicePattern: device, ttl: seconds)
            say(token)
        }
    }
}
