import Yams

/// `timeline:`, phases and fault entries.
extension ScenarioBuilder {
    func readTimeline(_ entry: NodeReader.Entry?) -> [ScenarioPhase] {
        guard let entry, let items = reader.sequence(entry.value, "timeline", expected: "a list of phases") else { return [] }
        phasesKnown = true
        if items.isEmpty { reader.report(entry.keyNode, "timeline: expected at least one phase, such as - phase: outage, for: 30s") }
        return items.compactMap(readPhase)
    }

    private func readPhase(_ node: Node) -> ScenarioPhase? {
        guard let fields = reader.mapping(node, "timeline", expected: "a phase (a mapping with phase and for)") else { return nil }
        let nameField = reader.entry("phase", in: fields, of: node, required: "the phase's name")
        let name = nameField.flatMap { reader.text($0.value, "phase") }
        reader.checkKeys(fields, allowed: ScenarioSchema.phase.keyNames, in: name.map { "phase '\($0)'" } ?? "a phase")
        if let nameField, let name {
            if let first = phasePositions[name] {
                reader.report(nameField.value, "duplicate phase name '\(name)' (first at \(first))")
            } else {
                phaseNames.append(name)
                phasePositions[name] = reader.position(nameField.value)
            }
        }
        var duration: Duration?
        if let field = reader.entry("for", in: fields, of: node, required: "how long the phase lasts, e.g. 30s") {
            duration = reader.duration(field.value, "for")
            if let value = duration, value <= .zero {
                reader.report(field.value, "for: expected a duration above 0")
                duration = nil
            }
        }
        let faults = fields.first { $0.key == "faults" }.map { readFaults($0.value) } ?? []
        guard let name, let duration else { return nil }
        return ScenarioPhase(name: name, duration: duration, faults: faults, position: reader.position(node))
    }

    // MARK: faults

    /// A `faults:` list, top level or in a phase; entries with errors are left out.
    func readFaults(_ node: Node) -> [ScenarioFault] {
        let expected = "a list of fault entries such as - tcp.latency: { ms: 100 }"
        guard let items = reader.sequence(node, "faults", expected: expected) else { return [] }
        return items.compactMap(readFault)
    }

    /// `LAYER.KIND: {params}`: one key, the kind; its value holds the parameters and `proxy`.
    private func readFault(_ node: Node) -> ScenarioFault? {
        guard let entries = reader.mapping(node, "a fault", expected: "a fault entry LAYER.KIND: {params}") else { return nil }
        guard let head = entries.first else {
            reader.report(node, "a fault: expected a fault entry LAYER.KIND: {params}, found an empty mapping")
            return nil
        }
        for extra in entries.dropFirst() {
            if FaultRegistry.kind(named: extra.key) != nil {
                reader.report(extra.keyNode, "one fault per entry: start '\(extra.key)' with its own '-'")
            } else {
                reader.report(extra.keyNode, "'\(extra.key)' is beside '\(head.key)': indent it under '\(head.key)' to make it a parameter")
            }
        }
        guard let kind = FaultRegistry.kind(named: head.key) else {
            reader.report(head.keyNode, unknownKindMessage(head.key))
            return nil
        }
        let parameters = reader.isNull(head.value)
            ? [] : reader.mapping(head.value, kind.name, expected: "a mapping of parameters such as { ms: 100 }")
        guard let parameters else { return nil }
        var failed = entries.count > 1
        let known = (kind.parameters + Fault.commonParameters).map(\.name)
        var given: [(name: String, text: String, node: Node)] = []
        var parameterEntries = parameters.filter { $0.key != "proxy" }.map { (key: $0.key, keyNode: $0.keyNode, value: $0.value) }
        // `match: {commands: [GET], keys: "session:*"}` holds parameters of the kind's own;
        // HTTP's `headers` there are the request's (`request_headers`).
        if let index = parameterEntries.firstIndex(where: { $0.key == "match" }), Self.matchKeys.contains(where: known.contains) {
            let match = parameterEntries.remove(at: index)
            let http = kind.name.hasPrefix("http.")
            let expected = http ? "a mapping such as { method: GET, path: \"/api/v2/*\" }" : "a mapping such as { commands: [GET], keys: \"session:*\" }"
            let inner = reader.mapping(match.value, "match", expected: expected)
            if inner?.isEmpty == true { reader.report(match.value, "match: expected \(expected), found an empty mapping") }
            if inner?.isEmpty ?? true { failed = true }
            for entry in inner ?? [] {
                let name = http && entry.key == "headers" ? "request_headers" : entry.key
                guard Self.matchKeys.contains(name), known.contains(name) else {
                    let allowed = Self.matchKeys.filter(known.contains).map { $0 == "request_headers" ? "headers" : $0 }
                    reader.report(entry.keyNode, "match has no key '\(entry.key)'\(Suggestion.hint(for: entry.key, in: allowed))")
                    failed = true
                    continue
                }
                parameterEntries.append((http && entry.key == "headers" ? "request_headers" : entry.key, entry.keyNode, entry.value))
            }
        }
        for parameter in parameterEntries {
            guard known.contains(parameter.key) else {
                let hint = Suggestion.hint(for: parameter.key, in: known + ["proxy"])
                reader.report(parameter.keyNode, "\(kind.name) has no parameter '\(parameter.key)'\(hint)")
                failed = true
                continue
            }
            if given.contains(where: { $0.name == parameter.key }) {
                reader.report(parameter.keyNode, "\(kind.name): '\(parameter.key)' is given twice (beside and under match:)")
                failed = true
                continue
            }
            let type = kind.parameters.first { $0.name == parameter.key }?.type
            let text = switch type {
            case .list: listText(parameter.value, parameter.key)
            case .fields: fieldsText(parameter.value, parameter.key == "request_headers" ? "headers" : parameter.key)
            default: reader.text(parameter.value, parameter.key, expected: "a value")
            }
            guard let text else {
                failed = true
                continue
            }
            given.append((parameter.key, text, parameter.value))
        }
        let proxy = proxyReference(parameters.first { $0.key == "proxy" }, owner: head.keyNode)
        let fault = buildFault(kind, given, at: head.keyNode, failed: &failed)
        if let proxy { checkLayer(kind, proxy: proxy, at: head.keyNode) }
        guard let proxy, let fault, !failed else { return nil }
        return ScenarioFault(proxy: proxy, fault: fault, position: reader.position(head.keyNode))
    }

