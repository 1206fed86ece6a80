import Faultline
import XCTest

/// Every type of number a fault parameter takes, against the values that used to trap
/// (huge ones), slip through as something else (`0x10`, `1e3`) or mean nothing (negative): each
/// is read, or refused with a message naming the value and, when it is out of range, the range.
final class NumberRangeTests: XCTestCase {
    private enum Outcome: Equatable {
        case value(ParameterValue)
        case error(String)
    }

    private func outcome(_ type: ParameterType, _ text: String) -> Outcome {
        do {
            return .value(try FaultParameter("p", type, default: nil, "").parse(text))
        } catch {
            return .error("\(error)")
        }
    }

    private let duration = ParameterType.duration(bareUnit: .milliseconds)

    /// (type, text, outcome), grouped by type: huge, negative, zero, fractional, hexadecimal, and
    /// the neighbours of each range's ends.
    private var table: [(ParameterType, String, Outcome)] {
        let durationRange = "is out of range: durations go from 0 to 8760h (1 year)"
        let notDuration = "is not a duration such as 250ms or 2s"
        let countRange = "is out of range: counts go from 0 to 2147483647"
        let sizeRange = "is out of range: sizes go from 0 to 1TB"
        let notSize = "is not a size such as 1024, 64KB or 1MB"
        let rateRange = "is out of range: rates go from 1B to 100GB per second"
        let notRate = "is not a rate such as 100 (KB/s), 500KB or 1MB"
        let probabilityRange = "is out of range: probabilities go from 0 to 1"
        func error(_ text: String, _ reason: String) -> Outcome { .error("parameter 'p': '\(text)' \(reason)") }
        return [
            (duration, "99999999999h", error("99999999999h", durationRange)),
            (duration, "9223372036854775807s", error("9223372036854775807s", durationRange)),
            (duration, "9223372036854775807", error("9223372036854775807", durationRange)),
            (duration, "99999999999999999999999999ms", error("99999999999999999999999999ms", durationRange)),
            (duration, "-5ms", error("-5ms", durationRange)),
            (duration, "-0", error("-0", durationRange)),
            (duration, "0", .value(.duration(.zero))),
            (duration, "0s", .value(.duration(.zero))),
            (duration, "1.5", .value(.duration(.microseconds(1500)))),
            (duration, "1.5s", .value(.duration(.milliseconds(1500)))),
            (duration, "0.0000005s", .value(.duration(.microseconds(1)))),
            (duration, "8760h", .value(.duration(.seconds(8760 * 3600)))),
            (duration, "8760.0000001h", error("8760.0000001h", durationRange)),
            (duration, "0x10", error("0x10", notDuration)),
            (duration, "0x10s", error("0x10s", notDuration)),
            (duration, "1e3", error("1e3", notDuration)),
            (duration, "+5ms", error("+5ms", notDuration)),
            (duration, "infs", error("infs", notDuration)),
            (duration, "", error("", notDuration)),

            (.count, "99999999999", error("99999999999", countRange)),
            (.count, "2147483648", error("2147483648", countRange)),
            (.count, "-1", error("-1", countRange)),
            (.count, "0", .value(.count(0))),
            (.count, "2147483647", .value(.count(2_147_483_647))),
            (.count, "1.5", error("1.5", "is not a whole number ≥ 0")),
            (.count, "0x10", error("0x10", "is not a whole number ≥ 0")),

            (.bytes, "99999999999999GB", error("99999999999999GB", sizeRange)),
            (.bytes, "1025GB", error("1025GB", sizeRange)),
            (.bytes, "-1KB", error("-1KB", sizeRange)),
            (.bytes, "0", .value(.count(0))),
            (.bytes, "64kb", .value(.count(65536))),
            (.bytes, "1TB", .value(.count(1 << 40))),
            (.bytes, "1.5KB", error("1.5KB", notSize)),
            (.bytes, "0x10", error("0x10", notSize)),

            (.rate, "99999999999GB", error("99999999999GB", rateRange)),
            (.rate, "101GB", error("101GB", rateRange)),
            (.rate, "-100", error("-100", rateRange)),
            (.rate, "0", error("0", rateRange)),
            (.rate, "100", .value(.count(102_400))),
            (.rate, "1B", .value(.count(1))),
            (.rate, "1.5", error("1.5", notRate)),
            (.rate, "0x10", error("0x10", notRate)),

            (.probability, "99999999999", error("99999999999", probabilityRange)),
            (.probability, "1.0000001", error("1.0000001", probabilityRange)),
            (.probability, "-0.5", error("-0.5", probabilityRange)),
            (.probability, "0", .value(.probability(0))),
            (.probability, "1.0", .value(.probability(1))),
            (.probability, "0.25", .value(.probability(0.25))),
            (.probability, "0x1", error("0x1", "is not a number from 0 to 1")),
            (.probability, "nan", error("nan", "is not a number from 0 to 1")),
            (.probability, "5e-1", error("5e-1", "is not a number from 0 to 1")),
        ]
    }

