import Glibc

/// The folder a recording goes to: created with its parents when missing, and proven
/// writable before anything runs (an unwritable DIR is bad input, exit 2, not a surprise at
/// the end of an hour-long run).
struct RecordingDirectory {
    /// The folder as given, without a trailing slash.
    let path: String

    /// Creates `path` (and its parents) when missing and checks that files can be made in it.
    init(_ path: String) throws(RecordingError) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard !trimmed.isEmpty else { throw RecordingError(path: "''", errno: ENOENT) }
        self.path = String(trimmed)
        try Self.makeFolders(self.path)
        // A postmortem's evidence is not overwritten by running the same command again.
        for name in Self.recordingFiles where access(self.path + "/" + name, F_OK) == 0 {
            throw RecordingError(path: self.path, reason: "it already holds a recording (\(name)): record into a new folder, "
                                 + "or remove that one first")
        }
        // access(W_OK) says yes to root on a read-only mount; a real file says the truth.
        let probe = self.path + "/.faultline-write-check"
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RecordingError(path: self.path, errno: errno) }
        close(fd)
        unlink(probe)
    }

    /// The files whose presence means the folder already holds a recording.
    static let recordingFiles = ["recording.json", "events.jsonl", "capture.pcapng"]

    /// The path of `name` in the folder.
    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` as the whole file `name`, at once (small files: scenario, metadata, report).
    func write(_ name: String, _ text: String) throws(RecordingError) {
        let path = file(name)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RecordingError(path: path, errno: errno) }
        defer { close(fd) }
        var failure: Int32 = 0
        var copy = text
        copy.withUTF8 { bytes in
            var done = 0
            while done < bytes.count, let base = bytes.baseAddress {
                let wrote = Glibc.write(fd, base + done, bytes.count - done)
                if wrote > 0 { done += wrote } else if wrote < 0 && errno == EINTR { continue } else {
                    failure = wrote == 0 ? EIO : errno
                    return
                }
            }
        }
        if failure != 0 {
            // Half a page is worse than none: a reader would take it for the whole report.
            unlink(path)
            throw RecordingError(path: path, errno: failure)
        }
    }

    /// mkdir -p: each missing folder of `path` in turn.
    private static func makeFolders(_ path: String) throws(RecordingError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw RecordingError(path: path, errno: ENOTDIR) }
            return
        }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw RecordingError(path: prefix, errno: errno) }
            prefix += "/"
        }
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw RecordingError(path: path, errno: ENOTDIR)
        }
    }
}
