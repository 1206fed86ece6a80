import ArgumentParser
import Faultline
import Glibc

/// `faultline report DIR [--html FILE]`: a recording summarised as text on stdout and, on
/// request, as a self-contained HTML timeline.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Summarise a recording (DIR is a --record folder): text to stdout, an HTML timeline with --html.",
        discussion: """
            Reads DIR/events.jsonl (line by line: any length), DIR/recording.json and DIR/scenario.yaml, \
            and prints the phases, the faults and how often they fired, per proxy the client's connection \
            attempts, requests by outcome and latency phase by phase, and the verdicts with their figures. \
            --html FILE writes the same figures as one self-contained page (a timeline of phases, faults \
            and traffic; no network needed to open it).

            Examples:
              faultline report out/
              faultline report out/ --html out/report.html
            """)

    @Argument(help: ArgumentHelp("A folder written by --record.", valueName: "dir"))
    var directory: String

    @Option(name: .customLong("html"), help: ArgumentHelp("Also write the HTML report to this file.", valueName: "file"))
    var html: String?

    func run() throws {
        // The HTML's place is checked before any work: a typo must not cost a long read first.
        var htmlFile: Int32 = -1
        var created = false
        if let html {
            created = access(html, F_OK) != 0
            htmlFile = open(html, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard htmlFile >= 0 else {
                throw InputError("--html", "cannot write \(html): \(String(cString: strerror(errno)))")
            }
        }
        defer { if htmlFile >= 0 { close(htmlFile) } }
        let summary: RecordingSummary
        do {
            summary = try RecordingReport.load(directory: directory)
        } catch {
            // No empty page left behind for a CI step to publish as the report.
            if let html, created { unlink(html) }
            throw InputError("report", error.message)
        }
        writeAll(1, RecordingReport.text(summary))
        if let html, htmlFile >= 0 {
            guard ftruncate(htmlFile, 0) == 0, writeAll(htmlFile, RecordingReport.html(summary)) else {
                throw InputError("--html", "cannot write \(html): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes all of `text` to `fd`; false on an error.
    @discardableResult
    private func writeAll(_ fd: Int32, _ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { bytes in
            var done = 0
            while done < bytes.count, let base = bytes.baseAddress {
                let wrote = write(fd, base + done, bytes.count - done)
                if wrote > 0 { done += wrote } else if wrote < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
    }
}
