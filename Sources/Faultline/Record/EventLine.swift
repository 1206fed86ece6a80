import Glibc

/// Writes events as `events.jsonl` lines straight into a byte buffer: the members of
/// `Event.json`, escaped as `JSONValue` escapes them, with `"v"` first and `"wall"` after
/// `"time"` — without building a `JSONObject` or a `String` per event (a Redis client at
/// 100,000 commands/s makes 200,000 events/s).
struct EventLine: EventMemberSink {
    /// The lines so far; `append` adds one.
    var bytes: [UInt8] = []
    private let clock: WallClock
    /// `2026-12-01T00:45:09.` for the second `cachedSecond`: gmtime_r once a second, not per event.
    private var wallPrefix: [UInt8] = []
    private var cachedSecond: Int64 = .min

    init(clock: WallClock) {
        self.clock = clock
    }

    /// Appends `event`'s line, newline included.
    mutating func append(_ event: Event) {
        raw("{\"v\":")
        digits(UInt64(Event.jsonSchemaVersion))
        raw(",\"time\":")
        seconds(event.time)
        raw(",\"wall\":\"")
        wall(clock.nanoseconds(at: event.time))
        raw("\",\"kind\":\"")
        bytes.append(contentsOf: Event.KindName(event.kind).rawValue.utf8)
        bytes.append(UInt8(ascii: "\""))
        if let proxy = event.proxy { string("proxy", proxy) }
        if let link = event.link { int("link", link) }
        event.writeMembers(to: &self)
        raw("}\n")
    }

    mutating func string(_ key: StaticString, _ value: String) {
        self.key(key)
        bytes.append(UInt8(ascii: "\""))
        escape(value)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func int<Value: BinaryInteger>(_ key: StaticString, _ value: Value) {
        self.key(key)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        digits(UInt64(clamping: value.magnitude))
    }

    mutating func bool(_ key: StaticString, _ value: Bool) {
        self.key(key)
        raw(value ? "true" : "false")
    }

    mutating func seconds(_ key: StaticString, _ value: Duration) {
        self.key(key)
        seconds(value)
    }

    private mutating func key(_ key: StaticString) {
        raw(",\"")
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        raw("\":")
    }

    private mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func seconds(_ value: Duration) {
        let (negative, whole, micros) = Event.secondsParts(value)
        if negative { bytes.append(UInt8(ascii: "-")) }
        digits(whole)
        bytes.append(UInt8(ascii: "."))
        digits(micros, width: 6)
    }

    /// `2026-12-01T00:45:09.123456`: the date and time of `nanoseconds` since 1970, in UTC.
    private mutating func wall(_ nanoseconds: Int64) {
        var second = nanoseconds / 1_000_000_000
        var rest = nanoseconds % 1_000_000_000
        if rest < 0 { second -= 1; rest += 1_000_000_000 }
        if second != cachedSecond {
            cachedSecond = second
            var time = time_t(second)
            var parts = tm()
            gmtime_r(&time, &parts)
            wallPrefix.removeAll(keepingCapacity: true)
            swap(&bytes, &wallPrefix)
            digits(UInt64(max(0, parts.tm_year + 1900)), width: 4)
            bytes.append(UInt8(ascii: "-"))
            digits(UInt64(parts.tm_mon + 1), width: 2)
            bytes.append(UInt8(ascii: "-"))
            digits(UInt64(parts.tm_mday), width: 2)
            bytes.append(UInt8(ascii: "T"))
            digits(UInt64(parts.tm_hour), width: 2)
            bytes.append(UInt8(ascii: ":"))
            digits(UInt64(parts.tm_min), width: 2)
            bytes.append(UInt8(ascii: ":"))
            digits(UInt64(parts.tm_sec), width: 2)
            bytes.append(UInt8(ascii: "."))
            swap(&bytes, &wallPrefix)
        }
        bytes.append(contentsOf: wallPrefix)
        digits(UInt64(rest / 1000), width: 6)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Decimal digits of `value`, zero-padded to `width`.
    private mutating func digits(_ value: UInt64, width: Int = 1) {
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: 20 digits fit
        withUnsafeMutableBytes(of: &scratch) { space in
            var rest = value
            var index = space.count
            repeat {
                index -= 1
                space[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0 || space.count - index < width
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: space[index...]))
        }
    }

    /// `value` as a JSON string's contents, escaped as `JSONValue.writeString` escapes it (Go's
    /// rules: `<`, `>`, `&`, U+2028 and U+2029 as `\u…` too).
    private mutating func escape(_ value: String) {
        // Most texts need nothing escaped: copy them whole.
        var copy = value
        let clean = copy.withUTF8 { text -> Bool in
            guard !text.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x3C || $0 == 0x3E || $0 == 0x26 || $0 == 0xE2 })
            else { return false }
            bytes.append(contentsOf: text)
            return true
        }
        if clean { return }
        var utf8 = value.utf8.makeIterator()
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case UInt8(ascii: "\n"): raw("\\n")
            case UInt8(ascii: "\r"): raw("\\r")
            case UInt8(ascii: "\t"): raw("\\t")
            case UInt8(ascii: "<"): raw("\\u003c")
            case UInt8(ascii: ">"): raw("\\u003e")
            case UInt8(ascii: "&"): raw("\\u0026")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0xF)])
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                guard let second = utf8.next() else { bytes.append(byte); continue }
                guard second == 0x80, let third = utf8.next() else { bytes.append(byte); bytes.append(second); continue }
                if third == 0xA8 || third == 0xA9 {
                    raw(third == 0xA8 ? "\\u2028" : "\\u2029")
                } else {
                    bytes.append(byte)
                    bytes.append(second)
                    bytes.append(third)
                }
            default:
                bytes.append(byte)
            }
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
