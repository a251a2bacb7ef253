/// A command a device says it accepts (in `register`'s optional `commands`), so dashboards can offer it.
///
/// On the wire either a name (`"reboot"`) or `{"name":"setpoint","args":["value"]}`.
public struct CommandSpec: Equatable, Hashable, Sendable {
    public var name: String
    /// The argument names it takes.
    public var args: [String]

    /// Creates a spec.
    public init(name: String, args: [String] = []) {
        self.name = name
        self.args = args
    }

    /// Reads one spec.
    public init(json: JSONValue) throws(ProtocolError) {
        switch json {
        case .string(let name):
            guard Names.isValidName(name) else {
                throw .invalidMessage("command name '\(name.prefix(140))' is invalid")
            }
            self.init(name: name)
        case .object(let object):
            guard case .string(let name)? = object["name"], Names.isValidName(name) else {
                throw .invalidMessage("each of 'commands' needs a valid 'name'")
            }
            var args: [String] = []
            switch object["args"] {
            case nil, .null?: break
            case .array(let items)?:
                for item in items {
                    guard case .string(let arg) = item, Names.isValidName(arg) else {
                        throw .invalidMessage("'commands' \(name): 'args' must be an array of names")
                    }
                    args.append(arg)
                }
            default: throw .invalidMessage("'commands' \(name): 'args' must be an array of names")
            }
            self.init(name: name, args: args)
        default:
            throw .invalidMessage("each of 'commands' must be a name or an object with 'name' and 'args'")
        }
    }

    /// The spec as JSON: `{"name":…,"args":[…]}`.
    public var json: JSONValue {
        .object(JSONObject([("name", .string(name)), ("args", .array(args.map(JSONValue.string)))]))
    }
}
