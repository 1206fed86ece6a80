/// The captured start of one command: its argument count and up to `captureArguments`
/// arguments, each cut to `captureBytes` (the cut is recorded).
///
/// Every captured byte lives in one byte array and each argument is a span of it; a new command
/// empties both keeping their capacity, so steady-state framing allocates nothing. It is the
/// framer's one object, reused for every command (a class: reading it from a session costs a
/// reference, not a copy of its storage); its contents change with the next scan, so read what
/// you need after `.head`/`.complete` and keep no slice from `argument(_:)` past the next scan.
final class RESPCommand {
    /// One captured argument's place in `bytes`.
    private struct Span {
        var start: Int
        var end: Int
        /// The argument is longer than what was captured of it.
        var truncated: Bool
    }

    /// As declared (`*N`) or, inline, as split so far (the final count once the command ends).
    private(set) var argumentCount = 0
    /// Came as an inline command (`PING\r\n`) rather than a multibulk one.
    var inline = false
    private var bytes: [UInt8] = []
    /// Captured arguments in order; the last one is still being captured while `open`.
    private var spans: [Span] = []
    private var open = false
    private let captureArguments: Int
    private let captureBytes: Int

    init(limits: RESPLimits) {
        captureArguments = max(0, limits.captureArguments)
        captureBytes = max(0, limits.captureBytes)
        // Reserved once, so the first commands do not grow the arrays step by step. Capped:
        // generous limits must not reserve megabytes per connection up front.
        bytes.reserveCapacity(min(captureBytes, 1024) * min(captureArguments, 4))
        spans.reserveCapacity(min(captureArguments, 16))
    }

    /// How many arguments are captured so far: scanned to their end (or, inline, to their last
    /// byte) and among the first `captureArguments`.
    var capturedCount: Int { open ? spans.count - 1 : spans.count }

    /// The captured bytes of argument `index` (at most `captureBytes` of them), or nil if it
    /// is not captured.
    func argument(_ index: Int) -> ArraySlice<UInt8>? {
        guard index >= 0, index < capturedCount else { return nil }
        let span = spans[index]
        return bytes[span.start..<span.end]
    }

    /// Whether argument `index` is longer than what was captured of it.
    func isTruncated(_ index: Int) -> Bool {
        guard index >= 0, index < capturedCount else { return false }
        return spans[index].truncated
    }

    /// Argument 0 compared case-insensitively (ASCII) with `upper`, an uppercase name:
    /// `isNamed("GET")`.
    func isNamed(_ upper: StaticString) -> Bool { argumentEquals(0, caseInsensitive: upper) }

    /// Whether argument `index` is captured whole and equals `upper` ignoring ASCII case.
    /// A truncated argument never equals: its end is unknown.
    func argumentEquals(_ index: Int, caseInsensitive upper: StaticString) -> Bool {
        guard index >= 0, index < capturedCount, !spans[index].truncated else { return false }
        let span = spans[index]
        return upper.withUTF8Buffer { name in
            guard name.count == span.end - span.start else { return false }
            for offset in 0..<name.count {
                let (byte, expected) = (bytes[span.start + offset], name[offset])
                // Only letters fold: `|` (0x7C) must not match `\` (0x5C).
                let isUpper = expected >= UInt8(ascii: "A") && expected <= UInt8(ascii: "Z")
                guard byte == expected || (isUpper && byte == expected | 0x20) else { return false }
            }
            return true
        }
    }

    /// Bytes the capture storage holds room for: tests check that declared sizes (`*2147483647`,
    /// `$536870912`) reserve nothing.
    var storageCapacity: Int { bytes.capacity + spans.capacity * MemoryLayout<Span>.stride }

    // MARK: Filled by the framer

    /// Empties the command for the next one, keeping the storage.
    func reset(inline: Bool) {
        argumentCount = 0
        self.inline = inline
        bytes.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        open = false
    }

    /// A multibulk command declared `count` arguments.
    func declare(_ count: Int) { argumentCount = count }

    /// Argument number `spans.count` begins; `length` is its declared length when known
    /// (multibulk), nil inline. Captured only among the first `captureArguments`.
    func beginArgument(length: Int64?) {
        if inline { argumentCount += 1 }
        guard spans.count < captureArguments else { return }
        spans.append(Span(start: bytes.count, end: bytes.count, truncated: (length ?? 0) > Int64(captureBytes)))
        open = true
    }

    /// The argument's next bytes; those past `captureBytes` are only noted as a cut.
    func append(_ chunk: UnsafeRawBufferPointer) {
        guard open else { return }
        let last = spans.count - 1
        let room = captureBytes - (spans[last].end - spans[last].start)
        if chunk.count > room { spans[last].truncated = true }
        let taken = min(room, chunk.count)
        guard taken > 0 else { return }
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<taken]))
        spans[last].end += taken
    }

    /// One byte of an inline argument (unescaped).
    func append(_ byte: UInt8) {
        guard open else { return }
        let last = spans.count - 1
        guard spans[last].end - spans[last].start < captureBytes else {
            spans[last].truncated = true
            return
        }
        bytes.append(byte)
        spans[last].end += 1
    }

    /// The argument being scanned ended.
    func endArgument() { open = false }
}
