/// Latencies in logarithmic bins, so a phase of a million requests keeps a few hundred
/// counters rather than a million durations: 8 bins per doubling from 1 µs (each bin spans
/// 9%, a percentile read from it is within ±4.5% of the true one), plus the exact maximum.
/// Up to `exactLimit` latencies are also kept as they are, and percentiles of so few are
/// exact (a phase of 3 requests shows their true median). Bins merge by addition.
public struct LatencyBins: Sendable, Equatable {
    /// Bins per doubling.
    static let perOctave = 8
    /// Doublings covered from 1 µs: 2^38 µs is 76 hours; longer latencies land in the last bin.
    static let octaves = 38
    private var bins: [UInt32] = []
    /// The latencies themselves while there are at most `exactLimit`; emptied beyond.
    private var exact: [Int64] = []
    static let exactLimit = 256
    /// How many latencies were observed.
    public private(set) var count = 0
    /// The longest, in microseconds (0 when none).
    public private(set) var max: Int64 = 0
    /// The shortest, in microseconds (0 when none).
    public private(set) var min: Int64 = 0

    /// No latencies.
    public init() {}

    /// Adds one latency of `micros` microseconds (negative ones count as 0).
    mutating func observe(_ micros: Int64) {
        if bins.isEmpty { bins = [UInt32](repeating: 0, count: Self.perOctave * Self.octaves) }
        let value = Swift.max(0, micros)
        let index = Self.bin(of: value)
        bins[index] &+= 1
        if count < Self.exactLimit { exact.append(value) } else if count == Self.exactLimit { exact = [] }
        if count == 0 || value < min { min = value }
        if value > max { max = value }
        count += 1
    }

    /// Adds another set's latencies.
    mutating func merge(_ other: LatencyBins) {
        guard other.count > 0 else { return }
        if bins.isEmpty { self = other; return }
        for index in bins.indices { bins[index] &+= other.bins[index] }
        exact = count + other.count <= Self.exactLimit ? exact + other.exact : []
        if other.min < min { min = other.min }
        if other.max > max { max = other.max }
        count += other.count
    }

    /// The `fraction` percentile (0.5, 0.95) in microseconds: the middle of the bin holding
    /// it, kept within the observed minimum and maximum. Nil when nothing was observed.
    public func percentile(_ fraction: Double) -> Int64? {
        guard count > 0 else { return nil }
        // The rank of the value wanted, 1-based: the smallest value with at least that share below or at it.
        let rank = Swift.max(1, Int((Double(count) * fraction).rounded(.up)))
        if count <= Self.exactLimit, exact.count == count { return exact.sorted()[Swift.min(rank, count) - 1] }
        var seen = 0
        for (index, binCount) in bins.enumerated() {
            seen += Int(binCount)
            if seen >= rank { return Swift.min(max, Swift.max(min, Self.middle(of: index))) }
        }
        return max
    }

    /// The bin of a value: 0 for below 2 µs, then `perOctave` bins per doubling.
    static func bin(of micros: Int64) -> Int {
        guard micros >= 2 else { return 0 }
        let octave = 63 - micros.leadingZeroBitCount
        // The 3 bits after the leading one choose the bin within the octave.
        let within = octave >= 3 ? Int((micros >> (octave - 3)) & 7) : Int((micros << (3 - octave)) & 7)
        return Swift.min(perOctave * octaves - 1, octave * perOctave + within)
    }

    /// A bin's geometric middle, in microseconds.
    static func middle(of bin: Int) -> Int64 {
        let octave = bin / perOctave
        let within = bin % perOctave
        let low = Double(Int64(1) << octave) * (1 + Double(within) / 8)
        let high = Double(Int64(1) << octave) * (1 + Double(within + 1) / 8)
        return Int64((low * high).squareRoot().rounded())
    }
}
