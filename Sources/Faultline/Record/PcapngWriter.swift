/// pcapng blocks (draft-ietf-opsawg-pcapng): a Section Header Block once, then Interface
/// Description Blocks, then Enhanced Packet Blocks, little-endian, appended to a caller-owned
/// buffer that the recording's writer thread puts in `capture.pcapng`.
///
/// Every block is `type, total length, body padded to 32 bits, total length` — the length is
/// repeated at the end so readers can walk a file backwards. Interfaces are LINKTYPE_RAW (the
/// packet starts at its IP header; the first nibble says IPv4 or IPv6) with nanosecond
/// timestamps, so an Enhanced Packet Block's timestamp is the wall clock in ns since 1970.
struct PcapngWriter {
    /// Block types.
    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    static let interfaceDescriptionType: UInt32 = 0x0000_0001
    static let enhancedPacketType: UInt32 = 0x0000_0006
    /// The section header's byte-order magic, written in our (little-endian) order.
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    /// LINKTYPE_RAW: raw IPv4 or IPv6, no link-layer header.
    static let linkTypeRaw: UInt16 = 101
    /// An Enhanced Packet Block's fixed part: type, length, interface, timestamp (2 words),
    /// captured and original length.
    static let packetHeaderLength = 28

    /// Option codes.
    private static let optionEnd: UInt16 = 0
    private static let shbUserApplication: UInt16 = 4
    private static let ifName: UInt16 = 2
    private static let ifDescription: UInt16 = 3
    private static let ifTimestampResolution: UInt16 = 9

    /// Interfaces described so far; the next one gets this id.
    private(set) var interfaceCount: UInt32 = 0

    /// Nothing written yet.
    init() {}

    /// Appends the Section Header Block (version 1.0, section length unknown, shb_userappl
    /// "faultline"). Once, before anything else.
    mutating func header(into out: inout [UInt8]) {
        let start = Self.beginBlock(Self.sectionHeaderType, into: &out)
        Self.append32(Self.byteOrderMagic, into: &out)
        Self.append16(1, into: &out)   // major version
        Self.append16(0, into: &out)   // minor version
        Self.append32(0xFFFF_FFFF, into: &out)   // section length: -1, not given (64 bits)
        Self.append32(0xFFFF_FFFF, into: &out)
        Self.appendOption(Self.shbUserApplication, Array("faultline".utf8), into: &out)
        Self.appendOption(Self.optionEnd, [], into: &out)
        Self.endBlock(start: start, into: &out)
    }

    /// Appends an Interface Description Block: LINKTYPE_RAW, snaplen 0 (no limit), if_name,
    /// if_description and if_tsresol 9 (nanoseconds). Returns its id, 0, 1, 2… in order, which
    /// `packet(interface:…)` takes.
    mutating func addInterface(name: String, description: String, into out: inout [UInt8]) -> UInt32 {
        let start = Self.beginBlock(Self.interfaceDescriptionType, into: &out)
        Self.append16(Self.linkTypeRaw, into: &out)
        Self.append16(0, into: &out)   // reserved
        Self.append32(0, into: &out)   // snaplen
        Self.appendOption(Self.ifName, Array(name.utf8), into: &out)
        Self.appendOption(Self.ifDescription, Array(description.utf8), into: &out)
        Self.appendOption(Self.ifTimestampResolution, [9], into: &out)
        Self.appendOption(Self.optionEnd, [], into: &out)
        Self.endBlock(start: start, into: &out)
        defer { interfaceCount += 1 }
        return interfaceCount
    }

    /// Appends an Enhanced Packet Block on `interface` at `nanoseconds` (wall clock since 1970)
    /// whose packet data `body` appends: exactly `length` bytes, padded here to 32 bits. The
    /// lengths written are the ones `body` really appended.
    static func packet(interface: UInt32, nanoseconds: UInt64, length: Int, into out: inout [UInt8],
                       body: (inout [UInt8]) -> Void) {
        let start = beginPacket(interface: interface, nanoseconds: nanoseconds, into: &out)
        body(&out)
        assert(out.count - start - packetHeaderLength == length, "packet body appended \(out.count - start - packetHeaderLength) bytes, not \(length)")
        endPacket(start: start, into: &out)
    }

