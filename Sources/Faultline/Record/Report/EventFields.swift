/// The members of one `events.jsonl` line the report reads, found by `EventLineScanner` and
/// kept as byte ranges of the line until a value is needed: most lines (exchanges, requests)
/// need only `time`, `kind`, `proxy` and `link`, and those are read without a `String`.
struct EventFields {
    /// The members the report knows; others are skipped.
    enum Key: Int, CaseIterable {
        case v, time, kind, proxy, link, address, name, faultKind, action, profile, version, reason, alert
        case detail, error, byFaultline, latency, handshake, status, firstByte, reset, command, pid, exit
        case signal, label, expectation, observed, file

        /// The member's name as bytes, for comparing with a line's keys without decoding them.
        static let names: [[UInt8]] = allCases.map { Array(String(describing: $0).utf8) }
    }

    /// The kinds as bytes, in `Event.KindName` order.
    static let kindNames: [[UInt8]] = Event.KindName.allCases.map { Array($0.rawValue.utf8) }

    /// Found values by `Key.rawValue`; nil when the line lacks the member.
    private(set) var values: [EventLineScanner.Value?] = Array(repeating: nil, count: Key.allCases.count)
    /// The line they are ranges of (valid during one `read` only).
    private(set) var line = UnsafeBufferPointer<UInt8>(start: nil, count: 0)

    /// Reads `line`'s members; false when it is not one JSON object.
    mutating func read(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for index in values.indices { values[index] = nil }
        self.line = line
        return EventLineScanner.scan(line) { key, value in
            guard let index = Self.keyIndex(key) else { return }
            self.values[index] = value
        }
    }

    private static func keyIndex(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        for (index, name) in Key.names.enumerated() where name.count == key.count && name.first == key.first {
            if name.elementsEqual(key) { return index }
        }
        return nil
    }

    /// The value of `key`, when present.
    func value(_ key: Key) -> EventLineScanner.Value? { values[key.rawValue] }

    /// The line's `kind`, when it is one this faultline knows.
    var kind: Event.KindName? {
        guard let value = value(.kind), value.shape == .string, !value.escaped else { return nil }
        let bytes = UnsafeBufferPointer(rebasing: line[value.start..<value.end])
        for (index, name) in Self.kindNames.enumerated() where name.count == bytes.count && name.first == bytes.first {
            if name.elementsEqual(bytes) { return Event.KindName.allCases[index] }
        }
        return nil
    }

    /// The bytes of a string member, undecoded (for comparing proxy names cheaply); nil when
    /// absent, not a string, or escaped (then `text` decodes it).
    func rawString(_ key: Key) -> UnsafeBufferPointer<UInt8>? {
        guard let value = value(key), value.shape == .string, !value.escaped else { return nil }
        return UnsafeBufferPointer(rebasing: line[value.start..<value.end])
    }

    /// A string member's text.
    func text(_ key: Key) -> String? { value(key).flatMap { EventLineScanner.text(line, $0) } }
    /// A whole-number member.
    func unsigned(_ key: Key) -> UInt64? { value(key).flatMap { EventLineScanner.unsigned(line, $0) } }
    /// A seconds member, as microseconds.
    func micros(_ key: Key) -> Int64? { value(key).flatMap { EventLineScanner.micros(line, $0) } }
    /// A boolean member.
    func bool(_ key: Key) -> Bool? { value(key).flatMap { EventLineScanner.bool(line, $0) } }
}
