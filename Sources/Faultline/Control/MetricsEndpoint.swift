/// `GET /metrics`: the `Metrics` counters of the API's bus, with each proxy's live gauges,
/// in Prometheus' text format.
final class MetricsEndpoint {
    private let metrics = Metrics()
    private let plane: ControlPlane

    init(plane: ControlPlane) {
        self.plane = plane
        let metrics = metrics
        plane.bus.subscribe { metrics.record($0) }
        plane.onForget.append { metrics.forget(proxy: $0) }
    }

    func answer() -> APIResponse {
        let proxies = plane.proxies.values.sorted { $0.name < $1.name }.map { proxy in
            MetricsProxy(name: proxy.name, listen: proxy.configuredListen.description, upstream: proxy.upstream.description,
                         protocol: proxy.options.protocol.rawValue, enabled: proxy.isEnabled,
                         openConnections: proxy.stats.open,
                         activeFaults: proxy.faults.map { (name: $0.name, kind: $0.kind.name) })
        }
        return APIResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                           body: Array(metrics.render(proxies: proxies).utf8))
    }
}
