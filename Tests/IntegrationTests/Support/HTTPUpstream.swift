import Foundation
import Glibc
import XCTest

/// A real HTTP/1.1 server the HTTP tests put faultline in front of: aiohttp's
/// (Tests/clients/http_upstream.py) or nginx (`nginx -p DIR -c DIR/nginx.conf`, one process,
/// config generated here). Both serve the same paths where they can, say which requests
/// reached them and over which connections, and are stopped by tearDown with every child, by PID.
final class HTTPUpstream: CustomStringConvertible {
    enum Kind: String { case python, nginx }

    let kind: Kind
    let port: UInt16
    let process: ChildProcess
    /// nginx's prefix: its config, logs and the files it serves.
    private let directory: String?

    private init(kind: Kind, port: UInt16, process: ChildProcess, directory: String?) {
        self.kind = kind
        self.port = port
        self.process = process
        self.directory = directory
    }

    var description: String { kind.rawValue }
    var address: String { "127.0.0.1:\(port)" }

    /// The body both answer `GET /api/v1/users` with.
    static let usersV1 = #"[{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}]"#

    /// Starts Tests/clients/http_upstream.py and waits for the port it announces.
    static func python(_ python: String, script: String) throws -> HTTPUpstream {
        let process = try ChildProcess.spawn(python, [script])
        var port: UInt16?
        _ = waitUntil(timeout: 20) {
            port = process.stdoutText.split(separator: "\n").lazy.compactMap { line in
                ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["listening"] as? Int
            }.first.map { UInt16($0) }
            return port != nil || !process.isRunning
        }
        guard let port else { throw UpstreamStartFailure(kind: .python, output: process.stdoutText + process.stderrText) }
        return HTTPUpstream(kind: .python, port: port, process: process, directory: nil)
    }

