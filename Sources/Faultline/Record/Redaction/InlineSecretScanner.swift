/// Where the redactor is in the arguments of an inline Redis command (a line not starting with
/// `*`, as typed into telnet or `nc`): `AUTH pass`, `AUTH user pass`, `HELLO 3 AUTH user pass`.
///
/// Arguments are split as Redis's `sdssplitargs` splits them: at blanks, with `"…"` (backslash
/// escapes) and `'…'` (only `\'` escapes) quoting blanks inside an argument. Quotes matter
/// for HELLO, where the password is found by counting arguments.
struct InlineCommandState {
    /// AUTH (every argument is redacted: the first is the password of `AUTH pass` or the user
    /// of `AUTH user pass`, and which one is only known at the end of the line) or HELLO (only
    /// the password argument after `AUTH user`).
    var isAuth = true
    /// The index of the current (or last) argument; the command is 0.
    var index = 0
    var inArgument = false
    /// The open quote (`"` or `'`), or 0.
    var quote: UInt8 = 0
    /// The previous byte was a backslash inside quotes.
    var escaped = false
    var redacting = false
    /// The argument is read as HELLO's next option keyword (compared in the redactor's `word`).
    var matching = false
}

extension StreamRedactor {
    /// Starts the arguments of an inline AUTH or HELLO, after the command's word.
    mutating func startInline(isAuth: Bool) {
        inline = InlineCommandState()
        inline.isAuth = isAuth
        hello = HelloOptions()
        mode = .inlineArguments
    }

    mutating func inlineArgument(_ byte: UnsafeMutablePointer<UInt8>) {
        let value = byte.pointee
        if value == RedactionByte.lf {
            // Redis cuts the line first: a quote does not carry over to the next line.
            inlineArgumentEnd()
            mode = .lineStart
            return
        }
        if !inline.inArgument {
            switch value {
            case RedactionByte.space, RedactionByte.tab, RedactionByte.cr, RedactionByte.verticalTab,
                RedactionByte.formFeed:
                return
            default:
                inline.index += 1
                inline.inArgument = true
                inline.quote = 0
                inline.escaped = false
                inline.redacting = inline.isAuth || inline.index == hello.password
                inline.matching = !inline.isAuth && inline.index == hello.next
                if inline.matching { word.start(SecretNames.redisWord) }
            }
        }
        var isQuote = false
        switch inline.quote {
        case 0:
            switch value {
            case RedactionByte.space, RedactionByte.tab, RedactionByte.cr, RedactionByte.nul:
                inlineArgumentEnd()
                return
            case RedactionByte.doubleQuote, RedactionByte.singleQuote:
                inline.quote = value
                isQuote = true
            default:
                break
            }
        case RedactionByte.doubleQuote:
            if inline.escaped {
                inline.escaped = false
            } else if value == RedactionByte.backslash {
                inline.escaped = true
            } else if value == RedactionByte.doubleQuote {
                inline.quote = 0
                isQuote = true
            }
        default:
            // In single quotes only `\'` is an escape; a backslash before anything else is
            // itself, and the byte after it is read normally.
            if inline.escaped && value == RedactionByte.singleQuote {
                inline.escaped = false
            } else {
                inline.escaped = value == RedactionByte.backslash
                if value == RedactionByte.singleQuote {
                    inline.quote = 0
                    isQuote = true
                }
            }
        }
        // Quotes are skipped in the comparison, so `"AUTH"` is the keyword; escapes are not
        // decoded (`"\x41UTH"` is not), which only an odd client would send.
        if inline.matching && !isQuote { _ = word.feed(value, SecretNames.redisWord) }
        if inline.redacting { byte.pointee = RedactionByte.mask }
    }

    /// An argument ended: if it was read as HELLO's option keyword, learn where the password is.
    private mutating func inlineArgumentEnd() {
        guard inline.inArgument else { return }
        inline.inArgument = false
        if inline.matching {
            hello.argument(inline.index, word: word.completed(SecretNames.redisWord))
            inline.matching = false
        }
    }
}
