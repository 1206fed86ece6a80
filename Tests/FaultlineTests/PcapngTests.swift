@testable import Faultline
import Foundation
import Glibc
import XCTest

/// The capture's pcapng blocks and synthesized TCP legs: byte layout, checksums against a
/// reference implementation, sequence arithmetic, and tshark reading a file we wrote.
final class PcapngTests: XCTestCase {
    // MARK: - Block layout

    func testSectionHeaderBlockIsByteExact() {
        var writer = PcapngWriter()
        var out: [UInt8] = []
        writer.header(into: &out)
        let expected: [UInt8] = le32(0x0A0D_0D0A) + le32(48) + le32(0x1A2B_3C4D) + [1, 0, 0, 0]
            + [UInt8](repeating: 0xFF, count: 8)
            + [4, 0, 9, 0] + Array("faultline".utf8) + [0, 0, 0]
            + [0, 0, 0, 0] + le32(48)
        XCTAssertEqual(out, expected)
    }

    func testInterfaceDescriptionBlockIsByteExactAndIdsCount() {
        var writer = PcapngWriter()
        var out: [UInt8] = [0xEE]   // whatever the buffer held before: padding is per field
        XCTAssertEqual(writer.addInterface(name: "lo", description: "loop", into: &out), 0)
        let expected: [UInt8] = [0xEE] + le32(1) + le32(48) + [101, 0, 0, 0] + le32(0)
            + [2, 0, 2, 0] + Array("lo".utf8) + [0, 0]
            + [3, 0, 4, 0] + Array("loop".utf8)
            + [9, 0, 1, 0, 9, 0, 0, 0]
            + [0, 0, 0, 0] + le32(48)
        XCTAssertEqual(out, expected)
        XCTAssertEqual(writer.addInterface(name: "client", description: "", into: &out), 1)
        XCTAssertEqual(writer.addInterface(name: "upstream", description: "x", into: &out), 2)
    }

    func testEnhancedPacketBlockIsByteExactAndPadded() {
        let ns: UInt64 = 1_700_000_000_123_456_789
        for (size, padding) in [(5, 3), (6, 2), (7, 1), (8, 0), (0, 0)] {
            var out: [UInt8] = []
            let body = (0..<size).map { UInt8($0 + 1) }
            PcapngWriter.packet(interface: 1, nanoseconds: ns, length: size, into: &out) { $0 += body }
            let total = UInt32(28 + size + padding + 4)
            let expected: [UInt8] = le32(6) + le32(total) + le32(1)
                + le32(UInt32(ns >> 32)) + le32(UInt32(ns & 0xFFFF_FFFF))
                + le32(UInt32(size)) + le32(UInt32(size))
                + body + [UInt8](repeating: 0, count: padding) + le32(total)
            XCTAssertEqual(out, expected, "body of \(size) bytes")
        }
    }

    // MARK: - Checksums

