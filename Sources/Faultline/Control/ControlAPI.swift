import Glibc
import Logging

/// The control API: Toxiproxy's v2 endpoints over the `ControlPlane`, plus faultline's own
/// (`/scenarios`, `/events`, `/metrics`), behind the checks every request passes.
///
/// Checks, in order: the bearer token when one is set (401); then the route (404 for an
/// unknown path, 405 for a known path with another method, as Toxiproxy's router answers);
/// then browser-originated requests are refused (403), so a web page the user visits cannot
/// drive the proxy: a `User-Agent` starting `Mozilla/` (Toxiproxy's rule), and, beyond it, a
/// `Sec-Fetch-Site` other than `none` or an `Origin` that is not the API itself.
public final class ControlAPI {
    /// The proxies.
    public let plane: ControlPlane
    /// Scenarios started through the API, or the run serving it.
    public let scenarios: ScenarioControl
    private let token: String?
    private let log: Logger
    private let events: EventStreams
    private let metrics: MetricsEndpoint
    private var requestCounter: UInt64 = 0

    /// An API over `plane`; with `token`, every request must carry `Authorization: Bearer TOKEN`.
    public init(plane: ControlPlane, scenarios: ScenarioControl, token: String?, log: Logger) {
        self.plane = plane
        self.scenarios = scenarios
        self.token = token
        self.log = log
        events = EventStreams(bus: plane.bus, loop: plane.loop)
        metrics = MetricsEndpoint(plane: plane)
    }

    /// Ends every `/events` stream (the server stops).
    public func finishStreams() { events.finishAll() }

    /// Answers one request.
    public func handle(_ request: APIRequest) -> APIReply {
        if let token, !Self.authorized(request, token: token) {
            log.warning("API: \(request.method) \(request.path) refused: missing or wrong bearer token")
            var answer = APIError("missing or wrong bearer token: send Authorization: Bearer TOKEN", status: 401).response
            answer.headers.append(("WWW-Authenticate", "Bearer realm=\"faultline\""))
            return .response(answer)
        }
        if let clean = Self.cleaned(request.path), clean != request.path {
            // Go's router redirects a path with `//`, `.` or `..` to its clean form.
            return .response(APIResponse(status: 301, headers: [("Location", clean)]))
        }
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard let route = Route(segments) else {
            return .response(.goError("404 page not found", status: 404))
        }
        guard route.methods.contains(request.method) else {
            return .response(APIResponse(status: 405))
        }
        requestCounter += 1
        let requestID = ("X-Toxiproxy-Request-Id", Self.requestID(requestCounter))
        if let refusal = Self.browserRefusal(request) {
            log.warning("API: \(request.method) \(request.path) refused: \(refusal)")
            var answer = APIResponse.goError(refusal, status: 403)
            answer.headers.append(requestID)
            return .response(answer)
        }
        let reply: APIReply
        do {
            reply = try answer(route, request)
        } catch {
            reply = .response(error.response)
        }
        guard case .response(var response) = reply else { return reply }
        response.headers.append(requestID)
        if response.status >= 400 { log.info("API: \(request.method) \(request.path) → \(response.status)") }
        return .response(response)
    }

    private func answer(_ route: Route, _ request: APIRequest) throws(APIError) -> APIReply {
        let body = request.body
        switch (route, request.method) {
        case (.version, _): return .response(ToxiproxyEndpoints.version())
        case (.proxies, "GET"): return .response(.json(ProxyJSON.map(plane.proxies)))
        case (.proxies, _): return .response(try ToxiproxyEndpoints.createProxy(plane, body: body))
        case (.populate, _): return .response(ToxiproxyEndpoints.populate(plane, body: body))
        case (.reset, _):
            try plane.reset()
            return .response(.empty())
        case (.proxy(let name), "GET"): return .response(.json(ProxyJSON.json(try plane.proxy(name))))
        case (.proxy(let name), "DELETE"):
            try plane.delete(name)
            return .response(.empty())
        case (.proxy(let name), _): return .response(try ToxiproxyEndpoints.updateProxy(plane, name: name, body: body))
        case (.toxics(let proxy), "GET"): return .response(.json(ToxicJSON.list(try plane.proxy(proxy).faults)))
        case (.toxics(let proxy), _): return .response(try ToxiproxyEndpoints.addToxic(plane, proxy: proxy, body: body))
        case (.toxic(let proxy, let toxic), "GET"): return .response(.json(ToxicJSON.json(try plane.fault(toxic, on: proxy))))
        case (.toxic(let proxy, let toxic), "DELETE"):
            try plane.removeFault(toxic, from: proxy)
            return .response(.empty())
        case (.toxic(let proxy, let toxic), _):
            return .response(try ToxiproxyEndpoints.updateToxic(plane, proxy: proxy, toxic: toxic, body: body))
        case (.scenarios, _): return .response(try scenarios.start(body: body, contentType: request.header("Content-Type")))
        case (.currentScenario, "GET"): return .response(try scenarios.current())
        case (.currentScenario, _): return .response(try scenarios.stop())
        case (.events, _): return try events.open(request)
        case (.metrics, _): return .response(metrics.answer())
        }
    }

