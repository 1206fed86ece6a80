import Glibc

/// `faultline report DIR`: a recording read back as a summary, a text report and an HTML
/// timeline.
///
///     let summary = try RecordingReport.load(directory: "out/")
///     print(RecordingReport.text(summary))
///     try write(RecordingReport.html(summary), to: "out/report.html")
public enum RecordingReport {
    /// Reads DIR's `recording.json`, `scenario.yaml` (when there) and `events.jsonl`, the
    /// latter streamed line by line. Throws when DIR is not a folder or holds neither
    /// `recording.json` nor `events.jsonl`; lines that do not parse are counted, not fatal.
    public static func load(directory: String) throws(RecordingReportError) -> RecordingSummary {
        var info = stat()
        guard stat(directory, &info) == 0 else {
            throw RecordingReportError("\(directory): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw RecordingReportError("\(directory) is not a folder: give the folder written by --record DIR")
        }
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        let recording = readSmallFile(base + "recording.json")
        let events = base + "events.jsonl"
        guard recording != nil || access(events, F_OK) == 0 else {
            throw RecordingReportError("\(directory) is not a recording: it has neither recording.json nor events.jsonl"
                                       + " (give the folder written by --record DIR)")
        }
        var builder = RecordingSummaryBuilder(directory: directory, info: recording.map(parseInfo) ?? .init(),
                                              scenario: scenarioInfo(base + "scenario.yaml"))
        try stream(events, into: &builder)
        builder.finish()
        return builder.summary
    }

    /// The text report (see `ReportText`).
    public static func text(_ summary: RecordingSummary) -> String { ReportText.render(summary) }

    /// `report.html`: one self-contained page (see `ReportHTML`).
    public static func html(_ summary: RecordingSummary) -> String { ReportHTML.render(summary) }

    /// Every figure both reports show, by name (see `ReportFigures`), for tests and tools.
    public static func figures(_ summary: RecordingSummary) -> [(name: String, value: String)] {
        ReportFigures(summary).list
    }

    // MARK: Files

    /// The events file, line by line, through a fixed buffer: memory does not grow with the file.
    static func stream(_ path: String, into builder: inout RecordingSummaryBuilder) throws(RecordingReportError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { builder.markMissing(); return }
            throw RecordingReportError("\(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let chunk = 1 << 20
        // A line longer than this is no event of ours: it is skipped (counted as bad), not buffered.
        let longest = 1 << 24
        var buffer = [UInt8](repeating: 0, count: chunk)
        var carry: [UInt8] = []
        var skippingLong = false
        while true {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunk) }
            if got < 0 {
                if errno == EINTR { continue }
                throw RecordingReportError("\(path): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            buffer.withUnsafeBufferPointer { bytes in
                var start = 0
                while start < got {
                    guard let base = bytes.baseAddress,
                          let hit = memchr(base + start, 0x0A, got - start) else {
                        if !skippingLong { carry.append(contentsOf: bytes[start..<got]) }
                        if carry.count > longest { carry.removeAll(); skippingLong = true }
                        return
                    }
                    let newline = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if skippingLong {
                        skippingLong = false
                        builder.add(line: UnsafeBufferPointer(start: nil, count: 0), bad: true)
                    } else if carry.isEmpty {
                        builder.add(line: UnsafeBufferPointer(rebasing: bytes[start..<newline]))
                    } else {
                        carry.append(contentsOf: bytes[start..<newline])
                        carry.withUnsafeBufferPointer { builder.add(line: $0) }
                        carry.removeAll(keepingCapacity: true)
                    }
                    start = newline + 1
                }
            }
        }
        // What follows the last newline was never finished (the recorder was killed mid-write).
        if skippingLong || carry.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }) {
            builder.partialLastLine()
        }
    }

    /// A small file's text (recording.json, scenario.yaml: at most 4 MB), or nil.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= 4 << 20 {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            bytes.append(contentsOf: buffer[0..<got])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `recording.json`'s members; what is missing or mistyped stays nil.
    static func parseInfo(_ text: String) -> RecordingSummary.Info {
        var info = RecordingSummary.Info()
        guard case .object(let object)? = try? JSONParser.parse(text) else { return info }
        if case .string(let value)? = object["faultline"] { info.faultline = value }
        if case .string(let value)? = object["command"] { info.command = value }
        if case .string(let value)? = object["started"] { info.started = value }
        if case .number(let value)? = object["seed"] { info.seed = UInt64(value) }
        if case .bool(let value)? = object["capture"] { info.capture = value }
        if case .bool(let value)? = object["redacted"] { info.redacted = value }
        return info
    }

    /// The recorded scenario's plan. A file that no longer loads (its `ca:` moved, a host that
    /// no longer resolves) still gives its `name:`, read from the text.
    static func scenarioInfo(_ path: String) -> RecordingSummary.ScenarioInfo? {
        guard let text = readSmallFile(path) else { return nil }
        do {
            let scenario = try ScenarioLoader.load(path: path)
            return .init(name: scenario.name, description: scenario.description,
                         plannedPhases: scenario.timeline.map { ($0.name, micros($0.duration)) },
                         proxies: scenario.proxies.map {
                             ($0.name, $0.protocol.rawValue, $0.tls != nil, $0.listen.description, $0.upstream.description)
                         },
                         loadError: nil)
        } catch {
            let name = text.split(separator: "\n").first { $0.hasPrefix("name:") }
                .map { $0.dropFirst(5).trimmingCharacters(in: " \t\"'") } ?? "scenario.yaml"
            return .init(name: name, description: nil, plannedPhases: [], proxies: [],
                         loadError: error.description)
        }
    }

    static func micros(_ duration: Duration) -> Int64 {
        let (seconds, atto) = duration.components
        return seconds * 1_000_000 + atto / 1_000_000_000_000
    }
}

/// A recording that cannot be read: the message names the folder or file.
public struct RecordingReportError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
