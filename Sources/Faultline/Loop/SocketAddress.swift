import Glibc

/// An IPv4 or IPv6 socket address parsed from `host:port` or `[v6]:port`.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address as the kernel takes it.
    var storage: sockaddr_storage
    /// `sizeof` the concrete sockaddr inside `storage`.
    let length: socklen_t
    /// The host as written (a literal or a name).
    public let host: String
    /// The TCP port.
    public internal(set) var port: UInt16

    /// Normalised text: `127.0.0.1:6379`, `[::1]:6379`.
    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `host:port`. The host is an IPv4 or IPv6 literal or a name that resolves
    /// (`localhost`); the port is 0–65535.
    public init(parsing text: String) throws {
        try self.init(parsing: text, lowestPort: 0)
    }

    /// `init(parsing:)` whose message gives the port range from `lowestPort`.
    private init(parsing text: String, lowestPort: Int) throws {
        let (host, portText) = try Self.split(text)
        guard let port = (try? NumberText.read(String(portText), as: .port)).map(UInt16.init) else {
            throw AddressError(text: text, reason: "port '\(portText)' is not a number from \(lowestPort) to 65535")
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw AddressError(text: text, reason: "cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        self.storage = storage
        self.length = first.pointee.ai_addrlen
        self.host = host
        self.port = port
    }

    /// Parses an address to connect to: as `init(parsing:)`, but port 0, which stands for "any
    /// free port" when listening, is refused: nothing can be reached there.
    public init(parsingUpstream text: String) throws {
        try self.init(parsing: text, lowestPort: 1)
        guard port != 0 else {
            throw AddressError(text: text, reason: "port 0 cannot be connected to; an upstream port goes from 1 to 65535")
        }
    }

    /// The same address with another port (sin_port and sin6_port share their offset).
    func replacingPort(_ port: UInt16) -> SocketAddress {
        var copy = self
        copy.port = port
        withUnsafeMutablePointer(to: &copy.storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = port.bigEndian }
        }
        return copy
    }

    /// The address family, `AF_INET` or `AF_INET6`.
    var family: Int32 { Int32(storage.ss_family) }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        lhs.description == rhs.description
    }

    private static func split(_ text: String) throws -> (host: String, port: Substring) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                  text[text.index(after: close)...].hasPrefix(":") else {
                throw AddressError(text: text, reason: "expected [IPv6]:port")
            }
            let host = String(text[text.index(after: text.startIndex)..<close])
            return (host, text[text.index(close, offsetBy: 2)...])
        }
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else {
            throw AddressError(text: text, reason: "expected host:port (IPv6 as [::1]:port)")
        }
        let host = String(text[..<colon])
        if host.contains(":") {
            throw AddressError(text: text, reason: "write IPv6 addresses in brackets, as [\(host)]:port")
        }
        return (host, text[text.index(after: colon)...])
    }
}

/// A `host:port` that could not be parsed or resolved.
public struct AddressError: Error, CustomStringConvertible {
    /// What the user wrote.
    public let text: String
    /// What is wrong with it.
    public let reason: String
    public var description: String { "invalid address '\(text)': \(reason)" }
}
