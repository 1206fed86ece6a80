import XCTest

/// A captured link carries its own capture state (two synthesized legs, four redactors): it
/// must die with the link, and the recording's buffers must not grow with the links it saw.
final class RecordingLinkMemoryTests: RecordingCase {
    func testCapturedLinksLeaveNothingBehind() throws {
        let upstream = try EchoServer()
        defer { upstream.stop() }
        try churnLinks(upstream: upstream.port, ["--record", "\(folder)/recording"], label: "recording with capture",
                       message: Array("*1\r\n$4\r\nPING\r\n".utf8))
    }
}
