/// Where the redactor is inside a secret HTTP header's value.
///
/// What stays readable, so that a capture still shows what kind of credential went by:
/// - `Authorization`, `Proxy-Authorization`: the scheme word and the space after it
///   (`Bearer ****`), when the word is a known scheme (`SecretNames.schemes`);
/// - `Cookie`: the `=`, `;` and blanks between cookies, nothing of a name or a value
///   (`*=*; ***=***`): a cookie without `=` is a bare secret, and whether a name is followed
///   by `=` is known only after its bytes (maybe in an earlier slice) were written;
/// - `Set-Cookie`: the `=` of the first cookie and the attributes after the first `;`;
/// - `X-Api-Key`: nothing of the value.
/// CR is never overwritten, so the capture's lines still end in CRLF for tshark.
struct HeaderValueState {
    enum Kind: UInt8 { case authorization, cookie, setCookie, apiKey }

    enum Phase: UInt8 {
        /// Blanks before the value.
        case leadingBlanks
        /// Authorization's first word, kept while it spells a prefix of a known scheme (compared
        /// in the redactor's `word`).
        case scheme
        /// A cookie's name, up to `=`.
        case cookieName
        /// A cookie's value, up to `;`.
        case cookieValue
        /// Everything up to the end of the line is secret.
        case rest
    }

    var kind = Kind.apiKey
    var phase = Phase.rest

    /// An obsolete folded line (starting with SP/HT) after a secret header: all of it is value.
    mutating func continueFolded() {
        kind = .apiKey
        phase = .rest
    }
}

/// HTTP/1.x header values. Values end at LF; a bare CR is kept and the value goes on being
/// redacted after it (a server refuses it, but the bytes after it may still be secret).
extension StreamRedactor {
    /// Starts a secret header's value, after its `:`.
    mutating func startHeader(_ kind: HeaderValueState.Kind) {
        header.kind = kind
        header.phase = .leadingBlanks
        mode = .headerValue
    }

    mutating func headerValue(_ byte: UnsafeMutablePointer<UInt8>) {
        let value = byte.pointee
        if value == RedactionByte.lf {
            mode = .lineStart
            foldPending = true
            return
        }
        if value == RedactionByte.cr { return }
        switch header.phase {
        case .leadingBlanks:
            if value == RedactionByte.space || value == RedactionByte.tab { return }
            switch header.kind {
            case .authorization:
                header.phase = .scheme
                word.start(SecretNames.schemes)
            case .cookie, .setCookie:
                header.phase = .cookieName
            case .apiKey:
                header.phase = .rest
            }
            headerValue(byte)
        case .scheme:
            if value == RedactionByte.space || value == RedactionByte.tab {
                // The space after a whole scheme name is kept; after anything else it is
                // just part of the secret.
                if word.completed(SecretNames.schemes) == nil { byte.pointee = RedactionByte.mask }
                header.phase = .rest
            } else if !word.feed(value, SecretNames.schemes) {
                byte.pointee = RedactionByte.mask
                header.phase = .rest
            }
        case .cookieName:
            if value == RedactionByte.equals {
                header.phase = .cookieValue
            } else if value == RedactionByte.semicolon {
                cookieEnd()
            } else if value != RedactionByte.space && value != RedactionByte.tab {
                byte.pointee = RedactionByte.mask
            }
        case .cookieValue:
            if value == RedactionByte.semicolon {
                cookieEnd()
            } else {
                byte.pointee = RedactionByte.mask
            }
        case .rest:
            byte.pointee = RedactionByte.mask
        }
    }

    /// Overwrites a run of a secret value (`rest`, or a cookie's value) up to its end (CR, LF,
    /// or a cookie's `;`), which `headerValue` then reads.
    @inline(__always)
    mutating func redactValue(_ base: UnsafeMutablePointer<UInt8>, _ index: Int, _ end: Int) -> Int {
        let semicolonEnds = header.phase == .cookieValue
        var next = index
        while next < end {
            let value = base[next]
            if value == RedactionByte.lf || value == RedactionByte.cr || (semicolonEnds && value == RedactionByte.semicolon) {
                break
            }
            base[next] = RedactionByte.mask
            next += 1
        }
        if next > index { return next }
        step(base + index)
        return index + 1
    }

    /// A `;` after a cookie: in `Cookie` the next cookie starts; in `Set-Cookie` the
    /// attributes (Path, Expires, …) start, which are not secret.
    private mutating func cookieEnd() {
        if header.kind == .setCookie {
            mode = .skipLine
        } else {
            header.phase = .cookieName
        }
    }
}
