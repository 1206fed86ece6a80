import Glibc
import Logging

/// The proxies the control API manages, and what Toxiproxy's endpoints do to them.
///
/// Everything runs on the loop thread, between two callbacks: a change reaches live links at
/// once and no answer waits for links to drain. Proxies of a running scenario are here too
/// (`adopt`); they can be toggled and given toxics, not deleted or replaced.
public final class ControlPlane {
    /// Where every proxy here reports.
    public let bus: EventBus
    /// Seeds the per-connection decisions of every proxy made here.
    public var seed: UInt64
    /// Called with a scenario's text and seed when `POST /scenarios` starts it (the
    /// recording of `serve --record` keeps each).
    public var scenarioStarted: ((_ text: String, _ seed: UInt64) -> Void)?
    let loop: EventLoop
    let log: Logger
    /// The proxies by name.
    public private(set) var proxies: [String: Proxy] = [:]
    /// Names of proxies a scenario owns.
    private(set) var scenarioOwned: Set<String> = []
    /// Called with a proxy's name when it is deleted or its scenario lets it go (metrics drop
    /// its series: a test suite that makes a proxy per test must not grow them forever).
    var onForget: [(String) -> Void] = []

    /// An empty plane on `loop`.
    public init(loop: EventLoop, bus: EventBus, seed: UInt64, log: Logger) {
        self.loop = loop
        self.bus = bus
        self.seed = seed
        self.log = log
    }

    /// Names of the faults a scenario's timeline turns on, per proxy: a toxic may not take one
    /// (the phase would fail to start, or its end would remove the user's toxic).
    private var scenarioFaultNames: [String: Set<String>] = [:]

    /// Takes in proxies a scenario made (already started or about to be), with the names of
    /// the faults its timeline places on them.
    public func adopt(_ scenarioProxies: [String: Proxy], scenario: Scenario) {
        for (name, proxy) in scenarioProxies {
            proxies[name] = proxy
            scenarioOwned.insert(name)
        }
        for placed in scenario.allFaults { scenarioFaultNames[placed.proxy, default: []].insert(placed.fault.name) }
    }

    /// Lets go of a finished scenario's proxies (they were shut down by the run).
    public func release(_ names: some Sequence<String>) {
        for name in names {
            proxies[name] = nil
            scenarioOwned.remove(name)
            scenarioFaultNames[name] = nil
            onForget.forEach { $0(name) }
        }
    }

    /// The proxy called `name`.
    func proxy(_ name: String) throws(APIError) -> Proxy {
        guard let proxy = proxies[name] else { throw .proxyNotFound }
        return proxy
    }

    /// Creates a proxy and, when `enabled`, binds it (`POST /proxies`).
    @discardableResult
    func create(_ spec: ProxySpec) throws(APIError) -> Proxy {
        guard proxies[spec.name] == nil else { throw .proxyExists }
        let proxy = Proxy(name: spec.name, listen: spec.listen, upstream: spec.upstream, options: spec.options,
                          loop: loop, logger: log)
        proxy.seed = seed
        proxy.bus = bus
        if spec.enabled { try Self.start(proxy) }
        proxies[spec.name] = proxy
        return proxy
    }

    /// Changes a proxy's addresses and whether it is enabled (`POST|PATCH /proxies/{name}`):
    /// a new listen or upstream restarts it; faults stay.
    func update(_ name: String, listen: SocketAddress?, upstream: SocketAddress?, enabled: Bool?) throws(APIError) -> Proxy {
        let proxy = try proxy(name)
        let newListen = listen ?? proxy.configuredListen
        let newUpstream = upstream ?? proxy.upstream
        if newListen != proxy.configuredListen || newUpstream != proxy.upstream {
            try Self.check(listen: newListen, upstream: newUpstream, proxy: name)
            do {
                try proxy.retarget(listen: newListen, upstream: newUpstream)
            } catch {
                throw Self.listenFailure(error)
            }
        }
        if let enabled, enabled != proxy.isEnabled {
            if enabled { try Self.start(proxy) } else { proxy.disable() }
        }
        return proxy
    }

    /// Stops and forgets a proxy (`DELETE /proxies/{name}`): its links close at once.
    func delete(_ name: String) throws(APIError) {
        let proxy = try proxy(name)
        guard !scenarioOwned.contains(name) else {
            throw APIError("proxy \(name) belongs to the running scenario and goes when the scenario ends", status: 409)
        }
        proxy.removeAllFaults()
        proxy.disable()
        proxy.shutdown(grace: .zero) {}
        proxies[name] = nil
        onForget.forEach { $0(name) }
    }

    /// Enables every proxy and removes every fault (`POST /reset`). Stops at the first proxy
    /// that cannot listen again, as Toxiproxy does (in name order here, so it is repeatable).
    /// A playing scenario's proxies are left alone: its timeline owns their faults, and a test
    /// suite resetting between tests must not silently strip them.
    func reset() throws(APIError) {
        for (name, proxy) in proxies.sorted(by: { $0.key < $1.key }) where !scenarioOwned.contains(name) {
            if !proxy.isEnabled { try Self.start(proxy) }
            proxy.removeAllFaults()
        }
    }

