@testable import Faultline
import XCTest

/// `RESPCommandFramer` against Redis 7.0's reading of commands: pipelines, inline commands with
/// quotes and escapes, skipped empty commands, each of Redis's protocol error texts, the
/// `.head` rules, and declared sizes that must allocate nothing. Every input is also fed split
/// at every byte position and byte by byte, and must give the same outcome.
final class RESPCommandFramerTests: XCTestCase {
    /// What the framer reported at one point of the input.
    struct Event: Equatable, CustomStringConvertible {
        var complete: Bool
        /// Offset in the whole input just after the event.
        var offset: Int
        var argumentCount: Int
        var inline: Bool
        var arguments: [String]
        var truncated: [Bool]

        var description: String {
            let cut = truncated.contains(true) ? " cut \(truncated)" : ""
            return "\(complete ? "complete" : "head")@\(offset)(\(argumentCount)\(inline ? " inline" : ""): \(arguments)\(cut))"
        }
    }

    struct Outcome: Equatable {
        var events: [Event] = []
        var error: String?
        var atBoundary = false
    }

    /// Feeds `input` in the given chunks, checking each scan's `consumed`.
    static func run(_ input: [UInt8], _ chunks: [Range<Int>], limits: RESPLimits = RESPLimits()) -> Outcome {
        let framer = RESPCommandFramer(limits: limits)
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
                    case .head(let consumed), .complete(let consumed):
                        XCTAssert(consumed > 0 && consumed <= rest.count, "\(result) of \(rest.count) bytes")
                        guard consumed > 0 && consumed <= rest.count else { return }
                        start += consumed
                        if case .complete = result { XCTAssert(framer.atBoundary) }
                        let complete = result == .complete(consumed: consumed)
                        outcome.events.append(snapshot(framer.command, complete: complete, offset: start))
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

    static func snapshot(_ command: RESPCommand, complete: Bool, offset: Int) -> Event {
        let indexes = 0..<command.capturedCount
        return Event(complete: complete, offset: offset, argumentCount: command.argumentCount, inline: command.inline,
                     arguments: indexes.map { String(decoding: command.argument($0) ?? [], as: UTF8.self) },
                     truncated: indexes.map { command.isTruncated($0) })
    }

    /// The outcome of `input`, the same however it is split.
    @discardableResult
    private func outcome(_ input: String, limits: RESPLimits = RESPLimits(), file: StaticString = #filePath,
                         line: UInt = #line) -> Outcome {
        outcome(Array(input.utf8), limits: limits, file: file, line: line)
    }

    @discardableResult
    private func outcome(_ input: [UInt8], limits: RESPLimits = RESPLimits(), positions: [Int]? = nil,
                         file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        assertSameOutcomeSplitAnywhere(input, positions: positions, file: file, line: line) {
            Self.run(input, $0, limits: limits)
        }
    }

    private func complete(_ offset: Int, _ arguments: [String], inline: Bool = false) -> Event {
        Event(complete: true, offset: offset, argumentCount: arguments.count, inline: inline, arguments: arguments,
              truncated: arguments.map { _ in false })
    }

    private func assertError(_ input: String, _ message: String, limits: RESPLimits = RESPLimits(),
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(outcome(input, limits: limits, file: file, line: line).error, message, input.debugDescription,
                       file: file, line: line)
    }

    // MARK: Framing

    func testPipelinedCommandsEachComplete() {
        let input = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\nPING\r\n*3\r\n$3\r\nSET\r\n$0\r\n\r\n$2\r\nv\n\r\n"
        let result = outcome(input)
        XCTAssertEqual(result.events, [
            complete(20, ["GET", "k"]),
            complete(34, ["PING"]),
            complete(40, ["PING"], inline: true),
            complete(67, ["SET", "", "v\n"]),
        ])
        XCTAssertNil(result.error)
        XCTAssertTrue(result.atBoundary)
    }

    func testUnfinishedCommandNeedsMore() {
        let result = outcome("*2\r\n$3\r\nGET\r\n$1\r\nk\r")
        XCTAssertEqual(result.events, [])
        XCTAssertFalse(result.atBoundary)
        let framer = RESPCommandFramer()
        XCTAssertEqual(framer.scan(UnsafeRawBufferPointer(start: nil, count: 0)), .needMore(consumed: 0))
        XCTAssertTrue(framer.atBoundary)
    }

    func testEmptyCommandsAndBlankLinesAreSkipped() {
        let result = outcome("*0\r\n*-1\r\n*-5\r\n\r\n\n  \t\r\n*1\r\n$4\r\nPING\r\n")
        XCTAssertEqual(result.events, [complete(36, ["PING"])])
        let skipped = outcome("*0\r\n\r\n")
        XCTAssertEqual(skipped.events, [])
        XCTAssertTrue(skipped.atBoundary, "a skipped command leaves the framer between commands")
    }

    // MARK: Inline commands

    func testInlineQuotesAndEscapes() {
        let input = #"SET "a b" 'c\'d' "\x41\n\q\"" x'y z'"# + "\t\"\\x4g\" \"\\xZZ\" 'a\\b' \"\\x4\"\r\n"
        XCTAssertEqual(outcome(input).events.first?.arguments,
                       ["SET", "a b", "c'd", "A\nq\"", "xy z", "x4g", "xZZ", "a\\b", "x4"])
        XCTAssertEqual(outcome("GET  key\r\n").events, [complete(10, ["GET", "key"], inline: true)])
        XCTAssertEqual(outcome("GET key\n").events.first?.arguments, ["GET", "key"], "\\n alone ends a line")
        XCTAssertEqual(outcome("\u{0B}GET a\u{0B}b\r\n").events.first?.arguments, ["GET", "a\u{0B}b"],
                       "\\v is skipped between arguments but does not end one")
        XCTAssertEqual(outcome("GET a\rb\r\n").events.first?.arguments, ["GET", "a", "b"], "a \\r inside the line is a blank")
        XCTAssertEqual(outcome("GET \"a\r\"\r\n").events.first?.arguments, ["GET", "a\r"], "only the last \\r is dropped")
        XCTAssertEqual(outcome("ECHO \"\"\r\n").events.first?.arguments, ["ECHO", ""])
    }

    /// Redis finds line ends with strchr, which stops at a NUL: a line holding one never ends,
    /// and is refused as too big once past maxInline.
    func testNULMakesALineEndless() {
        var limits = RESPLimits()
        limits.maxInline = 16
        let nul = "\u{0}"
        // Each line starts at `start` and runs on past its 16 bytes: then, not before, the error.
        for (start, input, message) in [
            (0, "GET a\(nul)b\r\nPING\r\nPING\r\n", "Protocol error: too big inline request"),
            (0, "*1\(nul)\r\n$4\r\nPING\r\nPING\r\n", "Protocol error: too big mbulk count string"),
            (4, "*1\r\n$4\(nul)\r\nPING\r\nPING\r\n", "Protocol error: too big bulk count string"),
            (4, "*1\r\nX\(nul)" + String(repeating: "\r\n", count: 8), "Protocol error: too big bulk count string"),
        ] {
            assertError(input, message, limits: limits)
            let unfinished = outcome(Array(input.utf8.prefix(start + 16)), limits: limits)
            XCTAssertEqual(unfinished.events, [], input.debugDescription)
            XCTAssertNil(unfinished.error, input.debugDescription)
        }
        XCTAssertEqual(outcome(Array("*1\r\n$3\r\na".utf8) + [0] + Array("b\r\n".utf8)).events.first?.arguments, ["a\u{0}b"],
                       "a payload is binary")
    }

    func testInlineUnbalancedQuotes() {
        for input in ["GET \"a\r\n", "GET 'a\r\n", "GET \"a\"b\r\n", "GET 'a'b\r\n", "GET \"a\\\r\n", "GET \"\\x\r\n",
                      "GET \"\\x4\r\n", "GET 'a\\\r\n", "\"a\"\"b\"\r\n"] {
            assertError(input, "Protocol error: unbalanced quotes in request")
        }
    }

    func testInlineHeadAfterCaptureArguments() {
        var limits = RESPLimits()
        limits.captureArguments = 3
        let result = outcome("MSET a b c d e\r\n", limits: limits)
        XCTAssertEqual(result.events.map(\.description), [
            "head@10(4 inline: [\"MSET\", \"a\", \"b\"])", "complete@16(6 inline: [\"MSET\", \"a\", \"b\"])",
        ])
    }

    func testInlineArgumentsAreCutToCaptureBytes() {
        var limits = RESPLimits()
        limits.captureBytes = 4
        let event = outcome("ECHO \"abcdef\" abcd\r\n", limits: limits).events.first
        XCTAssertEqual(event?.arguments, ["ECHO", "abcd", "abcd"])
        XCTAssertEqual(event?.truncated, [false, true, false])
    }

    // MARK: Protocol errors, with Redis's texts

    func testMultibulkLengthErrors() {
        for input in ["*abc\r\n", "*2147483648\r\n", "*99999999999999999999\r\n", "*01\r\n", "*-0\r\n", "*+1\r\n",
                      "*\r\n", "*1\rX", "*1 \r\n"] {
            assertError(input, "Protocol error: invalid multibulk length")
        }
        XCTAssertEqual(outcome("*2147483647\r\n").events, [], "INT_MAX itself is allowed")
    }

    func testBulkErrors() {
        assertError("*1\r\nX3\r\n", "Protocol error: expected '$', got 'X'")
        assertError("*1\r\n\r\n", "Protocol error: expected '$', got ' '")
        assertError("*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'")
        for input in ["*1\r\n$-1\r\n", "*1\r\n$abc\r\n", "*1\r\n$\r\n", "*1\r\n$536870913\r\n", "*1\r\n$1\rX",
                      "*1\r\n$3\r\nabcX", "*1\r\n$3\r\nabc\rX", "*1\r\n$3\r\nabcd\r\n", "*1\r\n$03\r\nabc\r\n"] {
            assertError(input, "Protocol error: invalid bulk length")
        }
    }

    func testLinesLongerThanMaxInline() {
        var limits = RESPLimits()
        limits.maxInline = 16
        let sixteen = String(repeating: "1", count: 15)
        XCTAssertNil(outcome("*\(sixteen)", limits: limits).error, "16 bytes without \\r wait for more")
        assertError("*\(sixteen)1", "Protocol error: too big mbulk count string", limits: limits)
        assertError("*1\r\n$\(sixteen)1", "Protocol error: too big bulk count string", limits: limits)
        assertError("*1\r\nX\(sixteen)1", "Protocol error: too big bulk count string", limits: limits)
        XCTAssertEqual(outcome("GET \(String(repeating: "k", count: 11))\r\n", limits: limits).events.count, 1,
                       "16 bytes with the \\r, then \\n")
        assertError("GET \(String(repeating: "k", count: 12))\r\n", "Protocol error: too big inline request", limits: limits)
        assertError("GET \"\(String(repeating: "k", count: 20))", "Protocol error: too big inline request", limits: limits)
        // Redis's own size, whole and at a few cuts.
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024 + 1)
        XCTAssertEqual(outcome(long, positions: [1, 4096, 65536]).error, "Protocol error: too big inline request")
        XCTAssertNil(outcome(Array(long.dropLast()), positions: [1, 65535]).error)
    }

