import Foundation
import HubMQTT
import MosquittoHarness
import Synchronization
import Testing

/// ``MQTTClient`` against a real mosquitto broker.
@Suite("MQTTClient against a real mosquitto broker", .enabled(if: MosquittoBroker.isInstalled))
struct MQTTClientTests {
    /// Collects a client's events in the background.
    final class Recorder: Sendable {
        final class Store: Sendable {
            let events = Mutex<[MQTTEvent]>([])
        }

        private let store: Store
        let task: Task<Void, Never>

        init(_ client: MQTTClient) {
            let store = Store()
            self.store = store
            task = Task { for await event in client.events { store.events.withLock { $0.append(event) } } }
        }

        var events: [MQTTEvent] { store.events.withLock { $0 } }

        var messages: [MQTTMessage] {
            events.compactMap { if case .message(let message) = $0 { message } else { nil } }
        }

        func count(where predicate: (MQTTEvent) -> Bool) -> Int { events.filter(predicate).count }

        /// Waits until `condition` holds, up to `seconds`.
        func wait(_ seconds: Double = 10, _ condition: (Recorder) -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
            while ContinuousClock.now < deadline {
                if condition(self) { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return condition(self)
        }
    }

    static func isConnected(_ event: MQTTEvent) -> Bool {
        if case .connected = event { return true }
        return false
    }

    @Test func qos1MessagesArriveInOrder() async throws {
        let broker = try MosquittoBroker()
        let subscriber = try MQTTClient(
            options: .init(port: broker.port, clientID: "sub-\(UUID())", subscriptions: [.init("t/#")]))
        let recorder = Recorder(subscriber)
        try subscriber.start()
        #expect(await recorder.wait { $0.count(where: Self.isConnected) == 1 })
        try await Task.sleep(for: .milliseconds(100))  // the subscription is sent right after the connection
        let publisher = try MQTTClient(options: .init(port: broker.port, clientID: "pub-\(UUID())"))
        try publisher.start()
        for number in 0..<2_000 { try publisher.publish("t/\(number % 7)", payload: Array("\(number)".utf8)) }
        #expect(await recorder.wait { Set($0.messages.map(\.payload)).count >= 2_000 })
        // QoS 1 is at least once: a message may come twice (resent before its acknowledgement arrived), but the
        // first arrivals keep the publishing order and none is missing.
        var seen = Set<Int>()
        let firsts = recorder.messages.compactMap { Int(String(decoding: $0.payload, as: UTF8.self)) }.filter {
            seen.insert($0).inserted
        }
        #expect(firsts == Array(0..<2_000), "\(firsts.count) distinct, in order: \(firsts == firsts.sorted())")
        #expect(recorder.messages.allSatisfy { $0.qos == 1 && !$0.retained })
        publisher.stop()
        subscriber.stop()
    }

    @Test func aPersistentSessionGetsWhatWasPublishedWhileItWasAway() async throws {
        let broker = try MosquittoBroker()
        let id = "hub-\(UUID())"
        let options = MQTTClientOptions(
            port: broker.port, clientID: id, cleanSession: false, subscriptions: [.init("d/+/telemetry")])
        let first = try MQTTClient(options: options)
        let firstEvents = Recorder(first)
        try first.start()
        #expect(await firstEvents.wait { $0.count(where: Self.isConnected) == 1 })
        try await Task.sleep(for: .milliseconds(100))
        first.stop()

        let publisher = try MQTTClient(options: .init(port: broker.port, clientID: "dev-\(UUID())"))
        try publisher.start()
        for number in 0..<100 { try publisher.publish("d/x/telemetry", payload: Array("\(number)".utf8)) }
        try await Task.sleep(for: .milliseconds(300))
        // The broker restarts too: its persistence keeps the queued messages.
        broker.stop()
        try broker.start()

        let second = try MQTTClient(options: options)
        let secondEvents = Recorder(second)
        try second.start()
        #expect(await secondEvents.wait { $0.messages.count >= 100 })
        #expect(secondEvents.events.first == .connected(sessionPresent: true))
        #expect(Set(secondEvents.messages.map { String(decoding: $0.payload, as: UTF8.self) }).count == 100)
        publisher.stop()
        second.stop()
    }

    @Test func theClientReconnectsByItselfAndQueuedMessagesGoOut() async throws {
        let broker = try MosquittoBroker()
        let subscriber = try MQTTClient(
            options: .init(
                port: broker.port, clientID: "sub-\(UUID())", cleanSession: false, subscriptions: [.init("r/#")],
                reconnectMinSeconds: 1, reconnectMaxSeconds: 1))
        let received = Recorder(subscriber)
        try subscriber.start()
        let publisher = try MQTTClient(
            options: .init(
                port: broker.port, clientID: "pub-\(UUID())", reconnectMinSeconds: 1, reconnectMaxSeconds: 1))
        let published = Recorder(publisher)
        try publisher.start()
        #expect(await received.wait { $0.count(where: Self.isConnected) == 1 })
        #expect(await published.wait { $0.count(where: Self.isConnected) == 1 })
        try await Task.sleep(for: .milliseconds(100))
        for number in 0..<50 { try publisher.publish("r/a", payload: Array("\(number)".utf8)) }
        broker.stop()
        // Published while the broker is down: libmosquitto keeps them and sends them after reconnecting.
        for number in 50..<100 { try publisher.publish("r/a", payload: Array("\(number)".utf8)) }
        try await Task.sleep(for: .milliseconds(300))
        try broker.start()
        #expect(await received.wait(15) { $0.count(where: Self.isConnected) >= 2 })
        #expect(await received.wait(15) { Set($0.messages.map(\.payload)).count == 100 })
        #expect(received.count { if case .disconnected = $0 { true } else { false } } >= 1)
        publisher.stop()
        subscriber.stop()
    }

    @Test func aLastWillAndRetainedMessagesReachSubscribers() async throws {
        let broker = try MosquittoBroker()
        let device = try MQTTClient(
            options: .init(
                port: broker.port, clientID: "dev-\(UUID())", keepaliveSeconds: 5,
                will: .init(topic: "d/w/status", payload: Array("offline".utf8))))
        try device.start()
        try device.publish("d/w/status", payload: Array("online".utf8), retain: true)
        let watcher = try MQTTClient(
            options: .init(port: broker.port, clientID: "w-\(UUID())", subscriptions: [.init("d/+/status")]))
        let seen = Recorder(watcher)
        try watcher.start()
        #expect(await seen.wait { $0.messages.contains { $0.payload == Array("online".utf8) } })
        // A subscriber that comes later gets the status as a retained message.
        let late = try MQTTClient(
            options: .init(port: broker.port, clientID: "l-\(UUID())", subscriptions: [.init("d/+/status")]))
        let lateSeen = Recorder(late)
        try late.start()
        #expect(await lateSeen.wait { $0.messages.contains { $0.retained && $0.payload == Array("online".utf8) } })
        late.stop()
        // A clean stop sends no will.
        device.stop()
        try await Task.sleep(for: .milliseconds(500))
        #expect(!seen.messages.contains { $0.payload == Array("offline".utf8) })
        watcher.stop()
    }

    @Test func credentialsAreChecked() async throws {
        let broker = try MosquittoBroker(config: "test-auth.conf")
        let wrong = try MQTTClient(
            options: .init(port: broker.port, clientID: "x-\(UUID())", username: "telemetryhub", password: "nope"))
        let refused = Recorder(wrong)
        try wrong.start()
        #expect(await refused.wait { $0.count { if case .refused = $0 { true } else { false } } >= 1 })
        wrong.stop()
        let right = try MQTTClient(
            options: .init(
                port: broker.port, clientID: "y-\(UUID())", username: "telemetryhub", password: "hub-secret"))
        let accepted = Recorder(right)
        try right.start()
        #expect(await accepted.wait { $0.count(where: Self.isConnected) == 1 })
        right.stop()
    }
}
