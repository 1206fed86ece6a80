@testable import Faultline
import XCTest

/// `RESPReplyFramer` against every RESP2 and RESP3 type: simple lines, length-prefixed strings,
/// RESP2 nulls, aggregates, attributes before values at any depth, streamed strings and
/// aggregates, the nesting limit, push and error detection, and server garbage. Every input is
/// also fed split at every byte position and byte by byte, and must give the same outcome.
final class RESPReplyFramerTests: XCTestCase {
    /// One completed top-level reply.
    struct Reply: Equatable, CustomStringConvertible {
        var offset: Int
        var kind: ReplyKind
        var errorText: String

        var description: String { "\(kind)@\(offset)\(errorText.isEmpty ? "" : " \(errorText.debugDescription)")" }
    }

    struct Outcome: Equatable {
        var replies: [Reply] = []
        var error: String?
        var atBoundary = false
    }

    static func run(_ input: [UInt8], _ chunks: [Range<Int>], limits: RESPLimits = RESPLimits()) -> Outcome {
        let framer = RESPReplyFramer(limits: limits)
        var outcome = Outcome()
        input.withUnsafeBytes { all in
            for chunk in chunks {
                var start = chunk.lowerBound
                scanning: while true {
                    let rest = UnsafeRawBufferPointer(rebasing: all[start..<chunk.upperBound])
                    switch framer.scan(rest) {
                    case .needMore(let consumed):
                        XCTAssertEqual(consumed, rest.count, "needMore consumes everything")
                        break scanning
                    case .complete(let consumed):
                        XCTAssert(consumed > 0 && consumed <= rest.count, "complete(\(consumed)) of \(rest.count) bytes")
                        guard consumed > 0 && consumed <= rest.count else { return }
                        start += consumed
                        XCTAssertTrue(framer.atBoundary)
                        outcome.replies.append(Reply(offset: start, kind: framer.kind,
                                                     errorText: String(decoding: framer.errorText, as: UTF8.self)))
                    case .error(let error):
                        outcome.error = error.message
                        XCTAssertEqual(framer.scan(rest), .error(error), "the error is sticky")
                        return
                    }
                }
            }
            outcome.atBoundary = framer.atBoundary
        }
        return outcome
    }

    @discardableResult
    private func outcome(_ input: String, limits: RESPLimits = RESPLimits(), file: StaticString = #filePath,
                         line: UInt = #line) -> Outcome {
        let bytes = Array(input.utf8)
        return assertSameOutcomeSplitAnywhere(bytes, file: file, line: line) { Self.run(bytes, $0, limits: limits) }
    }

    /// `input` is exactly one whole reply of `kind`.
    private func assertOneReply(_ input: String, _ kind: ReplyKind = .other, errorText: String = "",
                                file: StaticString = #filePath, line: UInt = #line) {
        let result = outcome(input, file: file, line: line)
        XCTAssertEqual(result.replies, [Reply(offset: input.utf8.count, kind: kind, errorText: errorText)],
                       input.debugDescription, file: file, line: line)
        XCTAssertNil(result.error, input.debugDescription, file: file, line: line)
        XCTAssertTrue(result.atBoundary, file: file, line: line)
        // One byte short is not a reply yet.
        let short = Array(input.utf8.dropLast())
        let partial = Self.run(short, [0..<short.count])
        XCTAssertEqual(partial.replies, [], input.debugDescription, file: file, line: line)
        XCTAssertNil(partial.error, input.debugDescription, file: file, line: line)
    }

    private func assertGarbage(_ input: String, _ message: String, limits: RESPLimits = RESPLimits(),
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(outcome(input, limits: limits, file: file, line: line).error, message, input.debugDescription,
                       file: file, line: line)
    }

    // MARK: Types

    func testSimpleTypes() {
        for input in ["+OK\r\n", "+\r\n", ":0\r\n", ":-42\r\n", ":9223372036854775807\r\n", ":-9223372036854775808\r\n",
                      "_\r\n", "#t\r\n", "#f\r\n", ",3.14\r\n", ",-inf\r\n", ",nan\r\n",
                      "(3492890328409238509324850943850943825024385\r\n", "(-1\r\n"] {
            assertOneReply(input)
        }
    }

    func testLengthPrefixedStrings() {
        assertOneReply("$5\r\nhello\r\n")
        assertOneReply("$0\r\n\r\n")
        assertOneReply("$4\r\na\r\nb\r\n", .other)
        assertOneReply("=15\r\ntxt:Some string\r\n")
        assertOneReply("=4\r\nmkd:\r\n")
        assertOneReply("!21\r\nSYNTAX invalid syntax\r\n", .error, errorText: "SYNTAX invalid syntax")
    }

