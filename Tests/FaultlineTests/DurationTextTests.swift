import Faultline
import XCTest

final class DurationTextTests: XCTestCase {
    func testParsesEveryUnit() throws {
        XCTAssertEqual(try DurationText.parse("250ms"), .milliseconds(250))
        XCTAssertEqual(try DurationText.parse("2s"), .seconds(2))
        XCTAssertEqual(try DurationText.parse("1.5s"), .milliseconds(1500))
        XCTAssertEqual(try DurationText.parse("1m"), .seconds(60))
        XCTAssertEqual(try DurationText.parse("1h"), .seconds(3600))
        XCTAssertEqual(try DurationText.parse("100us"), .microseconds(100))
        XCTAssertEqual(try DurationText.parse("0s"), .zero)
    }

    func testRejectsWhatIsNotADuration() {
        for text in ["", "5", "ms", "-1s", "+1s", "1 s", "1sec", "infs", "nans", "1.2.3s"] {
            XCTAssertThrowsError(try DurationText.parse(text), text) { error in
                XCTAssertEqual("\(error)", "invalid duration '\(text)': expected a number with us, ms, s, m or h (e.g. 250ms, 2s)")
            }
        }
    }

    func testFormatsAsUsersWriteIt() {
        XCTAssertEqual(DurationText.format(.milliseconds(250)), "250ms")
        XCTAssertEqual(DurationText.format(.seconds(2)), "2s")
        XCTAssertEqual(DurationText.format(.milliseconds(1500)), "1.5s")
    }
}
