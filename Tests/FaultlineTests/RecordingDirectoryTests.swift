@testable import Faultline
import Glibc
import XCTest

/// The folder `--record` writes to: made when missing, refused when it cannot be written or
/// already holds a recording (running the same command twice must not overwrite evidence).
final class RecordingDirectoryTests: XCTestCase {
    private var root = ""

    override func setUp() {
        var template = Array("/tmp/faultline-recdir-XXXXXX".utf8CString)
        root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    override func tearDown() {
        for name in ["a/b/c/recording.json", "a/b/c", "a/b", "a", "old/events.jsonl", "old", "file"] {
            _ = remove(root + "/" + name)
        }
        rmdir(root)
    }

    func testMakesMissingParentsAndStripsTrailingSlashes() throws {
        let folder = try RecordingDirectory(root + "/a/b/c///")
        XCTAssertEqual(folder.path, root + "/a/b/c")
        try folder.write("recording.json", "{}\n")
        XCTAssertEqual(access(root + "/a/b/c/recording.json", R_OK), 0)
        XCTAssertNotEqual(access(root + "/a/b/c/.faultline-write-check", F_OK), 0, "the probe file is removed")
    }

    func testRefusesAFolderThatAlreadyHoldsARecording() throws {
        XCTAssertEqual(mkdir(root + "/old", 0o755), 0)
        let fd = creat(root + "/old/events.jsonl", 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertThrowsError(try RecordingDirectory(root + "/old")) { error in
            XCTAssertEqual("\(error)", "cannot write \(root)/old: it already holds a recording (events.jsonl): "
                           + "record into a new folder, or remove that one first")
        }
    }

    func testRefusesAFileAndAPathUnderAFile() throws {
        let fd = creat(root + "/file", 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertThrowsError(try RecordingDirectory(root + "/file")) { error in
            XCTAssertEqual("\(error)", "cannot write \(root)/file: Not a directory")
        }
        XCTAssertThrowsError(try RecordingDirectory(root + "/file/sub")) { error in
            XCTAssertTrue("\(error)".hasSuffix(": Not a directory"), "\(error)")
        }
    }
}
