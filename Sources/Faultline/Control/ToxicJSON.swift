/// Toxics as Toxiproxy's API reads and writes them, over faultline's faults.
///
/// Out: `{"attributes":{…},"name":…,"type":…,"stream":…,"toxicity":…}` in that order; a
/// Toxiproxy type shows every attribute of its type (0 when unset), in Toxiproxy's order and
/// units. In: a body is checked field by field and each error names the field; faultline's own
/// kinds take their parameters as attributes (`{"type":"http.respond","attributes":{"status":404}}`),
/// with `match` flattened as scenarios write it.
enum ToxicJSON {
    /// The fields a toxic body may have.
    static let fields = ["name", "type", "stream", "toxicity", "attributes"]

    /// The JSON Toxiproxy would show for `fault`.
    static func json(_ fault: Fault) -> JSONValue {
        let toxic = fault.toxic
        var attributes = JSONObject()
        if let names = fault.kind.toxiproxy {
            for (attribute, parameter) in names.attributes {
                if Self.isRate(parameter, of: fault.kind), case .count(let bytesPerSecond)? = fault.values[parameter] {
                    attributes[attribute] = .int(bytesPerSecond / 1000)
                } else {
                    attributes[attribute] = value(toxic.attributes?[attribute] ?? .number(0))
                }
            }
        } else {
            for parameter in fault.kind.parameters {
                guard let attribute = toxic.attributes?[parameter.name] else { continue }
                attributes[parameter.name] = shaped(value(attribute), as: parameter.type)
            }
            for name in ["first", "every"] {
                if let attribute = toxic.attributes?[name] { attributes[name] = value(attribute) }
            }
        }
        return .object(JSONObject([
            "attributes": .object(attributes),
            "name": .string(fault.name),
            "type": .string(toxic.type),
            "stream": .string(fault.direction.rawValue),
            "toxicity": .float(Float(fault.probability)),
        ]))
    }

    /// A proxy's toxics in Toxiproxy's order: upstream ones first, then downstream (then
    /// faultline's `both`), each in the order they were added.
    static func list(_ faults: [Fault]) -> JSONValue {
        let order: [FaultDirection] = [.upstream, .downstream, .both]
        return .array(order.flatMap { direction in faults.filter { $0.direction == direction }.map(json) })
    }

    /// Reads a new toxic's body: defaults as Toxiproxy's (stream downstream, toxicity 1, name
    /// `TYPE_STREAM`), then the fault it stands for.
    static func fault(from body: [UInt8]) throws(APIError) -> Fault {
        let object = try BodyReader.object(body, known: fields, what: "a toxic")
        let stream = try BodyReader.string(object, "stream")
        if let stream, !["upstream", "downstream", "both"].contains(stream.lowercased()) { throw .invalidStream }
        guard let type = try BodyReader.string(object, "type"), !type.isEmpty,
              let kind = FaultRegistry.kind(toxiproxyType: type) else { throw .invalidToxicType }
        let direction = stream?.lowercased() ?? (kind.toxiproxy != nil ? "downstream" : kind.defaultDirection.rawValue)
        var name = try BodyReader.string(object, "name") ?? ""
        if name.isEmpty {
            // Toxiproxy's `TYPE_STREAM`; a faultline kind whose direction changes nothing is
            // named by its kind alone, as scenarios and --fault name it.
            name = kind.toxiproxy != nil || kind.directional ? "\(type)_\(direction)" : kind.name
        }
        try ProxyJSON.checkName(name, field: "name", what: "a toxic")
        var given = try attributes(object["attributes"], of: kind, type: type)
        // Toxiproxy gives every attribute left out its zero value.
        for (attribute, _) in kind.toxiproxy?.attributes ?? [:] where given[attribute] == nil { given[attribute] = .number(0) }
        let toxic = Toxic(name: name, type: type, stream: direction, toxicity: try BodyReader.number(object, "toxicity") ?? 1,
                          attributes: given)
        return try fault(toxic)
    }

    /// Reads an update's body (Toxiproxy reads only `attributes`, merged into the toxic's, and
    /// `toxicity`): the fault `existing` becomes.
    static func updated(_ existing: Fault, body: [UInt8]) throws(APIError) -> Fault {
        let object = try BodyReader.object(body, known: fields, what: "a toxic")
        var toxic = existing.toxic
        if let names = existing.kind.toxiproxy {
            // Merged as Toxiproxy shows them (its units: a rate in KB/s of 1000 bytes), then read.
            guard case .object(let shown) = json(existing), case .object(var merged)? = shown["attributes"] else {
                throw .badBody("the toxic's attributes cannot be read back")
            }
            if let given = object["attributes"], given != .null {
                guard case .object(let changes) = given else { throw .badBody("attributes must be an object, not \(given.typeName)") }
                for member in changes.members { merged[member.key] = member.value }
            }
            toxic.attributes = try toxiproxyAttributes(merged, names: names, kind: existing.kind, type: toxic.type)
        } else {
            var merged = toxic.attributes ?? [:]
            for (key, value) in try attributes(object["attributes"], of: existing.kind, type: toxic.type) { merged[key] = value }
            toxic.attributes = merged
        }
        if let toxicity = try BodyReader.number(object, "toxicity") { toxic.toxicity = toxicity }
        return try fault(toxic)
    }

    private static func fault(_ toxic: Toxic) throws(APIError) -> Fault {
        do {
            return try Fault(toxic: toxic)
        } catch let error as ParameterError {
            throw .badBody("\(error.parameter): \(error.message)")
        } catch {
            throw .badBody("\(error)")
        }
    }

