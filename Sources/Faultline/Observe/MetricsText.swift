/// Prometheus text format 0.0.4, written family by family.
struct MetricsText {
    enum MetricType: String { case counter, gauge, histogram }

    var text = ""

    private mutating func header(_ name: String, _ type: MetricType, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type.rawValue)\n"
    }

    /// A family's header and its series, sorted by label values.
    mutating func family<Value: BinaryInteger>(_ name: String, _ type: MetricType, _ help: String, _ labels: [String],
                                               _ series: [(values: [String], value: Value)]) {
        header(name, type, help)
        for row in series.sorted(by: { $0.values.lexicographicallyPrecedes($1.values) }) {
            sample(name, labels, row.values, String(row.value))
        }
    }

    /// A histogram per proxy: cumulative `_bucket` lines, then `_sum` and `_count`.
    mutating func histogram(_ name: String, _ help: String, _ series: [(proxy: String, histogram: LatencyHistogram)]) {
        header(name, .histogram, help)
        for (proxy, histogram) in series.sorted(by: { $0.proxy < $1.proxy }) {
            var cumulative: UInt64 = 0
            for (index, count) in histogram.buckets.enumerated() {
                cumulative &+= count
                let bound = index < Metrics.latencyBounds.count ? Metrics.latencyBounds[index].label : "+Inf"
                sample(name + "_bucket", ["proxy", "le"], [proxy, bound], String(cumulative))
            }
            sample(name + "_sum", ["proxy"], [proxy], Self.seconds(histogram.sumNanoseconds))
            sample(name + "_count", ["proxy"], [proxy], String(histogram.count))
        }
    }

    private mutating func sample(_ name: String, _ labels: [String], _ values: [String], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{"
            for (index, label) in labels.enumerated() {
                if index > 0 { text += "," }
                text += label
                text += "=\""
                Self.escape(values[index], into: &text)
                text += "\""
            }
            text += "}"
        }
        text += " "
        text += value
        text += "\n"
    }

    /// A label value as the format escapes it: `\` → `\\`, `"` → `\"`, newline → `\n`.
    static func escape(_ value: String, into out: inout String) {
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
    }

    /// Nanoseconds as seconds, without trailing zeros: `0`, `0.002001`, `12.5`.
    static func seconds(_ nanoseconds: UInt64) -> String {
        let whole = String(nanoseconds / 1_000_000_000)
        var fraction = nanoseconds % 1_000_000_000
        guard fraction > 0 else { return whole }
        var digits = 9
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = String(fraction)
        return whole + "." + String(repeating: "0", count: digits - text.count) + text
    }
}

extension Array where Element == (values: [String], value: Int64) {
    /// The series without repeats (a fault listed twice in a proxy's active faults).
    func uniqued() -> Self {
        var seen = Set<[String]>()
        return filter { seen.insert($0.values).inserted }
    }
}
