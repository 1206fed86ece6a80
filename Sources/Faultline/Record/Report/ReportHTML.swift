/// report.html (placeholder while the renderer is written).
enum ReportHTML {
    static func render(_ summary: RecordingSummary) -> String { "" }
}
