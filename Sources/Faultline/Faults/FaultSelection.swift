/// Which connections a fault applies to: `first`, `every` and `probability`, decided per
/// connection from the run's seed so the same seed makes the same decisions. The coin for a
/// connection depends only on (seed, fault name, link id), not on the order of events, and a
/// probability of 0 never applies — the link is not even moved off the splice path.
enum FaultSelection {
    /// Whether `fault` applies to the `ordinal`-th connection it sees (1-based), link `linkID`.
    static func applies(_ fault: Fault, ordinal: Int, linkID: UInt64, seed: UInt64) -> Bool {
        if let first = fault.first, ordinal > first { return false }
        if let every = fault.every, ordinal % every != 0 { return false }
        if fault.probability >= 1 { return true }
        if fault.probability <= 0 { return false }
        var coin = SplitMix64(seed: mix(seed, fault.name, linkID))
        return Double(coin.next() >> 11) / Double(1 << 53) < fault.probability
    }

    /// One 64-bit value from the seed, a fault's name and a link id.
    static func mix(_ seed: UInt64, _ name: String, _ linkID: UInt64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return seed ^ hash ^ (linkID &* 0x9e37_79b9_7f4a_7c15)
    }
}

/// SplitMix64: a small, fast, seedable generator; plenty for jitter and coin flips.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
