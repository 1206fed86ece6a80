import Yams

/// `expect:` entries: a scope (`during:`/`after:`, `proxy:`) and exactly one check from
/// `ExpectationSpec.kinds`, whose value is its scalar parameter (`max_rate: 10`) or a mapping
/// of its parameters (`probe_after: {quiet: 30s, within: 5s}`). The catalogue belongs to the
/// evaluator; this only reads YAML against it, so the two cannot disagree on a key.
extension ScenarioBuilder {
    func readExpectations(_ node: Node) -> [ScenarioExpectation] {
        guard let items = reader.sequence(node, "expect", expected: "a list of expectations") else { return [] }
        return items.compactMap(readExpectation)
    }

    private func readExpectation(_ node: Node) -> ScenarioExpectation? {
        let expected = "an expectation such as { during: outage, max_rate: 10 }"
        guard let fields = reader.mapping(node, "expect", expected: expected) else { return nil }
        let issuesBefore = reader.issues.count
        let checks = fields.filter { ExpectationSpec.kind(named: $0.key) != nil }
        for extra in checks.dropFirst() {
            reader.report(extra.keyNode, "one check per expectation: start '\(extra.key)' with its own '-'")
        }
        let check = checks.first
        let kind = check.flatMap { ExpectationSpec.kind(named: $0.key) }
        let misspelt = checkExpectationKeys(fields, kind: kind)
        let scope = readScope(fields)
        let proxyField = fields.first { $0.key == "proxy" }
        // Without `proxy:` the evaluator watches every proxy, which is the only one when
        // there is one; so only a written name needs checking.
        let proxy = proxyField.flatMap { proxyReference($0, owner: node) }
        guard let kind, let check else {
            if !misspelt {  // a misspelt check is already reported, with a suggestion
                let names = ExpectationSpec.kinds.map(\.name)
                reader.report(node, "missing check: an expectation needs one of \(Suggestion.list(names))")
            }
            return nil
        }
        let (parameters, positions) = readParameters(kind, check)
        if kind.name == ClientRejectsCertificate.info.name { checkHandshakesExist(proxy: proxy, check) }
        checkRequestFilter(kind, proxy: proxy, parameters, positions)
        guard reader.issues.count == issuesBefore, let scope, proxyField == nil || proxy != nil else { return nil }
        let spec = ExpectationSpec(kind: kind.name, proxy: proxy, scope: scope, parameters: parameters)
        return ScenarioExpectation(spec: spec, position: reader.position(node), parameterPositions: positions)
    }

    /// `client_rejects_certificate` judges TLS handshakes: its proxy (or, without `proxy:`,
    /// some proxy) must terminate TLS, or the run could only end in an error verdict.
    private func checkHandshakesExist(proxy: String?, _ check: NodeReader.Entry) {
        let why = "\(check.key) judges the TLS handshakes of clients"
        if let proxy, !tlsProxies.contains(proxy) {
            reader.report(check.keyNode, "\(why), and proxy '\(proxy)' has no tls: (add tls: { profile: …, host: … } to it)")
        } else if proxy == nil && tlsProxies.isEmpty {
            reader.report(check.keyNode, "\(why), and no proxy has tls: (add tls: { profile: …, host: … } to one)")
        }
    }

    /// Reports unknown keys, naming a parameter written beside its check instead of under it;
    /// true when there was one.
    private func checkExpectationKeys(_ fields: [NodeReader.Entry], kind: ExpectationKindInfo?) -> Bool {
        let scopeKeys = ScenarioSchema.expectation.keyNames
        let names = ExpectationSpec.kinds.map(\.name)
        var found = false
        for field in fields where !scopeKeys.contains(field.key) && !names.contains(field.key) {
            found = true
            if let kind, kind.parameters.contains(where: { $0.name == field.key }) {
                reader.report(field.keyNode, "'\(field.key)' is a parameter of \(kind.name): "
                              + "write \(kind.name): \(mappingExample(kind))")
            } else {
                let hint = Suggestion.hint(for: field.key, in: scopeKeys + names)
                reader.report(field.keyNode, "unknown key '\(field.key)' in \(ScenarioSchema.expectation.noun)\(hint)")
            }
        }
        return found
    }

    /// `during:` or `after:` (not both), or the whole run.
    private func readScope(_ fields: [NodeReader.Entry]) -> ExpectationSpec.Scope? {
        let during = fields.first { $0.key == "during" }
        let after = fields.first { $0.key == "after" }
        if let during, let after {
            let later = reader.position(after.keyNode) > reader.position(during.keyNode) ? after : during
            reader.report(later.keyNode, "an expectation takes during: or after:, not both")
            return nil
        }
        if let during { return phaseReference(during.value, "during").map(ExpectationSpec.Scope.during) }
        if let after { return phaseReference(after.value, "after").map(ExpectationSpec.Scope.after) }
        return .whole
    }

