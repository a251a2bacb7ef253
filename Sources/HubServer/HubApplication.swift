import Foundation
import HubCore
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// Builds the running hub: routes, WebSocket endpoints and services, as one Hummingbird application.
///
/// ```swift
/// let hub = try await HubApplication.makeHub(configuration: configuration, logger: logger)
/// let app = HubApplication.makeApplication(hub: hub) { port in print("listening on \(port)") }
/// try await app.runService()
/// ```
public enum HubApplication {
    /// Creates the hub state over `archive`, `alertArchive` and `commandArchive` (and the token authority unless
    /// auth is off), loading the device registry and the newest samples of every series from the archive, the alert
    /// rules, state and silences, the rule file, open commands and room memberships. Nothing more is read before
    /// listening.
    public static func makeHub(
        configuration: HubConfiguration, archive: any SampleArchive,
        alertArchive: any AlertArchive = MemoryAlertArchive(),
        commandArchive: any CommandArchive = MemoryCommandArchive(), logger: Logger
    ) async throws -> Hub {
        let authority = configuration.auth.enabled ? try await TokenAuthority(configuration: configuration) : nil
        let hub = Hub(
            configuration: configuration, authority: authority, archive: archive, alertArchive: alertArchive,
            commandArchive: commandArchive, logger: logger)
        let started = ContinuousClock.now
        let startup = try archive.startup(ringCapacity: configuration.store.ringCapacity)
        let read = started.duration(to: .now)
        hub.restore(startup)
        try hub.restoreAlerts()
        try hub.restoreCommands()
        logger.info(
            "restored from the store",
            metadata: [
                "devices": "\(startup.devices.count)", "series": "\(startup.newest.count)",
                "samples": "\(startup.newest.reduce(0) { $0 + $1.1.count })",
                "read_ms": "\(Int(read.inMilliseconds))",
                "total_ms": "\(Int(started.duration(to: .now).inMilliseconds))",
            ])
        return hub
    }

    /// The hub's long-running services in start order: storage, alerts, `app`, commands, the session drain, and
    /// `extra` (e.g. simulators). They stop in reverse order: `extra` first, then sessions close (results that
    /// come meanwhile are still recorded), then waiting command senders are answered and every command written,
    /// then the server, then the alert writer, and storage flushes last.
    public static func services(
        hub: Hub, app: some ApplicationProtocol & Service, extra: [any Service] = []
    ) throws -> [any Service] {
        [
            try StorageService(hub: hub), AlertService(hub: hub), app, CommandService(hub: hub),
            SessionDrainService(hub: hub),
        ] + extra
    }

    /// Makes an upgraded connection an authenticated session: it no longer counts against the pending-connection
    /// caps (its frames go on passing the ``ConnectionGuardHandler``'s frame guard).
    static func promote(_ channel: any Channel) {
        channel.pipeline.fireUserInboundEventTriggered(ConnectionGuardHandler.Promote())
    }

    /// The application serving `hub`; `onListening` gets the bound port once the server listens.
    public static func makeApplication(
        hub: Hub, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let configuration = hub.configuration
        let authenticator = Authenticator(
            authority: hub.authority, allowedOrigins: configuration.auth.allowedOrigins)

        let router = Router(context: HubRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: RequestGuardMiddleware(authenticator: authenticator))
        router.add(
            middleware: FileMiddleware(configuration.javascriptDir, urlBasePath: "/vendor", logger: hub.logger))
        router.add(
            middleware: FileMiddleware(configuration.dashboardsDir, searchForIndexHtml: true, logger: hub.logger))
        APIRoutes(hub: hub, authenticator: authenticator).register(on: router)
        AlertRoutes(hub: hub, authenticator: authenticator).register(on: router)
        CommandRoutes(hub: hub, authenticator: authenticator).register(on: router)
        let rejections = UpgradeRejections()
        let wsRouter = Router(context: HubRequestContext.self)
        wsRouter.add(middleware: UpgradeRejectionMiddleware(rejections: rejections))
        /// A WebSocket endpoint for `role`; a plain GET of its path gets the same auth answer as an upgrade, else 426.
        func endpoint(
            _ path: RouterPath, role: Role, check: @escaping @Sendable (Request) throws -> Void = { _ in },
            run:
                @escaping @Sendable (
                    WebSocketInboundStream, WebSocketOutboundWriter, WebSocketRouterContext<HubRequestContext>
                ) async throws -> Void
        ) {
            router.get(path) { request, _ -> Response in
                try authenticator.checkHost(request)
                try authenticator.checkOrigin(request)
                _ = try await authenticator.principal(for: request, requiring: role)
                try check(request)
                throw HubHTTPError(.upgradeRequired, .invalidMessage("this endpoint needs a WebSocket upgrade"))
            }
            wsRouter.group(path)
                .add(middleware: AuthMiddleware(authenticator: authenticator, role: role))
                .ws { request, _ in
                    try authenticator.checkHost(request)
                    try authenticator.checkOrigin(request)
                    try check(request)
                    guard hub.sessions.count + hub.fanout.connectionCount < configuration.limits.maxConnections else {
                        throw HubHTTPError(
                            .serviceUnavailable,
                            ProtocolError(code: .tooLarge, message: "the hub is at its connection limit"))
                    }
                    return .upgrade([:])
                } onUpgrade: { inbound, outbound, context in
                    promote(context.requestContext.channel)
                    try await run(inbound, outbound, context)
                }
        }
        let devices = DeviceEndpoint(hub: hub)
        endpoint("ws/device", role: .device) { try await devices.run(inbound: $0, outbound: $1, context: $2) }
        let dashboards = DashboardEndpoint(hub: hub)
        endpoint("ws/dashboard", role: .viewer) { try await dashboards.run(inbound: $0, outbound: $1, context: $2) }
        let alerts = DashboardEndpoint(hub: hub, alerts: true)
        endpoint("ws/alerts", role: .viewer, check: { _ = try AlertRoutes.filter($0) }) {
            try await alerts.run(inbound: $0, outbound: $1, context: $2)
        }
        if configuration.conformanceEcho {
            hub.logger.warning("serving the WebSocket conformance echo route /ws/echo (--conformance-echo)")
            wsRouter.ws("ws/echo") { inbound, outbound, context in
                promote(context.requestContext.channel)
                for try await message in inbound.messages(maxSize: configuration.limits.maxFrameBytes) {
                    switch message {
                    case .text(let text): try await outbound.write(.text(text))
                    case .binary(let buffer): try await outbound.write(.binary(buffer))
                    }
                }
            }
        }

        let webSocketResponder = wsRouter.buildResponder()
        let admission = ConnectionAdmission(limits: configuration.limits, metrics: hub.metrics)
        let limits = configuration.limits
        let server = HTTPServerBuilder { responder in
            GuardedChildChannel(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder,
                    configuration: .init(
                        http1: .init(
                            additionalChannelHandlers: [
                                UpgradeRejectionWriter(rejections: rejections),
                                RequestDeadlineHandler(timeoutMs: limits.requestTimeoutMs, metrics: hub.metrics),
                            ],
                            idleTimeout: .milliseconds(limits.idleTimeoutMs)),
                        ws: WebSocketServerConfiguration(
                            maxFrameSize: limits.maxFrameBytes, autoPing: .disabled, validateUTF8: true))),
                admission: admission, limits: limits)
        }
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "telemetryhub"),
            services: [HeartbeatService(hub: hub), DashboardWatchdog(hub: hub), DeviceExpiryService(hub: hub)],
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? configuration.port)
            },
            logger: hub.logger
        )
    }
}
