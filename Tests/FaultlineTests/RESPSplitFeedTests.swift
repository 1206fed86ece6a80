import XCTest

/// Runs a framer over one input fed whole, split in two at every position, and byte by byte, and
/// fails unless every run has the same outcome: a framer that holds its state across calls must
/// not care where the network cut the bytes. `run` gets the chunks as ranges of the input.
///
/// Long inputs (past `exhaustiveLimit`) are split at sampled positions — both ends densely, the
/// middle sparsely — and fed byte by byte only up to `byteByByteLimit`, so a 1 MB value still
/// runs in seconds.
@discardableResult
func assertSameOutcomeSplitAnywhere<Outcome: Equatable>(
    _ input: [UInt8], positions: [Int]? = nil, file: StaticString = #filePath, line: UInt = #line,
    _ run: ([Range<Int>]) -> Outcome
) -> Outcome {
    let whole = run([0..<input.count])
    for plan in RESPSplitPlans.plans(count: input.count, positions: positions) {
        let outcome = run(plan)
        if outcome != whole {
            let cuts = plan.dropFirst().map(\.lowerBound)
            let shown = cuts.count > 8 ? "\(cuts.count) cuts" : "cuts at \(cuts)"
            XCTFail("split (\(shown)) gave \(outcome), whole gave \(whole)", file: file, line: line)
            break
        }
    }
    return whole
}

/// The ways an input of `count` bytes is cut for `assertSameOutcomeSplitAnywhere`.
enum RESPSplitPlans {
    static let exhaustiveLimit = 4096
    static let byteByByteLimit = 1 << 21

    static func plans(count: Int, positions: [Int]? = nil) -> [[Range<Int>]] {
        var plans = cutPositions(count: count, positions: positions).map { [0..<$0, $0..<count] }
        if count > 1 && count <= byteByByteLimit {
            plans.append((0..<count).map { $0..<$0 + 1 })
        }
        return plans
    }

    static func cutPositions(count: Int, positions: [Int]?) -> [Int] {
        if let positions { return positions.filter { $0 > 0 && $0 < count } }
        guard count > exhaustiveLimit else { return count > 1 ? Array(1..<count) : [] }
        var cuts = Set(1...512).union((count - 512)..<count)
        cuts.formUnion(stride(from: 1, to: count, by: max(1, count / 256)))
        return cuts.sorted()
    }
}

/// The helper itself: every plan covers the input exactly once, in order.
final class RESPSplitFeedTests: XCTestCase {
    func testPlansCoverTheInputInOrder() {
        for count in [0, 1, 2, 7, 4096, 4097, 100_000] {
            for plan in RESPSplitPlans.plans(count: count) {
                XCTAssertEqual(plan.first?.lowerBound ?? 0, 0)
                XCTAssertEqual(plan.last?.upperBound ?? 0, count)
                for (a, b) in zip(plan, plan.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            }
        }
        XCTAssertEqual(RESPSplitPlans.plans(count: 5).count, 4 + 1, "4 cuts and byte by byte")
    }
}