    /// The check's parameters, typed, and where each is written.
    private func readParameters(_ kind: ExpectationKindInfo, _ check: NodeReader.Entry)
        -> ([String: ExpectationValue], [String: SourcePosition]) {
        var values: [String: ExpectationValue] = [:]
        var positions: [String: SourcePosition] = [:]
        var failed = false
        func read(_ parameter: ExpectationParameterInfo, _ node: Node, _ what: String) {
            if let value = readValue(node, parameter, what) {
                values[parameter.name] = value
                positions[parameter.name] = reader.position(node)
            } else {
                failed = true
            }
        }
        switch check.value {
        case .mapping:
            let names = kind.parameters.map(\.name)
            for field in reader.mapping(check.value, kind.name) ?? [] {
                guard let parameter = kind.parameters.first(where: { $0.name == field.key }) else {
                    reader.report(field.keyNode, "\(kind.name) has no parameter '\(field.key)'\(Suggestion.hint(for: field.key, in: names))")
                    failed = true
                    continue
                }
                read(parameter, field.value, field.key)
            }
        case .scalar:
            let scalar = kind.scalarParameter.flatMap { name in kind.parameters.first { $0.name == name } }
            guard let scalar else {
                reader.wrongType(check.value, kind.name, "a mapping such as \(mappingExample(kind))")
                return (values, positions)
            }
            // `no_request:` alone: its only parameter is optional, so nothing is a value.
            if !(reader.isNull(check.value) && !scalar.required) { read(scalar, check.value, kind.name) }
        default:
            let scalar = kind.scalarParameter.map { " or a \(kindType($0, kind)) such as \(example($0, kind))" } ?? ""
            reader.wrongType(check.value, kind.name, "a mapping such as \(mappingExample(kind))\(scalar)")
            return (values, positions)
        }
        for parameter in kind.parameters where parameter.required && values[parameter.name] == nil && !failed {
            reader.report(check.keyNode, "missing parameter '\(parameter.name)' for \(kind.name) (\(parameter.meaning))")
            failed = true
        }
        // The evaluator's own rules, so `check` passes nothing that `run` would refuse; after
        // the checks above they only speak for rules this file does not know.
        if !failed { kind.problems(in: values).forEach { reader.report(check.keyNode, $0) } }
        return (values, positions)
    }

    /// A value of the parameter's type; "KEY: expected …, found …" otherwise, or for a number
    /// out of its range "KEY: 'TEXT' is out of range: …".
    private func readValue(_ node: Node, _ parameter: ExpectationParameterInfo, _ what: String) -> ExpectationValue? {
        let expected = expectedValue(parameter)
        guard case .scalar(let scalar) = node, !reader.isNull(node), !scalar.string.isEmpty else {
            reader.report(node, "\(what): expected \(expected), found \(reader.found(node))")
            return nil
        }
        let text = scalar.string
        do {
            switch parameter.type {
            case .number:
                let maximum = UInt64(ExpectationParameterInfo.maximum)
                return .number(try NumberText.decimal(text, maximum: maximum, expected: expected, noun: "numbers"))
            case .count:
                return .number(Double(try NumberText.read(text, as: parameter.countQuantity)))
            case .duration:
                return .duration(try DurationText.parse(text))
            case .text:
                return .text(text)
            case .flag:
                if ["true", "false"].contains(text.lowercased()) { return .flag(text.lowercased() == "true") }
            }
        } catch where error.outOfRange {
            reader.report(node, "\(what): \(error)")
            return nil
        } catch {
            // Not a number of the right shape: said below like every other wrong value.
        }
        let unit = parameter.type == .duration && NumberText.isDecimal(text) ? " (add a unit, e.g. \(text)s)" : ""
        reader.report(node, "\(what): expected \(expected), found \(reader.found(node))\(unit)")
        return nil
    }

    /// What a value of the parameter's type looks like, for messages.
    private func expectedValue(_ parameter: ExpectationParameterInfo) -> String {
        switch parameter.type {
        case .number: "a number ≥ 0 such as \(parameter.example)"
        case .count: "a whole number ≥ \(parameter.minimum) such as \(parameter.example)"
        case .duration: "a duration such as 250ms, 2s or 1m"
        case .text: "a text such as \(parameter.example)"
        case .flag: "true or false"
        }
    }

    /// `{failures: 5, quiet: 10s}` from the parameters' own examples.
    private func mappingExample(_ kind: ExpectationKindInfo) -> String {
        "{" + kind.parameters.map { "\($0.name): \($0.example)" }.joined(separator: ", ") + "}"
    }

    private func kindType(_ name: String, _ kind: ExpectationKindInfo) -> String {
        kind.parameters.first { $0.name == name }?.type.rawValue ?? "value"
    }

    private func example(_ name: String, _ kind: ExpectationKindInfo) -> String {
        kind.parameters.first { $0.name == name }?.example ?? ""
    }
}
