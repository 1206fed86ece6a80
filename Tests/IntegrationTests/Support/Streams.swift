import COpenSSL
import Foundation
import Glibc

/// SHA-256 through OpenSSL's EVP API, with a byte count: the pair is what tests compare, so a
/// lost, repeated or reordered byte anywhere in 64 MB shows up as a different digest.
final class SHA256Hasher {
    private let context: OpaquePointer
    private(set) var count = 0

    init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        count += bytes.count
    }

    func finish() -> StreamDigest {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        let hex = digest[0..<Int(length)].map { String(format: "%02x", $0) }.joined()
        return StreamDigest(count: count, sha256: hex)
    }
}

/// How many bytes a stream had and their SHA-256.
struct StreamDigest: Equatable, CustomStringConvertible {
    var count: Int
    var sha256: String
    var description: String { "\(count) bytes sha256 \(sha256.prefix(16))…" }
}

/// A deterministic, non-repeating byte stream: block k (1 MB) is xorshift64 output seeded
/// from (seed, k). Non-periodic so a duplicated or swapped block changes the digest, and
/// regenerable so a receiver can check a prefix byte by byte without storing it.
struct Pattern: Sendable {
    static let blockSize = 1 << 20
    let seed: UInt64

    func fill(block index: Int, into buffer: UnsafeMutableRawBufferPointer) {
        var state = (seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03
        state = (state ^ (state >> 31)) &* 0xBF58_476D_1CE4_E5B9
        if state == 0 { state = 1 }
        let words = buffer.bindMemory(to: UInt64.self)
        for index in words.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            words[index] = state
        }
    }

    /// Sends `count` bytes of the stream in writes of `pieces` bytes (cycling), sleeping
    /// `pauseMicros` after each, and calls `progress` with the total after each block.
    /// Returns the digest of what was sent; a failing send throws.
    func send(to fd: Int32, count: Int, pieces: [Int] = [Pattern.blockSize], pauseMicros: UInt32 = 0,
              progress: ((Int) -> Void)? = nil) throws -> StreamDigest {
        let hasher = SHA256Hasher()
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: Pattern.blockSize, alignment: 8)
        defer { block.deallocate() }
        var sent = 0
        var index = 0
        var turn = 0
        var pieceLeft = pieces[0]
        while sent < count {
            fill(block: index, into: block)
            let blockLength = min(Pattern.blockSize, count - sent)
            var within = 0
            while within < blockLength {
                let length = min(pieceLeft, blockLength - within)
                let part = UnsafeRawBufferPointer(rebasing: block[within..<(within + length)])
                try Sock.sendAll(fd, part)
                hasher.update(part)
                within += length
                sent += length
                pieceLeft -= length
                if pieceLeft == 0 {
                    if pauseMicros > 0 { usleep(pauseMicros) }
                    turn += 1
                    pieceLeft = pieces[turn % pieces.count]
                }
            }
            index += 1
            progress?(sent)
        }
        return hasher.finish()
    }
}

extension Pattern {
    /// Sends the stream with non-blocking writes until the peer stops taking bytes for
    /// `idleSeconds`, or 0.5 s after it first pushed back (the kernel keeps opening the window
    /// a crack now and then), or `limit`; returns exactly how many bytes the kernel accepted,
    /// which a blocking send cut short by backpressure cannot tell.
    func sendUntilBlocked(to fd: Int32, limit: Int, idleSeconds: Double) throws -> Int {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: Pattern.blockSize, alignment: 8)
        defer { block.deallocate() }
        var sent = 0
        var idleSince: Double?
        var firstBlocked: Double?
        var filled = -1
        while sent < limit {
            let index = sent / Pattern.blockSize
            if index != filled {
                fill(block: index, into: block)
                filled = index
            }
            let within = sent % Pattern.blockSize
            let length = min(Pattern.blockSize - within, limit - sent)
            let got = Glibc.send(fd, block.baseAddress! + within, length, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if got > 0 {
                sent += got
                idleSince = nil
            } else if errno == EAGAIN || errno == EINTR {
                let now = monotonicSeconds()
                if now - (idleSince ?? now) > idleSeconds || now - (firstBlocked ?? now) > 0.5 { break }
                idleSince = idleSince ?? now
                firstBlocked = firstBlocked ?? now
                usleep(10_000)
            } else {
                throw SystemCallFailure(call: "send", code: errno)
            }
        }
        return sent
    }
}