    func testErrorIsSticky() {
        let framer = RESPCommandFramer()
        let error = CommandScan.error(RESPError(message: "Protocol error: invalid multibulk length"))
        Array("*x\r\n".utf8).withUnsafeBytes { XCTAssertEqual(framer.scan($0), error) }
        Array("*1\r\n$4\r\nPING\r\n".utf8).withUnsafeBytes { XCTAssertEqual(framer.scan($0), error) }
        XCTAssertFalse(framer.atBoundary)
    }

    // MARK: Declared sizes allocate nothing

    func testHugeDeclaredCountsAllocateNothing() {
        for input in ["*2147483647\r\n", "*1\r\n$536870912\r\n", "*2147483647\r\n$536870912\r\n"] {
            let framer = RESPCommandFramer()
            let before = framer.command.storageCapacity
            var results: [CommandScan] = []
            Array(input.utf8).withUnsafeBytes { bytes in
                var rest = bytes
                while true {
                    let result = framer.scan(rest)
                    results.append(result)
                    guard case .head(let consumed) = result else { break }
                    rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                }
            }
            XCTAssertEqual(results.last, .needMore(consumed: results.count == 1 ? input.utf8.count : 0), input)
            XCTAssertLessThanOrEqual(framer.command.storageCapacity, max(before, 8192), input)
            XCTAssertEqual(framer.command.argumentCount, input.hasPrefix("*1\r\n") ? 1 : 2147483647)
        }
        let result = outcome("*1\r\n$536870912\r\n")
        XCTAssertEqual(result.events.map(\.description), ["head@16(1: [])"], "a huge value is worth deciding on")
    }

