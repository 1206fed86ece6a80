/// The capture of one link: its two legs as synthesized TCP connections (client ↔ faultline,
/// faultline ↔ upstream), fed by the pipes with the plaintext they read and write.
///
/// A pipe going `.upstream` reads from the client (client leg, the client's side) and writes
/// to the upstream (upstream leg, faultline's side: it initiated that connection); a pipe
/// going `.downstream` reads from the upstream (upstream leg, the upstream's side) and writes
/// to the client (client leg, faultline's side). So in both calls the bytes come from the
/// leg's initiator exactly when the pipe goes `.upstream`.
///
/// Each direction of each leg has its own `StreamRedactor`: secrets are overwritten in the
/// capture's copy of the bytes, never in the bytes the link moves.
final class LinkCapture {
    let capture: Capture
    private var client: Leg
    private var upstream: Leg?
    private let upstreamInterface: UInt32
    private let isn: UInt64

    /// One leg's packets, the FIN/RST already shown, and a redactor per direction.
    private struct Leg {
        var packets: TCPLegCapture
        var initiatorDone = false
        var responderDone = false
        var fromInitiator = StreamRedactor()
        var fromResponder = StreamRedactor()
    }

    /// Starts the link's capture with its client leg's handshake; nil when the client's
    /// addresses cannot be had (it already left).
    init?(capture: Capture, proxy: Proxy, client fd: Int32, link: UInt64) {
        guard let peer = SocketAddress.peer(of: fd), let local = SocketAddress.local(of: fd) else { return nil }
        self.capture = capture
        let interfaces = capture.interfaces(for: proxy)
        upstreamInterface = interfaces.upstream
        isn = Self.mix(link)
        client = Leg(packets: TCPLegCapture(initiator: peer, responder: local, interface: interfaces.client,
                                            isn: Self.pair(isn, 1)))
        client.packets.open(at: capture.now, into: &capture.out)
        capture.appended()
    }

    /// The upstream connect succeeded on `fd`.
    func upstreamConnected(_ fd: Int32, to address: SocketAddress) {
        guard capture.active, let local = SocketAddress.local(of: fd) else { return }
        var leg = Leg(packets: TCPLegCapture(initiator: local, responder: address, interface: upstreamInterface,
                                             isn: Self.pair(isn, 2)))
        leg.packets.open(at: capture.now, into: &capture.out)
        upstream = leg
        capture.appended()
    }

    /// The upstream refused the connect made from `fd`.
    func upstreamRefused(_ fd: Int32, to address: SocketAddress) {
        guard capture.active, let local = SocketAddress.local(of: fd) else { return }
        var leg = TCPLegCapture(initiator: local, responder: address, interface: upstreamInterface, isn: Self.pair(isn, 2))
        leg.refused(at: capture.now, into: &capture.out)
        capture.appended()
    }

    /// A pipe going `direction` read `bytes` from its source (plaintext).
    func received(_ direction: Pipe.Direction, _ bytes: UnsafeRawBufferPointer) {
        if direction == .upstream { data(&client, fromInitiator: true, bytes) } else { upstreamData(fromInitiator: false, bytes) }
    }

    /// A pipe going `direction` wrote `bytes` to its sink (plaintext).
    func sent(_ direction: Pipe.Direction, _ bytes: UnsafeRawBufferPointer) {
        if direction == .upstream { upstreamData(fromInitiator: true, bytes) } else { data(&client, fromInitiator: false, bytes) }
    }

    /// The source of a pipe going `direction` sent its FIN.
    func sourceEnded(_ direction: Pipe.Direction) {
        if direction == .upstream { end(&client, fromInitiator: true, reset: false) } else { upstreamEnd(fromInitiator: false, reset: false) }
    }

    /// Faultline sent the sink of a pipe going `direction` its FIN.
    func sinkFinished(_ direction: Pipe.Direction) {
        if direction == .upstream { upstreamEnd(fromInitiator: true, reset: false) } else { end(&client, fromInitiator: false, reset: false) }
    }

    /// The source of a pipe going `direction` reset its connection.
    func sourceReset(_ direction: Pipe.Direction) {
        if direction == .upstream { end(&client, fromInitiator: true, reset: true) } else { upstreamEnd(fromInitiator: false, reset: true) }
    }

    /// Faultline closed both sockets: a FIN (or RST) on each leg where it sent none yet.
    func closed(resetClient: Bool, resetUpstream: Bool) {
        end(&client, fromInitiator: false, reset: resetClient)
        upstreamEnd(fromInitiator: true, reset: resetUpstream)
    }

    private func upstreamData(fromInitiator: Bool, _ bytes: UnsafeRawBufferPointer) {
        guard upstream != nil else { return }
        data(&upstream!, fromInitiator: fromInitiator, bytes)
    }

    private func upstreamEnd(fromInitiator: Bool, reset: Bool) {
        guard upstream != nil else { return }
        end(&upstream!, fromInitiator: fromInitiator, reset: reset)
    }

    private func data(_ leg: inout Leg, fromInitiator: Bool, _ bytes: UnsafeRawBufferPointer) {
        guard capture.active, !bytes.isEmpty else { return }
        let now = capture.now
        guard capture.redact else {
            leg.packets.data(fromInitiator: fromInitiator, bytes, at: now, into: &capture.out) { _ in }
            return capture.appended()
        }
        // Taken out for the call: the filter must not reach into `leg` while `packets` is in use.
        var redactor = fromInitiator ? leg.fromInitiator : leg.fromResponder
        leg.packets.data(fromInitiator: fromInitiator, bytes, at: now, into: &capture.out) { redactor.redact($0) }
        if fromInitiator { leg.fromInitiator = redactor } else { leg.fromResponder = redactor }
        capture.appended()
    }

    private func end(_ leg: inout Leg, fromInitiator: Bool, reset: Bool) {
        guard capture.active, !(fromInitiator ? leg.initiatorDone : leg.responderDone) else { return }
        // After an RST neither side sends anything more on that connection.
        if reset { leg.initiatorDone = true; leg.responderDone = true }
        if fromInitiator { leg.initiatorDone = true } else { leg.responderDone = true }
        if reset {
            leg.packets.reset(fromInitiator: fromInitiator, at: capture.now, into: &capture.out)
        } else {
            leg.packets.fin(fromInitiator: fromInitiator, at: capture.now, into: &capture.out)
        }
        capture.appended()
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var x = value &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    private static func pair(_ seed: UInt64, _ leg: UInt64) -> (UInt32, UInt32) {
        let bits = mix(seed &+ leg)
        return (UInt32(truncatingIfNeeded: bits), UInt32(truncatingIfNeeded: bits >> 32))
    }
}