/// Checks that received bytes are exactly the next bytes of a `Pattern`.
final class PatternVerifier {
    private let pattern: Pattern
    private let block = UnsafeMutableRawBufferPointer.allocate(byteCount: Pattern.blockSize, alignment: 8)
    private var blockIndex = -1
    /// Bytes checked so far (all matching, unless `mismatchAt` is set).
    private(set) var offset = 0
    /// Stream offset of the first byte that did not match.
    private(set) var mismatchAt: Int?

    init(_ pattern: Pattern) { self.pattern = pattern }
    deinit { block.deallocate() }

    func check(_ bytes: UnsafeRawBufferPointer) {
        var done = 0
        // memcmp span by span (a span never crosses a block): per-byte Swift is too slow unoptimised.
        while done < bytes.count, mismatchAt == nil {
            let index = offset / Pattern.blockSize
            if index != blockIndex {
                pattern.fill(block: index, into: block)
                blockIndex = index
            }
            let within = offset % Pattern.blockSize
            let span = min(bytes.count - done, Pattern.blockSize - within)
            if memcmp(bytes.baseAddress! + done, block.baseAddress! + within, span) != 0 {
                var first = 0
                while bytes[done + first] == block[within + first] { first += 1 }
                mismatchAt = offset + first
                return
            }
            offset += span
            done += span
        }
    }
}

/// What a reader got: the digest of every byte, and how the stream ended.
struct Reception {
    var digest: StreamDigest
    var end: Received
}

/// Reads until EOF or an error, hashing everything. Read sizes vary from 1 byte to 256 KB so
/// the proxy meets every kind of partial write on its sink. `pauseMicros` after each read makes
/// a slow reader, so the proxy's sink blocks and bytes queue inside it. `progress` sees the
/// running total.
func receiveAll(_ fd: Int32, verifier: PatternVerifier? = nil, limit: Int = 1 << 31, pauseMicros: UInt32 = 0,
                progress: ((Int) -> Void)? = nil) -> Reception {
    let hasher = SHA256Hasher()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
    defer { buffer.deallocate() }
    let sizes = [256 * 1024, 1, 65536, 1500, 200_000, 7, 131_072, 4096]
    var turn = 0
    while hasher.count < limit {
        let size = sizes[turn % sizes.count]
        turn += 1
        let outcome = Sock.receive(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
        guard case let .bytes(got) = outcome else { return Reception(digest: hasher.finish(), end: outcome) }
        let part = UnsafeRawBufferPointer(rebasing: buffer[0..<got])
        hasher.update(part)
        verifier?.check(part)
        progress?(hasher.count)
        if pauseMicros > 0 { usleep(pauseMicros) }
    }
    return Reception(digest: hasher.finish(), end: .failed(EMSGSIZE))
}

/// A value shared between test threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    var current: Value {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    @discardableResult
    func update<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// A thread running one blocking piece of a test (a sender, a reader, a server), joined with
/// a deadline so a stuck proxy fails the test instead of hanging the suite.
final class Worker<Result>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Swift.Result<Result, Error>?
    let name: String

    init(_ name: String, _ body: @escaping @Sendable () throws -> Result) {
        self.name = name
        let thread = Thread { [self] in
            let result = Swift.Result { try body() }
            self.outcome = result
            self.done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Waits for the body to finish and returns its value, or throws its error or a timeout.
    func join(timeout seconds: Double) throws -> Result {
        guard done.wait(timeout: .now() + seconds) == .success else {
            throw WorkerTimeout(name: name, seconds: seconds)
        }
        done.signal()  // later joins return at once
        return try outcome!.get()
    }
}

struct WorkerTimeout: Error, CustomStringConvertible {
    let name: String
    let seconds: Double
    var description: String { "\(name) did not finish within \(seconds) s" }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns the last answer.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicSeconds() + timeout
    while !condition() {
        if monotonicSeconds() > deadline { return false }
        usleep(10_000)
    }
    return true
}
