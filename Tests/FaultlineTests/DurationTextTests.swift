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
        for text in ["", "5", "ms", "+1s", "1 s", "1sec", "infs", "nans", "1.2.3s", "0x10s", "1e3s", ".5s", "1.s"] {
            XCTAssertThrowsError(try DurationText.parse(text), text) { error in
                XCTAssertEqual("\(error)", "'\(text)' is not a duration such as 250ms or 2s")
            }
        }
        for text in ["-1s", "8760.000001h", "99999999999h", "9223372036854775807s", "99999999999999999999999us"] {
            XCTAssertThrowsError(try DurationText.parse(text), text) { error in
                XCTAssertEqual("\(error)", "'\(text)' is out of range: durations go from 0 to 8760h (1 year)")
            }
        }
        XCTAssertEqual(try DurationText.parse("8760h"), DurationText.maximum)
        XCTAssertEqual(try DurationText.parse("525600m"), DurationText.maximum)
    }

    func testFormatsAsUsersWriteIt() {
        XCTAssertEqual(DurationText.format(.milliseconds(250)), "250ms")
        XCTAssertEqual(DurationText.format(.seconds(2)), "2s")
        XCTAssertEqual(DurationText.format(.milliseconds(1500)), "1.5s")
    }
}