    /// The parameters that may sit under a protocol fault's `match:`.
    static let matchKeys = ["commands", "keys", "method", "path", "query", "request_headers"]

    /// A fields parameter: a YAML mapping of names to texts (`true`/`false` as written), or
    /// one text `Name:value|Name:value`.
    private func fieldsText(_ node: Node, _ key: String) -> String? {
        let expected = "a mapping such as { X-Api-Version: \"2\" }"
        guard case .mapping = node else { return reader.text(node, key, expected: expected) }
        guard let entries = reader.mapping(node, key, expected: expected) else { return nil }
        var lines: [String] = []
        for entry in entries {
            guard let value = reader.text(entry.value, "\(key).\(entry.key)", expected: "a text, true or false") else { return nil }
            guard !value.contains("\n") else {
                reader.report(entry.value, "\(key).\(entry.key): a value on one line")
                return nil
            }
            lines.append("\(entry.key): \(value)")
        }
        guard !lines.isEmpty else {
            reader.report(node, "\(key): expected \(expected), found an empty mapping")
            return nil
        }
        // The trailing line end marks YAML's lines: a value may hold `|` (a regex's alternation).
        return lines.joined(separator: "\n") + "\n"
    }

    /// A list parameter: a YAML sequence of words, or one text (`GET|SET`, `GET`).
    private func listText(_ node: Node, _ key: String) -> String? {
        guard case .sequence = node else { return reader.text(node, key, expected: "a list such as [GET, SET]") }
        guard let items = reader.sequence(node, key, expected: "a list such as [GET, SET]") else { return nil }
        var words: [String] = []
        for item in items {
            guard let word = reader.text(item, key, expected: "a word such as GET") else { return nil }
            words.append(word)
        }
        guard !words.isEmpty else {
            reader.report(node, "\(key): expected a list such as [GET, SET], found an empty list")
            return nil
        }
        return words.joined(separator: "|")
    }

