@testable import Faultline
import XCTest

/// `HTTPHead`: the parts of a head faults match on (method, path, query, fields), what the fields
/// say about framing, and every shape two HTTP parsers could frame differently (request
/// smuggling) refused with its status and message — through the framer, fed whole, split at
/// every byte position and byte by byte.
final class HTTPHeadTests: XCTestCase {
    typealias Framing = HTTPFramerTests

    /// `text` (a whole head) parsed as a request or a response.
    private func parsed(_ text: String, request: Bool = true) -> (head: HTTPHead, error: HTTPError?) {
        let head = HTTPHead()
        Array(text.utf8).withUnsafeBytes { head.append($0) }
        return (head, head.parse(request: request))
    }

    private func assertError(_ input: String, _ status: Int, _ message: String, _ setup: Framing.Setup = .request,
                             file: StaticString = #filePath, line: UInt = #line) {
        Framing.assertError(input, status, message, setup, file: file, line: line)
    }

    // MARK: Parts

    func testRequestLineParts() {
        let head = parsed("GET /api/v2/users?page=2&sort=name HTTP/1.1\r\nHost: h\r\n\r\n").head
        XCTAssertEqual(head.methodText, "GET")
        XCTAssertTrue(head.methodIs("GET"))
        XCTAssertFalse(head.methodIs("get"), "methods are case-sensitive")
        XCTAssertFalse(head.methodIs("GE"))
        XCTAssertEqual(head.text(head.target), "/api/v2/users?page=2&sort=name")
        XCTAssertEqual(head.text(head.pathRange), "/api/v2/users")
        XCTAssertEqual(head.text(head.queryRange), "page=2&sort=name")
        XCTAssertEqual(Array(head.slice(head.method)), Array("GET".utf8))
        XCTAssertEqual(head.startLineLength, 45)
        XCTAssertEqual(head.minorVersion, 1)
        for (target, path, query) in [("/plain", "/plain", ""), ("/p?", "/p", ""), ("/p?a?b", "/p", "a?b"), ("*", "*", ""),
                                      ("http://h:80/x?y", "/x", "y"), ("http://u:pw@h/a/b", "/a/b", ""), ("https://h", "", ""),
                                      ("/%3F?q", "/%3F", "q"), ("http://h?a=/admin", "", "a=/admin"), ("http://h:8080?q", "", "q"),
                                      ("htt?ps://h/x", "htt", "ps://h/x"), ("a%2F://h/x", "a%2F://h/x", ""),
                                      ("svn+ssh://h/r", "/r", "")] {
            let head = parsed("OPTIONS \(target) HTTP/1.0\r\n\r\n").head
            XCTAssertEqual(head.text(head.pathRange), path, target)
            XCTAssertEqual(head.text(head.queryRange), query, target)
            XCTAssertEqual(head.queryRange.isEmpty, query.isEmpty, target)
            XCTAssertEqual(head.methodText, "OPTIONS")
        }
    }

    func testFieldValues() {
        let head = parsed("POST /x HTTP/1.1\r\nHost:  example.com \r\nX-Api-Version: 2\r\nAccept: a\r\n"
                          + "x-api-version:\t3, 4\t\r\nEmpty:\r\nCookie: a=1; b=2\r\n\r\n").head
        XCTAssertEqual(head.fieldCount, 6)
        XCTAssertEqual(head.values(of: Array("x-api-version".utf8)).map { String(decoding: $0, as: UTF8.self) }, ["2", "3, 4"])
        XCTAssertEqual(head.values(of: Array("host".utf8)).map { String(decoding: $0, as: UTF8.self) }, ["example.com"])
        XCTAssertEqual(head.values(of: Array("empty".utf8)).map(\.count), [0])
        XCTAssertEqual(head.values(of: Array("cookie".utf8)).map { String(decoding: $0, as: UTF8.self) }, ["a=1; b=2"])
        XCTAssertEqual(head.values(of: Array("missing".utf8)).count, 0)
        XCTAssertEqual(head.values(of: Array("Host".utf8)).count, 0, "the name asked for is lower-case")
    }

    func testStatusLines() {
        for (line, status, minor) in [("HTTP/1.1 200 OK", 200, 1), ("HTTP/1.0 404 Not Found", 404, 0), ("HTTP/1.1 503", 503, 1),
                                      ("HTTP/1.1 100 ", 100, 1), ("HTTP/1.1 599 Über", 599, 1)] {
            let (head, error) = parsed("\(line)\r\n\r\n", request: false)
            XCTAssertNil(error, line)
            XCTAssertEqual(head.status, status, line)
            XCTAssertEqual(head.minorVersion, minor, line)
            XCTAssertEqual(head.startLineLength, line.utf8.count + 2)
        }
        for line in ["HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1  200 OK", "HTTP/2 200 OK", "http/1.1 200 OK",
                     "HTTP/1.2 200 OK", "HTTP/1.1 2x0 OK", "HTTP/1.1\t200 OK", "ICY 200 OK"] {
            assertError("\(line)\r\n\r\n", 502, "malformed status line", .response)
        }
        assertError("HTTP/1.1 099 Odd\r\n\r\n", 502, "status below 100", .response)
        assertError("HTTP/1.1 200 O\u{0}K\r\n\r\n", 502, "control character in the status line", .response)
        assertError("HTTP/1.1 200 O\rK\r\n\r\n", 502, "control character in the status line", .response)
    }

