import Glibc

/// A POSIX extended regular expression (as `grep -E` reads it), matched by glibc's engine.
/// Chosen over Swift's `Regex` because a fault's pattern runs on the event loop against bytes a
/// stranger sends: a backtracking engine takes exponential time on `^/(a+)+$` and a path of
/// 30 `a`s, and the whole proxy would stall; glibc's matcher does not backtrack that way.
final class POSIXRegex {
    private var compiled = regex_t()

    /// Compiles `pattern`; throws the engine's own message when it is not a valid ERE.
    init(_ pattern: String) throws(RegexProblem) {
        let status = regcomp(&compiled, pattern, REG_EXTENDED | REG_NOSUB)
        guard status == 0 else {
            var message = [CChar](repeating: 0, count: 256)
            regerror(status, &compiled, &message, message.count)
            throw RegexProblem(message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    deinit { regfree(&compiled) }

    /// Whether the pattern matches somewhere in `bytes` (a NUL in them ends the text).
    func matches(_ bytes: ArraySlice<UInt8>) -> Bool {
        var text = Array(bytes)
        text.append(0)
        return text.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { regexec(&compiled, $0.baseAddress, 0, nil, 0) == 0 }
        }
    }

    struct RegexProblem: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
