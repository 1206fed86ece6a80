/// Toxiproxy's v2 endpoints, answered as Toxiproxy 2.12 answers them: the same statuses,
/// bodies, error texts and headers (Tests/fixtures/toxiproxy/answers.json records them), over
/// the `ControlPlane`'s proxies.
enum ToxiproxyEndpoints {
    /// The version `GET /version` reports: faultline's, in Toxiproxy's shape.
    static func version() -> APIResponse {
        APIResponse(status: 200, headers: [("Content-Type", "application/json;charset=utf-8")],
                    body: Array("{\"version\": \"\(FaultlineVersion.current)\"}\n".utf8))
    }

    /// `POST /proxies`: 201 and the proxy.
    static func createProxy(_ plane: ControlPlane, body: [UInt8]) throws(APIError) -> APIResponse {
        let object = try BodyReader.object(body, known: ProxyJSON.fields, what: "a proxy")
        let spec = try ProxyJSON.spec(object)
        let proxy = try plane.create(spec)
        return .json(ProxyJSON.json(proxy), status: 201)
    }

    /// `POST|PATCH /proxies/{name}`: only `listen`, `upstream` and `enabled` are read.
    static func updateProxy(_ plane: ControlPlane, name: String, body: [UInt8]) throws(APIError) -> APIResponse {
        let proxy = try plane.proxy(name)
        let object = try BodyReader.object(body, known: ProxyJSON.fields, what: "a proxy")
        let enabled = try BodyReader.bool(object, "enabled")
        let listen = try BodyReader.string(object, "listen").map { text throws(APIError) in
            try ProxyJSON.address(text, field: "listen", upstream: false)
        }
        let upstream = try BodyReader.string(object, "upstream").map { text throws(APIError) in
            try ProxyJSON.address(text, field: "upstream", upstream: true)
        }
        if let text = try BodyReader.string(object, "protocol"), text != proxy.options.protocol.rawValue {
            throw .badBody("protocol: a proxy's protocol is set when it is created (this one speaks \(proxy.options.protocol.rawValue)); delete and create it again")
        }
        for field in ["tls", "upstream_tls"] where object[field] != nil && object[field] != .null {
            let current = ProxyJSON.json(proxy)
            if case .object(let shown) = current, shown[field] == object[field] { continue }
            throw .badBody("\(field): TLS settings are set when a proxy is created; delete and create it again")
        }
        return .json(ProxyJSON.json(try plane.update(name, listen: listen, upstream: upstream, enabled: enabled)))
    }

    /// `POST /populate`: `{"proxies":[…]}` with 201, or with the error's status and the
    /// proxies applied before it. Its errors are JSON (not Go's text/plain), as Toxiproxy's are.
    static func populate(_ plane: ControlPlane, body: [UInt8]) -> APIResponse {
        let specs: [ProxySpec]
        do {
            specs = try populateSpecs(body)
        } catch {
            return populateAnswer([], error: error)
        }
        let (applied, error) = plane.populate(specs)
        return populateAnswer(applied, error: error)
    }

    /// Reads a populate list (`--config` files have the same shape): every entry is checked
    /// before anything is applied.
    static func populateSpecs(_ body: [UInt8]) throws(APIError) -> [ProxySpec] {
        let value = try BodyReader.json(body)
        if value == .null { return [] }
        guard case .array(let entries) = value else { throw .badBody("the body must be a JSON list of proxies, not \(value.typeName)") }
        var specs: [ProxySpec] = []
        var names: Set<String> = []
        for (index, entry) in entries.enumerated() {
            guard case .object(let object) = entry else {
                throw .badBody("proxy \(index + 1) must be an object, not \(entry.typeName)")
            }
            let spec = try ProxyJSON.spec(object, where: " at proxy \(index + 1)")
            guard names.insert(spec.name).inserted else {
                throw .badBody("proxy \(index + 1): the name \(spec.name) is given twice")
            }
            specs.append(spec)
        }
        return specs
    }

    private static func populateAnswer(_ applied: [Proxy], error: APIError?) -> APIResponse {
        var object = JSONObject()
        if let error {
            object["error"] = .string(error.message)
            object["status"] = .int(error.status)
        }
        object["proxies"] = applied.isEmpty ? .null : .array(applied.map(ProxyJSON.json))
        return .json(.object(object), status: error?.status ?? 201)
    }

    /// `POST /proxies/{name}/toxics`: 200 (not 201, as Toxiproxy) and the toxic.
    static func addToxic(_ plane: ControlPlane, proxy: String, body: [UInt8]) throws(APIError) -> APIResponse {
        _ = try plane.proxy(proxy)
        let fault = try ToxicJSON.fault(from: body)
        try plane.addFault(fault, to: proxy)
        return .json(ToxicJSON.json(fault))
    }

    /// `POST|PATCH /proxies/{name}/toxics/{toxic}`: attributes merged, toxicity replaced.
    static func updateToxic(_ plane: ControlPlane, proxy: String, toxic: String, body: [UInt8]) throws(APIError) -> APIResponse {
        let existing = try plane.fault(toxic, on: proxy)
        let updated = try ToxicJSON.updated(existing, body: body)
        try plane.replaceFault(updated, on: proxy)
        return .json(ToxicJSON.json(updated))
    }
}
