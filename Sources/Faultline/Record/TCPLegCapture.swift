/// One TCP connection as seen on one leg of a link (client ↔ faultline, or faultline ↔
/// upstream), synthesized as packets: the proxy sees byte streams, not segments, so the capture
/// makes up segments whose sequence and acknowledgement numbers are consistent, and Wireshark's
/// TCP analysis (reassembly, "previous segment not captured", "ACKed unseen segment") is happy.
///
/// Each packet is one Enhanced Packet Block on `interface`, appended to the caller's buffer.
/// The initiator is the end that connected (the client on the client leg, faultline on the
/// upstream leg). Every segment after the SYN carries ACK for all the other side has sent so
/// far: what the proxy read from a socket had been acknowledged by its kernel.
struct TCPLegCapture {
    /// The largest payload of one synthesized segment: an IPv4 packet's total length is 16 bits.
    static let maximumSegmentPayload = 65_000

    /// The pcapng interface the packets go on.
    let interface: UInt32
    /// Headers for initiator → responder and responder → initiator.
    private let forward: IPPacket
    private let backward: IPPacket
    /// Initial sequence numbers of the initiator and the responder.
    private let initiatorISN: UInt32
    private let responderISN: UInt32
    /// The sequence number each side sends next (SYN and FIN count one each).
    private(set) var initiatorNext: UInt32
    private(set) var responderNext: UInt32
    /// IPv4 identification of the next packet, either direction (IPv6 has none).
    private var identification: UInt16 = 0

    /// A leg from `initiator` to `responder`. IPv4 or IPv6 per the addresses; v4-mapped IPv6
    /// addresses are IPv4, and if the two ends still differ, IPv4 is written v4-mapped in IPv6
    /// (a packet has one family). `isn` is (initiator's, responder's) initial sequence number.
    init(initiator: SocketAddress, responder: SocketAddress, interface: UInt32, isn: (UInt32, UInt32)) {
        var from = CapturedHost(initiator)
        var to = CapturedHost(responder)
        if from.isIPv6 != to.isIPv6 {
            from = from.asIPv6
            to = to.asIPv6
        }
        self.interface = interface
        forward = IPPacket(source: from, sourcePort: initiator.port, destination: to, destinationPort: responder.port)
        backward = IPPacket(source: to, sourcePort: responder.port, destination: from, destinationPort: initiator.port)
        initiatorISN = isn.0
        responderISN = isn.1
        initiatorNext = isn.0
        responderNext = isn.1
    }

    /// The three-way handshake: SYN, SYN/ACK, ACK, all at `ns`.
    mutating func open(at ns: UInt64, into out: inout [UInt8]) {
        initiatorNext = initiatorISN
        responderNext = responderISN
        emit(fromInitiator: true, seq: initiatorISN, ack: 0, flags: .syn, synOptions: true, at: ns, into: &out)
        initiatorNext = initiatorISN &+ 1
        emit(fromInitiator: false, seq: responderISN, ack: initiatorNext, flags: [.syn, .ack], synOptions: true, at: ns, into: &out)
        responderNext = responderISN &+ 1
        emit(fromInitiator: true, seq: initiatorNext, ack: responderNext, flags: .ack, synOptions: false, at: ns, into: &out)
    }

    /// A refused connect: the initiator's SYN, answered by RST/ACK from the responder (sequence
    /// 0, acknowledging the SYN, as Linux answers a closed port).
    mutating func refused(at ns: UInt64, into out: inout [UInt8]) {
        initiatorNext = initiatorISN
        emit(fromInitiator: true, seq: initiatorISN, ack: 0, flags: .syn, synOptions: true, at: ns, into: &out)
        initiatorNext = initiatorISN &+ 1
        emit(fromInitiator: false, seq: 0, ack: initiatorNext, flags: [.rst, .ack], synOptions: false, at: ns, into: &out)
    }

    /// `bytes` sent by one side, as ACK|PSH segments of at most 65_000 payload bytes (none for
    /// an empty buffer). Each segment's payload is copied into `out`, then `filter` may
    /// overwrite it in place (redaction; same length), then the checksums are computed, so they
    /// match the bytes the capture holds. `filter` sees the segments in stream order.
    mutating func data(fromInitiator: Bool, _ bytes: UnsafeRawBufferPointer, at ns: UInt64,
                       into out: inout [UInt8], filter: (UnsafeMutableRawBufferPointer) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let size = min(Self.maximumSegmentPayload, bytes.count - offset)
            let payload = UnsafeRawBufferPointer(start: base + offset, count: size)
            let seq = fromInitiator ? initiatorNext : responderNext
            let ack = fromInitiator ? responderNext : initiatorNext
            let start = PcapngWriter.beginPacket(interface: interface, nanoseconds: ns, into: &out)
            // if/else, not a ternary: choosing a struct with an array in it retains the array.
            if fromInitiator {
                forward.append(seq: seq, ack: ack, flags: [.ack, .psh], identification: identification, synOptions: false,
                               payload: payload, into: &out, filter: filter)
            } else {
                backward.append(seq: seq, ack: ack, flags: [.ack, .psh], identification: identification, synOptions: false,
                                payload: payload, into: &out, filter: filter)
            }
            PcapngWriter.endPacket(start: start, into: &out)
            identification &+= 1
            advance(fromInitiator: fromInitiator, by: UInt32(size))
            offset += size
        }
    }

    /// One side closes its sending half: FIN|ACK, which takes one sequence number.
    mutating func fin(fromInitiator: Bool, at ns: UInt64, into out: inout [UInt8]) {
        emit(fromInitiator: fromInitiator, seq: fromInitiator ? initiatorNext : responderNext,
             ack: fromInitiator ? responderNext : initiatorNext, flags: [.fin, .ack], synOptions: false, at: ns, into: &out)
        advance(fromInitiator: fromInitiator, by: 1)
    }

    /// One side resets the connection: RST|ACK at its next sequence number.
    mutating func reset(fromInitiator: Bool, at ns: UInt64, into out: inout [UInt8]) {
        emit(fromInitiator: fromInitiator, seq: fromInitiator ? initiatorNext : responderNext,
             ack: fromInitiator ? responderNext : initiatorNext, flags: [.rst, .ack], synOptions: false, at: ns, into: &out)
    }

    // MARK: - Private

    /// One packet without payload.
    private mutating func emit(fromInitiator: Bool, seq: UInt32, ack: UInt32, flags: TCPFlags, synOptions: Bool,
                               at ns: UInt64, into out: inout [UInt8]) {
        let start = PcapngWriter.beginPacket(interface: interface, nanoseconds: ns, into: &out)
        (fromInitiator ? forward : backward).append(
            seq: seq, ack: ack, flags: flags, identification: identification, synOptions: synOptions,
            payload: UnsafeRawBufferPointer(start: nil, count: 0), into: &out, filter: { _ in })
        PcapngWriter.endPacket(start: start, into: &out)
        identification &+= 1
    }

    private mutating func advance(fromInitiator: Bool, by count: UInt32) {
        if fromInitiator { initiatorNext &+= count } else { responderNext &+= count }
    }
}
