@testable import Faultline

/// What libFuzzer runs on each input (`scripts/fuzz resp`; main.swift passes it to libFuzzer's
/// driver, and it is also exported under libFuzzer's usual name). The input is fed to both RESP
/// framers, with Redis's limits and with tiny ones (so short inputs reach every limit): whole,
/// and cut at a point taken from its first byte with the rest in chunks of a size taken from its
/// second. Both runs must agree, and every scan must keep the framers' promises; a broken one
/// traps, which libFuzzer reports as a crash and saves.
@_cdecl("LLVMFuzzerTestOneInput")
public func respFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    let plans = FuzzRun.plans(for: input)
    for limits in [FuzzRun.redis, FuzzRun.tiny] {
        let commands = FuzzRun.commands(input, plans[0], limits)
        let replies = FuzzRun.replies(input, plans[0], limits)
        for plan in plans.dropFirst() {
            check(FuzzRun.commands(input, plan, limits) == commands, "command framer: runs split differently disagree")
            check(FuzzRun.replies(input, plan, limits) == replies, "reply framer: runs split differently disagree")
        }
    }
    return 0
}

/// Traps with `message` unless `condition` holds: libFuzzer catches the trap as a crash.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// What came of one run, to compare runs: each event as a few numbers (what it was, where,
/// and a hash of what the framer held then), then the error or the final state.
struct FuzzLog: Equatable {
    var events: [Int] = []
    var error: String?
    var atBoundary = false
}

/// Feeding one input to one framer in given chunks.
enum FuzzRun {
    static let redis = RESPLimits()
    /// Limits small enough that a few hundred bytes cross each of them.
    static let tiny: RESPLimits = {
        var limits = RESPLimits()
        limits.maxDepth = 4
        limits.maxBulk = 64
        limits.maxArguments = 16
        limits.maxInline = 24
        limits.captureArguments = 3
        limits.captureBytes = 5
        limits.decideAfter = 40
        return limits
    }()

    /// Chunk ends for two runs: whole, and cut at a point taken from the first byte with the rest
    /// in chunks of a size taken from the second (one run crosses many boundaries; more runs
    /// would cost executions per second, and instrumentation already makes each run slow).
    static func plans(for input: UnsafeRawBufferPointer) -> [[Int]] {
        let count = input.count
        guard count > 1 else { return [[count]] }
        let cut = 1 + Int(input[0]) % (count - 1)
        let chunk = 1 + Int(input[1]) % 16
        return [[count], Array(stride(from: cut, to: count, by: chunk)) + [count]]
    }

    static func commands(_ input: UnsafeRawBufferPointer, _ ends: [Int], _ limits: RESPLimits) -> FuzzLog {
        let framer = RESPCommandFramer(limits: limits)
        var log = FuzzLog()
        var start = 0
        for end in ends {
            scanning: while true {
                let rest = UnsafeRawBufferPointer(rebasing: input[start..<end])
                let result = framer.scan(rest)
                switch result {
                case .needMore(let consumed):
                    check(consumed == rest.count, "needMore(\(consumed)) of \(rest.count) bytes")
                    start = end
                    break scanning
                case .head(let consumed), .complete(let consumed):
                    check(consumed > 0 && consumed <= rest.count, "\(result) of \(rest.count) bytes")
                    start += consumed
                    let complete = result == .complete(consumed: consumed)
                    if complete { check(framer.atBoundary, "complete but not at a boundary") }
                    log.events += [complete ? 1 : 2, start, framer.command.argumentCount, fingerprint(framer.command, limits)]
                case .error(let error):
                    check(framer.scan(rest) == result, "error not sticky")
                    check(!framer.atBoundary, "a failed framer claims a boundary")
                    log.error = error.message
                    return log
                }
            }
        }
        log.atBoundary = framer.atBoundary
        return log
    }

    /// A hash of the captured arguments, checking the capture limits on the way.
    static func fingerprint(_ command: RESPCommand, _ limits: RESPLimits) -> Int {
        check(command.capturedCount <= limits.captureArguments, "captured \(command.capturedCount) arguments")
        check(command.capturedCount <= command.argumentCount, "captured more arguments than there are")
        var hasher = Hasher()
        hasher.combine(command.inline)
        for index in 0..<command.capturedCount {
            let argument = command.argument(index) ?? []
            check(argument.count <= limits.captureBytes, "captured \(argument.count) bytes of an argument")
            hasher.combine(argument.count)
            for byte in argument { hasher.combine(byte) }
            hasher.combine(command.isTruncated(index))
        }
        check(command.argument(command.capturedCount) == nil, "an argument past the captured ones")
        return hasher.finalize()
    }

    static func replies(_ input: UnsafeRawBufferPointer, _ ends: [Int], _ limits: RESPLimits) -> FuzzLog {
        let framer = RESPReplyFramer(limits: limits)
        var log = FuzzLog()
        var start = 0
        for end in ends {
            scanning: while true {
                let rest = UnsafeRawBufferPointer(rebasing: input[start..<end])
                let result = framer.scan(rest)
                switch result {
                case .needMore(let consumed):
                    check(consumed == rest.count, "needMore(\(consumed)) of \(rest.count) bytes")
                    start = end
                    break scanning
                case .complete(let consumed):
                    check(consumed > 0 && consumed <= rest.count, "\(result) of \(rest.count) bytes")
                    start += consumed
                    check(framer.atBoundary, "complete but not at a boundary")
                    check(framer.kind != .unknown, "a complete reply of unknown kind")
                    let text = framer.errorText
                    check(text.count <= 64 && (framer.kind == .error || text.isEmpty), "\(text.count) bytes of error text")
                    var hasher = Hasher()
                    for byte in text { hasher.combine(byte) }
                    log.events += [start, framer.kind.hashValue, text.count, hasher.finalize()]
                case .error(let error):
                    check(framer.scan(rest) == result, "error not sticky")
                    check(!framer.atBoundary, "a failed framer claims a boundary")
                    log.error = error.message
                    return log
                }
            }
        }
        log.atBoundary = framer.atBoundary
        return log
    }
}
