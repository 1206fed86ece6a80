@testable import Faultline
import XCTest

/// `HTTPFramer` on both sides of a connection: requests with and without bodies, Content-Length
/// and chunked bodies streamed, pipelines, the response rules (1xx, 101, HEAD, 204/304, CONNECT,
/// a body until the close), and every request smuggling shape refused with its status and
/// message. Every input is also fed split at every byte position and byte by byte, and must give
/// the same outcome.
final class HTTPFramerTests: XCTestCase {
    /// What the framer reported at one point of the input.
    struct Event: Equatable, CustomStringConvertible {
        enum Kind: String { case head, message, complete }
        var kind: Kind
        /// Offset in the whole input just after the event.
        var offset: Int
        /// The start line of the head (head and message events), without its line end.
        var line = ""

        var description: String { "\(kind)@\(offset)\(line.isEmpty ? "" : " \(line.debugDescription)")" }
    }

    struct Outcome: Equatable {
        var events: [Event] = []
        var error: HTTPError?
        var atBoundary = false
        var inBody = false
        var isTunnel = false
        var endsAtClose = false
    }

    /// What the framer is told about the request a response answers.
    struct Setup {
        var side = HTTPFramer.Side.request
        var answersHEAD = false
        var answersCONNECT = false
        var limits = HTTPLimits.standard

        static let request = Setup()
        static let response = Setup(side: .response)
    }

    /// Feeds `input` in the given chunks, checking each scan's `consumed` and that an error sticks.
    static func run(_ input: [UInt8], _ chunks: [Range<Int>], _ setup: Setup = .request) -> Outcome {
        let framer = HTTPFramer(setup.side, limits: setup.limits)
        framer.answersHEAD = setup.answersHEAD
        framer.answersCONNECT = setup.answersCONNECT
        var outcome = Outcome()
        input.withUnsafeBytes { all in
            for chunk in chunks {
                var start = chunk.lowerBound
                scanning: while true {
                    let rest = UnsafeRawBufferPointer(rebasing: all[start..<chunk.upperBound])
                    let result = framer.scan(rest)
                    switch result {
                    case .needMore(let consumed):
                        XCTAssertEqual(consumed, rest.count, "needMore consumes everything")
                        break scanning
                    case .head(let consumed), .message(let consumed), .complete(let consumed):
                        XCTAssert(consumed > 0 && consumed <= rest.count, "\(result) of \(rest.count) bytes")
                        guard consumed > 0 && consumed <= rest.count else { return }
                        start += consumed
                        let kind: Event.Kind
                        switch result {
                        case .head: kind = .head
                        case .message: kind = .message
                        default: kind = .complete
                        }
                        XCTAssertEqual(framer.atBoundary, kind != .head, "\(kind) at a boundary")
                        outcome.events.append(Event(kind: kind, offset: start, line: kind == .complete ? "" : startLine(framer.head)))
                    case .error(let error):
                        outcome.error = error
                        XCTAssertEqual(framer.failed, error)
                        XCTAssertEqual(framer.scan(rest), .error(error), "the error is sticky")
                        XCTAssertFalse(framer.atBoundary, "a failed framer claims a boundary")
                        return
                    }
                }
            }
            outcome.atBoundary = framer.atBoundary
            outcome.inBody = framer.inBody
            outcome.isTunnel = framer.isTunnel
            outcome.endsAtClose = framer.endsAtClose
        }
        return outcome
    }

