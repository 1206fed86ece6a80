/// Byte-level pieces of HTTP/1.1's grammar (RFC 9110, 9112) that the head parser and the
/// fault rules share.
enum HTTPBytes {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let colon = UInt8(ascii: ":")

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// tchar: the characters of a method, a field name or a coding.
    /// A switch, not a lookup table: a static table is reached through a lazy-initialisation
    /// check on every call, which showed in the per-response profile.
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    /// `HTTP/1.0` → 0, `HTTP/1.1` → 1; nil for anything else.
    static func version<C: BidirectionalCollection>(_ text: C) -> Int? where C.Element == UInt8 {
        guard text.count == 8, text.starts(with: "HTTP/1.".utf8), let last = text.last else { return nil }
        return last == UInt8(ascii: "0") ? 0 : last == UInt8(ascii: "1") ? 1 : nil
    }

    /// A field line's name and value (value without surrounding whitespace); nil when the name
    /// is not a token directly followed by `:` or the value holds a control character.
    static func field(_ all: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> (name: Range<Int>, value: Range<Int>)? {
        guard let colon = all[line].firstIndex(of: colon), colon > line.lowerBound,
              all[line.lowerBound..<colon].allSatisfy(isToken) else { return nil }
        var start = colon + 1
        var end = line.upperBound
        while start < end && (all[start] == space || all[start] == tab) { start += 1 }
        while end > start && (all[end - 1] == space || all[end - 1] == tab) { end -= 1 }
        guard all[start..<end].allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == tab || $0 >= 0x80 }) else { return nil }
        return (line.lowerBound..<colon, start..<end)
    }

    /// Calls `body` with each element of a comma-separated list, whitespace trimmed, empty
    /// elements skipped.
    static func tokens(_ value: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var start = 0
        while start <= value.count {
            let end = value[start...].firstIndex(of: UInt8(ascii: ",")) ?? value.count
            var low = start, high = end
            while low < high && (value[low] == space || value[low] == tab) { low += 1 }
            while high > low && (value[high - 1] == space || value[high - 1] == tab) { high -= 1 }
            if high > low { body(UnsafeBufferPointer(rebasing: value[low..<high])) }
            start = end + 1
        }
    }

    /// ASCII case-insensitive equality of `bytes` with the lower-case `word`.
    static func equalsLower<C: Collection>(_ bytes: C, _ word: StaticString) -> Bool where C.Element == UInt8 {
        word.withUTF8Buffer { equalsLower(bytes, $0) }
    }

    static func equalsLower<C: Collection, W: Collection>(_ bytes: C, _ word: W) -> Bool
    where C.Element == UInt8, W.Element == UInt8 {
        guard bytes.count == word.count else { return false }
        return zip(bytes, word).allSatisfy { lower($0) == $1 }
    }

    static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
}

/// The lines of a head: each ends with LF, a CR before it is not part of the content (RFC 9112
/// lets a recipient take a bare LF as a line end; a bare CR is refused by the framer before).
struct HTTPLines {
    struct Line {
        let content: Range<Int>
        /// Index after the line's LF.
        let end: Int
    }

    private let all: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ all: UnsafeBufferPointer<UInt8>) { self.all = all }

    mutating func next() -> Line? {
        guard position < all.count, let lf = all[position...].firstIndex(of: HTTPBytes.lf) else { return nil }
        let end = lf > position && all[lf - 1] == HTTPBytes.cr ? lf - 1 : lf
        defer { position = lf + 1 }
        return Line(content: position..<end, end: lf + 1)
    }
}