    func testExtremeLimitsDoNotTrap() {
        var huge = RESPLimits()
        (huge.maxDepth, huge.maxBulk, huge.maxArguments, huge.maxInline) = (.max, .max, .max, .max)
        (huge.captureArguments, huge.captureBytes, huge.decideAfter) = (.max, .max, .max)
        XCTAssertEqual(outcome("*1\r\n$3\r\nGET\r\nPING\r\n", limits: huge).events.count, 2)
        var none = RESPLimits()
        (none.maxDepth, none.maxBulk, none.maxArguments, none.maxInline) = (-1, -1, -1, -1)
        (none.captureArguments, none.captureBytes, none.decideAfter) = (-1, -1, -1)
        XCTAssertEqual(outcome("*1\r\n", limits: none).error, "Protocol error: too big mbulk count string")
        XCTAssertEqual(outcome("P", limits: none).error, "Protocol error: too big inline request")
        XCTAssertEqual(RESPReplyFramerTests.run(Array("*1\r\n:1\r\n".utf8), [0..<8], limits: huge).replies.count, 1)
        XCTAssertNotNil(RESPReplyFramerTests.run(Array("+OK\r\n".utf8), [0..<5], limits: none).error)
    }

    // MARK: .head

    func testHeadBeforeALargeValue() {
        let value = [UInt8](repeating: UInt8(ascii: "v"), count: 1 << 20)
        let header = Array("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1048576\r\n".utf8)
        let input = header + value + Array("\r\n*1\r\n$4\r\nPING\r\n".utf8)
        let positions = [1, 5, header.count - 1, header.count, header.count + 1, header.count + 1023,
                         header.count + 1024, header.count + 1025, header.count + 70_000, input.count - 15, input.count - 1]
        let result = outcome(input, positions: positions)
        let cut = String(repeating: "v", count: 1024)
        XCTAssertEqual(result.events, [
            Event(complete: false, offset: header.count, argumentCount: 3, inline: false, arguments: ["SET", "key"],
                  truncated: [false, false]),
            Event(complete: true, offset: header.count + value.count + 2, argumentCount: 3, inline: false,
                  arguments: ["SET", "key", cut], truncated: [false, false, true]),
            complete(input.count, ["PING"]),
        ])
    }

