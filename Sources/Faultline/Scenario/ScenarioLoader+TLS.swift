import Yams

/// A proxy's `tls:` and `upstream_tls:`.
extension ScenarioBuilder {
    /// `tls: {profile: P, host: NAME or [NAMES], key: ec|rsa}`; nil after reporting a mistake.
    func readServerTLS(_ node: Node, proxy: String) -> ServerTLS? {
        let expected = "a mapping such as { profile: valid, host: localhost } ({} for the defaults)"
        guard let fields = reader.mapping(node, "tls", expected: expected) else { return nil }
        reader.checkKeys(fields, allowed: ScenarioSchema.serverTLS.keyNames, in: "tls of proxy '\(proxy)'")
        var settings = ServerTLS()
        var valid = true
        func field(_ key: String) -> NodeReader.Entry? { fields.first { $0.key == key } }
        if let entry = field("profile") {
            if let profile = readTLSValue(entry.value, "profile", expected: "a certificate profile such as valid", TLSText.profile) {
                settings.profile = profile
            } else {
                valid = false
            }
        }
        if let entry = field("host") {
            if let hosts = readHosts(entry.value) { settings.hosts = hosts } else { valid = false }
        }
        if let entry = field("key") {
            if let key = readTLSValue(entry.value, "key", expected: Suggestion.list(TLSText.keyNames), TLSText.key) {
                settings.key = key
                if let conflict = TLSText.keyConflict(key, profile: settings.profile) {
                    reader.report(entry.value, "key: \(conflict)")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        return valid ? settings : nil
    }

    /// `host: localhost` or `host: [localhost, 127.0.0.1]`.
    private func readHosts(_ node: Node) -> [String]? {
        let expected = "a host name or a list of names such as [localhost, 127.0.0.1]"
        let items: [Node]
        switch node {
        case .scalar where !reader.isNull(node):
            items = [node]
        case .sequence(let sequence):
            items = Array(sequence)
            if items.isEmpty {
                reader.report(node, "host: expected at least one name, such as localhost")
                return nil
            }
        default:
            reader.wrongType(node, "host", expected)
            return nil
        }
        let hosts = items.map { readTLSValue($0, "host", expected: "a host name such as localhost", TLSText.host) }
        let read = hosts.compactMap { $0 }
        guard read.count == hosts.count else { return nil }
        do {
            return try TLSText.hosts(read)
        } catch {
            reader.report(items[0], "host: \(error)")
            return nil
        }
    }

    /// `upstream_tls: {verify: bool, ca: FILE, sni: NAME, insecure: bool}`; `ca` is resolved
    /// against the scenario file's directory and must be readable now, not at the run's start.
    func readUpstreamTLS(_ node: Node, proxy: String) -> UpstreamTLS? {
        let expected = "a mapping such as { verify: true, ca: ./ca.pem } ({} to verify against the system's roots)"
        guard let fields = reader.mapping(node, "upstream_tls", expected: expected) else { return nil }
        reader.checkKeys(fields, allowed: ScenarioSchema.upstreamTLS.keyNames, in: "upstream_tls of proxy '\(proxy)'")
        func field(_ key: String) -> NodeReader.Entry? { fields.first { $0.key == key } }
        var valid = true
        let verifyEntry = field("verify"), insecureEntry = field("insecure")
        let verify = verifyEntry.map { readFlag($0.value, "verify") }
        let insecure = insecureEntry.map { readFlag($0.value, "insecure") }
        if verify == .some(nil) || insecure == .some(nil) { valid = false }
        if verify == true, insecure == true, let verifyEntry, let insecureEntry {
            reader.report(insecureEntry.value, "insecure: true checks nothing, so it contradicts verify: true "
                          + "(at \(reader.position(verifyEntry.value))); keep one of them")
            valid = false
        }
        var caFile: String?
        if let entry = field("ca") {
            if let written = reader.text(entry.value, "ca", expected: "a PEM file such as ./ca.pem") {
                let path = TLSText.path(written, relativeTo: reader.file)
                do {
                    try TLSText.checkCAFile(path)
                    caFile = path
                } catch {
                    reader.report(entry.value, "ca: \(error)")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        var sni: String?
        if let entry = field("sni") {
            sni = readTLSValue(entry.value, "sni", expected: "a server name such as redis.internal", TLSText.serverName)
            if sni == nil { valid = false }
        }
        guard valid else { return nil }
        return UpstreamTLS(verify: (verify ?? true) ?? true, caFile: caFile, sni: sni, insecure: (insecure ?? false) ?? false)
    }

    /// A scalar read by `parse`, whose refusal is reported as `what: reason`.
    private func readTLSValue<T>(_ node: Node, _ what: String, expected: String,
                                 _ parse: (String) throws(TLSText.Refusal) -> T) -> T? {
        guard let text = reader.text(node, what, expected: expected) else { return nil }
        do {
            return try parse(text)
        } catch {
            reader.report(node, "\(what): \(error)")
            return nil
        }
    }

    /// `true` or `false` (any case).
    private func readFlag(_ node: Node, _ what: String) -> Bool? {
        guard let text = reader.text(node, what, expected: "true or false") else { return nil }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default:
            reader.wrongType(node, what, "true or false")
            return nil
        }
    }
}