    /// Creates or replaces proxies from a list (`POST /populate`, `--config`): a proxy whose
    /// listen and upstream are unchanged is kept as it is (faults and all); one that differs is
    /// replaced (faults lost); others are left alone. Returns the proxies applied before an
    /// error, and the error.
    func populate(_ specs: [ProxySpec]) -> (applied: [Proxy], error: APIError?) {
        var applied: [Proxy] = []
        for spec in specs {
            guard let existing = proxies[spec.name] else {
                do throws(APIError) { applied.append(try create(spec)) } catch { return (applied, error) }
                continue
            }
            if existing.configuredListen == spec.listen || (spec.listen.port == 0 && existing.configuredListen.host == spec.listen.host),
               existing.upstream == spec.upstream {
                applied.append(existing)
                continue
            }
            guard !scenarioOwned.contains(spec.name) else {
                return (applied, APIError("proxy \(spec.name) belongs to the running scenario; it cannot be replaced", status: 409))
            }
            // Replaced as Toxiproxy replaces: the old one stops (its faults go with it); when the
            // new one cannot listen, the old one stays, stopped.
            existing.disable()
            proxies[spec.name] = nil
            do throws(APIError) {
                applied.append(try create(spec))
                existing.removeAllFaults()
                existing.shutdown(grace: .zero) {}
            } catch {
                proxies[spec.name] = existing
                return (applied, error)
            }
        }
        return (applied, nil)
    }

    /// Creates the proxies of a Toxiproxy config file (`--config`), all or none: a proxy that
    /// cannot listen stops the ones made before it.
    public func load(config: [UInt8]) throws(APIError) {
        let specs = try ToxiproxyEndpoints.populateSpecs(config)
        let (applied, error) = populate(specs)
        guard let error else { return }
        for proxy in applied { try? delete(proxy.name) }
        throw error
    }

    /// Adds a fault to a proxy (`POST /proxies/{name}/toxics`); names are unique per proxy.
    func addFault(_ fault: Fault, to name: String) throws(APIError) {
        let proxy = try proxy(name)
        guard !proxy.faults.contains(where: { $0.name == fault.name }) else { throw .toxicExists }
        if scenarioFaultNames[name]?.contains(fault.name) == true {
            throw APIError("toxic name \(fault.name) is used by the playing scenario's timeline on proxy \(name); give the toxic another name", status: 409)
        }
        if let needed = Self.layerNeeded(by: fault, on: proxy) {
            let ctl = needed.flag.map { " (faultline ctl create … \($0))" } ?? ""
            throw .badBody("\(fault.kind.name) acts on \(needed.what), and proxy \(name) \(needed.has): create the proxy with \(needed.field)\(ctl)")
        }
        do { try proxy.add(fault) } catch { throw .badBody("\(error)") }
    }

    /// What a fault needs that the proxy lacks, said for API users (the proxy's own message
    /// speaks of scenario files and `faultline proxy` flags).
    private static func layerNeeded(by fault: Fault, on proxy: Proxy)
        -> (what: String, has: String, field: String, flag: String?)? {
        let kind = fault.kind.name
        let speaks = "speaks \(proxy.options.protocol.rawValue)"
        if kind.hasPrefix("redis."), proxy.options.protocol != .redis {
            return ("Redis commands", speaks, #""protocol":"redis""#, "--protocol redis")
        }
        if kind.hasPrefix("http."), proxy.options.protocol != .http {
            return ("HTTP requests", speaks, #""protocol":"http""#, "--protocol http")
        }
        if kind.hasPrefix("tls."), proxy.options.tls == nil {
            return ("TLS handshakes", "does not terminate TLS", #""tls":{"profile":"valid"}"#, nil)
        }
        return nil
    }

    /// The fault called `faultName` on proxy `name`.
    func fault(_ faultName: String, on name: String) throws(APIError) -> Fault {
        guard let fault = try proxy(name).faults.first(where: { $0.name == faultName }) else { throw .toxicNotFound }
        return fault
    }

    /// Puts `fault` in the place of the one with its name; live links get the new one at once.
    func replaceFault(_ fault: Fault, on name: String) throws(APIError) {
        let proxy = try proxy(name)
        do { try proxy.replace(fault) } catch { throw .badBody("\(error)") }
    }

    /// Removes a fault (`DELETE /proxies/{name}/toxics/{toxic}`).
    func removeFault(_ faultName: String, from name: String) throws(APIError) {
        guard try proxy(name).removeFault(named: faultName) else { throw .toxicNotFound }
    }

    /// Shuts every proxy down (the server is stopping); `done` once all have drained.
    public func shutdown(grace: Duration, done: @escaping () -> Void) {
        var left = proxies.count
        guard left > 0 else { return done() }
        for proxy in proxies.values {
            proxy.shutdown(grace: grace) {
                left -= 1
                if left == 0 { done() }
            }
        }
    }

    private static func start(_ proxy: Proxy) throws(APIError) {
        do {
            try proxy.enable()
        } catch {
            throw listenFailure(error)
        }
    }

    static func check(listen: SocketAddress, upstream: SocketAddress, proxy: String) throws(APIError) {
        if upstream.reaches(listener: listen) {
            throw .badBody(SelfLoopError(proxy: proxy, listen: listen, upstream: upstream).description)
        }
    }

    /// A bind that failed, worded as Go's net.Listen words it (Toxiproxy answers 500 with it):
    /// `listen tcp 127.0.0.1:8080: bind: address already in use`.
    static func listenFailure(_ error: any Error) -> APIError {
        if let selfLoop = error as? SelfLoopError { return .badBody(selfLoop.description) }
        guard let listenError = error as? ListenError else { return APIError("\(error)", status: 500) }
        var reason = String(cString: strerror(listenError.code))
        if let first = reason.first { reason = first.lowercased() + reason.dropFirst() }
        return APIError("listen tcp \(listenError.address): bind: \(reason)", status: 500)
    }
}
