import Glibc

extension SocketAddress {
    /// Whether a connect to this address would reach a socket listening on `listen`: the same
    /// port and family, and the same IP, or `listen` is the wildcard (`0.0.0.0`, `::`) and
    /// this IP belongs to this host (loopback or any interface's address). Connecting to the
    /// wildcard reaches loopback. IPv6 listeners are IPv6-only, so an IPv4 address never
    /// reaches one, nor the reverse. Port 0 reaches nothing: the kernel picks a free port.
    public func reaches(listener listen: SocketAddress) -> Bool {
        guard port != 0, port == listen.port, family == listen.family else { return false }
        let target = isWildcard ? Self.loopback(family: family) : ipBytes
        if target == listen.ipBytes { return true }
        return listen.isWildcard && (Self.isLoopback(target, family: family) || Self.hostAddresses(family: family).contains(target))
    }

    /// The IP address alone, in network order (4 or 16 bytes).
    var ipBytes: [UInt8] {
        withUnsafeBytes(of: storage) { raw in
            family == AF_INET6
                ? Array(raw[8..<24])  // sockaddr_in6.sin6_addr
                : Array(raw[4..<8])   // sockaddr_in.sin_addr
        }
    }

    /// `0.0.0.0` or `::`: a listener there accepts on every address of the host.
    var isWildcard: Bool { ipBytes.allSatisfy { $0 == 0 } }

    /// `127.0.0.1` or `::1`: where a connect to the wildcard goes.
    private static func loopback(family: Int32) -> [UInt8] {
        family == AF_INET6 ? Array(repeating: 0, count: 15) + [1] : [127, 0, 0, 1]
    }

    /// `127.0.0.0/8` (Linux answers the whole block locally) or `::1`.
    private static func isLoopback(_ bytes: [UInt8], family: Int32) -> Bool {
        family == AF_INET6 ? bytes == loopback(family: family) : bytes.first == 127
    }

    /// The IPs of this host's interfaces in `family` (getifaddrs).
    private static func hostAddresses(family: Int32) -> [[UInt8]] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var found: [[UInt8]] = []
        var entry = list
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            guard let address = current.pointee.ifa_addr, Int32(address.pointee.sa_family) == family else { continue }
            let raw = UnsafeRawPointer(address)
            found.append(family == AF_INET6
                ? Array(UnsafeRawBufferPointer(start: raw + 8, count: 16))
                : Array(UnsafeRawBufferPointer(start: raw + 4, count: 4)))
        }
        return found
    }
}

/// A proxy whose upstream is its own listen address: each connection would connect to the
/// proxy again, until the descriptor table is full. Refused at start.
public struct SelfLoopError: Error, CustomStringConvertible {
    /// The proxy's name.
    public let proxy: String
    /// Where it was asked to listen.
    public let listen: SocketAddress
    /// Where it was asked to forward.
    public let upstream: SocketAddress

    /// The reason without the proxy's name, for a command line whose flags name the proxy.
    public var reason: String {
        let covered = upstream.description == listen.description ? "" : " (listen \(listen))"
        return "\(upstream) is this proxy's own listen address\(covered): it would connect to itself"
    }

    public var description: String { "proxy \(proxy): upstream \(reason)" }
}