    /// Builds the fault with its kind's own checks. `Fault` stops at its first bad parameter,
    /// so a bad one is reported at its value, left out, and the rest tried again until the
    /// fault builds. Errors about parameters that were not given (missing, or a check across
    /// several) are reported only when nothing else was: they are often caused by the others.
    private func buildFault(_ kind: FaultKind, _ given: [(name: String, text: String, node: Node)], at node: Node,
                            failed: inout Bool) -> Fault? {
        var remaining = given
        while true {
            do {
                return try Fault(kind: kind, parameters: remaining.map { ($0.name, $0.text) })
            } catch let error as ParameterError {
                // A scenario writes the request headers as `headers` under match:.
                let message = (error.message.contains(kind.name) ? error.description : "\(kind.name) \(error)")
                    .replacingOccurrences(of: "parameter 'request_headers'", with: "parameter 'headers'")
                if let index = remaining.firstIndex(where: { $0.name == error.parameter }) {
                    reader.report(remaining[index].node, message)
                    remaining.remove(at: index)
                    failed = true
                    continue
                }
                if !failed {
                    let required = error.message.hasPrefix("is required")
                    let about = error.message.contains(kind.name) ? error.message : message
                    // "is required by error=MOVED: …" keeps its reason; plain "is required by KIND" reads as such.
                    let reason = error.message.dropFirst("is ".count)
                    reader.report(node, required ? "missing parameter '\(error.parameter)' (\(reason))" : about)
                }
                failed = true
                return nil
            } catch {
                reader.report(node, "\(kind.name): \(error)")
                failed = true
                return nil
            }
        }
    }

    private func unknownKindMessage(_ name: String) -> String {
        let names = FaultRegistry.kinds.map(\.name)
        if let close = Suggestion.closest(to: name, in: names) { return "unknown fault kind '\(name)' (did you mean '\(close)'?)" }
        // `redis.latency` → `tcp.latency`: the right kind under another layer.
        let suffix = name.split(separator: ".").last.map(String.init) ?? name
        if let other = names.first(where: { $0.hasSuffix(".\(suffix)") }) {
            return "unknown fault kind '\(name)' (did you mean '\(other)'?)"
        }
        return "unknown fault kind '\(name)'; expected \(Suggestion.list(names)) (see faultline faults)"
    }

    /// Protocol faults need a proxy that speaks the protocol; TLS faults a proxy with `tls:`.
    private func checkLayer(_ kind: FaultKind, proxy: String, at node: Node) {
        let layer = kind.name.split(separator: ".").first.map(String.init) ?? ""
        if let needed = ProxyProtocol(rawValue: layer), needed != .tcp, let actual = proxyProtocols[proxy], actual != needed {
            reader.report(node, "\(kind.name) needs a proxy with protocol: \(needed.rawValue); proxy '\(proxy)' speaks \(actual.rawValue)")
        }
        if layer == "tls", proxyProtocols[proxy] != nil, !tlsProxies.contains(proxy) {
            reader.report(node, "\(kind.name) needs a proxy with tls:; proxy '\(proxy)' has none")
        }
    }

    /// Fault names must be unique on a proxy among the faults active together: the whole-run
    /// ones plus one phase's. Two phases may reuse a name; they never overlap. Each phase is
    /// checked against the whole-run names by lookup, so long timelines stay linear.
    func checkFaultNames(wholeRun: [ScenarioFault], phases: [[ScenarioFault]]) {
        let wholeRunByName = Dictionary(grouping: wholeRun, by: \.nameKey)
        reportRepeatedNames(wholeRun, with: [:])
        for group in phases { reportRepeatedNames(group, with: wholeRunByName) }
    }

    /// Reports each fault whose name an earlier one in `faults` or `others` already has on its proxy.
    private func reportRepeatedNames(_ faults: [ScenarioFault], with others: [String: [ScenarioFault]]) {
        let byName = Dictionary(grouping: faults, by: \.nameKey)
        var done: Set<String> = []
        for fault in faults where done.insert(fault.nameKey).inserted {
            let together = ((byName[fault.nameKey] ?? []) + (others[fault.nameKey] ?? [])).sorted { $0.position < $1.position }
            guard let first = together.first else { continue }
            for repeated in together.dropFirst() {
                reader.report(repeated.position, "duplicate fault name '\(repeated.fault.name)' on proxy '\(repeated.proxy)' "
                              + "(first at \(first.position)); give one of them a name:")
            }
        }
    }
}

extension ScenarioFault {
    /// The proxy and the fault's name: what must be unique among faults active together.
    fileprivate var nameKey: String { "\(proxy)\u{0}\(fault.name)" }
}
