import Glibc

/// A file a run writes when it ends (`--junit`), checked before the run starts: a typo in a
/// path must cost nothing, not a whole run whose verdict then has nowhere to go.
///
/// The file is written in place (not through a temporary file and a rename), so a symlink,
/// a named pipe or `/dev/stdout` work as they would with a shell redirection.
public struct OutputFile: Sendable {
    /// The path as given.
    public let path: String
    /// The option it came from, for messages (`--junit`).
    public let option: String

    /// Checks that `path` can be written: it must not be empty, an existing file must be
    /// writable and not a folder, a new one needs a writable folder.
    public init(path: String, option: String) throws(OutputFileError) {
        self.path = path
        self.option = option
        // stat("") fails with ENOENT, whose folder would be "." and pass: the end of the run would fail.
        guard !path.isEmpty else { throw OutputFileError(message: "\(option): cannot write '': an empty path names no file") }
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { throw failure(EISDIR) }
            if access(path, W_OK) != 0 { throw failure(errno) }
            return
        }
        if errno != ENOENT { throw failure(errno) }
        let folder = Self.folder(of: path)
        guard stat(folder, &info) == 0 else { throw failure(errno) }
        if info.st_mode & S_IFMT != S_IFDIR { throw failure(ENOTDIR) }
        if access(folder, W_OK | X_OK) != 0 { throw failure(errno) }
    }

    /// Writes `text` as the whole file.
    public func write(_ text: String) throws(OutputFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(errno) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let code = errno
                close(fd)
                throw failure(code)
            }
            bytes = bytes.dropFirst(written)
        }
        guard close(fd) == 0 else { throw failure(errno) }
    }

    private func failure(_ code: Int32) -> OutputFileError {
        OutputFileError(message: "\(option): cannot write \(path): \(String(cString: strerror(code)))")
    }

    private static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// An output path that cannot be written: `--junit: cannot write /nope/x.xml: No such file or directory`.
public struct OutputFileError: Error, CustomStringConvertible {
    /// The message, naming the option, the path and the system's reason.
    public let message: String
    public var description: String { message }
}
