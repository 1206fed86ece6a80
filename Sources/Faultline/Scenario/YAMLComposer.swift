import Yams

/// A composed YAML document, or the syntax errors that stopped it, with positions.
struct ComposedYAML {
    /// The root node; nil for an empty document or one that could not be parsed.
    var root: Node?
    /// Keys of later duplicates, renamed so the document composes: the reader skips them.
    var ignoredKeys: Set<SourcePosition> = []
    /// Syntax errors and duplicate keys found while composing.
    var issues: [(position: SourcePosition?, message: String)] = []
}

/// Composes YAML with Yams, turning its errors into positioned messages.
///
/// Yams rejects a mapping with a repeated key as a whole document error, which would hide
/// every other mistake in the file. So a repeated key is reported at its second occurrence,
/// renamed in a copy of the text (same length, so every other position holds) and the
/// document composed again; the reader then skips the renamed key.
enum YAMLComposer {
    /// A bound on rounds, so a pathological file cannot loop.
    private static let maxDuplicates = 100
    /// A bound on the bytes composed over all rounds: a big file gets fewer rounds, so one with
    /// many duplicates is still checked in a few seconds (its later duplicates go unreported).
    private static let composeBudget = 16 << 20

    static func compose(_ text: String) -> ComposedYAML {
        var result = ComposedYAML()
        var source = text
        let rounds = min(maxDuplicates, max(1, composeBudget / max(text.utf8.count, 1)) - 1)
        for round in 0...rounds {
            do {
                result.root = try Yams.compose(yaml: source)
                return result
            } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
                let key = duplicates.first ?? ""
                let first = SourcePosition(line: context.mark.line, column: context.mark.column)
                guard round < rounds, let second = locateDuplicate(of: key, after: first, in: source) else {
                    result.issues.append((first, "key '\(key)' is given more than once in this mapping"))
                    return result
                }
                result.issues.append((second.position, "duplicate key '\(key)' (first at \(first))"))
                result.ignoredKeys.insert(second.position)
                source = rename(second, in: source, round: round)
            } catch let error as YamlError {
                result.issues.append(describe(error))
                return result
            } catch {
                result.issues.append((nil, "cannot read YAML: \(error)"))
                return result
            }
        }
        return result
    }

    /// libyaml's problem, at its mark, with its context ("while parsing a flow sequence").
    private static func describe(_ error: YamlError) -> (SourcePosition?, String) {
        switch error {
        case .scanner(let context, let problem, let mark, let yaml), .parser(let context, let problem, let mark, let yaml),
             .composer(let context, let problem, let mark, let yaml):
            let while_ = context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            // libyaml's own words for a tab are obscure, and tabs are the usual cause.
            let tab = scalar(at: mark, in: yaml) == "\t" ? "; YAML indents with spaces, not tabs" : ""
            return (SourcePosition(line: mark.line, column: mark.column), "invalid YAML: \(problem)\(while_)\(tab)")
        case .reader(let problem, let offset, _, let yaml):
            return (offset.map { position(ofCharacter: $0, in: yaml) }, "invalid YAML: \(problem)")
        default:
            return (nil, "invalid YAML: \(error)")
        }
    }

    private static func scalar(at mark: Mark, in text: String) -> Unicode.Scalar? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let line = Array(lines[mark.line - 1].unicodeScalars)
        return line.indices.contains(mark.column - 1) ? line[mark.column - 1] : nil
    }

    private static func position(ofCharacter offset: Int, in text: String) -> SourcePosition {
        var line = 1, column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r\n" { line += 1; column = 1 } else { column += character.unicodeScalars.count }
        }
        return SourcePosition(line: line, column: column)
    }

    /// A key token found in the text: its position and the scalars that hold its name.
    struct Occurrence {
        let position: SourcePosition
        /// Scalar offset of the name (after an opening quote) in its line.
        let nameStart: Int
    }

    /// The next occurrence of `key` used as a key after `first`: at the same indentation in a
    /// block mapping, or right after `{` or `,` in a flow mapping. Nil when the text is too
    /// unusual to be sure (escaped quotes, keys spanning lines); the caller then reports the
    /// first occurrence and stops.
    static func locateDuplicate(of key: String, after first: SourcePosition, in text: String) -> Occurrence? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        let name = Array(key.unicodeScalars)
        guard !name.isEmpty, first.line >= 1 else { return nil }
        for lineIndex in (first.line - 1)..<lines.count {
            let line = lines[lineIndex]
            let startColumn = lineIndex == first.line - 1 ? first.column : 0
            guard startColumn < line.count else { continue }
            for column in startColumn..<line.count {
                guard let nameStart = keyToken(name, in: line, at: column) else { continue }
                let before = line[..<column]
                let blockKey = before.allSatisfy { $0 == " " } && column == first.column - 1
                let flowKey = before.last { $0 != " " }.map { $0 == "{" || $0 == "," } ?? false
                if blockKey || flowKey {
                    return Occurrence(position: SourcePosition(line: lineIndex + 1, column: column + 1), nameStart: nameStart)
                }
            }
        }
        return nil
    }

    /// Where the name starts when `name`, plain or quoted, stands at `column` followed by `:`.
    private static func keyToken(_ name: [Unicode.Scalar], in line: [Unicode.Scalar], at column: Int) -> Int? {
        for quote in [nil, "\"", "'"] as [Unicode.Scalar?] {
            let open = quote == nil ? 0 : 1
            let end = column + open + name.count + open
            guard end <= line.count else { continue }
            if let quote, line[column] != quote || line[end - 1] != quote { continue }
            guard Array(line[(column + open)..<(column + open + name.count)]) == name else { continue }
            let rest = line[end...].drop { $0 == " " }
            if rest.first == ":" { return column + open }
        }
        return nil
    }

    /// The text with the occurrence's first name scalar swapped for a private-use one: the
    /// key no longer repeats, and no line or column moves.
    private static func rename(_ occurrence: Occurrence, in text: String, round: Int) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        let lineIndex = occurrence.position.line - 1
        guard lines.indices.contains(lineIndex), lines[lineIndex].indices.contains(occurrence.nameStart),
              let marker = Unicode.Scalar(0xE000 + UInt32(round)) else { return text }
        lines[lineIndex][occurrence.nameStart] = marker
        return lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n")
    }
}