    static func startLine(_ head: HTTPHead) -> String {
        var line = head.bytes.prefix(head.startLineLength)
        while let last = line.last, last == HTTPBytes.cr || last == HTTPBytes.lf { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// The outcome of `input`, the same however it is split.
    @discardableResult
    static func outcome(_ input: String, _ setup: Setup = .request, file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        Self.outcome(Array(input.utf8), setup, file: file, line: line)
    }

    @discardableResult
    static func outcome(_ input: [UInt8], _ setup: Setup = .request, positions: [Int]? = nil, file: StaticString = #filePath,
                 line: UInt = #line) -> Outcome {
        assertSameOutcomeSplitAnywhere(input, positions: positions, file: file, line: line) { Self.run(input, $0, setup) }
    }

    static func assertError(_ input: String, _ status: Int, _ message: String, _ setup: Setup = .request,
                     file: StaticString = #filePath, line: UInt = #line) {
        let result = Self.outcome(input, setup, file: file, line: line)
        XCTAssertEqual(result.error, HTTPError(status, message), input.debugDescription, file: file, line: line)
    }

    /// The head of the first message of `input`, framed whole.
    static func firstHead(_ input: String, _ setup: Setup = .request, file: StaticString = #filePath, line: UInt = #line) -> HTTPHead {
        let framer = HTTPFramer(setup.side, limits: setup.limits)
        framer.answersHEAD = setup.answersHEAD
        framer.answersCONNECT = setup.answersCONNECT
        let result = Array(input.utf8).withUnsafeBytes { framer.scan($0) }
        switch result {
        case .head, .message: break
        default: XCTFail("\(input.debugDescription) gave \(result)", file: file, line: line)
        }
        return framer.head
    }

    static func message(_ offset: Int, _ line: String) -> Event { Event(kind: .message, offset: offset, line: line) }
    static func head(_ offset: Int, _ line: String) -> Event { Event(kind: .head, offset: offset, line: line) }
    static func complete(_ offset: Int) -> Event { Event(kind: .complete, offset: offset) }

    // MARK: Requests

    func testGetWithoutBody() {
        let get = "GET /index.html?lang=en HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
        let result = Self.outcome(get)
        XCTAssertEqual(result.events, [Self.message(get.utf8.count, "GET /index.html?lang=en HTTP/1.1")])
        XCTAssertNil(result.error)
        XCTAssertTrue(result.atBoundary)
        XCTAssertFalse(result.inBody)
        let unfinished = Self.outcome(String(get.dropLast()))
        XCTAssertEqual(unfinished.events, [])
        XCTAssertFalse(unfinished.atBoundary)
        let framer = HTTPFramer(.request)
        XCTAssertEqual(framer.scan(UnsafeRawBufferPointer(start: nil, count: 0)), .needMore(consumed: 0))
        XCTAssertTrue(framer.atBoundary)
        Array("GET / HT".utf8).withUnsafeBytes { XCTAssertEqual(framer.scan($0), .needMore(consumed: 8)) }
        XCTAssertTrue(framer.inHead)
    }

    func testContentLengthBodies() {
        let empty = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(Self.outcome(empty).events, [Self.message(empty.utf8.count, "POST /a HTTP/1.1")])
        let oneHead = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n"
        let one = Self.outcome(oneHead + "x")
        XCTAssertEqual(one.events, [Self.head(oneHead.utf8.count, "POST /b HTTP/1.1"), Self.complete(oneHead.utf8.count + 1)])
        XCTAssertTrue(one.atBoundary)
        let waiting = Self.outcome(oneHead)
        XCTAssertEqual(waiting.events, [Self.head(oneHead.utf8.count, "POST /b HTTP/1.1")])
        XCTAssertTrue(waiting.inBody)
        XCTAssertFalse(waiting.atBoundary)
        // Whitespace around the value is the field's OWS; 18 digits is the most it takes.
        XCTAssertEqual(Self.outcome("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  1 \t\r\n\r\nx").events.count, 2)
        XCTAssertEqual(Self.firstHead("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999999\r\n\r\n").contentLength,
                       999_999_999_999_999_999)
        XCTAssertEqual(Self.firstHead("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n").contentLength, 7)
    }

    /// A 16 MB body goes through a 64 KB buffer 256 times: counted, never held.
    func testLargeDeclaredBodyIsStreamedNotHeld() {
        let put = "PUT /blob HTTP/1.1\r\nHost: h\r\nContent-Length: 16777216\r\n\r\n"
        let next = "GET /after HTTP/1.1\r\nHost: h\r\n\r\n"
        let framer = HTTPFramer(.request)
        Array(put.utf8).withUnsafeBytes { XCTAssertEqual(framer.scan($0), .head(consumed: put.utf8.count)) }
        let headBytes = framer.head.count
        let capacity = framer.head.bytes.capacity
        let block = [UInt8](repeating: UInt8(ascii: "b"), count: 65536)
        for _ in 0..<255 {
            block.withUnsafeBytes { XCTAssertEqual(framer.scan($0), .needMore(consumed: 65536)) }
            XCTAssertTrue(framer.inBody)
        }
        XCTAssertEqual(framer.head.count, headBytes, "the body is not kept")
        XCTAssertEqual(framer.head.bytes.capacity, capacity)
        (block + Array(next.utf8)).withUnsafeBytes { all in
            XCTAssertEqual(framer.scan(all), .complete(consumed: 65536))
            XCTAssertEqual(framer.scan(UnsafeRawBufferPointer(rebasing: all[65536...])), .message(consumed: next.utf8.count))
        }
        XCTAssertEqual(Self.startLine(framer.head), "GET /after HTTP/1.1")
        // Split anywhere, the head and the first bytes of the body.
        let partial = Self.outcome(Array(put.utf8) + block.prefix(3000))
        XCTAssertEqual(partial.events, [Self.head(put.utf8.count, "PUT /blob HTTP/1.1")])
        XCTAssertTrue(partial.inBody)
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        let head = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "5;name=value\r\nhello\r\nA ; a=\"b c\"\r\n0123456789\r\n1f\r\n" + String(repeating: "z", count: 31)
            + "\r\n0;last\r\nX-Trailer: 1\r\nY: two\r\n\r\n"
        let next = "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        let result = Self.outcome(head + body + next)
        let end = head.utf8.count + body.utf8.count
        XCTAssertEqual(result.events, [Self.head(head.utf8.count, "POST /up HTTP/1.1"), Self.complete(end),
                                       Self.message(end + next.utf8.count, "GET / HTTP/1.1")])
        XCTAssertNil(result.error)
        let noTrailers = Self.outcome(head + "3\r\nabc\r\n0\r\n\r\n")
        XCTAssertEqual(noTrailers.events.last, Self.complete(head.utf8.count + 13))
        // The last chunk's size may be written with zeros; the body is not done before its empty line.
        XCTAssertEqual(Self.outcome(head + "000\r\n\r\n").events.count, 2)
        XCTAssertEqual(Self.outcome(head + "0\r\nX: 1\r\n").events.count, 1)
        XCTAssertTrue(Self.outcome(head + "0\r\nX: 1\r\n").inBody)
    }

    func testChunkSizeLimits() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        let fifteen = Self.outcome(head + String(repeating: "f", count: 15) + "\r\nabc")
        XCTAssertNil(fifteen.error, "15 hex digits are a (huge) size")
        XCTAssertTrue(fifteen.inBody)
        Self.assertError(head + String(repeating: "f", count: 16) + "\r\n", 400, "chunk size too large")
        Self.assertError(head + String(repeating: "0", count: 16) + "1\r\n", 400, "chunk size too large")
        var limits = HTTPLimits()
        limits.maxChunkLine = 8
        limits.maxTrailers = 10
        let small = Setup(limits: limits)
        XCTAssertEqual(Self.outcome(head + "1;abcdef\r\nx\r\n0\r\n\r\n", small).events.count, 2)
        Self.assertError(head + "1;abcdefghi\r\n", 400, "malformed chunk extension", small)
        XCTAssertEqual(Self.outcome(head + "0\r\nX: 12345\r\n\r\n", small).events.count, 2, "10 bytes of trailers (LFs not counted)")
        Self.assertError(head + "0\r\nX: 123456\r\n\r\n", 431, "trailers too large", small)
    }

    func testPipelinedRequestsInOneBuffer() {
        let requests = [
            "GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
            "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
            "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "HEAD /d HTTP/1.1\r\nHost: h\r\n\r\n",
            "DELETE /e HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        ]
        let result = Self.outcome(requests.joined())
        XCTAssertEqual(result.events.filter { $0.kind != .head }.count, 5, "five messages")
        XCTAssertEqual(result.events.map(\.kind), [.message, .head, .complete, .head, .complete, .message, .message])
        XCTAssertEqual(result.events.last?.offset, requests.joined().utf8.count)
        XCTAssertEqual(result.events.compactMap { $0.line.isEmpty ? nil : $0.line.split(separator: " ")[1] },
                       ["/a", "/b", "/c", "/d", "/e"])
        XCTAssertTrue(result.atBoundary)
    }

    /// RFC 9112 §2.2: empty lines before a request line are skipped (counted in its `consumed`).
    func testLeadingLineEndsBeforeARequest() {
        let get = "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        XCTAssertEqual(Self.outcome("\r\n\r\n\n" + get).events, [Self.message(5 + get.utf8.count, "GET / HTTP/1.1")])
        let skipped = Self.outcome("\r\n\r\n")
        XCTAssertEqual(skipped.events, [])
        XCTAssertTrue(skipped.atBoundary)
        XCTAssertEqual(Self.outcome(get + "\r\n" + get).events.map(\.offset), [get.utf8.count, 2 * get.utf8.count + 2])
        Self.assertError("\r\nHTTP/1.1 200 OK\r\n\r\n", 502, "empty start line", .response)
    }

    func testKeepAliveByVersionAndConnection() {
        for (fields, version, keepsAlive) in [
            ("", "1.1", true), ("Connection: close\r\n", "1.1", false), ("Connection: keep-alive, CLOSE\r\n", "1.1", false),
            ("", "1.0", false), ("Connection: keep-alive\r\n", "1.0", true), ("Connection: Keep-Alive\r\n", "1.0", true),
            ("Connection: keep-alive\r\nConnection: close\r\n", "1.0", false), ("Connection: upgrade\r\n", "1.0", false),
        ] {
            let request = Self.firstHead("GET / HTTP/\(version)\r\nHost: h\r\n\(fields)\r\n")
            XCTAssertEqual(request.keepsAlive, keepsAlive, "\(version) \(fields.debugDescription)")
            let response = Self.firstHead("HTTP/\(version) 200 OK\r\nContent-Length: 0\r\n\(fields)\r\n", .response)
            XCTAssertEqual(response.keepsAlive, keepsAlive, "response \(version) \(fields.debugDescription)")
        }
        XCTAssertEqual(Self.firstHead("GET / HTTP/1.0\r\n\r\n").minorVersion, 0, "HTTP/1.0 needs no Host")
    }

    func testExpectContinue() {
        let post = "POST /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n"
        XCTAssertTrue(Self.firstHead(post).expectContinue)
        XCTAssertEqual(Self.outcome(post + "hello").events.map(\.kind), [.head, .complete])
        XCTAssertFalse(Self.firstHead("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n").expectContinue)
        XCTAssertFalse(Self.firstHead("POST / HTTP/1.1\r\nHost: h\r\n\r\n").expectContinue)
    }

    func testWebSocketUpgradeRequest() {
        let upgrade = Self.firstHead("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                           + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        XCTAssertTrue(upgrade.isWebSocketUpgrade)
        XCTAssertTrue(upgrade.hasUpgrade)
        XCTAssertTrue(Self.firstHead("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, WebSocket\r\nConnection: upgrade\r\n\r\n").isWebSocketUpgrade)
        let noConnection = Self.firstHead("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertFalse(noConnection.isWebSocketUpgrade)
        XCTAssertTrue(noConnection.hasUpgrade)
        let other = Self.firstHead("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
        XCTAssertFalse(other.isWebSocketUpgrade)
        XCTAssertTrue(other.hasUpgrade)
        XCTAssertFalse(Self.firstHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n").hasUpgrade)
    }

    // MARK: Responses

    func testInterimResponseThenFinal() {
        let interim = "HTTP/1.1 100 Continue\r\n\r\n"
        let early = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        let final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        let result = Self.outcome(interim + early + final + "ok", .response)
        let a = interim.utf8.count, b = a + early.utf8.count, c = b + final.utf8.count
        XCTAssertEqual(result.events, [Self.message(a, "HTTP/1.1 100 Continue"), Self.message(b, "HTTP/1.1 103 Early Hints"),
                                       Self.head(c, "HTTP/1.1 200 OK"), Self.complete(c + 2)])
        // A 1xx has no body, whatever it says, and answers no HEAD either.
        let withLength = "HTTP/1.1 100 Continue\r\nContent-Length: 10\r\n\r\n"
        XCTAssertEqual(Self.outcome(withLength + final + "ok", Setup(side: .response, answersHEAD: true)).events.map(\.kind),
                       [.message, .message])
    }

    func testSwitchingProtocolsBecomesATunnel() {
        let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        let after = "\u{81}\u{05}hello" + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + "\r\n\u{0}garbage"
        let result = Self.outcome(switching + after, .response)
        XCTAssertEqual(result.events, [Self.head(switching.utf8.count, "HTTP/1.1 101 Switching Protocols")])
        XCTAssertNil(result.error)
        XCTAssertTrue(result.isTunnel)
        XCTAssertFalse(result.inBody)
        XCTAssertFalse(result.atBoundary)
    }

    func testConnectAnswers() {
        let established = "HTTP/1.1 200 Connection Established\r\n\r\n"
        let connect = Setup(side: .response, answersCONNECT: true)
        let tunnel = Self.outcome(established + "\u{16}\u{03}\u{01} TLS bytes", connect)
        XCTAssertEqual(tunnel.events, [Self.head(established.utf8.count, "HTTP/1.1 200 Connection Established")])
        XCTAssertTrue(tunnel.isTunnel)
        // A refused CONNECT is an ordinary response; a 200 that answers no CONNECT runs until the close.
        let refused = "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(Self.outcome(refused, connect).events.map(\.kind), [.message])
        let plain = Self.outcome(established + "body", .response)
        XCTAssertFalse(plain.isTunnel)
        XCTAssertTrue(plain.endsAtClose)
    }

    func testResponsesWithoutBody() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        let head = Setup(side: .response, answersHEAD: true)
        XCTAssertEqual(Self.outcome(ok + ok, head).events, [Self.message(ok.utf8.count, "HTTP/1.1 200 OK"),
                                                       Self.message(2 * ok.utf8.count, "HTTP/1.1 200 OK")])
        XCTAssertEqual(Self.outcome("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head).events.map(\.kind), [.message])
        for status in ["204 No Content", "304 Not Modified"] {
            let response = "HTTP/1.1 \(status)\r\nContent-Length: 99\r\n\r\n"
            XCTAssertEqual(Self.outcome(response + response, .response).events.map(\.offset),
                           [response.utf8.count, 2 * response.utf8.count], status)
        }
    }

    func testResponseBodyUntilTheClose() {
        for response in ["HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"] {
            let result = Self.outcome(response + "everything\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", .response)
            XCTAssertEqual(result.events, [Self.head(response.utf8.count, Self.startLineOf(response))], response.debugDescription)
            XCTAssertTrue(result.endsAtClose, response.debugDescription)
            XCTAssertTrue(result.inBody, response.debugDescription)
        }
        let framer = HTTPFramer(.response)
        XCTAssertFalse(framer.endOfStream(), "a close between responses ends nothing")
        Array("HTTP/1.1 200 OK\r\n\r\nabc".utf8).withUnsafeBytes { _ = framer.scan($0) }
        XCTAssertTrue(framer.endOfStream(), "the close ends the body")
        XCTAssertTrue(framer.atBoundary)
        let cut = HTTPFramer(.response)
        Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc".utf8).withUnsafeBytes { _ = cut.scan($0) }
        XCTAssertFalse(cut.endOfStream(), "a close inside a Content-Length body cuts it short")
    }

    func testTransferCodingsBeforeChunked() {
        let response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        let result = Self.outcome(response + "2\r\nab\r\n0\r\n\r\n", .response)
        XCTAssertEqual(result.events, [Self.head(response.utf8.count, "HTTP/1.1 200 OK"), Self.complete(response.utf8.count + 12)])
        let split = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        XCTAssertEqual(Self.outcome(split + "0\r\n\r\n", .response).events.map(\.kind), [.head, .complete])
        XCTAssertEqual(Self.outcome("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").events.count, 2)
        Self.assertError("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
                    "a request body not ending in the chunked transfer coding")
    }

    static func startLineOf(_ message: String) -> String { String(message.prefix { $0 != "\r\n" }) }
}
