/// Text from a scenario or a command line made safe to print on a terminal.
public enum TerminalText {
    /// Control characters (C0, DEL, C1) become visible escapes (`\n`, `\t`, `\x1b`, `\u{9b}`),
    /// so a name holding an escape sequence cannot move the cursor, recolour or clear the
    /// screen, and one event stays one line.
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0..<0x20, 0x7F: out += "\\x" + hex(scalar.value, digits: 2)
            case 0x80..<0xA0: out += "\\u{" + hex(scalar.value, digits: 2) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