    func testHeadAfterCaptureArgumentsWhenMoreFollow() {
        let argument = "$1\r\nx\r\n"
        let input = "*100\r\n" + String(repeating: argument, count: 100)
        let result = outcome(input)
        XCTAssertEqual(result.events.count, 2)
        XCTAssertEqual(result.events.first?.complete, false)
        XCTAssertEqual(result.events.first?.offset, 6 + 64 * argument.utf8.count)
        XCTAssertEqual(result.events.first?.arguments.count, 64)
        XCTAssertEqual(result.events.last?.offset, input.utf8.count)
        XCTAssertEqual(result.events.last?.argumentCount, 100)
        XCTAssertEqual(result.events.last?.arguments.count, 64)
        let exactly = "*64\r\n" + String(repeating: argument, count: 64)
        XCTAssertEqual(outcome(exactly).events.map(\.complete), [true], "no more follow: no head")
    }

    func testHeadWhenTheCommandOutgrowsDecideAfter() {
        var limits = RESPLimits()
        limits.decideAfter = 100
        let argument = "$20\r\n" + String(repeating: "a", count: 20) + "\r\n"  // 27 bytes
        let input = "*5\r\n" + String(repeating: argument, count: 5)
        let result = outcome(input, limits: limits)
        let a20 = String(repeating: "a", count: 20)
        // 4 + 3 × 27 = 85 bytes, then byte 101 is the 11th of the fourth argument's payload.
        XCTAssertEqual(result.events, [
            Event(complete: false, offset: 101, argumentCount: 5, inline: false, arguments: [a20, a20, a20],
                  truncated: [false, false, false]),
            complete(139, [a20, a20, a20, a20, a20]),
        ])
    }

    // MARK: Names

    func testNamesCompareIgnoringASCIICase() {
        var limits = RESPLimits()
        limits.captureBytes = 3
        let framer = RESPCommandFramer(limits: limits)
        let input = Array("*3\r\n$3\r\ngEt\r\n$1\r\n|\r\n$4\r\nABCD\r\n".utf8)
        let result = input.withUnsafeBytes { framer.scan($0) }
        XCTAssertEqual(result, .complete(consumed: input.count))
        let command = framer.command
        XCTAssertTrue(command.isNamed("GET"))
        XCTAssertFalse(command.isNamed("GE"))
        XCTAssertFalse(command.isNamed("GETS"))
        XCTAssertTrue(command.argumentEquals(1, caseInsensitive: "|"))
        XCTAssertFalse(command.argumentEquals(1, caseInsensitive: "\\"), "only letters fold")
        XCTAssertFalse(command.argumentEquals(2, caseInsensitive: "ABC"), "a cut argument equals nothing")
        XCTAssertTrue(command.isTruncated(2))
        XCTAssertFalse(command.argumentEquals(3, caseInsensitive: "X"))
        XCTAssertNil(command.argument(3))
    }

    // MARK: Speed

    func testThroughputOfPipelinedGets() {
        let one = Array("*2\r\n$3\r\nGET\r\n$10\r\nkey:000001\r\n".utf8)
        let count = 100_000
        var input: [UInt8] = []
        input.reserveCapacity(one.count * count)
        for _ in 0..<count { input += one }
        let framer = RESPCommandFramer()
        var completed = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            input.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    let result = framer.scan(UnsafeRawBufferPointer(rebasing: all[start...]))
                    guard case .complete(let consumed) = result else { break }
                    if framer.command.isNamed("GET") { completed += 1 }
                    start += consumed
                }
            }
        }
        XCTAssertEqual(completed, count)
        let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
        let rate = Double(count) / seconds
        let megabytes = Int(Double(input.count) / seconds / 1e6)
        print("RESP command framing: \(Int(rate)) commands/s, \(megabytes) MB/s (\(count) pipelined GETs in \(elapsed))")
        XCTAssertGreaterThan(rate, 10_000, "even a debug build frames more than this")
    }
}
