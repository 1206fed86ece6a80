/// A fault as written on the command line: `KIND:key=value,key=value`. A comma inside a value
/// is written `\,` (`body={"error":"gone"\,"status":404}`), a backslash before a comma `\\`;
/// any other backslash stays as written (`regex:^/v\d+/`).
///
/// This is only the syntax; `FaultRegistry` decides whether the kind and its parameters exist.
public struct FaultSpec: Sendable, Equatable {
    /// `LAYER.KIND`, e.g. `tcp.latency`.
    public let kind: String
    /// Parameters in the order written.
    public let parameters: [Parameter]

    /// One `key=value`.
    public struct Parameter: Sendable, Equatable {
        /// The parameter's name.
        public let name: String
        /// The value as written; its kind's schema gives it a type.
        public let value: String
    }

    /// Parses `KIND` or `KIND:k=v,k=v`. Errors name the part that is wrong.
    public init(parsing text: String) throws {
        let kindEnd = text.firstIndex(of: ":") ?? text.endIndex
        kind = String(text[..<kindEnd])
        guard !kind.isEmpty, kind.contains(".") else {
            throw FaultSpecError(text: text, reason: "expected LAYER.KIND[:key=value,…], e.g. tcp.latency:ms=100")
        }
        var parameters: [Parameter] = []
        if kindEnd < text.endIndex {
            for pair in Self.pairs(text[text.index(after: kindEnd)...]) {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw FaultSpecError(text: text, reason: "parameter '\(pair)' is not key=value")
                }
                let name = String(pair[..<equals])
                if parameters.contains(where: { $0.name == name }) {
                    throw FaultSpecError(text: text, reason: "parameter '\(name)' is given twice")
                }
                parameters.append(Parameter(name: name, value: String(pair[pair.index(after: equals)...])))
            }
        }
        self.parameters = parameters
    }

    /// The `key=value` parts of `text`, split at commas not escaped by a backslash.
    private static func pairs(_ text: Substring) -> [Substring] {
        var parts: [Substring] = []
        var current = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "\\", next < text.endIndex, text[next] == "," || text[next] == "\\" {
                current.append(text[next])
                index = text.index(after: next)
                continue
            }
            if character == "," {
                parts.append(Substring(current))
                current = ""
            } else {
                current.append(character)
            }
            index = next
        }
        parts.append(Substring(current))
        return parts
    }
}

/// A `--fault` value that cannot be used, with the reason.
public struct FaultSpecError: Error, CustomStringConvertible {
    /// The value as written.
    public let text: String
    /// What is wrong.
    public let reason: String
    public var description: String { "invalid fault '\(text)': \(reason)" }
}
