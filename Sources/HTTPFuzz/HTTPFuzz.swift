@testable import Faultline

/// What libFuzzer runs on each input (`scripts/fuzz http`; main.swift passes it to libFuzzer's
/// driver, and it is also exported under libFuzzer's usual name). The first three bytes set the
/// run up, the rest is the stream:
/// - byte 0: bit 0 the side (requests, or responses), bit 1 HTTP's limits or tiny ones (so short
///   inputs reach every limit), bit 2 `answersCONNECT` for every response, bits 4–7 the chunk
///   size (1–16) of the split run;
/// - byte 1: where the split run makes its first cut;
/// - byte 2: `answersHEAD` for the nth response (bit n % 8), set between messages.
/// The stream goes to `HTTPFramer` whole, and cut at that point with the rest in chunks of that
/// size: both runs must agree, message by message, on every head's reading and on the error,
/// and every scan must keep the framer's promises. The stream also goes to `WebSocketFramer`
/// the same two ways, and its first bytes become a `closeFrame` reason. A broken promise traps,
/// which libFuzzer reports as a crash and saves.
@_cdecl("LLVMFuzzerTestOneInput")
public func httpFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    guard input.count >= 3 else { return 0 }
    let setup = HTTPFuzzRun.Setup(input)
    let stream = UnsafeRawBufferPointer(rebasing: input[3...])
    let plans = HTTPFuzzRun.plans(count: stream.count, cut: Int(input[1]), chunk: 1 + Int(input[0] >> 4))
    let whole = HTTPFuzzRun.http(stream, plans[0], setup)
    let frames = HTTPFuzzRun.webSocket(stream, plans[0])
    for plan in plans.dropFirst() {
        let split = HTTPFuzzRun.http(stream, plan, setup)
        check(split == whole, "HTTP framer: whole gave \(whole), split at \(plan.prefix(4))… gave \(split)")
        check(HTTPFuzzRun.webSocket(stream, plan) == frames, "WebSocket framer: runs split differently disagree")
    }
    HTTPFuzzRun.closeFrame(stream)
    return 0
}

/// Traps with `message` unless `condition` holds: libFuzzer catches the trap as a crash.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// What came of one run, to compare runs: each event as a few numbers (what it was, where, and
/// a hash of the head's reading), then the error and the final state.
struct HTTPFuzzLog: Equatable {
    var events: [Int] = []
    var error: HTTPError?
    var final: [Bool] = []
}

enum HTTPFuzzRun {
    struct Setup {
        var side: HTTPFramer.Side
        var limits: HTTPLimits
        var answersCONNECT: Bool
        var headMask: UInt8

        init(_ input: UnsafeRawBufferPointer) {
            side = input[0] & 1 == 0 ? .request : .response
            limits = input[0] & 2 == 0 ? .standard : tiny
            answersCONNECT = input[0] & 4 != 0
            headMask = input[2]
        }
    }

    /// Limits small enough that a few hundred bytes cross each of them.
    static let tiny: HTTPLimits = {
        var limits = HTTPLimits()
        limits.maxHead = 200
        limits.maxHeaders = 6
        limits.maxChunkLine = 12
        limits.maxTrailers = 40
        return limits
    }()

    /// Chunk ends for two runs: whole, and cut at `cut` with the rest in chunks of `chunk` bytes.
    static func plans(count: Int, cut: Int, chunk: Int) -> [[Int]] {
        guard count > 1 else { return [[count]] }
        let first = 1 + cut % (count - 1)
        return [[count], Array(stride(from: first, to: count, by: chunk)) + [count]]
    }

    static func http(_ input: UnsafeRawBufferPointer, _ ends: [Int], _ setup: Setup) -> HTTPFuzzLog {
        let framer = HTTPFramer(setup.side, limits: setup.limits)
        framer.answersCONNECT = setup.answersCONNECT
        var messages = 0
        framer.answersHEAD = setup.headMask & 1 != 0
        var log = HTTPFuzzLog()
        var start = 0
        for end in ends {
            scanning: while true {
                let rest = UnsafeRawBufferPointer(rebasing: input[start..<end])
                let result = framer.scan(rest)
                switch result {
                case .needMore(let consumed):
                    check(consumed == rest.count, "needMore(\(consumed)) of \(rest.count) bytes")
                    check(framer.failed == nil, "needMore from a failed framer")
                    start = end
                    break scanning
                case .head(let consumed), .message(let consumed), .complete(let consumed):
                    check(consumed > 0 && consumed <= rest.count, "\(result) of \(rest.count) bytes")
                    start += consumed
                    var kind = 3
                    if case .head = result {
                        kind = 1
                        check(!framer.atBoundary && (framer.inBody || framer.isTunnel), "a head without a body to read")
                        check(framer.isTunnel == false || setup.side == .response, "a request side tunnel")
                    } else {
                        if case .message = result { kind = 2 }
                        check(framer.atBoundary && !framer.inBody && !framer.isTunnel, "\(result) but not at a boundary")
                        messages += 1
                        framer.answersHEAD = setup.headMask >> (messages % 8) & 1 != 0
                    }
                    log.events += [kind, start, kind == 3 ? 0 : reading(framer.head, setup)]
                case .error(let error):
                    check(framer.failed == error, "failed is not the error")
                    check(framer.scan(rest) == result, "error not sticky")
                    check(framer.scan(UnsafeRawBufferPointer(start: nil, count: 0)) == result, "error not sticky when empty")
                    check(!framer.atBoundary && !framer.isTunnel, "a failed framer claims a boundary or a tunnel")
                    check([400, 431, 501, 502, 505].contains(error.status), "status \(error.status)")
                    log.error = error
                    return log
                }
            }
        }
        log.final = [framer.atBoundary, framer.inBody, framer.isTunnel, framer.endsAtClose, framer.inHead,
                     framer.endOfStream(), framer.atBoundary]
        return log
    }

