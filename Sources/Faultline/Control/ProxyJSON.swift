/// A proxy the API is asked to make: what `POST /proxies`, `/populate` and `--config` carry.
struct ProxySpec {
    var name: String
    var listen: SocketAddress
    var upstream: SocketAddress
    var enabled: Bool
    var options: ProxyOptions
}

/// Proxies as Toxiproxy's API reads and writes them:
/// `{"name":…,"listen":…,"upstream":…,"enabled":…,"toxics":[…]}`, plus faultline's `protocol`,
/// `tls` and `upstream_tls` (written only when set, so a plain proxy reads as Toxiproxy's).
enum ProxyJSON {
    /// The fields a proxy body may have. `toxics` is read and ignored, as Toxiproxy does
    /// (toxiproxy-cli sends the whole proxy back when it toggles one).
    /// `Logger` is an internal field Toxiproxy's answers leak; a client that sends an answer
    /// back (GET, change, POST) sends it too.
    static let fields = ["name", "listen", "upstream", "enabled", "toxics", "Logger", "protocol", "tls", "upstream_tls"]

    /// Where a proxy listens when the body does not say: loopback, a port the kernel picks.
    /// (Toxiproxy binds every interface; a fault proxy open to the network is a surprise.)
    static let defaultListen = "127.0.0.1:0"

    /// The JSON of one proxy, toxics included.
    static func json(_ proxy: Proxy) -> JSONValue {
        var object = JSONObject([
            "name": .string(proxy.name),
            "listen": .string(proxy.configuredListen.description),
            "upstream": .string(proxy.upstream.description),
            "enabled": .bool(proxy.isEnabled),
            "toxics": ToxicJSON.list(proxy.faults),
        ])
        if proxy.options.protocol != .tcp { object["protocol"] = .string(proxy.options.protocol.rawValue) }
        if let tls = proxy.options.tls {
            object["tls"] = .object(JSONObject([
                "profile": .string(tls.profile.rawValue), "hosts": .array(tls.hosts.map(JSONValue.string)),
                "key": .string(tls.key.rawValue),
            ]))
        }
        if let upstreamTLS = proxy.options.upstreamTLS {
            var settings = JSONObject(["verify": .bool(upstreamTLS.verify), "insecure": .bool(upstreamTLS.insecure)])
            if let ca = upstreamTLS.caFile { settings["ca"] = .string(ca) }
            if let sni = upstreamTLS.sni { settings["sni"] = .string(sni) }
            object["upstream_tls"] = .object(settings)
        }
        return .object(object)
    }

    /// Every proxy, keyed by name in name order (`GET /proxies`).
    static func map(_ proxies: [String: Proxy]) -> JSONValue {
        var object = JSONObject()
        for (name, proxy) in proxies.sorted(by: { $0.key < $1.key }) { object[name] = json(proxy) }
        return .object(object)
    }

    /// Reads a new proxy's fields from `object`, Toxiproxy's checks first (`name`, then
    /// `upstream`); `where` says which entry of a list it is (`at proxy 2`).
    static func spec(_ object: JSONObject, where position: String = "") throws(APIError) -> ProxySpec {
        try BodyReader.checkKeys(object, known: fields, prefix: "")
        let name = try BodyReader.string(object, "name")
        let listenText = try BodyReader.string(object, "listen")
        let upstreamText = try BodyReader.string(object, "upstream")
        let enabled = try BodyReader.bool(object, "enabled") ?? true
        guard let name, !name.isEmpty else { throw .missing("name" + position) }
        guard let upstreamText, !upstreamText.isEmpty else { throw .missing("upstream" + position) }
        try checkName(name)
        var options = ProxyOptions()
        if let text = try BodyReader.string(object, "protocol") {
            guard let value = ProxyProtocol(rawValue: text) else {
                throw .badBody("protocol: '\(text)' is not a protocol; expected tcp, redis or http")
            }
            options.protocol = value
        }
        options.tls = try serverTLS(object["tls"])
        options.upstreamTLS = try upstreamTLS(object["upstream_tls"])
        let listen = try address(listenText ?? defaultListen, field: "listen", upstream: false)
        let upstream = try address(upstreamText, field: "upstream", upstream: true)
        try ControlPlane.check(listen: listen, upstream: upstream, proxy: name)
        return ProxySpec(name: name, listen: listen, upstream: upstream, enabled: enabled, options: options)
    }

