import COpenSSL
import CShims

/// PEM text in and out of OpenSSL through memory BIOs, so keys and certificates never need a
/// temporary file to become text (or the reverse).
enum PEM {
    /// What `write` puts into a fresh memory BIO, as text; `write` returns OpenSSL's 1 or 0.
    static func text(_ operation: String, _ write: (OpaquePointer) -> Int32) throws(CertificateError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .openSSL(operation) }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw .openSSL(operation) }
        var data: UnsafeMutablePointer<CChar>?
        let count = fl_BIO_get_mem_data(bio, &data)
        guard let data, count > 0 else { throw .openSSL(operation) }
        return data.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
    }

    /// Calls `read` with a read-only memory BIO over `text`'s bytes (valid only during the call).
    static func read<T>(_ text: String, _ operation: String,
                        _ read: (OpaquePointer) -> T?) throws(CertificateError) -> T {
        var bytes = Array(text.utf8)
        guard let count = Int32(exactly: bytes.count) else { throw CertificateError(operation, "\(bytes.count) bytes is too long") }
        let result: T? = bytes.withUnsafeMutableBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, count) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
        guard let result else { throw .openSSL(operation) }
        return result
    }
}