    func testEveryParameterTypeReadsOrRefusesEachKindOfNumber() {
        for (type, text, expected) in table {
            XCTAssertEqual(outcome(type, text), expected, "\(type.name) '\(text)'")
        }
    }

    /// The same numbers as `--fault` and the API meet them: the message also names the fault.
    func testFaultsNameTheValueAndTheRange() {
        func message(_ spec: String) -> String {
            do {
                _ = try Fault(parsing: FaultSpec(parsing: spec))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message("tcp.latency:ms=99999999999h"),
                       "invalid fault 'tcp.latency': parameter 'ms': '99999999999h' is out of range: durations go from 0 to 8760h (1 year)")
        XCTAssertEqual(message("tcp.bandwidth:rate=99999999999GB"),
                       "invalid fault 'tcp.bandwidth': parameter 'rate': '99999999999GB' is out of range: rates go from 1B to 100GB per second")
        XCTAssertEqual(message("tcp.slicer:size=99999999999999GB"),
                       "invalid fault 'tcp.slicer': parameter 'size': '99999999999999GB' is out of range: sizes go from 0 to 1TB")
        XCTAssertEqual(message("tcp.latency:ms=10,every=-2"),
                       "invalid fault 'tcp.latency': parameter 'every': '-2' is out of range: it goes from 1 to 2147483647")
        XCTAssertEqual(message("tcp.slicer:size=64,variation=100"),
                       "invalid fault 'tcp.slicer': parameter 'variation': '100' must be below size (64): every slice holds at least 1 byte")
        XCTAssertEqual(message("tcp.slicer:size=64,variation=63"), "no error")
    }

    func testSeedsAndPortsHaveTheirRanges() {
        XCTAssertEqual(try NumberText.read("18446744073709551615", as: .seed), UInt64.max)
        for text in ["18446744073709551616", "-1"] {
            XCTAssertThrowsError(try NumberText.read(text, as: .seed)) { error in
                XCTAssertEqual("\(error)", "'\(text)' is out of range: seeds go from 0 to 18446744073709551615")
            }
        }
        for text in ["+80", "0x50", "65536", "-1"] {
            XCTAssertThrowsError(try SocketAddress(parsing: "127.0.0.1:\(text)")) { error in
                XCTAssertEqual("\(error)", "invalid address '127.0.0.1:\(text)': port '\(text)' is not a number from 0 to 65535")
            }
        }
        XCTAssertThrowsError(try SocketAddress(parsingUpstream: "127.0.0.1:0")) { error in
            XCTAssertEqual("\(error)", "invalid address '127.0.0.1:0': port 0 cannot be connected to; an upstream port goes from 1 to 65535")
        }
        XCTAssertEqual(try SocketAddress(parsing: "127.0.0.1:0").port, 0, "listening on port 0 picks a free port")
    }
}