    /// The first half of `packet`: appends the block's fixed part with the lengths still zero,
    /// and returns where the block starts. The packet data follows, then `endPacket`. For
    /// `TCPLegCapture`, which writes packet data without a closure on the data path.
    @inline(__always)
    static func beginPacket(interface: UInt32, nanoseconds: UInt64, into out: inout [UInt8]) -> Int {
        let start = out.count
        // One append of the whole fixed part rather than seven.
        var fixed: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
            enhancedPacketType.littleEndian, 0, interface.littleEndian,
            UInt32(truncatingIfNeeded: nanoseconds >> 32).littleEndian,
            UInt32(truncatingIfNeeded: nanoseconds).littleEndian, 0, 0)
        withUnsafeBytes(of: &fixed) { out.append(contentsOf: $0.assumingMemoryBound(to: UInt8.self)) }
        return start
    }

    /// The second half of `packet`: pads the packet data to 32 bits, appends the trailing total
    /// length and fills in the lengths of the block that starts at `start`.
    @inline(__always)
    static func endPacket(start: Int, into out: inout [UInt8]) {
        let captured = out.count - start - packetHeaderLength
        appendPadding(after: captured, into: &out)
        let total = out.count - start + 4
        append32(UInt32(truncatingIfNeeded: total), into: &out)
        out.withUnsafeMutableBytes { block in
            guard let p = block.baseAddress else { return }
            p.storeBytes(of: UInt32(truncatingIfNeeded: total).littleEndian, toByteOffset: start + 4, as: UInt32.self)
            p.storeBytes(of: UInt32(truncatingIfNeeded: captured).littleEndian, toByteOffset: start + 20, as: UInt32.self)
            p.storeBytes(of: UInt32(truncatingIfNeeded: captured).littleEndian, toByteOffset: start + 24, as: UInt32.self)
        }
    }

    // MARK: - Block plumbing

    /// Appends a block's type and a zero length; returns where the block starts.
    private static func beginBlock(_ type: UInt32, into out: inout [UInt8]) -> Int {
        let start = out.count
        append32(type, into: &out)
        append32(0, into: &out)
        return start
    }

    /// Appends the trailing total length and patches the leading one (the body is already
    /// padded: every piece appended is a multiple of 4 bytes long).
    private static func endBlock(start: Int, into out: inout [UInt8]) {
        let total = UInt32(truncatingIfNeeded: out.count - start + 4)
        append32(total, into: &out)
        out.withUnsafeMutableBytes { $0.storeBytes(of: total.littleEndian, toByteOffset: start + 4, as: UInt32.self) }
    }

    /// Appends an option: code, length, value padded to 32 bits.
    private static func appendOption(_ code: UInt16, _ value: [UInt8], into out: inout [UInt8]) {
        append16(code, into: &out)
        append16(UInt16(truncatingIfNeeded: min(value.count, Int(UInt16.max))), into: &out)
        out.append(contentsOf: value.prefix(Int(UInt16.max)))
        appendPadding(after: min(value.count, Int(UInt16.max)), into: &out)
    }

    /// Appends the zero bytes that pad a field of `length` bytes to a multiple of 4 (relative
    /// to the field, not to `out`, which may hold anything before the block).
    @inline(__always)
    private static func appendPadding(after length: Int, into out: inout [UInt8]) {
        switch length & 3 {
        case 1: out.append(0); out.append(0); out.append(0)
        case 2: out.append(0); out.append(0)
        case 3: out.append(0)
        default: break
        }
    }

    @inline(__always)
    private static func append32(_ value: UInt32, into out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0.assumingMemoryBound(to: UInt8.self)) }
    }

    private static func append16(_ value: UInt16, into out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0.assumingMemoryBound(to: UInt8.self)) }
    }
}