    /// `attributes`: an object whose values are numbers, text, true/false, lists of words or
    /// objects of named values (`headers`); `match` is flattened into its keys.
    /// `type` is as the client sent it: `tcp.latency` is Toxiproxy's `latency` under faultline's
    /// name (same attributes and units), and errors name what was sent.
    private static func attributes(_ value: JSONValue?, of kind: FaultKind, type: String) throws(APIError) -> [String: Toxic.AttributeValue] {
        guard let value, value != .null else { return [:] }
        guard case .object(let object) = value else { throw .badBody("attributes must be an object, not \(value.typeName)") }
        if let names = kind.toxiproxy {
            return try toxiproxyAttributes(object, names: names, kind: kind, type: type)
        }
        // name, direction and probability are the toxic's own fields, not attributes.
        let known = kind.parameters.map(\.name) + ["first", "every"]
        var result: [String: Toxic.AttributeValue] = [:]
        for member in object.members {
            guard known.contains(member.key) || member.key == "match" else {
                throw unknown("attributes.\(member.key)", known: known, type: kind.name)
            }
            if member.key == "match" {
                guard case .object(let match) = member.value else {
                    throw .badBody("attributes.match must be an object, not \(member.value.typeName)")
                }
                for inner in match.members {
                    let key = inner.key == "headers" ? "request_headers" : inner.key
                    guard known.contains(key) else { throw unknown("attributes.match.\(inner.key)", known: known, type: kind.name) }
                    result[key] = try attribute(inner.value, field: "attributes.match.\(inner.key)")
                }
            } else {
                result[member.key] = try attribute(member.value, field: "attributes.\(member.key)")
            }
        }
        return result
    }

    /// A Toxiproxy type's attributes: its own names only, whole numbers only (Go's int64).
    /// Toxiproxy's `rate` is in KB/s of 1000 bytes (it sleeps a millisecond per `rate` bytes),
    /// where faultline's bare rates are KB of 1024: it is passed on in bytes.
    private static func toxiproxyAttributes(_ object: JSONObject, names: ToxiproxyName, kind: FaultKind,
                                            type: String) throws(APIError) -> [String: Toxic.AttributeValue] {
        let known = names.attributes.map(\.key)
        var result: [String: Toxic.AttributeValue] = [:]
        for member in object.members {
            let field = "attributes.\(member.key)"
            guard known.contains(member.key) else {
                let alias = type == names.type ? "" : " (\(type) is Toxiproxy's \(names.type) here: its attributes and units)"
                throw unknown(field, known: known, type: type + alias)
            }
            guard case .number(let text) = member.value, let number = Int64(text) else {
                if case .number(let text) = member.value { throw .badBody("\(field) must be a whole number, not \(text)") }
                throw .badBody("\(field) must be a whole number, not \(member.value.typeName)")
            }
            if number > 0, let parameter = names.parameter(forAttribute: member.key), isRate(parameter, of: kind) {
                let (bytes, overflow) = number.multipliedReportingOverflow(by: 1000)
                guard !overflow else { throw .badBody("\(field): \(number) KB/s is out of range") }
                result[member.key] = .text("\(bytes)B")
            } else {
                result[member.key] = .text(String(number))
            }
        }
        return result
    }

    private static func isRate(_ parameter: String, of kind: FaultKind) -> Bool {
        kind.parameters.first { $0.name == parameter }?.type == .rate
    }

    private static func unknown(_ field: String, known: [String], type: String) -> APIError {
        let name = String(field.split(separator: ".").last ?? "")
        let hint = Suggestion.closest(to: name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
        let list = known.isEmpty ? "none" : known.joined(separator: ", ")
        return .badBody("\(field): \(type) has no such attribute\(hint); its attributes: \(list)")
    }

    private static func attribute(_ value: JSONValue, field: String) throws(APIError) -> Toxic.AttributeValue {
        switch value {
        case .number(let text):
            // The number as written (without exponent): a Double would turn 2^53+1 into 2^53
            // and 0.00001 into `1e-05`, which parameter parsers do not read.
            return .text(DecimalText.plain(text))
        case .string(let text): return .text(text)
        case .bool(let flag): return .text(flag ? "true" : "false")
        case .array(let items):
            var words: [String] = []
            for item in items {
                guard case .string(let word) = item else { throw .badBody("\(field) must be a list of text, not of \(item.typeName)") }
                words.append(word)
            }
            return .text(words.joined(separator: "|"))
        case .object(let fields):
            var lines: [String] = []
            for member in fields.members {
                guard case .string(let text) = member.value else {
                    throw .badBody("\(field).\(member.key) must be text, not \(member.value.typeName)")
                }
                lines.append("\(member.key):\(text)")
            }
            return .text(lines.joined(separator: "|"))
        case .null: throw .badBody("\(field) must have a value, not null")
        }
    }

    /// A list parameter as a JSON list of words, named values as an object: as they are sent.
    private static func shaped(_ value: JSONValue, as type: ParameterType) -> JSONValue {
        guard case .string(let text) = value else { return value }
        switch type {
        case .list:
            return .array(ParameterType.words(in: text).map(JSONValue.string))
        case .fields:
            var object = JSONObject()
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                object[String(parts[0])] = .string(parts[1].trimmingPrefix(" ").description)
            }
            return .object(object)
        default:
            return value
        }
    }

    private static func value(_ attribute: Toxic.AttributeValue) -> JSONValue {
        switch attribute {
        case .number(let number):
            number == number.rounded() && abs(number) < 1e15 ? .int(Int64(number)) : .number(String(number))
        case .text(let text): .string(text)
        }
    }
}
