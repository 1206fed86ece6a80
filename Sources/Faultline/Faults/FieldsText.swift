/// The text of a `.fields` parameter: `Name: value` lines. `--fault` writes them as
/// `Name:value|Name:value`; the scenario loader joins a YAML mapping's entries with newlines.
enum FieldsText {
    struct Problem: Error { let message: String }

    /// Checks `text` and returns it as `Name: value` lines.
    static func read(_ text: String) throws(Problem) -> String {
        let entries = text.contains("\n") ? text.split(separator: "\n") : text.split(separator: "|")
        guard !entries.isEmpty else { throw Problem(message: "'\(text)' is not a list of Name:value entries") }
        var lines: [String] = []
        for entry in entries {
            guard let colon = entry.firstIndex(of: ":") else {
                throw Problem(message: "'\(entry)' is not Name:value")
            }
            let name = entry[..<colon].trimmingSpaces
            let value = entry[entry.index(after: colon)...].trimmingSpaces
            guard !name.isEmpty, !name.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw Problem(message: "'\(name)' is not a name (empty, or a control character)")
            }
            guard !value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else {
                throw Problem(message: "the value of \(name) holds a control character")
            }
            lines.append("\(name): \(value)")
        }
        return lines.joined(separator: "\n")
    }

    /// The (name, value) pairs of a checked text.
    static func pairs(_ text: String) -> [(name: String, value: String)] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...].trimmingSpaces))
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
