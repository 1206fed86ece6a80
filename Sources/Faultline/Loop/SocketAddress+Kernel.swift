import Glibc

extension SocketAddress {
    /// The address `fd` is bound to (getsockname), or nil when the kernel cannot say.
    static func local(of fd: Int32) -> SocketAddress? {
        kernelAddress(fd) { getsockname($0, $1, $2) }
    }

    /// The address of `fd`'s peer (getpeername), or nil when it has none (it left).
    static func peer(of fd: Int32) -> SocketAddress? {
        kernelAddress(fd) { getpeername($0, $1, $2) }
    }

    private static func kernelAddress(
        _ fd: Int32, _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let got = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard got == 0 else { return nil }
        return SocketAddress(storage: storage, length: length)
    }

    /// An address the kernel gave (numeric host text, no resolving).
    init?(storage: sockaddr_storage, length: socklen_t) {
        let family = Int32(storage.ss_family)
        guard family == AF_INET || family == AF_INET6 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = storage
        let port: UInt16 = withUnsafePointer(to: &copy) { pointer in
            if family == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    _ = withUnsafePointer(to: address.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) }
                    return UInt16(bigEndian: address.pointee.sin6_port)
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                _ = withUnsafePointer(to: address.pointee.sin_addr) { inet_ntop(AF_INET, $0, &text, socklen_t(text.count)) }
                return UInt16(bigEndian: address.pointee.sin_port)
            }
        }
        self.storage = storage
        self.length = length
        self.host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.port = port
    }
}
