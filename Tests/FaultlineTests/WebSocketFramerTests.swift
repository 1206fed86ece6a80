@testable import Faultline
import XCTest

/// `WebSocketFramer` finds frame ends with every length form (7-bit, 16-bit, 64-bit), masked or
/// not, fed whole, split at every byte position and byte by byte; `closeFrame` writes what
/// RFC 6455 §5.5.1 asks of a server's close frame.
final class WebSocketFramerTests: XCTestCase {
    struct Frame: Equatable, CustomStringConvertible {
        var offset: Int
        var opcode: UInt8
        var description: String { "op\(opcode)@\(offset)" }
    }

    struct Outcome: Equatable {
        var frames: [Frame] = []
        var atBoundary = false
    }

    static func run(_ input: [UInt8], _ chunks: [Range<Int>]) -> Outcome {
        let framer = WebSocketFramer()
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
                    case .frame(let consumed, let opcode):
                        XCTAssert(consumed > 0 && consumed <= rest.count, "frame(\(consumed)) of \(rest.count) bytes")
                        guard consumed > 0 && consumed <= rest.count else { return }
                        start += consumed
                        XCTAssertTrue(framer.atBoundary)
                        outcome.frames.append(Frame(offset: start, opcode: opcode))
                    }
                }
            }
            outcome.atBoundary = framer.atBoundary
        }
        return outcome
    }

    enum LengthForm { case short, medium, long }

    /// One frame: FIN set, `opcode`, `payload` bytes, its length written in `form` (the 64-bit
    /// form may carry a small length too), masked with a key when `masked`.
    static func frame(_ opcode: UInt8, payload: Int, masked: Bool, form: LengthForm = .short) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | opcode]
        let mask: UInt8 = masked ? 0x80 : 0
        switch form {
        case .short:
            precondition(payload < 126)
            bytes.append(mask | UInt8(payload))
        case .medium:
            bytes += [mask | 126, UInt8(payload >> 8), UInt8(payload & 0xFF)]
        case .long:
            bytes.append(mask | 127)
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(payload) >> (8 * UInt64($0))) }
        }
        if masked { bytes += [0x37, 0xFA, 0x21, 0x3D] }
        // Payload bytes that look like frame headers, to catch a framer that reads into them.
        bytes += (0..<payload).map { UInt8(truncatingIfNeeded: 0x81 + $0 * 7) }
        return bytes
    }

    private func outcome(_ input: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        assertSameOutcomeSplitAnywhere(input, file: file, line: line) { Self.run(input, $0) }
    }

    func testEveryLengthFormMaskedOrNot() {
        let frames: [[UInt8]] = [
            Self.frame(0x1, payload: 5, masked: false),
            Self.frame(0x1, payload: 5, masked: true),
            Self.frame(0x2, payload: 125, masked: true),
            Self.frame(0x9, payload: 0, masked: false),
            Self.frame(0xA, payload: 0, masked: true),
            Self.frame(0x2, payload: 126, masked: false, form: .medium),
            Self.frame(0x0, payload: 300, masked: true, form: .medium),
            Self.frame(0x2, payload: 3, masked: false, form: .medium),
            Self.frame(0x2, payload: 70000, masked: false, form: .long),
            Self.frame(0x1, payload: 65536, masked: true, form: .long),
            Self.frame(0x1, payload: 0, masked: true, form: .long),
            Self.frame(0x8, payload: 2, masked: true),
        ]
        var offsets: [Int] = []
        for frame in frames { offsets.append((offsets.last ?? 0) + frame.count) }
        let result = outcome(frames.flatMap { $0 })
        XCTAssertEqual(result.frames, zip(offsets, frames).map { Frame(offset: $0, opcode: $1[0] & 0x0F) })
        XCTAssertTrue(result.atBoundary)
    }

    func testEachFrameAloneSplitAnywhere() {
        for (payload, masked, form) in [(0, false, LengthForm.short), (1, true, .short), (125, false, .short),
                                        (126, true, .medium), (65535, false, .medium), (65536, true, .long), (2, true, .long)] {
            let frame = Self.frame(0x2, payload: payload, masked: masked, form: form)
            XCTAssertEqual(outcome(frame).frames, [Frame(offset: frame.count, opcode: 2)], "\(payload) \(masked) \(form)")
            let short = Array(frame.dropLast())
            let partial = Self.run(short, [0..<short.count])
            XCTAssertEqual(partial.frames, [], "\(payload) \(masked) \(form)")
            XCTAssertEqual(partial.atBoundary, short.isEmpty)
        }
    }

    /// A 64-bit length is skipped by counting: nothing is held, and the framer stays inside it.
    func testHugeDeclaredLengthIsCounted() {
        let framer = WebSocketFramer()
        let header: [UInt8] = [0x82, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 1, 2, 3, 4]
        header.withUnsafeBytes { XCTAssertEqual(framer.scan($0), .needMore(consumed: 14)) }
        let block = [UInt8](repeating: 0x88, count: 1 << 16)
        for _ in 0..<16 { block.withUnsafeBytes { XCTAssertEqual(framer.scan($0), .needMore(consumed: 1 << 16)) } }
        XCTAssertFalse(framer.atBoundary)
    }

    func testCloseFrame() {
        XCTAssertEqual(WebSocketFramer.closeFrame(code: 1011, reason: ""), [0x88, 0x02, 0x03, 0xF3])
        XCTAssertEqual(WebSocketFramer.closeFrame(code: 1011, reason: "fault"),
                       [0x88, 0x07, 0x03, 0xF3] + Array("fault".utf8))
        XCTAssertEqual(WebSocketFramer.closeFrame(code: 1000, reason: "bye"), [0x88, 0x05, 0x03, 0xE8] + Array("bye".utf8))
        let long = WebSocketFramer.closeFrame(code: 4000, reason: String(repeating: "r", count: 200))
        XCTAssertEqual(long.count, 2 + 125, "a control frame's payload is at most 125 bytes")
        XCTAssertEqual(Array(long.prefix(4)), [0x88, 125, 0x0F, 0xA0])
        XCTAssertEqual(Array(long.dropFirst(4)), Array(repeating: UInt8(ascii: "r"), count: 123))
        // The frame is one whole frame to the framer.
        XCTAssertEqual(outcome(long).frames, [Frame(offset: long.count, opcode: 8)])
    }

    /// The reason must stay UTF-8 (a client fails the connection on a close reason that is not):
    /// the cut falls before a character that would not fit whole.
    func testCloseReasonIsCutAtACharacter() {
        let reason = String(repeating: "é", count: 61) + "€x"  // 122 bytes, then 3, then 1
        let frame = WebSocketFramer.closeFrame(code: 1011, reason: reason)
        XCTAssertEqual(frame[1], 2 + 122)
        XCTAssertEqual(frame.count, 4 + 122)
        XCTAssertEqual(String(validating: frame.dropFirst(4), as: UTF8.self), String(repeating: "é", count: 61))
        let emoji = WebSocketFramer.closeFrame(code: 1011, reason: String(repeating: "🙂", count: 40))  // 4 bytes each
        XCTAssertEqual(emoji.count, 4 + 120)
        XCTAssertNotNil(String(validating: emoji.dropFirst(4), as: UTF8.self))
        let fits = String(repeating: "a", count: 120) + "€"  // exactly 123 bytes
        XCTAssertEqual(WebSocketFramer.closeFrame(code: 1011, reason: fits).count, 4 + 123)
    }
}
