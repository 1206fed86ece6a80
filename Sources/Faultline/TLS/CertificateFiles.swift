import Foundation
import Glibc

/// The file operations the CA cache and the bundle need, with errno's text in their errors
/// and exact modes: a key must end up 0600 whatever the umask or an older file's mode was.
enum CertificateFiles {
    /// The most `read` takes: a PEM key or certificate is a few KB, so anything larger is not one.
    static let largestFile = 1 << 20

    /// The whole of `path` as text, up to `largestFile` bytes.
    static func read(_ path: String) throws(CertificateError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("reading \(path)", errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let got = Glibc.read(descriptor, &chunk, chunk.count)
            if got == 0 { break }
            if got < 0 {
                if errno == EINTR { continue }
                throw .system("reading \(path)", errno)
            }
            bytes += chunk.prefix(got)
            guard bytes.count <= largestFile else { throw CertificateError("reading \(path)", "larger than \(largestFile >> 20) MB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces `path` with `text`, created with `mode` exactly: written to a temporary file
    /// beside it, flushed, then renamed over it, so a reader sees the old file or the new one,
    /// never half of one, and an existing file's looser mode is not inherited.
    static func write(_ text: String, to path: String, mode: mode_t) throws(CertificateError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw .system("writing \(path)", errno) }
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        let bytes = Array(text.utf8)
        var written = 0
        var failure: Int32 = 0
        // fchmod: open's mode passes through the umask, which may take bits a cert needs.
        if fchmod(descriptor, mode) != 0 { failure = errno }
        while failure == 0, written < bytes.count {
            let sent = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if sent > 0 { written += sent } else if errno != EINTR { failure = errno }
        }
        // fsync before rename: after a crash the name must not point at an empty file.
        if failure == 0, fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        guard failure == 0 else { throw .system("writing \(path)", failure) }
        guard rename(temporary, path) == 0 else { throw .system("writing \(path)", errno) }
        renamed = true
    }

    /// Creates `path` and any missing parents (0755); an existing directory is fine.
    static func makeDirectories(_ path: String) throws(CertificateError) {
        guard !path.isEmpty else { throw CertificateError("creating a directory", "no path given") }
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            var status = stat()
            if stat(partial, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFDIR else {
                    throw CertificateError("creating the directory \(path)", "\(partial) is not a directory")
                }
                continue
            }
            // Another process may make it between the stat and the mkdir: EEXIST is fine then.
            guard mkdir(partial, 0o755) == 0 || errno == EEXIST else { throw .system("creating the directory \(path)", errno) }
        }
    }

    /// Whether anything (file, directory, dangling link) is at `path`, an empty directory
    /// excepted: rename(2) replaces one, so a cache directory made empty (by hand, or by a
    /// volume mounted there) is filled as if it were absent.
    static func exists(_ path: String) -> Bool {
        var status = stat()
        guard lstat(path, &status) == 0 else { return false }
        guard status.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) else { return true }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { return true }
        }
        return false
    }

    /// The directory holding `path` (`.` for a bare name) and its last component.
    static func split(_ path: String) -> (parent: String, name: String) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", trimmed) }
        let parent = trimmed[..<slash]
        return (parent.isEmpty ? "/" : String(parent), String(trimmed[trimmed.index(after: slash)...]))
    }
}
