import Glibc

/// The RFC 1071 Internet checksum, summed 8 bytes at a time. It runs over every captured byte
/// on the proxy's data path, so it loads unaligned 64-bit words instead of walking 16-bit ones.
///
/// The one's-complement sum does not depend on byte order (RFC 1071 §2(B)): words are summed in
/// the machine's order, and the folded result, stored back in the machine's order, lands in
/// the wire's byte order. Partial sums of separate buffers add up as long as each buffer starts
/// at an even offset of the checksummed data.
enum InternetChecksum {
    /// `initial` plus the one's-complement sum of `bytes`, not yet folded. An odd last byte is
    /// padded with a zero byte after it. For buffers under 16 GiB (the capture's are ≤ 64 KB).
    @inline(__always)
    static func sum(_ bytes: UnsafeRawBufferPointer, initial: UInt64 = 0) -> UInt64 {
        guard let base = bytes.baseAddress else { return initial }
        let count = bytes.count
        let words = count / 8
        // Each 8-byte word goes in as its two 32-bit halves, so the 64-bit accumulator keeps
        // every carry (each step adds < 2^33: no overflow below 2^31 words) and the loop has no
        // carry chain: the compiler vectorizes it, ~1.4x an add-with-carry loop here.
        var total: UInt64 = 0
        for index in 0..<words {
            let word = base.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self)
            total &+= (word & 0xFFFF_FFFF) &+ (word >> 32)
        }
        // Up to 7 bytes left: gathered into one zeroed word, so the padding byte comes after.
        let done = words &* 8
        if done < count {
            var tail: UInt64 = 0
            withUnsafeMutableBytes(of: &tail) { word in
                word.baseAddress?.copyMemory(from: base + done, byteCount: count - done)
            }
            total &+= (tail & 0xFFFF_FFFF) &+ (tail >> 32)
        }
        return add(initial, total)
    }

    /// One's-complement addition of two 64-bit partial sums.
    @inline(__always)
    static func add(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let (s, o) = x.addingReportingOverflow(y)
        return s &+ (o ? 1 : 0)
    }

    /// The checksum field's value for a partial `sum`: folded to 16 bits and complemented,
    /// in the machine's byte order (store it as is).
    @inline(__always)
    static func finish(_ sum: UInt64) -> UInt16 {
        var s = (sum & 0xFFFF_FFFF) &+ (sum >> 32)   // ≤ 33 bits
        s = (s & 0xFFFF) &+ (s >> 16)                // ≤ 18 bits
        s = (s & 0xFFFF) &+ (s >> 16)                // ≤ 17 bits
        s = (s & 0xFFFF) &+ (s >> 16)                // 16 bits
        return ~UInt16(truncatingIfNeeded: s)
    }
}

/// A captured endpoint's IP address as it goes on the wire: IPv4, or IPv6 (v4-mapped IPv6
/// addresses are IPv4: `::ffff:127.0.0.1` is written as `127.0.0.1`, as the packets would be).
struct CapturedHost: Equatable {
    /// The address bytes in network order; IPv4 uses the first 4.
    let bytes: (UInt64, UInt64)
    /// 16-byte IPv6 rather than 4-byte IPv4.
    let isIPv6: Bool

    static func == (lhs: CapturedHost, rhs: CapturedHost) -> Bool {
        lhs.isIPv6 == rhs.isIPv6 && lhs.bytes.0 == rhs.bytes.0 && lhs.bytes.1 == rhs.bytes.1
    }