    /// The API's paths and the methods each takes (`HEAD` is not among them: Toxiproxy's
    /// router answers it 405 too).
    enum Route: Equatable {
        case version, proxies, populate, reset, scenarios, currentScenario, events, metrics
        case proxy(String)
        case toxics(String)
        case toxic(String, String)

        init?(_ segments: [String]) {
            switch segments.count {
            case 1:
                switch segments[0] {
                case "version": self = .version
                case "proxies": self = .proxies
                case "populate": self = .populate
                case "reset": self = .reset
                case "scenarios": self = .scenarios
                case "events": self = .events
                case "metrics": self = .metrics
                default: return nil
                }
            case 2 where segments[0] == "proxies" && !segments[1].isEmpty: self = .proxy(segments[1])
            case 2 where segments == ["scenarios", "current"]: self = .currentScenario
            case 3 where segments[0] == "proxies" && !segments[1].isEmpty && segments[2] == "toxics": self = .toxics(segments[1])
            case 4 where segments[0] == "proxies" && !segments[1].isEmpty && segments[2] == "toxics" && !segments[3].isEmpty:
                self = .toxic(segments[1], segments[3])
            default: return nil
            }
        }

        var methods: [String] {
            switch self {
            case .version, .events, .metrics: ["GET"]
            case .proxies: ["GET", "POST"]
            case .populate, .reset, .scenarios: ["POST"]
            case .currentScenario: ["GET", "DELETE"]
            case .proxy, .toxic: ["GET", "POST", "PATCH", "DELETE"]
            case .toxics: ["GET", "POST"]
            }
        }
    }

    /// `Authorization: Bearer TOKEN`, compared in constant time (every byte, whatever the first
    /// difference), so the answer's timing says nothing about how much of a guess was right.
    static func authorized(_ request: APIRequest, token: String) -> Bool {
        guard let header = request.header("Authorization") else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = Array(parts[1].utf8)
        let expected = Array(token.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for index in 0..<expected.count {
            difference |= expected[index] ^ (index < given.count ? given[index] : ~expected[index])
        }
        return difference == 0
    }

    /// The path without empty, `.` and `..` segments (a trailing `/` kept), as Go's
    /// `path.Clean` makes it; nil for a path that does not start with `/`.
    static func cleaned(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        var kept: [Substring] = []
        for segment in path.split(separator: "/") {
            switch segment {
            case ".": continue
            case "..": _ = kept.popLast()
            default: kept.append(segment)
            }
        }
        var clean = "/" + kept.joined(separator: "/")
        if path.hasSuffix("/"), clean != "/" { clean += "/" }
        return clean
    }

    /// Why a request looks like it came from a web page, or nil.
    static func browserRefusal(_ request: APIRequest) -> String? {
        if request.header("User-Agent")?.hasPrefix("Mozilla/") == true { return "User agent not allowed" }
        if let site = request.header("Sec-Fetch-Site"), site.lowercased() != "none" {
            return "Browser requests not allowed (Sec-Fetch-Site: \(site))"
        }
        if let origin = request.header("Origin") {
            let host = request.header("Host") ?? ""
            let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            if originHost != host || !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
                return "Cross-origin requests not allowed (Origin: \(origin))"
            }
        }
        return nil
    }

    /// A 20-character id in Toxiproxy's alphabet and shape (its `X-Toxiproxy-Request-Id` is an
    /// xid: seconds, then random bits, then a counter), so ids in a log sort by arrival.
    private static func requestID(_ counter: UInt64) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuv")
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        // 100 bits: 32 of seconds, 44 random, 24 of the counter.
        var high = UInt64(UInt32(truncatingIfNeeded: now.tv_sec)) << 32 | UInt64.random(in: 0..<(1 << 32))
        var low = UInt64.random(in: 0..<(1 << 12)) << 24 | counter & 0xFF_FFFF
        var text = ""
        for _ in 0..<20 {
            text.append(alphabet[Int(high >> 59)])
            high = high << 5 | low >> 31
            low = (low << 5) & ((1 << 36) - 1)
        }
        return text
    }
}