    /// The RFC 1071 example and a well-known IPv4 header (checksum 0xB861).
    func testChecksumKnownVectors() {
        let rfc: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        XCTAssertEqual(rfc.withUnsafeBytes { ~InternetChecksum.finish(InternetChecksum.sum($0)) }, UInt16(0xDDF2).bigEndian)
        let header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                               0x00, 0x00, 0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7]
        let field = header.withUnsafeBytes { InternetChecksum.finish(InternetChecksum.sum($0)) }
        XCTAssertEqual(withUnsafeBytes(of: field) { Array($0) }, [0xB8, 0x61])
    }

    /// The 8-bytes-at-a-time sum agrees with a plain 16-bit big-endian one for every length
    /// (odd tails, the 32-byte loop and its remainder) and for sums that carry a lot.
    func testChecksumAgreesWithReference() {
        var generator = SystemRandomNumberGenerator()
        for count in Array(0...100) + [255, 256, 257, 1023, 65_000, 65_001] {
            for fill in [nil, UInt8(0xFF)] {
                let bytes = (0..<count).map { _ in fill ?? UInt8.random(in: 0...255, using: &generator) }
                let fast = bytes.withUnsafeBytes { InternetChecksum.finish(InternetChecksum.sum($0)) }
                XCTAssertEqual(withUnsafeBytes(of: fast) { Array($0) }, referenceChecksum([bytes]), "\(count) bytes")
            }
        }
    }

    // MARK: - Packets

    func testHandshakeDataAndFinNumbersBothWays() throws {
        var leg = try legV4(isn: (1000, 5000))
        var out: [UInt8] = []
        leg.open(at: 1, into: &out)
        send(&leg, true, "hello", into: &out)
        send(&leg, false, "world!", into: &out)
        send(&leg, true, "x", into: &out)
        leg.fin(fromInitiator: false, at: 5, into: &out)
        leg.fin(fromInitiator: true, at: 6, into: &out)
        let packets = try parse(out)
        let fields = packets.map { [$0.fromPort == 50000 ? 1 : 0, Int($0.seq), Int($0.ack), Int($0.flags), $0.payload.count] }
        XCTAssertEqual(fields, [
            [1, 1000, 0, 0x02, 0],        // SYN
            [0, 5000, 1001, 0x12, 0],     // SYN/ACK
            [1, 1001, 5001, 0x10, 0],     // ACK
            [1, 1001, 5001, 0x18, 5],     // hello
            [0, 5001, 1006, 0x18, 6],     // world!
            [1, 1006, 5007, 0x18, 1],     // x
            [0, 5007, 1007, 0x11, 0],     // FIN from the responder
            [1, 1007, 5008, 0x11, 0],     // FIN from the initiator acknowledges it
        ])
        XCTAssertEqual(packets.map(\.timestamp), [1, 1, 1, 2, 2, 2, 5, 6])
        XCTAssertEqual(packets.map(\.identification), (0..<8).map { UInt16($0) }, "IPv4 identification counts per leg")
        XCTAssertTrue(packets.allSatisfy { $0.checksumsValid && $0.ttl == 64 && $0.window == 65535 && $0.version == 4 })
        XCTAssertEqual(packets[0].tcpOptions, [2, 4, 0xFF, 0xD7, 1, 3, 3, 14], "MSS and window scale on SYN")
        XCTAssertEqual(packets[1].tcpOptions, [2, 4, 0xFF, 0xD7, 1, 3, 3, 14])
        XCTAssertEqual(packets[2].tcpOptions, [])
        XCTAssertEqual(packets[0].source, [127, 0, 0, 1])
        XCTAssertEqual(packets[0].destination, [127, 0, 0, 1])
        XCTAssertEqual(packets[0].toPort, 16379)
    }

    func testSequenceNumbersWrap() throws {
        var leg = try legV4(isn: (UInt32.max - 1, UInt32.max))
        var out: [UInt8] = []
        leg.open(at: 0, into: &out)
        send(&leg, true, "abcd", into: &out)
        leg.fin(fromInitiator: true, at: 0, into: &out)
        leg.reset(fromInitiator: false, at: 0, into: &out)
        let packets = try parse(out)
        XCTAssertEqual(packets.map(\.seq), [UInt32.max - 1, UInt32.max, UInt32.max, UInt32.max, 3, 0])
        XCTAssertEqual(packets.last?.ack, 4)
        XCTAssertEqual(packets.last?.flags, 0x14, "RST|ACK")
    }

    func testRefusedIsSynThenResetAck() throws {
        var leg = try legV4(isn: (77, 99))
        var out: [UInt8] = []
        leg.refused(at: 3, into: &out)
        let packets = try parse(out)
        XCTAssertEqual(packets.map { [Int($0.fromPort), Int($0.seq), Int($0.ack), Int($0.flags)] },
                       [[50000, 77, 0, 0x02], [16379, 0, 78, 0x14]])
        XCTAssertTrue(packets.allSatisfy(\.checksumsValid))
    }

    func testDataSplitsAt65000AndSkipsEmptyChunks() throws {
        var leg = try legV6(isn: (10, 20))
        var out: [UInt8] = []
        leg.open(at: 0, into: &out)
        let big = (0..<150_001).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var seen: [Int] = []
        big.withUnsafeBytes { leg.data(fromInitiator: false, $0, at: 9, into: &out) { seen.append($0.count) } }
        [UInt8]().withUnsafeBytes { leg.data(fromInitiator: true, $0, at: 9, into: &out) { _ in XCTFail("empty chunk filtered") } }
        let packets = try parse(out).dropFirst(3)
        XCTAssertEqual(seen, [65_000, 65_000, 20_001])
        XCTAssertEqual(packets.map(\.payload.count), [65_000, 65_000, 20_001])
        XCTAssertEqual(packets.map(\.seq), [21, 65_021, 130_021])
        XCTAssertEqual(Array(packets.map(\.payload).joined()), big)
        XCTAssertTrue(packets.allSatisfy { $0.checksumsValid && $0.version == 6 && $0.ttl == 64 })
        XCTAssertEqual(leg.responderNext, 21 + 150_001)
    }

    /// `filter` sees each segment's payload in the buffer; what it writes is what is captured
    /// and what the checksum covers.
    func testFilterEditsLandInPayloadAndChecksum() throws {
        for v6 in [false, true] {
            var leg = try v6 ? legV6(isn: (0, 0)) : legV4(isn: (0, 0))
            var out: [UInt8] = []
            let text = Array("AUTH hunter2 secret!".utf8) + [UInt8](repeating: 0x41, count: 65_003)
            var calls = 0
            text.withUnsafeBytes { bytes in
                leg.data(fromInitiator: true, bytes, at: 0, into: &out) { payload in
                    calls += 1
                    if calls == 1 {
                        XCTAssertEqual(Array(payload.prefix(20)), Array("AUTH hunter2 secret!".utf8))
                        for i in 5..<12 { payload[i] = UInt8(ascii: "*") }
                    } else {
                        XCTAssertEqual(payload.count, 23)
                        payload[payload.count - 1] = UInt8(ascii: "z")
                    }
                }
            }
            let packets = try parse(out)
            XCTAssertEqual(calls, 2)
            XCTAssertEqual(Array(packets[0].payload.prefix(20)), Array("AUTH ******* secret!".utf8))
            XCTAssertEqual(packets[1].payload.last, UInt8(ascii: "z"))
            XCTAssertTrue(packets.allSatisfy(\.checksumsValid), "checksums over the filtered bytes")
        }
    }

    func testV4MappedAddressesAreWrittenAsIPv4() throws {
        var leg = TCPLegCapture(initiator: try SocketAddress(parsing: "[::ffff:10.1.2.3]:4000"),
                                responder: try SocketAddress(parsing: "[::ffff:127.0.0.1]:6379"), interface: 0, isn: (1, 2))
        var out: [UInt8] = []
        leg.open(at: 0, into: &out)
        let packets = try parse(out)
        XCTAssertEqual(packets.map(\.version), [4, 4, 4])
        XCTAssertEqual(packets[0].source, [10, 1, 2, 3])
        XCTAssertEqual(packets[1].source, [127, 0, 0, 1])
        XCTAssertTrue(packets.allSatisfy(\.checksumsValid))
        // Mixed families: the IPv4 end goes v4-mapped into IPv6.
        var mixed = TCPLegCapture(initiator: try SocketAddress(parsing: "10.1.2.3:4000"),
                                  responder: try SocketAddress(parsing: "[::1]:6379"), interface: 0, isn: (1, 2))
        out.removeAll()
        mixed.open(at: 0, into: &out)
        let mixedPackets = try parse(out)
        XCTAssertEqual(mixedPackets.map(\.version), [6, 6, 6])
        XCTAssertEqual(mixedPackets[0].source, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 1, 2, 3])
        XCTAssertTrue(mixedPackets.allSatisfy(\.checksumsValid))
    }

    // MARK: - tshark

    /// tshark (Wireshark 4.0) opens our file, decodes RESP and HTTP out of the synthesized legs
    /// and finds no bad checksum and no sequence trouble.
    func testTsharkDecodesBothLegs() throws {
        guard run("command -v tshark").status == 0 else { throw XCTSkip("tshark is not installed") }
        let path = NSTemporaryDirectory() + "faultline-pcapng-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pcapng"
        defer { unlink(path) }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(try Self.twoLegCapture())))

        let resp = run("tshark -r '\(path)' -d tcp.port==16379,resp -Y resp -T fields -e tcp.srcport -e resp.bulk_string.value -e resp.bulk_string.length")
        XCTAssertEqual(resp.status, 0, resp.output)
        XCTAssertEqual(resp.output, "50000\t474554,6b6579\t3,3\n16379\t\t-1\n")

        let http = run("tshark -r '\(path)' -Y http -T fields -e http.request.method -e http.request.uri -e http.response.code -e http.content_length")
        XCTAssertEqual(http.status, 0, http.output)
        XCTAssertEqual(http.output, "GET\t/missing\t\t\n\t\t404\t9\n")

        // Every checksum verified good, no TCP analysis flag (lost segment, ACKed unseen, window
        // full, …) on any packet.
        let checked = run("tshark -r '\(path)' -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -T fields -e frame.number -e ip.checksum.status -e tcp.checksum.status -e tcp.analysis.flags")
        XCTAssertEqual(checked.status, 0, checked.output)
        let rows = checked.output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.count, 13, checked.output)
        for row in rows {
            XCTAssertEqual(row.count, 4, checked.output)
            XCTAssertTrue(row[1] == "" || row[1] == "1", "IP checksum status in \(row)")
            XCTAssertEqual(row[2], "1", "TCP checksum status in \(row)")
            XCTAssertEqual(row[3], "", "TCP analysis flags in \(row)")
        }
        let expert = run("tshark -r '\(path)' -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -q -z expert")
        XCTAssertEqual(expert.status, 0, expert.output)
        for trouble in ["checksum", "previous segment", "ACKed unseen", "Malformed", "retransmission", "out-of-order"] {
            XCTAssertFalse(expert.output.localizedCaseInsensitiveContains(trouble), "\(trouble) in\n\(expert.output)")
        }
    }

    /// Interface 0: a RESP exchange over IPv4, FIN both ways. Interface 1: an HTTP exchange over
    /// IPv6, ended by the client's reset.
    static func twoLegCapture() throws -> [UInt8] {
        var writer = PcapngWriter()
        var out: [UInt8] = []
        writer.header(into: &out)
        let redis = writer.addInterface(name: "redis", description: "client leg", into: &out)
        let web = writer.addInterface(name: "web", description: "upstream leg", into: &out)
        let base: UInt64 = 1_767_225_600_000_000_000
        var a = TCPLegCapture(initiator: try SocketAddress(parsing: "127.0.0.1:50000"),
                              responder: try SocketAddress(parsing: "127.0.0.1:16379"), interface: redis, isn: (0x1111_0000, 0x2222_0000))
        var b = TCPLegCapture(initiator: try SocketAddress(parsing: "[::1]:50001"),
                              responder: try SocketAddress(parsing: "[::1]:8080"), interface: web, isn: (0xFFFF_FF00, 7))
        a.open(at: base, into: &out)
        b.open(at: base + 1_000, into: &out)
        Self.bytes("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n") { a.data(fromInitiator: true, $0, at: base + 2_000, into: &out) { _ in } }
        Self.bytes("GET /missing HTTP/1.1\r\nHost: localhost:8080\r\n\r\n") { b.data(fromInitiator: true, $0, at: base + 3_000, into: &out) { _ in } }
        Self.bytes("$-1\r\n") { a.data(fromInitiator: false, $0, at: base + 4_000, into: &out) { _ in } }
        Self.bytes("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nContent-Type: text/plain\r\n\r\nnot found") {
            b.data(fromInitiator: false, $0, at: base + 5_000, into: &out) { _ in }
        }
        a.fin(fromInitiator: true, at: base + 6_000, into: &out)
        a.fin(fromInitiator: false, at: base + 7_000, into: &out)
        b.reset(fromInitiator: true, at: base + 8_000, into: &out)
        return out
    }

    // MARK: - Helpers

    private static func bytes(_ text: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        Array(text.utf8).withUnsafeBytes(body)
    }

    private func send(_ leg: inout TCPLegCapture, _ fromInitiator: Bool, _ text: String, into out: inout [UInt8]) {
        Array(text.utf8).withUnsafeBytes { leg.data(fromInitiator: fromInitiator, $0, at: 2, into: &out) { _ in } }
    }

    private func legV4(isn: (UInt32, UInt32)) throws -> TCPLegCapture {
        TCPLegCapture(initiator: try SocketAddress(parsing: "127.0.0.1:50000"),
                      responder: try SocketAddress(parsing: "127.0.0.1:16379"), interface: 0, isn: isn)
    }

    private func legV6(isn: (UInt32, UInt32)) throws -> TCPLegCapture {
        TCPLegCapture(initiator: try SocketAddress(parsing: "[::1]:50001"),
                      responder: try SocketAddress(parsing: "[::1]:8080"), interface: 0, isn: isn)
    }

    private func le32(_ value: UInt32) -> [UInt8] {
        [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
    }

    /// RFC 1071 the slow way: 16-bit big-endian words over the concatenated parts (each part
    /// of even length but the last), one's-complement sum, complemented; as wire bytes.
    private func referenceChecksum(_ parts: [[UInt8]]) -> [UInt8] {
        let bytes = parts.flatMap { $0 }
        var sum: UInt32 = 0
        var i = 0
        while i < bytes.count {
            let high = UInt32(bytes[i]) << 8
            let low = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            sum += high | low
            sum = (sum & 0xFFFF) + (sum >> 16)
            i += 2
        }
        let result = ~UInt16(sum)
        return [UInt8(result >> 8), UInt8(result & 0xFF)]
    }

    /// One synthesized packet, read back.
    struct Packet {
        var interface: UInt32, timestamp: UInt64
        var version: Int, ttl: Int, identification: UInt16
        var source: [UInt8], destination: [UInt8]
        var fromPort: UInt16, toPort: UInt16, seq: UInt32, ack: UInt32, flags: UInt8, window: UInt16
        var tcpOptions: [UInt8], payload: [UInt8]
        var checksumsValid: Bool
    }

    private struct Malformed: Error, CustomStringConvertible { let description: String }

    /// Walks the Enhanced Packet Blocks of `file` (any other block is skipped) and decodes each
    /// packet, checking the block framing and the IP and TCP checksums on the way.
    private func parse(_ file: [UInt8]) throws -> [Packet] {
        func u32le(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(file[at + $1]) << (8 * $1) } }
        var packets: [Packet] = []
        var at = 0
        while at < file.count {
            let type = u32le(at), total = Int(u32le(at + 4))
            guard total % 4 == 0, total >= 12, at + total <= file.count, Int(u32le(at + total - 4)) == total else {
                throw Malformed(description: "block framing at \(at)")
            }
            if type == 6 {
                let captured = Int(u32le(at + 20))
                guard u32le(at + 24) == captured, 28 + captured + (4 - captured % 4) % 4 + 4 == total else {
                    throw Malformed(description: "packet lengths at \(at)")
                }
                let timestamp = UInt64(u32le(at + 12)) << 32 | UInt64(u32le(at + 16))
                packets.append(try decode(Array(file[at + 28..<at + 28 + captured]), interface: u32le(at + 8), timestamp: timestamp))
            }
            at += total
        }
        return packets
    }

    private func decode(_ p: [UInt8], interface: UInt32, timestamp: UInt64) throws -> Packet {
        func u16(_ at: Int) -> UInt16 { UInt16(p[at]) << 8 | UInt16(p[at + 1]) }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) << 16 | UInt32(u16(at + 2)) }
        let version = Int(p[0] >> 4)
        let ipLength = version == 4 ? 20 : 40
        let addressLength = version == 4 ? 4 : 16
        let addressAt = version == 4 ? 12 : 8
        let source = Array(p[addressAt..<addressAt + addressLength])
        let destination = Array(p[addressAt + addressLength..<addressAt + 2 * addressLength])
        let tcpLength = p.count - ipLength
        var valid = true
        if version == 4 {
            valid = valid && Int(u16(2)) == p.count && p[9] == 6 && referenceChecksum([Array(p[0..<20])]) == [0, 0]
        } else {
            valid = valid && Int(u16(4)) == tcpLength && p[6] == 6
        }
        let pseudo = source + destination + (version == 4 ? [0, 6, UInt8(tcpLength >> 8), UInt8(tcpLength & 0xFF)]
                                                          : [0, 0, UInt8(tcpLength >> 8), UInt8(tcpLength & 0xFF), 0, 0, 0, 6])
        valid = valid && referenceChecksum([pseudo, Array(p[ipLength...])]) == [0, 0]
        let tcp = ipLength
        let headerLength = Int(p[tcp + 12] >> 4) * 4
        guard headerLength >= 20, tcp + headerLength <= p.count else { throw Malformed(description: "TCP header") }
        return Packet(
            interface: interface, timestamp: timestamp, version: version, ttl: Int(p[version == 4 ? 8 : 7]),
            identification: version == 4 ? u16(4) : 0, source: source, destination: destination,
            fromPort: u16(tcp), toPort: u16(tcp + 2), seq: u32(tcp + 4), ack: u32(tcp + 8), flags: p[tcp + 13],
            window: u16(tcp + 14), tcpOptions: Array(p[tcp + 20..<tcp + headerLength]),
            payload: Array(p[(tcp + headerLength)...]), checksumsValid: valid)
    }

    /// Runs `command` through the shell, stdout to a file (tshark's root warning on stderr is
    /// dropped). Not Foundation's Process: its `run()` leaks under LeakSanitizer (see
    /// MetricsTests).
    private func run(_ command: String) -> (status: Int32, output: String) {
        let out = NSTemporaryDirectory() + "faultline-pcapng-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(out) }
        let status = system("\(command) > '\(out)' 2>/dev/null")
        let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return (status >= 0 && status & 0x7F == 0 ? (status >> 8) & 0xFF : -1, output)
    }
}
