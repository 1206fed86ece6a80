/// How a link moves bytes.
public enum DataPath: String, Sendable, CaseIterable {
    /// Kernel to kernel with splice(2) through a pipe: no copy into the process. Used while no
    /// active fault needs to see or hold the bytes.
    case splice
    /// Through an evbuffer in the process, where faults can read, hold, cut or rewrite bytes.
    case buffered
}

/// Sizes that bound a link's memory and set how much one wake-up moves.
public struct PipeLimits: Sendable {
    /// Capacity of each kernel pipe on the splice path (kernel memory, not RSS).
    public var spliceCapacity: Int32 = 256 * 1024
    /// Most bytes one readv(2) takes on the buffered path.
    public var readSize: Int = 64 * 1024
    /// The buffered path stops reading a source while this much waits for its sink, so a
    /// peer that stops reading holds at most about `highWater + readSize` per direction.
    public var highWater: Int = 256 * 1024
    /// Most bytes the byte-touching faults of one direction may hold (latency, bandwidth):
    /// reading pauses beyond it, as a slow real network would push back.
    public var holdLimit: Int = 1024 * 1024

    /// The defaults: at most ~640 KB of process memory per link without byte-touching
    /// faults, ~1.3 MB per direction with them.
    public init() {}
}