    /// Starts nginx with a config for `directory` (made here) on a free port, as one process
    /// (master_process off) so the PID tearDown stops is all of it; ready once it answers.
    /// With `tls` it serves HTTPS only, presenting that certificate bundle.
    static func nginx(_ binary: String, in directory: String, tls: CertificateBundleFiles? = nil) throws -> HTTPUpstream {
        for folder in ["www/upload", "tmp", "logs"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true)
        }
        let port = try Sock.freePort()
        try nginxConfig(directory: directory, port: port, tls: tls).write(toFile: "\(directory)/nginx.conf", atomically: true, encoding: .utf8)
        let process = try ChildProcess.spawn(binary, ["-p", directory, "-c", "\(directory)/nginx.conf", "-e", "\(directory)/logs/error.log"])
        let upstream = HTTPUpstream(kind: .nginx, port: port, process: process, directory: directory)
        let ready = waitUntil(timeout: 10) {
            guard let fd = try? Sock.connect(port: port, timeout: 1) else { return !process.isRunning }
            Sock.close(fd)
            return true
        }
        guard ready, process.isRunning else {
            let log = (try? String(contentsOfFile: "\(directory)/logs/error.log", encoding: .utf8)) ?? ""
            throw UpstreamStartFailure(kind: .nginx, output: process.stderrText + log)
        }
        return upstream
    }

    /// Paths as the python upstream serves them: the same bodies, statuses and X-Upstream header.
    private static func nginxConfig(directory: String, port: UInt16, tls: CertificateBundleFiles?) -> String {
        let user = getuid() == 0 ? "user root;" : ""
        let statuses = [404, 500, 503].map { code in
            """
                location = /status/\(code) { default_type application/json; add_header X-Upstream yes always;
                                             return \(code) '{"status": \(code), "from": "upstream"}'; }
            """
        }.joined(separator: "\n")
        return """
            \(user)
            worker_processes 1;
            master_process off;
            daemon off;
            pid \(directory)/nginx.pid;
            events { worker_connections 4096; }
            http {
                log_format seen escape=json '{"seen":"$request_method","path":"$uri","query":"$args","connection":"$connection","status":$status}';
                access_log \(directory)/logs/access.log seen;
                client_body_temp_path \(directory)/tmp/body;
                proxy_temp_path \(directory)/tmp/proxy;
                fastcgi_temp_path \(directory)/tmp/fastcgi;
                uwsgi_temp_path \(directory)/tmp/uwsgi;
                scgi_temp_path \(directory)/tmp/scgi;
                keepalive_requests 100000;
                keepalive_timeout 60s;
                server {
                    listen 127.0.0.1:\(port)\(tls == nil ? "" : " ssl");
                    \(tls.map { "ssl_certificate \($0.cert); ssl_certificate_key \($0.key);" } ?? "")
                    root \(directory)/www;
                    client_max_body_size 64m;
                    location = /api/v1/users { default_type application/json; return 200 '\(usersV1)'; }
                    location = /api/v2/users { default_type application/json; return 200 '{"version": 2, "data": [{"id": 1, "name": "ada"}]}'; }
                    location = /v1/traces { default_type application/x-protobuf; return 200 ''; }
                    # SSI output has no length: nginx sends it chunked.
                    location /chunked/ { alias \(directory)/www/; ssi on; ssi_types *; }
                    location /upload/ { dav_methods PUT; create_full_put_path on; }
                    # A 101 and nothing after it: enough for http.ws_close to act on the tunnel.
                    location = /ws-accept { return 101; }
            \(statuses)
                }
            }
            """
    }

    // MARK: what the tests ask of it

    /// A path answering `size` deterministic bytes, with Content-Length or chunked.
    func download(size: Int, chunked: Bool) throws -> String {
        guard let directory else { return "/bytes?size=\(size)" + (chunked ? "&chunked=1" : "") }
        let name = "blob-\(size)"
        let file = "\(directory)/www/\(name)"
        if !FileManager.default.fileExists(atPath: file) { _ = try writePatternFile(file, size: size, seed: UInt64(size)) }
        return (chunked ? "/chunked/" : "/") + name
    }

    /// Where a PUT to `/upload/NAME` landed (nginx's WebDAV module writes the body there).
    func uploaded(_ name: String) -> String? { served("/upload/\(name)") }

    /// The file nginx serves at `path` (nil for python).
    func served(_ path: String) -> String? { directory.map { "\($0)/www\(path)" } }

    /// Every request that reached it, in order: python logs a request when it arrives, nginx
    /// when it was answered.
    var seen: [SeenRequest] {
        let text: String
        if let directory {
            text = (try? String(contentsOfFile: "\(directory)/logs/access.log", encoding: .utf8)) ?? ""
        } else {
            text = process.stdoutText
        }
        return text.split(separator: "\n").compactMap { line in
            guard let fields = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let method = fields["seen"] as? String else { return nil }
            let connection = (fields["connection"] as? String) ?? (fields["peer"] as? Int).map(String.init) ?? "?"
            return SeenRequest(method: method, path: fields["path"] as? String ?? "", query: fields["query"] as? String ?? "",
                               connection: connection, headers: fields["headers"] as? [String: String] ?? [:])
        }
    }

    /// "GET /api/v1/users" for each request seen.
    var seenLines: [String] { seen.map { "\($0.method) \($0.path)" } }

    /// Waits until it saw `count` requests (nginx logs them a moment after answering).
    @discardableResult
    func waitForSeen(_ count: Int, timeout: Double = 5) -> [SeenRequest] {
        var requests: [SeenRequest] = []
        _ = waitUntil(timeout: timeout) {
            requests = seen
            return requests.count >= count
        }
        return requests
    }
}

/// One request as the upstream saw it; `connection` tells its connections apart (python: the
/// peer's port, nginx: $connection).
struct SeenRequest: CustomStringConvertible {
    let method: String
    let path: String
    let query: String
    let connection: String
    /// Request headers as received (python only).
    let headers: [String: String]
    var description: String { "\(method) \(path)\(query.isEmpty ? "" : "?" + query) on \(connection)" }
}

struct UpstreamStartFailure: Error, CustomStringConvertible {
    let kind: HTTPUpstream.Kind
    let output: String
    var description: String { "the \(kind) upstream did not start:\n\(output)" }
}

/// Writes `size` bytes of `Pattern(seed:)` to `path`; returns their digest.
func writePatternFile(_ path: String, size: Int, seed: UInt64 = 7) throws -> StreamDigest {
    guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
        throw SystemCallFailure(call: "create \(path)", code: EIO)
    }
    defer { try? handle.close() }
    let hasher = SHA256Hasher()
    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: Pattern.blockSize, alignment: 8)
    defer { block.deallocate() }
    var written = 0
    var index = 0
    while written < size {
        Pattern(seed: seed).fill(block: index, into: block)
        index += 1
        let part = UnsafeRawBufferPointer(rebasing: block.prefix(min(Pattern.blockSize, size - written)))
        hasher.update(part)
        handle.write(Data(part))
        written += part.count
    }
    return hasher.finish()
}

/// The length and sha256 of a file's bytes.
func digestOfFile(_ path: String) throws -> StreamDigest {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let hasher = SHA256Hasher()
    data.withUnsafeBytes { hasher.update($0) }
    return hasher.finish()
}