    func testFramingFields() {
        let chunked = parsed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n").head
        XCTAssertTrue(chunked.chunked)
        XCTAssertNil(chunked.contentLength)
        let other = parsed("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", request: false).head
        XCTAssertTrue(other.otherTransferCoding)
        XCTAssertFalse(other.chunked)
        let length = parsed("HTTP/1.1 200 OK\r\ncontent-LENGTH: 12\r\n\r\n", request: false).head
        XCTAssertEqual(length.contentLength, 12)
        // A head is parsed afresh: nothing of the previous message stays.
        let reused = HTTPFramer(.request)
        let two = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx" + "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        Array(two.utf8).withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                switch reused.scan(UnsafeRawBufferPointer(rebasing: all[offset...])) {
                case .head(let used), .message(let used), .complete(let used): offset += used
                case let other: return XCTFail("\(other)")
                }
            }
        }
        XCTAssertEqual(reused.head.methodText, "GET")
        XCTAssertNil(reused.head.contentLength)
        XCTAssertFalse(reused.head.connectionClose)
        XCTAssertEqual(reused.head.fieldCount, 1)
    }

    func testParsingTwiceGivesTheSameFields() {
        let (head, error) = parsed("GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\n")
        XCTAssertNil(error)
        XCTAssertNil(head.parse(request: true), "the same head parsed again is still sound (one Host)")
        XCTAssertEqual(head.fieldCount, 2)
        XCTAssertEqual(head.values(of: Array("x".utf8)).count, 1)
    }

    // MARK: Smuggling shapes and other refusals

    func testContentLengthAndTransferEncoding() {
        for fields in ["Content-Length: 5\r\nTransfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nContent-Length: 5",
                       "Content-Length: 0\r\nTransfer-Encoding: gzip"] {
            assertError("POST / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n\r\n", 400, "both Content-Length and Transfer-Encoding")
            assertError("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\n", 400, "both Content-Length and Transfer-Encoding", .response)
        }
    }

    func testContentLengthValues() {
        assertError("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "more than one Content-Length")
        assertError("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n", 400, "more than one Content-Length")
        for value in ["1,1", "1, 1", "-1", "+1", "1 1", "0x10", "1.0", "", "١", "9999999999999999999"] {
            assertError("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(value)\r\n\r\n", 400, "Content-Length is not a number")
        }
        XCTAssertEqual(Framing.outcome("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 \r\n\r\nx").events.count, 2,
                       "a trailing space is OWS")
    }

    func testHeaderLineShapes() {
        let get = "GET / HTTP/1.1\r\nHost: h\r\n"
        assertError(get + "X: a\r\n b\r\n\r\n", 400, "a header line starts with whitespace (obs-fold is not accepted)")
        assertError("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", 400, "a header line starts with whitespace (obs-fold is not accepted)")
        let malformed = "malformed header line (a field name is a token followed directly by ':')"
        for line in ["Host : x", "Host\t: x", ": x", "X", "X-A\u{0}: b", "X: a\rb", "X: a\u{0}b", "X: a\u{7F}", "X:\u{1B}",
                     "Content-Length : 5", "X\r: y", "X: y\r"] {
            assertError("GET / HTTP/1.1\r\n\(line)\r\nHost: h\r\n\r\n", 400, malformed)
        }
        XCTAssertEqual(Framing.outcome(get + "X: tab\there, caf\u{E9}\r\n\r\n").events.count, 1, "a tab and UTF-8 in a value")
        XCTAssertEqual(Framing.outcome("GET / HTTP/1.1\nHost: h\nX: 1\n\n").events.count, 1, "bare LF line ends in a head")
        assertError("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", 400, malformed)
    }

    func testTransferCodingOrder() {
        for fields in ["Transfer-Encoding: chunked, gzip", "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
                       "Transfer-Encoding: chunked, chunked", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"] {
            assertError("POST / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n\r\n", 400, "a transfer coding follows chunked")
            assertError("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\n", 400, "a transfer coding follows chunked", .response)
        }
        for value in ["", " ", ", ,"] {
            assertError("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\(value)\r\n\r\n", 400, "empty Transfer-Encoding")
        }
        assertError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer-Encoding in an HTTP/1.0 message")
        assertError("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer-Encoding in an HTTP/1.0 message",
                    .response)
        assertError("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 501,
                    "a request body not ending in the chunked transfer coding")
    }

    func testHostFields() {
        assertError("GET / HTTP/1.1\r\n\r\n", 400, "no Host header")
        assertError("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "more than one Host header")
        assertError("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, "more than one Host header")
        XCTAssertNil(Framing.outcome("GET / HTTP/1.1\r\nHost:\r\n\r\n").error, "an empty Host is allowed")
    }

    func testRequestLines() {
        assertError("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "not HTTP/1.0 or HTTP/1.1")
        assertError("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505, "not HTTP/1.0 or HTTP/1.1")
        assertError("GET / http/1.1\r\nHost: h\r\n\r\n", 505, "not HTTP/1.0 or HTTP/1.1")
        assertError("GET /a\u{0}b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target")
        assertError("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target")
        assertError("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target")
        assertError("GET /\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target")
        assertError("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed method")
        for line in ["GET", "GET /", "GET HTTP/1.1", " GET / HTTP/1.1", "GET\t/\tHTTP/1.1"] {
            assertError("\(line)\r\nHost: h\r\n\r\n", 400, "malformed request line")
        }
        assertError("HTTP/1.1 200 OK\r\n\r\n", 400, "malformed method", .request)
    }

    func testHeadLimits() {
        let start = "GET / HTTP/1.1\r\nHost: h\r\nX: "
        let exact = start + String(repeating: "a", count: 65536 - start.utf8.count - 4) + "\r\n\r\n"
        XCTAssertEqual(exact.utf8.count, 65536)
        XCTAssertEqual(Framing.outcome(Array(exact.utf8), positions: [1, 4096, 65534, 65535]).events.count, 1, "64 KB exactly")
        let over = Array((start + String(repeating: "a", count: 70000) + "\r\n\r\n").utf8)
        XCTAssertEqual(Framing.outcome(over, positions: [1, 20, 4096, 65535, 65536, 65537, 70010]).error,
                       HTTPError(431, "head larger than 64 KB"))
        XCTAssertEqual(Framing.outcome(Array(over.prefix(65537)), positions: [1, 30, 65535, 65536]).error, HTTPError(431, "head larger than 64 KB"),
                       "refused before the line ends")
        let fields = (1...127).map { "X-\($0): v\r\n" }.joined()
        // Cut every 7 bytes: a cut at every byte parses 129 fields 1,300 times.
        let many = Array("GET / HTTP/1.1\r\nHost: h\r\n\(fields)".utf8)
        let cuts = Array(stride(from: 1, to: many.count + 12, by: 7))
        XCTAssertEqual(Framing.outcome(many + Array("\r\n".utf8), positions: cuts).events.count, 1, "128 fields")
        XCTAssertEqual(Framing.outcome(many + Array("X: 128\r\n\r\n".utf8), positions: cuts).error,
                       HTTPError(431, "more than 128 header fields"))
        var limits = HTTPLimits()
        limits.maxHead = 2048
        assertError("GET / HTTP/1.1\r\nHost: h\r\nX: \(String(repeating: "a", count: 2048))\r\n\r\n", 431,
                    "head larger than 2 KB", Framing.Setup(limits: limits))
        limits.maxHeaders = 3
        XCTAssertEqual(Framing.outcome("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", Framing.Setup(limits: limits)).events.count, 1)
        assertError("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, "more than 3 header fields",
                    Framing.Setup(limits: limits))
    }

    func testChunkLineShapes() {
        let post = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertError(post + "1\nx\r\n0\r\n\r\n", 400, "malformed chunk size")
        assertError(post + "1;a=b\nx\r\n", 400, "malformed chunk extension")
        assertError(post + "1\r\rx\r\n", 400, "chunk size line not ending in CRLF")
        assertError(post + "1\rx\r\n", 400, "chunk size line not ending in CRLF")
        for size in ["\r\n", "x\r\n", " 1\r\n", "-1\r\n", "0x1\r\n", ";a\r\n", "+1\r\n"] {
            assertError(post + size, 400, "malformed chunk size")
        }
        assertError(post + "1;a\u{0}\r\n", 400, "malformed chunk extension")
        assertError(post + "1\r\nxy\r\n", 400, "chunk data not followed by CRLF")
        assertError(post + "1\r\nx\n0\r\n\r\n", 400, "chunk data not followed by CRLF")
        assertError(post + "1\r\nx\r0\r\n\r\n", 400, "chunk data not followed by CRLF")
        assertError(post + "0\r\nX: 1\n\r\n", 400, "malformed trailer line")
        assertError(post + "0\r\n\n", 400, "malformed trailer line")
        assertError(post + "0\r\nX: \u{0}\r\n\r\n", 400, "malformed trailer line")
        assertError(post + "0\r\nX: 1\r\r\n", 400, "trailer line not ending in CRLF")
        assertError(post + "0\r\n\rx", 400, "trailer line not ending in CRLF")
    }

    func testErrorIsSticky() {
        let framer = HTTPFramer(.request)
        let error = HTTPScan.error(HTTPError(400, "no Host header"))
        Array("GET / HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { XCTAssertEqual(framer.scan($0), error) }
        Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8).withUnsafeBytes { XCTAssertEqual(framer.scan($0), error) }
        XCTAssertEqual(framer.scan(UnsafeRawBufferPointer(start: nil, count: 0)), error)
        XCTAssertEqual(framer.failed, HTTPError(400, "no Host header"))
        XCTAssertFalse(framer.atBoundary)
    }
}