    /// Names go into URLs, logs and metrics labels: printable, no `/`, at most 200 bytes.
    /// `.` and `..` vanish from URLs (paths are cleaned), so such a name could never be reached.
    static func checkName(_ name: String, field: String = "name", what: String = "a proxy") throws(APIError) {
        let printable = name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && $0 != "/" }
        guard printable, name.utf8.count <= 200, name != ".", name != ".." else {
            let shown = name.utf8.count > 60 ? String(name.prefix(60)) + "…" : name
            throw .badBody("\(field): '\(shown)' cannot name \(what): use printable characters without '/', at most 200 bytes, not . or ..")
        }
    }

    /// An address field: `host:port` or `[v6]:port`; the upstream may not have port 0.
    static func address(_ text: String, field: String, upstream: Bool) throws(APIError) -> SocketAddress {
        do {
            return upstream ? try SocketAddress(parsingUpstream: text) : try SocketAddress(parsing: text)
        } catch {
            throw .badBody("\(field): \(error)")
        }
    }

    /// `tls: {profile, hosts, key}` (hosts may be one text); nil when absent.
    private static func serverTLS(_ value: JSONValue?) throws(APIError) -> ServerTLS? {
        guard let value, value != .null else { return nil }
        guard case .object(let object) = value else { throw .badBody("tls must be an object, not \(value.typeName)") }
        try BodyReader.checkKeys(object, known: ["profile", "hosts", "key"], prefix: "tls.")
        var settings = ServerTLS()
        do {
            if let profile = try BodyReader.string(object, "profile", field: "tls.profile") {
                settings.profile = try TLSText.profile(profile)
            }
            switch object["hosts"] {
            case .string(let host)?: settings.hosts = try TLSText.hosts([host])
            case .array(let items)?:
                let hosts = items.compactMap { if case .string(let host) = $0 { host } else { nil } }
                guard hosts.count == items.count, !hosts.isEmpty else { throw APIError.badBody("tls.hosts must be a list of names") }
                settings.hosts = try TLSText.hosts(hosts)
            case nil, .null?: break
            case let other?: throw APIError.badBody("tls.hosts must be a list of names, not \(other.typeName)")
            }
            if let key = try BodyReader.string(object, "key", field: "tls.key") {
                settings.key = try TLSText.key(key)
                if let conflict = TLSText.keyConflict(settings.key, profile: settings.profile) { throw conflict }
            }
        } catch let refusal as TLSText.Refusal {
            throw .badBody("tls: \(refusal.message)")
        } catch let error as APIError {
            throw error
        } catch {
            throw .badBody("tls: \(error)")
        }
        return settings
    }

    /// `upstream_tls: {verify, ca, sni, insecure}`; nil when absent.
    private static func upstreamTLS(_ value: JSONValue?) throws(APIError) -> UpstreamTLS? {
        guard let value, value != .null else { return nil }
        guard case .object(let object) = value else { throw .badBody("upstream_tls must be an object, not \(value.typeName)") }
        try BodyReader.checkKeys(object, known: ["verify", "ca", "sni", "insecure"], prefix: "upstream_tls.")
        let verify = try BodyReader.bool(object, "verify") ?? true
        let insecure = try BodyReader.bool(object, "insecure") ?? false
        var ca: String?
        var sni: String?
        do {
            if let path = try BodyReader.string(object, "ca", field: "upstream_tls.ca") {
                try TLSText.checkCAFile(path)
                ca = path
            }
            if let name = try BodyReader.string(object, "sni", field: "upstream_tls.sni") { sni = try TLSText.serverName(name) }
        } catch let error as APIError {
            throw error
        } catch {
            throw .badBody("upstream_tls: \(error)")
        }
        if verify && insecure, object["verify"] != nil {
            throw .badBody("upstream_tls: verify: true and insecure: true contradict each other; give one")
        }
        return UpstreamTLS(verify: verify, caFile: ca, sni: sni, insecure: insecure)
    }
}