    func testRESP2Nulls() {
        assertOneReply("$-1\r\n")
        assertOneReply("*-1\r\n")
        assertOneReply("*2\r\n$-1\r\n*-1\r\n")
    }

    func testAggregates() {
        assertOneReply("*2\r\n:1\r\n$3\r\nfoo\r\n")
        assertOneReply("*0\r\n")
        assertOneReply("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n")
        assertOneReply("%0\r\n")
        assertOneReply("~3\r\n+a\r\n:1\r\n#f\r\n")
        assertOneReply("*3\r\n*1\r\n*0\r\n%1\r\n~0\r\n*1\r\n_\r\n-ERR inner\r\n")
    }

    func testPushes() {
        assertOneReply(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", .push)
        assertOneReply("|1\r\n+a\r\n+b\r\n>2\r\n+x\r\n+y\r\n", .push)
        assertOneReply("*1\r\n>1\r\n+x\r\n", .other)
    }

    func testAttributes() {
        // The specification's example: an attribute, then the array it describes.
        assertOneReply("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
                       + "*2\r\n:2039123\r\n:9543892\r\n")
        assertOneReply("*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n")
        assertOneReply("|0\r\n+OK\r\n")
        // Attributes inside an attribute, on its key and its value; then two on the reply itself.
        assertOneReply("|1\r\n|1\r\n+a\r\n+b\r\n+c\r\n|1\r\n+d\r\n+e\r\n-ERR x\r\n|0\r\n|1\r\n+f\r\n+g\r\n-ERR top\r\n",
                       .error, errorText: "ERR top")
        assertOneReply("%1\r\n|1\r\n+a\r\n+b\r\n+k\r\n|1\r\n+a\r\n+b\r\n+v\r\n")
        assertOneReply("*?\r\n|1\r\n+a\r\n+b\r\n:1\r\n.\r\n")
        let attributeOnly = outcome("|1\r\n+a\r\n+b\r\n")
        XCTAssertEqual(attributeOnly.replies, [], "an attribute alone is no reply: its value follows")
        XCTAssertFalse(attributeOnly.atBoundary)
    }

    func testStreamedStringsAndAggregates() {
        assertOneReply("$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n")
        assertOneReply("$?\r\n;0\r\n")
        assertOneReply("*?\r\n:1\r\n:2\r\n.\r\n")
        assertOneReply("*?\r\n.\r\n")
        assertOneReply("%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n")
        assertOneReply("~?\r\n*?\r\n.\r\n$?\r\n;1\r\nx\r\n;0\r\n.\r\n")
        assertOneReply(">?\r\n+message\r\n.\r\n", .push)
    }

    func testPipelinedReplies() {
        let result = outcome("+OK\r\n:1\r\n-NOAUTH Authentication required.\r\n>1\r\n+x\r\n$1\r\nz\r\n")
        XCTAssertEqual(result.replies.map(\.description), [
            "other@5", "other@9", "error@43 \"NOAUTH Authentication required.\"", "push@51", "other@58",
        ])
    }

    // MARK: Errors

    func testErrorTextAndPrefix() {
        let text = "WRONGPASS invalid username-password pair or user is disabled."
        let framer = RESPReplyFramer()
        let input = Array("-\(text)\r\n+OK".utf8)
        XCTAssertEqual(input.withUnsafeBytes { framer.scan($0) }, .complete(consumed: text.utf8.count + 3))
        XCTAssertEqual(framer.kind, .error)
        XCTAssertEqual(Array(framer.errorText), Array(text.utf8.prefix(64)))
        XCTAssertEqual(framer.errorPrefix, "WRONGPASS")
        // The next reply starts: the error is gone.
        XCTAssertEqual(Array(input[(text.utf8.count + 3)...]).withUnsafeBytes { framer.scan($0) }, .needMore(consumed: 3))
        XCTAssertEqual(framer.kind, .other)
        XCTAssertEqual(framer.errorText, [])
        XCTAssertEqual(framer.errorPrefix, "")

        let long = String(repeating: "E", count: 100)
        assertOneReply("!100\r\n\(long)\r\n", .error, errorText: String(long.prefix(64)))
        assertOneReply("-ERR\r\n", .error, errorText: "ERR")
        assertOneReply("*1\r\n-ERR nested\r\n", .other)
    }

    func testNestingLimit() {
        let deepest = String(repeating: "*1\r\n", count: 128) + ":1\r\n"
        assertOneReply(deepest)
        assertGarbage(String(repeating: "*1\r\n", count: 129), "reply nesting deeper than 128")
        assertGarbage(String(repeating: "|1\r\n", count: 129), "reply nesting deeper than 128")
        assertGarbage(String(repeating: "*?\r\n", count: 128) + "%0\r\n", "reply nesting deeper than 128")
        var limits = RESPLimits()
        limits.maxDepth = 2
        assertGarbage("*1\r\n*1\r\n*1\r\n:1\r\n", "reply nesting deeper than 2", limits: limits)
    }

    func testGarbage() {
        let cases = [
            ("A\r\n", "invalid reply type byte 0x41 at depth 0"),
            ("*1\r\n\u{01}\r\n", "invalid reply type byte 0x01 at depth 1"),
            (":abc\r\n", "invalid integer reply"),
            (":\r\n", "invalid integer reply"),
            (":9223372036854775808\r\n", "invalid integer reply"),
            (":007\r\n", "invalid integer reply"),
            ("_a\r\n", "null reply '_' has content"),
            ("#x\r\n", "boolean reply is neither '#t' nor '#f'"),
            ("#tt\r\n", "boolean reply is neither '#t' nor '#f'"),
            (",\r\n", "empty double reply"),
            ("(\r\n", "invalid big number reply"),
            ("(-\r\n", "invalid big number reply"),
            ("(12a\r\n", "invalid big number reply"),
            ("+OK\rX", "reply line has CR without LF"),
            ("$-2\r\n", "'$' length -2 out of range"),
            ("$x\r\n", "invalid '$' length"),
            ("!-1\r\n", "'!' length -1 out of range"),
            ("!?\r\n", "invalid '!' length"),
            ("$536870913\r\n", "'$' length 536870913 out of range"),
            ("=3\r\nabc\r\n", "verbatim string shorter than its format"),
            ("=4\r\ntxtX\r\n", "verbatim string without ':' after its 3-byte format"),
            ("=5\r\nmkd;x\r\n", "verbatim string without ':' after its 3-byte format"),
            ("$3\r\nabcd", "payload not followed by CRLF"),
            ("$3\r\nabc\rX", "payload not followed by CRLF"),
            ("%-1\r\n", "'%' length -1 out of range"),
            ("~-1\r\n", "'~' length -1 out of range"),
            ("*-2\r\n", "'*' length -2 out of range"),
            ("%4611686018427387904\r\n", "'%' length 4611686018427387904 out of range"),
            ("|?\r\n", "invalid '|' length"),
            ("*x\r\n", "invalid '*' length"),
            (".\r\n", "unexpected end marker '.' at depth 0"),
            ("*1\r\n.\r\n", "unexpected end marker '.' at depth 1"),
            ("*?\r\n.x\r\n", "end marker '.' has content"),
            ("%?\r\n+a\r\n.\r\n", "unexpected end marker '.' at depth 1"),
            ("*?\r\n|1\r\n+a\r\n+b\r\n.\r\n", "unexpected end marker '.' at depth 1"),
            ("$?\r\nX", "streamed string chunk starts with 0x58, not ';'"),
            ("$?\r\n;-1\r\n", "invalid streamed string chunk length"),
            ("$?\r\n;2\r\nabc", "payload not followed by CRLF"),
        ]
        for (input, message) in cases { assertGarbage(input, message) }
    }

    func testLongLines() {
        var limits = RESPLimits()
        limits.maxInline = 8
        XCTAssertNil(outcome("+12345678\r\n", limits: limits).error)
        assertGarbage("+123456789", "reply line longer than 8 bytes", limits: limits)
        assertGarbage(":123456789", "reply line longer than 8 bytes", limits: limits)
    }

    func testHugeDeclaredLengthsWaitWithoutHolding() {
        XCTAssertEqual(outcome("$536870912\r\n").replies, [])
        XCTAssertEqual(outcome("*9223372036854775807\r\n:1\r\n").replies, [])
        XCTAssertEqual(outcome("%4611686018427387903\r\n").error, nil)
    }

    func testThroughputOfPipelinedReplies() {
        let one = Array("$10\r\nvalue:0001\r\n".utf8)
        let count = 100_000
        let input = Array([[UInt8]](repeating: one, count: count).joined())
        let framer = RESPReplyFramer()
        var completed = 0
        let elapsed = ContinuousClock().measure {
            input.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    let result = framer.scan(UnsafeRawBufferPointer(rebasing: all[start...]))
                    guard case .complete(let consumed) = result else { break }
                    completed += 1
                    start += consumed
                }
            }
        }
        XCTAssertEqual(completed, count)
        let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
        print("RESP reply framing: \(Int(Double(count) / seconds)) replies/s (\(count) pipelined bulk replies in \(elapsed))")
    }
}