    /// Raw address bytes; `count` is 4 or 16.
    init(raw: UnsafeRawBufferPointer) {
        var bytes: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(16))) }
        self.bytes = bytes
        self.isIPv6 = raw.count == 16
    }

    /// The host part of a socket address (`0.0.0.0` for a family that is neither IPv4 nor
    /// IPv6, which `SocketAddress` never holds).
    init(_ address: SocketAddress) {
        var host = CapturedHost(raw: UnsafeRawBufferPointer(start: nil, count: 0))
        withUnsafeBytes(of: address.storage) { raw in
            switch address.family {
            case AF_INET:
                let at = MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_addr) ?? 4
                host = CapturedHost(raw: UnsafeRawBufferPointer(rebasing: raw[at..<at + 4]))
            case AF_INET6:
                let at = MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_addr) ?? 8
                let v6 = UnsafeRawBufferPointer(rebasing: raw[at..<at + 16])
                let mapped = v6.prefix(10).allSatisfy { $0 == 0 } && v6[10] == 0xFF && v6[11] == 0xFF
                host = CapturedHost(raw: mapped ? UnsafeRawBufferPointer(rebasing: v6[12..<16]) : v6)
            default:
                break
            }
        }
        self = host
    }

    /// The same host as an IPv6 address (IPv4 becomes `::ffff:a.b.c.d`), for a leg whose other
    /// end is IPv6: both ends of a packet are one family.
    var asIPv6: CapturedHost {
        guard !isIPv6 else { return self }
        var v6: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
        withUnsafeBytes(of: bytes) { v6.append(contentsOf: $0.prefix(4)) }
        return v6.withUnsafeBytes { CapturedHost(raw: $0) }
    }

    /// Appends the address bytes (4 or 16).
    func append(into out: inout [UInt8]) {
        withUnsafeBytes(of: bytes) { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0.prefix(isIPv6 ? 16 : 4))) }
    }
}

/// TCP header flag bits.
struct TCPFlags: OptionSet {
    let rawValue: UInt8
    static let fin = TCPFlags(rawValue: 0x01)
    static let syn = TCPFlags(rawValue: 0x02)
    static let rst = TCPFlags(rawValue: 0x04)
    static let psh = TCPFlags(rawValue: 0x08)
    static let ack = TCPFlags(rawValue: 0x10)
}

/// The IP and TCP headers of one direction of one leg. Addresses, ports, TTL and protocol are
/// laid out once in a template; each segment copies the template and patches lengths, sequence
/// numbers, flags and checksums in place, so a segment costs one header copy, one payload copy
/// and one checksum pass, with nothing allocated.
struct IPPacket {
    /// IPv4 and IPv6 header sizes (no IPv4 options, no IPv6 extension headers).
    static let ipv4HeaderLength = 20
    static let ipv6HeaderLength = 40
    /// A TCP header without options.
    static let tcpHeaderLength = 20
    /// The options a SYN carries: MSS 65495 (loopback's), NOP, window scale 14. Scaling makes
    /// the advertised window (65535 << 14, about 1 GiB) larger than anything a capture holds
    /// unacknowledged, since the synthesized legs send no pure ACKs.
    static let synOptions: [UInt8] = [2, 4, 0xFF, 0xD7, 1, 3, 3, 14]
    /// The window field of every segment.
    static let window: UInt16 = 65535

    /// IPv6 rather than IPv4.
    let isIPv6: Bool
    /// IP header followed by a TCP header, with everything fixed for this direction filled in.
    private let template: [UInt8]
    /// The pseudo-header's addresses and protocol, summed once; each segment adds its length.
    private let pseudoHeaderSum: UInt64

    /// Headers for packets from `source`:`sourcePort` to `destination`:`destinationPort`;
    /// the two hosts must be one family (`TCPLegCapture` sees to it).
    init(source: CapturedHost, sourcePort: UInt16, destination: CapturedHost, destinationPort: UInt16) {
        isIPv6 = source.isIPv6
        var header: [UInt8] = []
        if isIPv6 {
            // Version 6, traffic class 0, flow label 0; payload length patched; next header
            // TCP; hop limit 64.
            header += [0x60, 0, 0, 0, 0, 0, 6, 64]
        } else {
            // Version 4, IHL 5, TOS 0; total length and identification patched; DF as Linux
            // sets it; TTL 64; protocol TCP; checksum patched.
            header += [0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0]
        }
        source.append(into: &header)
        destination.append(into: &header)
        header += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
        // seq, ack, data offset, flags patched; window; checksum patched; urgent pointer 0.
        header += [0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0, UInt8(Self.window >> 8), UInt8(Self.window & 0xFF), 0, 0, 0, 0]
        template = header
        // Pseudo-header (RFC 793 / RFC 8200 §8.1) without its length: addresses, then protocol
        // 6 in the low byte of a 16-bit word (IPv6's 32-bit next-header field sums the same).
        var pseudo: [UInt8] = []
        source.append(into: &pseudo)
        destination.append(into: &pseudo)
        pseudo += [0, 6]
        pseudoHeaderSum = pseudo.withUnsafeBytes { InternetChecksum.sum($0) }
    }

