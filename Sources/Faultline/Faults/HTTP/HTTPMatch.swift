/// Which requests an `http.*` fault acts on (`match: {method, path, query, headers}`), read
/// once from its parameters so deciding per request compares bytes.
struct HTTPMatch {
    /// How a path, a query value or a header value is compared.
    enum Pattern {
        case exact([UInt8])
        /// `*` matches any run of bytes, `/` included.
        case glob([UInt8])
        case regex(POSIXRegex)

        init(_ text: String, globbing: Bool) throws {
            if text.hasPrefix("regex:") {
                self = .regex(try POSIXRegex(String(text.dropFirst(6))))
            } else {
                self = globbing && text.contains("*") ? .glob(Array(text.utf8)) : .exact(Array(text.utf8))
            }
        }

        func matches(_ bytes: ArraySlice<UInt8>) -> Bool {
            switch self {
            case .exact(let wanted): bytes.elementsEqual(wanted)
            case .glob(let pattern): StarGlob.matches(pattern[...], bytes)
            case .regex(let regex): regex.matches(bytes)
            }
        }
    }

    /// A query parameter's or a header's condition.
    enum Condition {
        case present, absent
        case value(Pattern)

        init(_ text: String) throws {
            switch text {
            case "true": self = .present
            case "false": self = .absent
            default: self = .value(try Pattern(text, globbing: false))
            }
        }
    }

    private let methods: [[UInt8]]
    private let path: Pattern?
    private let query: [(name: [UInt8], condition: Condition)]
    /// Names lower-cased.
    private let headers: [(name: [UInt8], condition: Condition)]

    /// The match of `fault`'s parameters; throws a `ParameterError` for a bad regex.
    init(_ fault: Fault) throws {
        methods = ParameterType.words(in: fault.word("method")).map { Array($0.uppercased().utf8) }
        do {
            path = fault.word("path").isEmpty ? nil : try Pattern(fault.word("path"), globbing: true)
        } catch {
            throw ParameterError(parameter: "path", message: "not a regular expression: \(error)")
        }
        query = try Self.conditions(fault, "query", lowercased: false)
        headers = try Self.conditions(fault, "request_headers", lowercased: true)
    }

    private static func conditions(_ fault: Fault, _ key: String, lowercased: Bool) throws -> [(name: [UInt8], condition: Condition)] {
        try FieldsText.pairs(fault.word(key)).map { pair in
            do {
                return (Array((lowercased ? pair.name.lowercased() : pair.name).utf8), try Condition(pair.value))
            } catch {
                throw ParameterError(parameter: key,
                                     message: "\(pair.name): not a regular expression: \(error)")
            }
        }
    }

    /// Whether the request whose head is `head` is one of these.
    func matches(_ head: HTTPHead) -> Bool {
        if !methods.isEmpty && !methods.contains(where: { head.slice(head.method).elementsEqual($0) }) { return false }
        if let path, !path.matches(head.slice(head.pathRange)) { return false }
        if !query.isEmpty {
            let pairs = Self.queryPairs(head.slice(head.queryRange))
            for (name, condition) in query {
                let values = pairs.filter { $0.name.elementsEqual(name) }.map(\.value)
                guard Self.holds(condition, values) else { return false }
            }
        }
        for (name, condition) in headers {
            guard Self.holds(condition, head.values(of: name)) else { return false }
        }
        return true
    }

    private static func holds(_ condition: Condition, _ values: [ArraySlice<UInt8>]) -> Bool {
        switch condition {
        case .present: !values.isEmpty
        case .absent: values.isEmpty
        case .value(let pattern): values.contains { pattern.matches($0) }
        }
    }

    /// `a=1&b=x%20y` → (a, 1), (b, x y): names and values percent-decoded, `+` as a space.
    static func queryPairs(_ query: ArraySlice<UInt8>) -> [(name: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] {
        query.split(separator: UInt8(ascii: "&")).map { part in
            let equals = part.firstIndex(of: UInt8(ascii: "="))
            let name = equals.map { part[..<$0] } ?? part
            let value = equals.map { part[($0 + 1)...] } ?? []
            return (decode(name), decode(value))
        }
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard bytes.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return bytes }
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return out[...]
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x37
        case 0x61...0x66: byte - 0x57
        default: nil
        }
    }
}
