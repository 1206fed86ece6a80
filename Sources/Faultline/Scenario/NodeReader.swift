import Yams

/// Typed, positioned access to composed YAML nodes that records a message for every value of
/// the wrong shape instead of throwing, so one pass finds every mistake in a file. Each
/// accessor returns nil after reporting; callers skip what depends on the value.
final class NodeReader {
    /// A mapping's `key: value`, the key as text.
    struct Entry {
        let key: String
        let keyNode: Node
        let value: Node
    }

    let file: String
    private(set) var issues: [ScenarioIssue] = []
    /// Positions of keys the composer renamed (later duplicates): already reported, skipped.
    let ignoredKeys: Set<SourcePosition>

    init(file: String, ignoredKeys: Set<SourcePosition>) {
        self.file = file
        self.ignoredKeys = ignoredKeys
    }

    func position(_ node: Node) -> SourcePosition {
        node.mark.map { SourcePosition(line: $0.line, column: $0.column) } ?? SourcePosition(line: 1, column: 1)
    }

    func report(_ position: SourcePosition?, _ message: String) {
        issues.append(ScenarioIssue(file: file, position: position, message: message))
    }

    func report(_ node: Node, _ message: String) { report(position(node), message) }

    /// The messages in document order; an aliased node reported twice counts once.
    var sortedIssues: [ScenarioIssue] {
        var seen: Set<ScenarioIssue> = []
        let unique = issues.filter { seen.insert($0).inserted }
        return unique.enumerated().sorted { lhs, rhs in
            let (l, r) = (lhs.element.position, rhs.element.position)
            if l == r { return lhs.offset < rhs.offset }
            guard let l else { return true }
            guard let r else { return false }
            return l < r
        }.map(\.element)
    }

    // MARK: shapes

    /// Whether the node is YAML's null: an empty value, `~` or `null`.
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How a message names what was found instead.
    func found(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar): return isNull(node) ? "nothing" : scalar.string.isEmpty ? "an empty text" : "'\(scalar.string)'"
        case .alias: return "an alias"
        }
    }

    /// `what: expected …, found …` at the node.
    func wrongType(_ node: Node, _ what: String, _ expected: String) {
        report(node, "\(what): expected \(expected), found \(found(node))")
    }

    /// The entries of a mapping, keys as text, renamed duplicates left out.
    func mapping(_ node: Node, _ what: String, expected: String = "a mapping") -> [Entry]? {
        guard case .mapping(let mapping) = node else {
            wrongType(node, what, expected)
            return nil
        }
        var entries: [Entry] = []
        for (key, value) in mapping where !ignoredKeys.contains(position(key)) {
            guard case .scalar(let scalar) = key else {
                report(key, "\(what): expected a key, found \(found(key))")
                continue
            }
            entries.append(Entry(key: scalar.string, keyNode: key, value: value))
        }
        return entries
    }

    /// The items of a list; an empty value is an empty list.
    func sequence(_ node: Node, _ what: String, expected: String = "a list") -> [Node]? {
        if isNull(node) { return [] }
        guard case .sequence(let sequence) = node else {
            wrongType(node, what, expected)
            return nil
        }
        return Array(sequence)
    }

    /// A scalar's text; empty values (also `""`), mappings and lists are reported.
    func text(_ node: Node, _ what: String, expected: String = "a text") -> String? {
        guard case .scalar(let scalar) = node, !isNull(node), !scalar.string.isEmpty else {
            wrongType(node, what, expected)
            return nil
        }
        return scalar.string
    }

    /// Reports every key not in `allowed`, with the closest allowed one as a hint.
    func checkKeys(_ entries: [Entry], allowed: [String], in noun: String) {
        for entry in entries where !allowed.contains(entry.key) {
            report(entry.keyNode, "unknown key '\(entry.key)' in \(noun)\(Suggestion.hint(for: entry.key, in: allowed))")
        }
    }

    /// The entry for `key`, reporting its absence at `node` when `required` says why it is needed.
    func entry(_ key: String, in entries: [Entry], of node: Node, required: String? = nil) -> Entry? {
        if let found = entries.first(where: { $0.key == key }) { return found }
        if let required { report(node, "missing key '\(key)' (\(required))") }
        return nil
    }

    // MARK: values

    /// `250ms`, `2s`, `1m`, up to a year.
    func duration(_ node: Node, _ what: String) -> Duration? {
        let expected = "a duration such as 250ms, 2s or 1m"
        guard let text = text(node, what, expected: expected) else { return nil }
        do {
            return try DurationText.parse(text)
        } catch where error.outOfRange {
            report(node, "\(what): \(error)")
        } catch {
            let unit = NumberText.isDecimal(text) ? " (add a unit, e.g. \(text)s)" : ""
            report(node, "\(what): expected \(expected), found '\(text)'\(unit)")
        }
        return nil
    }

    /// `host:port` or `[v6]:port`, resolved; an `upstream` one cannot have port 0.
    func address(_ node: Node, _ what: String, upstream: Bool = false) -> SocketAddress? {
        guard let text = text(node, what, expected: "an address host:port") else { return nil }
        do {
            return try upstream ? SocketAddress(parsingUpstream: text) : SocketAddress(parsing: text)
        } catch {
            report(node, "\(what): \(error)")
            return nil
        }
    }

    /// A whole number from 0 to `UInt64.max`: a seed.
    func seed(_ node: Node, _ what: String) -> UInt64? {
        let expected = "a whole number ≥ 0"
        guard let text = text(node, what, expected: expected) else { return nil }
        do {
            return try NumberText.read(text, as: .seed)
        } catch where error.outOfRange {
            report(node, "\(what): \(error)")
        } catch {
            report(node, "\(what): expected \(expected), found '\(text)'")
        }
        return nil
    }
}