    /// The packet's length for a payload of `payload` bytes (and SYN options or not).
    func length(payload: Int, synOptions: Bool) -> Int {
        (isIPv6 ? Self.ipv6HeaderLength : Self.ipv4HeaderLength) + Self.tcpHeaderLength
            + (synOptions ? Self.synOptions.count : 0) + payload
    }

    /// Appends one packet: IP header, TCP header (with the SYN options if `synOptions`) and a
    /// copy of `payload` ( ≤ 65_495 bytes: an IPv4 total length is 16 bits). `filter` then sees
    /// the copied payload and may overwrite it in place; the checksums are computed after it.
    func append(seq: UInt32, ack: UInt32, flags: TCPFlags, identification: UInt16, synOptions: Bool,
                payload: UnsafeRawBufferPointer, into out: inout [UInt8],
                filter: (UnsafeMutableRawBufferPointer) -> Void) {
        let start = out.count
        let ipLength = isIPv6 ? Self.ipv6HeaderLength : Self.ipv4HeaderLength
        let optionsLength = synOptions ? Self.synOptions.count : 0
        let tcpLength = Self.tcpHeaderLength + optionsLength + payload.count
        out.append(contentsOf: template)
        if synOptions { out.append(contentsOf: Self.synOptions) }
        if let base = payload.baseAddress, payload.count > 0 {
            out.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: payload.count))
        }
        out.withUnsafeMutableBytes { whole in
            let packet = UnsafeMutableRawBufferPointer(rebasing: whole[start..<start + ipLength + tcpLength])
            guard let p = packet.baseAddress else { return }
            let tcp = p + ipLength
            if payload.count > 0 {
                filter(UnsafeMutableRawBufferPointer(start: tcp + Self.tcpHeaderLength + optionsLength, count: payload.count))
            }
            if isIPv6 {
                p.storeBytes(of: UInt16(truncatingIfNeeded: tcpLength).bigEndian, toByteOffset: 4, as: UInt16.self)
            } else {
                p.storeBytes(of: UInt16(truncatingIfNeeded: ipLength + tcpLength).bigEndian, toByteOffset: 2, as: UInt16.self)
                p.storeBytes(of: identification.bigEndian, toByteOffset: 4, as: UInt16.self)
                let headerSum = InternetChecksum.sum(UnsafeRawBufferPointer(start: p, count: ipLength))
                p.storeBytes(of: InternetChecksum.finish(headerSum), toByteOffset: 10, as: UInt16.self)
            }
            tcp.storeBytes(of: seq.bigEndian, toByteOffset: 4, as: UInt32.self)
            tcp.storeBytes(of: ack.bigEndian, toByteOffset: 8, as: UInt32.self)
            tcp.storeBytes(of: UInt8((Self.tcpHeaderLength + optionsLength) / 4) << 4, toByteOffset: 12, as: UInt8.self)
            tcp.storeBytes(of: flags.rawValue, toByteOffset: 13, as: UInt8.self)
            // The length word of the pseudo-header (IPv6's is 32 bits, its high half zero).
            let withLength = InternetChecksum.add(pseudoHeaderSum, UInt64(UInt16(truncatingIfNeeded: tcpLength).bigEndian))
            let tcpSum = InternetChecksum.sum(UnsafeRawBufferPointer(start: tcp, count: tcpLength), initial: withLength)
            tcp.storeBytes(of: InternetChecksum.finish(tcpSum), toByteOffset: 16, as: UInt16.self)
        }
    }
}
