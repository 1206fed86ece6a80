import CEvent

/// A fault that sees or holds one direction's bytes (latency, bandwidth, slicer).
protocol ByteStage: AnyObject {
    /// Where the stage hands bytes on; set by the chain, called now or from a timer.
    var next: (OpaquePointer) -> Void { get set }
    /// Bytes the stage holds now.
    var heldBytes: Int { get }
    /// Takes every byte of `data` (an evbuffer); hands them to `next` now or later, in order.
    func push(_ data: OpaquePointer)
    /// Hands on everything held, now, and stops its timers: the fault was removed.
    func releaseAll()
    /// Stops timers without handing anything on: the link is gone.
    func cancel()
}

/// The byte stages of one pipe in order. Bytes enter at the head and leave through `output`
/// into the pipe's outgoing buffer; removing a stage hands its bytes to the stage after it,
/// so nothing is lost or reordered.
final class StageChain {
    private(set) var stages: [ByteStage] = []
    private let output: (OpaquePointer) -> Void

    init(output: @escaping (OpaquePointer) -> Void) {
        self.output = output
    }

    var isEmpty: Bool { stages.isEmpty }

    var heldBytes: Int { stages.reduce(0) { $0 + $1.heldBytes } }

    func push(_ data: OpaquePointer) { deliver(data, at: 0) }

    func install(_ stage: ByteStage) {
        stages.append(stage)
        rewire()
    }

    func remove(_ stage: ByteStage) {
        guard let index = stages.firstIndex(where: { $0 === stage }) else { return }
        stage.releaseAll()
        stages.remove(at: index)
        rewire()
    }

    func cancelAll() { stages.forEach { $0.cancel() } }

    private func rewire() {
        for (index, stage) in stages.enumerated() {
            stage.next = { [unowned self] data in deliver(data, at: index + 1) }
        }
    }

    private func deliver(_ data: OpaquePointer, at index: Int) {
        index < stages.count ? stages[index].push(data) : output(data)
    }
}
