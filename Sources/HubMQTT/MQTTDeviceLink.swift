import HubCore

/// The ``DeviceLink`` of a device reached through the MQTT bridge: a command is published (QoS 1, not retained) to
/// the device's `devices/{id}/commands` topic as a `command` message.
struct MQTTDeviceLink: DeviceLink {
    let topic: String
    let client: MQTTClient
    let status: MQTTBridgeStatus

    var transport: String { "mqtt" }

    func send(_ command: CommandSend) -> Bool {
        // While the broker is away the delivery stays pending: the device is taken offline and gets it again when
        // it is back.
        guard client.isConnected else { return false }
        do {
            try client.publish(topic, payload: command.message.encoded, qos: 1)
        } catch {
            return false
        }
        status.commandsPublished.add(1, ordering: .relaxed)
        return true
    }
}
