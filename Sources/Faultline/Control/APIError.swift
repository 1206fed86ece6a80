/// An answer that is an error: Toxiproxy's message and status (`proxy not found`, 404), or
/// faultline's own naming the field (`bad request body: listen: …`, 400).
public struct APIError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public let status: Int

    /// An error with this message and status.
    public init(_ message: String, status: Int) {
        self.message = message
        self.status = status
    }

    public var description: String { message }

    static let proxyNotFound = APIError("proxy not found", status: 404)
    static let proxyExists = APIError("proxy already exists", status: 409)
    static let toxicNotFound = APIError("toxic not found", status: 404)
    static let toxicExists = APIError("toxic already exists", status: 409)
    static let invalidStream = APIError("stream was invalid, can be either upstream or downstream", status: 400)
    static let invalidToxicType = APIError("invalid toxic type", status: 400)

    /// A body that is not what the endpoint reads; Toxiproxy's prefix, then what is wrong.
    static func badBody(_ reason: String) -> APIError { APIError("bad request body: \(reason)", status: 400) }

    /// A required field is missing or empty (`missing required field: name`).
    static func missing(_ field: String) -> APIError { APIError("missing required field: \(field)", status: 400) }

    /// The answer that carries it.
    var response: APIResponse { .error(message, status: status) }
}

/// Reading request bodies: JSON syntax, then fields by type, every error naming the field.
enum BodyReader {
    /// The body as a JSON value; an empty body is Toxiproxy's `EOF`.
    static func json(_ body: [UInt8]) throws(APIError) -> JSONValue {
        guard body.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { throw .badBody("EOF") }
        do {
            return try JSONParser.parse(body)
        } catch {
            throw .badBody("invalid JSON at \(error)")
        }
    }

    /// The body as a JSON object whose keys are all in `known`.
    static func object(_ body: [UInt8], known: [String], what: String) throws(APIError) -> JSONObject {
        let value = try json(body)
        // `null` reads as an empty object, as Go's decoder reads it (then "missing … name").
        if value == .null { return JSONObject() }
        guard case .object(let object) = value else {
            throw .badBody("\(what) must be a JSON object")
        }
        try checkKeys(object, known: known, prefix: "")
        return object
    }

    /// Refuses a key outside `known`, naming it and the closest known one.
    static func checkKeys(_ object: JSONObject, known: [String], prefix: String) throws(APIError) {
        for key in object.keys where !known.contains(key) {
            let hint = Suggestion.closest(to: key, in: known).map { " (did you mean '\(prefix)\($0)'?)" } ?? ""
            throw .badBody("unknown field '\(prefix)\(key)'\(hint); known fields: \(known.map { prefix + $0 }.joined(separator: ", "))")
        }
    }

    /// A text field, or nil when absent or null.
    static func string(_ object: JSONObject, _ key: String, field: String? = nil) throws(APIError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        case let other?: throw .badBody("\(field ?? key) must be text, not \(other.typeName)")
        }
    }

    /// A true/false field, or nil when absent or null.
    static func bool(_ object: JSONObject, _ key: String) throws(APIError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        case let other?: throw .badBody("\(key) must be true or false, not \(other.typeName)")
        }
    }

    /// A number field, or nil when absent or null.
    static func number(_ object: JSONObject, _ key: String) throws(APIError) -> Double? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let text)?:
            guard let value = Double(text), value.isFinite else { throw .badBody("\(key) is out of range: \(text)") }
            return value
        case let other?: throw .badBody("\(key) must be a number, not \(other.typeName)")
        }
    }
}
