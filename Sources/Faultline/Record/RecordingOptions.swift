import Glibc

/// What `--record DIR` writes, from the flags `run`, `serve` and `proxy` share.
public struct RecordingOptions: Sendable {
    /// The folder the recording goes to (created with its parents when missing).
    public var directory: String
    /// `capture.pcapng` is written (`--no-capture` turns it off).
    public var capture = true
    /// `--capture-limit`: the capture stops growing past this many bytes (an event says so).
    public var captureLimit: UInt64 = Self.defaultCaptureLimit
    /// Secrets are overwritten in the capture (`--no-redact` keeps them).
    public var redact = true

    /// `--capture-limit`'s default: 256 MB.
    public static let defaultCaptureLimit: UInt64 = 256 * 1_000_000
    /// The largest `--capture-limit`: 1 TB.
    public static let largestCaptureLimit: UInt64 = 1_000_000_000_000

    /// Records into `directory` with the defaults.
    public init(directory: String) {
        self.directory = directory
    }

    /// A size as `--capture-limit` takes it: bytes, or with `KB`, `MB`, `GB`, `TB` (powers of
    /// 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024); from 1 MB to 1 TB.
    public static func parseSize(_ text: String) throws(RecordingInputError) -> UInt64 {
        let units: [(suffix: String, factor: UInt64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        var digits = Substring(text)
        var factor: UInt64 = 1
        if let unit = units.first(where: { text.hasSuffix($0.suffix) }) {
            digits = digits.dropLast(unit.suffix.count)
            factor = unit.factor
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw RecordingInputError("'\(text)' is not a size: write bytes or a whole number with KB, MB, GB, TB (e.g. 256MB)")
        }
        let (size, overflow) = (UInt64(digits) ?? .max).multipliedReportingOverflow(by: factor)
        guard !overflow, size <= largestCaptureLimit else {
            throw RecordingInputError("'\(text)' is more than the largest capture limit, 1TB")
        }
        guard size >= 1_000_000 else {
            throw RecordingInputError("'\(text)' is less than the smallest capture limit, 1MB")
        }
        return size
    }
}

/// A recording flag's value that cannot be used, with what to write instead.
public struct RecordingInputError: Error, CustomStringConvertible {
    /// The message.
    public let description: String
    init(_ message: String) { description = message }
}

/// A recording's file or folder that cannot be written: `cannot write DIR/events.jsonl: Permission denied`.
public struct RecordingError: Error, CustomStringConvertible {
    /// The path.
    public let path: String
    /// Why, in words (the system's text for an errno).
    public let reason: String

    /// A system call failed on `path` with `errno`.
    init(path: String, errno: Int32) {
        self.init(path: path, reason: String(cString: strerror(errno)))
    }

    init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot write \(path): \(reason)" }
}
