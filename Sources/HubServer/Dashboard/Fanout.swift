import HubCore
import Synchronization

/// Routes stored samples to the dashboard connections that want them.
///
/// Matching happens when a subscription starts and when a series appears, never per sample: a route says "samples
/// of this series go to this connection as this handle", so a delivery costs one table lookup per sample and one
/// lock per connection reached.
final class Fanout: Sendable {
    struct Route: Sendable {
        let connection: DashboardConnection
        let handle: DashboardScheduler.Handle
    }

    private struct State {
        var routes: [SeriesKey: [Route]] = [:]
        var connections: [UInt64: DashboardConnection] = [:]
    }

    private let state = Mutex(State())
    private let attached = Atomic<Int>(0)

    /// Whether any connection is attached (read without the lock on every ingest).
    var hasConnections: Bool { attached.load(ordering: .relaxed) > 0 }

    /// Connections attached.
    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Every connection attached.
    var connections: [DashboardConnection] { state.withLock { Array($0.connections.values) } }

    /// Series with at least one route.
    var routedSeries: Int { state.withLock { $0.routes.count } }

    func attach(_ connection: DashboardConnection) -> Int {
        state.withLock {
            $0.connections[connection.id] = connection
            attached.store($0.connections.count, ordering: .relaxed)
            return $0.connections.count
        }
    }

    /// Detaches a connection and drops its routes.
    func detach(_ connection: DashboardConnection, series: [SeriesKey]) -> Int {
        state.withLock { state in
            state.connections[connection.id] = nil
            for key in series { Self.drop(connection.id, key, in: &state.routes) }
            attached.store(state.connections.count, ordering: .relaxed)
            return state.connections.count
        }
    }

    /// Routes `key`'s samples to `connection` as `handle`.
    func addRoutes(_ routes: [(SeriesKey, DashboardScheduler.Handle)], to connection: DashboardConnection) {
        guard !routes.isEmpty else { return }
        state.withLock { state in
            for (key, handle) in routes {
                state.routes[key, default: []].append(Route(connection: connection, handle: handle))
            }
        }
    }

    /// Stops routing `keys` to `connection`.
    func removeRoutes(_ keys: [SeriesKey], from connection: DashboardConnection) {
        guard !keys.isEmpty else { return }
        state.withLock { state in
            for key in keys { Self.drop(connection.id, key, in: &state.routes) }
        }
    }

    /// New series: every connection whose subscriptions match one gets a route.
    func seriesAppeared(_ keys: [SeriesKey]) {
        let connections = state.withLock { Array($0.connections.values) }
        guard !connections.isEmpty else { return }
        for connection in connections {
            let routes = connection.seriesAppeared(keys)
            addRoutes(routes, to: connection)
        }
    }

    /// Hands one message's stored samples of `device` to the connections routed for them.
    func publish(device: String, samples: [(metric: String, sample: Sample)], now: Int64) {
        if samples.count == 1 {
            let (metric, sample) = samples[0]
            let routes = state.withLock { $0.routes[SeriesKey(device: device, metric: metric)] }
            guard let routes else { return }
            for route in routes { route.connection.offer([(route.handle, sample)], now: now) }
            return
        }
        var byConnection: [UInt64: (DashboardConnection, [(DashboardScheduler.Handle, Sample)])] = [:]
        state.withLock { state in
            guard !state.routes.isEmpty else { return }
            for (metric, sample) in samples {
                guard let routes = state.routes[SeriesKey(device: device, metric: metric)] else { continue }
                for route in routes {
                    byConnection[route.connection.id, default: (route.connection, [])].1.append((route.handle, sample))
                }
            }
        }
        for (connection, deliveries) in byConnection.values { connection.offer(deliveries, now: now) }
    }

    private static func drop(_ id: UInt64, _ key: SeriesKey, in routes: inout [SeriesKey: [Route]]) {
        guard var list = routes[key] else { return }
        list.removeAll { $0.connection.id == id }
        routes[key] = list.isEmpty ? nil : list
    }
}