    /// A hash of what the head says, checking on the way that it says nothing a sound head
    /// cannot, and that parsing it again reads the same.
    static func reading(_ head: HTTPHead, _ setup: Setup) -> Int {
        let request = setup.side == .request
        check(head.count <= setup.limits.maxHead, "a head of \(head.count) bytes")
        check(head.bytes.last == HTTPBytes.lf, "a head not ending in LF")
        check(head.fieldCount <= setup.limits.maxHeaders, "\(head.fieldCount) fields")
        check(head.minorVersion == 0 || head.minorVersion == 1, "HTTP/1.\(head.minorVersion)")
        check(head.startLineLength > 0 && head.startLineLength <= head.count, "start line of \(head.startLineLength)")
        check(head.contentLength == nil || !head.chunked && !head.otherTransferCoding, "a length and a coding")
        check(!head.chunked || head.minorVersion == 1, "chunked in HTTP/1.0")
        check(!head.chunked || !head.otherTransferCoding, "chunked and another coding last")
        check(head.values(of: Array("content-length".utf8)).count == (head.contentLength == nil ? 0 : 1), "Content-Length count")
        if request {
            check(!head.method.isEmpty && head.slice(head.method).allSatisfy(HTTPBytes.isToken), "a method")
            check(!head.target.isEmpty && head.slice(head.target).allSatisfy { $0 > 0x20 && $0 != 0x7F }, "a target")
            check(!head.otherTransferCoding, "a request with a coding after chunked")
            let path = head.pathRange, query = head.queryRange
            check(path.lowerBound >= head.target.lowerBound && path.upperBound <= head.target.upperBound, "the path")
            check(query.upperBound == head.target.upperBound && query.lowerBound >= path.upperBound, "the query")
            check(!head.slice(path).contains(UInt8(ascii: "?")), "a ? in the path")
            let authority = head.slice(head.target.lowerBound..<path.lowerBound)
            check(!authority.contains(UInt8(ascii: "?")), "an absolute-form target's query taken for its authority")
            let hosts = head.values(of: Array("host".utf8)).count
            check(hosts == 1 || head.minorVersion == 0 && hosts == 0, "\(hosts) Host fields")
        } else {
            check((100...999).contains(head.status), "status \(head.status)")
        }
        var hasher = Hasher()
        hasher.combine(head.count)
        hasher.combine(head.startLineLength)
        hasher.combine(head.fieldCount)
        hasher.combine(head.status)
        hasher.combine(head.minorVersion)
        hasher.combine(head.method)
        hasher.combine(head.target)
        hasher.combine(head.contentLength)
        for flag in [head.chunked, head.otherTransferCoding, head.keepsAlive, head.connectionClose, head.isWebSocketUpgrade,
                     head.hasUpgrade, head.expectContinue] {
            hasher.combine(flag)
        }
        let fields = head.fieldCount
        let length = head.contentLength
        check(head.parse(request: request) == nil, "the same head parsed again fails")
        check(head.fieldCount == fields && head.contentLength == length, "the same head parsed again reads differently")
        return hasher.finalize()
    }

    static func webSocket(_ input: UnsafeRawBufferPointer, _ ends: [Int]) -> [Int] {
        let framer = WebSocketFramer()
        var log: [Int] = []
        var start = 0
        for end in ends {
            scanning: while true {
                let rest = UnsafeRawBufferPointer(rebasing: input[start..<end])
                let result = framer.scan(rest)
                switch result {
                case .needMore(let consumed):
                    check(consumed == rest.count, "WebSocket needMore(\(consumed)) of \(rest.count) bytes")
                    start = end
                    break scanning
                case .frame(let consumed, let opcode):
                    check(consumed > 0 && consumed <= rest.count, "\(result) of \(rest.count) bytes")
                    check(framer.atBoundary, "a frame but not at a boundary")
                    check(opcode < 16, "opcode \(opcode)")
                    start += consumed
                    log += [start, Int(opcode)]
                }
            }
        }
        log.append(framer.atBoundary ? 1 : 0)
        return log
    }

    /// The stream's first bytes as a close reason: the frame must be one whole close frame
    /// with at most 125 bytes of payload, and its reason a UTF-8 prefix of the one given.
    static func closeFrame(_ input: UnsafeRawBufferPointer) {
        let reason = String(decoding: input.prefix(160), as: UTF8.self)
        let code = input.count >= 2 ? Int(input[0]) << 8 | Int(input[1]) : 1011
        let frame = WebSocketFramer.closeFrame(code: code, reason: reason)
        check(frame.count >= 4 && frame[0] == 0x88 && Int(frame[1]) == frame.count - 2 && frame[1] <= 125, "close frame \(frame)")
        check(Int(frame[2]) << 8 | Int(frame[3]) == code, "close code")
        let text = frame.dropFirst(4)
        check(String(validating: text, as: UTF8.self) != nil, "a close reason that is not UTF-8")
        check(reason.utf8.starts(with: text), "a close reason that is not the one given")
        check(text.count == reason.utf8.count || text.count > 119, "a close reason cut short at \(text.count) bytes")
        let framer = WebSocketFramer()
        let scanned = frame.withUnsafeBytes { framer.scan($0) }
        check(scanned == .frame(consumed: frame.count, opcode: 8), "the close frame framed as \(scanned)")
    }
}
