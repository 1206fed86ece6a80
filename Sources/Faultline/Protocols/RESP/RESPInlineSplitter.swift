/// Splits the line of an inline command (`SET k "a b"\r\n`) into arguments the way Redis does:
/// `processInlineBuffer` drops a `\r` right before the `\n`, then `sdssplitargs` splits on
/// blanks, with "double quotes" (escapes `\n \r \t \b \a \xHH`, any other `\c` is `c`) and
/// 'single quotes' (only `\'` escapes). A closing quote followed by anything but a blank, or a
/// line ending inside quotes, makes the line unbalanced — reported at the line's end, as Redis
/// does, so a longer line is still refused as too big first.
///
/// Fed one byte at a time (a line may arrive split anywhere), it keeps no line, only a state and
/// at most one held byte: what it unescapes goes straight into the command's capture.
///
/// `sdssplitargs` reads a C string, so a NUL byte ends the arguments: the rest of the line is
/// ignored (inside quotes it leaves them unbalanced). Kept for fidelity, though Redis, and so
/// `RESPCommandFramer`, never ends a line that holds a NUL.
struct RESPInlineSplitter {
    private enum State: UInt8 {
        /// Between arguments, skipping blanks.
        case blank
        /// In an unquoted part of an argument.
        case word
        case double
        /// After `\` in double quotes.
        case doubleEscape
        /// After `\x` in double quotes: a hex digit would make it `\xHH`.
        case doubleHex
        /// After `\xH`; `high` holds the H.
        case doubleHexLow
        case single
        /// After `\` in single quotes.
        case singleEscape
        /// After a closing quote: only a blank or the end may follow.
        case closed
        /// After a NUL: nothing more is split.
        case ended
        /// The quotes are unbalanced; the error waits for the line's end.
        case unbalanced
    }

    private var state = State.blank
    private var high: UInt8 = 0
    /// A `\r` not yet known to be the line's last byte (which Redis drops) or a byte inside it.
    private var heldReturn = false

    private static let cr = UInt8(ascii: "\r")
    private static let backslash = UInt8(ascii: "\\")
    private static let doubleQuote = UInt8(ascii: "\"")
    private static let singleQuote = UInt8(ascii: "'")

    /// Starts a new line.
    mutating func reset() { self = RESPInlineSplitter() }

    /// The line's next byte (never its `\n`).
    mutating func feed(_ byte: UInt8, into command: RESPCommand) {
        if heldReturn {
            heldReturn = false
            split(Self.cr, into: command)
        }
        if byte == Self.cr {
            heldReturn = true
        } else {
            split(byte, into: command)
        }
    }

    /// The line ended; false when its quotes are unbalanced.
    mutating func finish(into command: RESPCommand) -> Bool {
        // A held `\r` was the one before `\n`: dropped.
        heldReturn = false
        defer { state = .blank }
        switch state {
        case .blank, .ended:
            return true
        case .word, .closed:
            command.endArgument()
            return true
        case .double, .doubleEscape, .doubleHex, .doubleHexLow, .single, .singleEscape, .unbalanced:
            return false
        }
    }

    private mutating func split(_ byte: UInt8, into command: RESPCommand) {
        switch state {
        case .blank:
            if Self.isSpace(byte) { return }
            if byte == 0 {
                state = .ended
                return
            }
            command.beginArgument(length: nil)
            word(byte, into: command)
        case .word:
            word(byte, into: command)
        case .double:
            double(byte, into: command)
        case .doubleEscape:
            if byte == UInt8(ascii: "x") {
                state = .doubleHex
            } else if byte == 0 {
                state = .unbalanced
            } else {
                command.append(Self.unescaped(byte))
                state = .double
            }
        case .doubleHex:
            if Self.hexValue(byte) != nil {
                high = byte
                state = .doubleHexLow
            } else {
                // `\x` without two hex digits is an escaped `x`, and the byte is read as usual.
                command.append(UInt8(ascii: "x"))
                state = .double
                double(byte, into: command)
            }
        case .doubleHexLow:
            if let low = Self.hexValue(byte), let highValue = Self.hexValue(high) {
                command.append(highValue << 4 | low)
                state = .double
            } else {
                command.append(UInt8(ascii: "x"))
                command.append(high)
                state = .double
                double(byte, into: command)
            }
        case .single:
            single(byte, into: command)
        case .singleEscape:
            state = .single
            if byte == Self.singleQuote {
                command.append(byte)
            } else {
                command.append(Self.backslash)
                single(byte, into: command)
            }
        case .closed:
            if byte == 0 {
                command.endArgument()
                state = .ended
            } else if Self.isSpace(byte) {
                command.endArgument()
                state = .blank
            } else {
                state = .unbalanced
            }
        case .ended, .unbalanced:
            return
        }
    }

    private mutating func word(_ byte: UInt8, into command: RESPCommand) {
        switch byte {
        // Unlike the blanks skipped between arguments, `\v` and `\f` do not end one.
        case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
            command.endArgument()
            state = .blank
        case 0:
            command.endArgument()
            state = .ended
        case Self.doubleQuote:
            state = .double
        case Self.singleQuote:
            state = .single
        default:
            command.append(byte)
            state = .word
        }
    }

    private mutating func double(_ byte: UInt8, into command: RESPCommand) {
        switch byte {
        case Self.backslash: state = .doubleEscape
        case Self.doubleQuote: state = .closed
        case 0: state = .unbalanced
        default: command.append(byte)
        }
    }

    private mutating func single(_ byte: UInt8, into command: RESPCommand) {
        switch byte {
        case Self.backslash: state = .singleEscape
        case Self.singleQuote: state = .closed
        case 0: state = .unbalanced
        default: command.append(byte)
        }
    }

    /// C's `isspace` in the C locale.
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (byte >= 0x09 && byte <= 0x0D)
    }

    private static func unescaped(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "a"): return 0x07
        default: return byte
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
