@testable import Faultline
import Foundation
import Glibc
import XCTest

/// The control API's client: reply heads, chunked bodies and server-sent events fed in pieces
/// of every size, then whole requests against a local listener that answers canned bytes.
final class APIClientTests: XCTestCase {
    // MARK: heads

    func testReplyHeadAndFraming() throws {
        let head = try ReplyHead.parse(Array("HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nContent-Length:  41 \r\n".utf8)[...])
        XCTAssertEqual(head.status, 404)
        XCTAssertEqual(head.reason, "Not Found")
        XCTAssertEqual(head.header("Content-Type"), "text/plain")
        XCTAssertEqual(try head.framing(), .length(41))
        XCTAssertEqual(try head.framing(head: true), .none)
        XCTAssertEqual(try ReplyHead.parse(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked".utf8)[...]).framing(), .chunked)
        XCTAssertEqual(try ReplyHead.parse(Array("HTTP/1.1 204 No Content\r\nContent-Length: 5".utf8)[...]).framing(), .none)
        XCTAssertEqual(try ReplyHead.parse(Array("HTTP/1.0 200 OK".utf8)[...]).framing(), .untilClose)
        XCTAssertThrowsError(try ReplyHead.parse(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3".utf8)[...]).framing())
        XCTAssertThrowsError(try ReplyHead.parse(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip".utf8)[...]).framing())
        XCTAssertThrowsError(try ReplyHead.parse(Array("SSH-2.0-OpenSSH_9.2".utf8)[...]))
        XCTAssertThrowsError(try ReplyHead.parse(Array("HTTP/1.1 200 OK\r\nno colon here".utf8)[...]))
        XCTAssertEqual(ReplyHead.end(in: Array("HTTP/1.1 200 OK\r\n\r\nbody".utf8)), 19)
        XCTAssertNil(ReplyHead.end(in: Array("HTTP/1.1 200 OK\r\n\r".utf8)))
    }

    // MARK: chunked

    func testChunkedBodyDecodesWhateverTheSplit() throws {
        let wire = Array("5;ext=1\r\nhello\r\n1B\r\n, abcdefghijklmnopqrstuvwxy\r\n0\r\nX-Trailer: 1\r\n\r\nleftover".utf8)
        let body = Array("hello, abcdefghijklmnopqrstuvwxy".utf8)
        for size in 1...wire.count {
            var decoder = ChunkedDecoder()
            var out: [UInt8] = []
            var start = 0
            while start < wire.count {
                let end = min(start + size, wire.count)
                out += try decoder.feed(wire[start..<end])
                start = end
            }
            XCTAssertEqual(out, body, "pieces of \(size)")
            XCTAssertTrue(decoder.isDone, "pieces of \(size)")
        }
    }

    func testChunkedBodyRefusesGarbage() {
        for wire in ["zz\r\nhello\r\n", "5\r\nhelloXX\r\n", "\r\n", String(repeating: "f", count: 20) + "\r\n",
                     String(repeating: "1", count: 5000)] {
            var decoder = ChunkedDecoder()
            XCTAssertThrowsError(try decoder.feed(Array(wire.utf8)[...]), wire.prefix(30).description)
        }
        var cut = ChunkedDecoder()
        XCTAssertEqual(try cut.feed(Array("3\r\nab".utf8)[...]), Array("ab".utf8))
        XCTAssertFalse(cut.isDone)
        var between = ChunkedDecoder()
        XCTAssertEqual(try between.feed(Array("3\r\nabc\r\n".utf8)[...]), Array("abc".utf8))
        XCTAssertFalse(between.isDone)
        XCTAssertEqual(try between.feed(Array("0\r\n\r\n".utf8)[...]), [])
        XCTAssertTrue(between.isDone)
    }

    // MARK: server-sent events

    func testServerSentEventsWhateverTheSplitAndLineEnds() throws {
        let expected = [
            ServerSentEvent(id: "1", event: "faultFired", data: #"{"kind":"faultFired"}"#),
            ServerSentEvent(id: nil, event: nil, data: "two\nlines"),
            ServerSentEvent(id: "3", event: nil, data: ""),
        ]
        for newline in ["\n", "\r\n", "\r"] {
            let text = "\u{FEFF}: faultline events\n\nid: 1\nevent: faultFired\ndata: {\"kind\":\"faultFired\"}\n\n"
                + ": keep-alive\n\ndata:two\ndata: lines\nunknown: field\n\nid: 3\ndata\n\nevent: no data\n\n"
            let wire = Array(text.replacingOccurrences(of: "\n", with: newline).utf8)
            for size in [1, 2, 3, 7, wire.count] {
                var parser = ServerSentEventParser()
                var events: [ServerSentEvent] = []
                var start = 0
                while start < wire.count {
                    let end = min(start + size, wire.count)
                    events += try parser.feed(wire[start..<end])
                    start = end
                }
                XCTAssertEqual(events, expected, "newline \(newline.debugDescription), pieces of \(size)")
            }
        }
    }

    func testServerSentEventLineIsBounded() {
        var parser = ServerSentEventParser()
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: ServerSentEventParser.maxLine + 1)
        XCTAssertThrowsError(try parser.feed(long))
    }

    // MARK: requests

    func testRequestReadsAChunkedAnswerAndSendsItsHeaders() throws {
        let server = try CannedServer(answer: [
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            "7\r\n{\"name\"", "\r\n6\r\n:\"web\"\r", "\n1\r\n}\r\n0\r\n\r\n",
        ])
        let client = APIClient(address: try SocketAddress(parsing: "127.0.0.1:\(server.port)"), token: "secret-token")
        let value = try client.json("POST", "/proxies", body: .object(JSONObject(["name": .string("web")])))
        XCTAssertEqual(value, .object(JSONObject(["name": .string("web")])))
        let request = server.request()
        XCTAssertTrue(request.hasPrefix("POST /proxies HTTP/1.1\r\n"), request)
        for line in ["Host: 127.0.0.1:\(server.port)", "User-Agent: faultline-ctl/\(FaultlineVersion.current)",
                     "Authorization: Bearer secret-token", "Content-Type: application/json", "Content-Length: 14",
                     "Connection: close"] {
            XCTAssertTrue(request.contains("\r\n\(line)\r\n"), "\(line) in\n\(request)")
        }
        XCTAssertTrue(request.hasSuffix("\r\n\r\n{\"name\":\"web\"}"), request)
    }

    func testErrorAnswersAndNoServer() throws {
        let error = "{\"error\":\"proxy not found\",\"status\":404}\n"
        let server = try CannedServer(answer: [
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(error.utf8.count)\r\n\r\n",
            error,
        ])
        let address = try SocketAddress(parsing: "127.0.0.1:\(server.port)")
        XCTAssertThrowsError(try APIClient(address: address).request("GET", "/proxies/nope")) { error in
            XCTAssertEqual("\(error)", "HTTP 404: proxy not found")
        }
        let plain = try CannedServer(answer: ["HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"])
        XCTAssertThrowsError(try APIClient(address: try SocketAddress(parsing: "127.0.0.1:\(plain.port)")).request("PUT", "/x")) { error in
            XCTAssertEqual("\(error)", "HTTP 405: Method Not Allowed")
        }
        server.close()
        XCTAssertThrowsError(try APIClient(address: address).request("GET", "/proxies")) { error in
            XCTAssertEqual(error as? APIClientError, .notRunning(address: "127.0.0.1:\(server.port)"))
        }
    }

    func testEventsArriveAsTheyStreamAndEndWithTheStream() throws {
        let server = try CannedServer(answer: [
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunk(": faultline events\n\n"), chunk("id: 1\nevent: a\ndata: {\"n\":1}\n\n"),
            chunk("data: {\"n\":2}\n"), chunk("\n"), "0\r\n\r\n",
        ])
        let client = APIClient(address: try SocketAddress(parsing: "127.0.0.1:\(server.port)"))
        var data: [String] = []
        try client.events("/events?kind=a") { data.append($0.data) }
        XCTAssertEqual(data, [#"{"n":1}"#, #"{"n":2}"#])
        XCTAssertTrue(server.request().hasPrefix("GET /events?kind=a HTTP/1.1\r\n"))
        // A stream cut before its last chunk is an error, inside a chunk or between two (a server
        // killed): a watcher must not take a lost stream for a finished one. Events before the
        // cut still arrive.
        let cut = try CannedServer(answer: ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "10\r\ndata: 1"])
        XCTAssertThrowsError(try APIClient(address: try SocketAddress(parsing: "127.0.0.1:\(cut.port)")).events("/events") { _ in })
        let closed = try CannedServer(answer: ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "8\r\ndata: 1\n\r\n", "1\r\n\n\r\n"])
        var got: [String] = []
        XCTAssertThrowsError(try APIClient(address: try SocketAddress(parsing: "127.0.0.1:\(closed.port)")).events("/events") {
            got.append($0.data)
        }) { error in
            XCTAssertEqual("\(error)", "cannot reach the control API at 127.0.0.1:\(closed.port): the API closed the connection before the answer ended")
        }
        XCTAssertEqual(got, ["1"])
    }

    /// `text` as one chunk: its size in hex, CRLF, the text, CRLF.
    private func chunk(_ text: String) -> String {
        String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n"
    }

    func testAddressesAndPathSegments() throws {
        XCTAssertEqual(try APIClient.address("http://127.0.0.1:8474/").description, "127.0.0.1:8474")
        XCTAssertEqual(try APIClient.address("[::1]:8474").description, "[::1]:8474")
        XCTAssertThrowsError(try APIClient.address("https://127.0.0.1:8474"))
        XCTAssertThrowsError(try APIClient.address("127.0.0.1:0"))
        XCTAssertEqual(APIClient.pathSegment("a b/c?d%é"), "a%20b%2Fc%3Fd%25%C3%A9")
        XCTAssertEqual(APIClient.pathSegment("latency_downstream-1.x~"), "latency_downstream-1.x~")
    }
}

/// One connection's worth of a server on 127.0.0.1 (a port of 24690–24699): accepts once,
/// reads the request (head and Content-Length body), writes `answer` piece by piece with a
/// pause between pieces (so the client reads them apart), then closes.
private final class CannedServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var received = ""
    private let done = DispatchSemaphore(value: 0)

    init(answer: [String]) throws {
        var chosen: (Int32, UInt16)?
        for port in UInt16(24690)...24699 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0, listen(fd, 4) == 0 { chosen = (fd, port); break }
            Glibc.close(fd)
        }
        guard let (listener, port) = chosen else { throw XCTSkip("no free port in 24690-24699") }
        self.listener = listener
        self.port = port
        Thread.detachNewThread { [self] in serve(answer) }
    }

    private var closed = false

    deinit { close() }

    /// Stops listening (a connect then gets ECONNREFUSED).
    func close() {
        lock.lock()
        defer { lock.unlock() }
        if !closed { Glibc.close(listener) }
        closed = true
    }

    /// The request the client sent, once the answer is written.
    func request() -> String {
        _ = done.wait(timeout: .now() + 10)
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    private func serve(_ answer: [String]) {
        defer { done.signal() }
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 10_000) > 0 else { return }
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let text = String(decoding: bytes, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound) + length <= bytes.count { break }
            }
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            bytes += buffer[..<count]
        }
        lock.lock()
        received = String(decoding: bytes, as: UTF8.self)
        lock.unlock()
        for piece in answer {
            _ = piece.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            usleep(20_000)
        }
    }
}
