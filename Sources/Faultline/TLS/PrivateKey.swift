import COpenSSL

/// An owned `EVP_PKEY*`: a key pair faultline generated or read from its CA cache.
final class PrivateKey: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: never mutated after init; OpenSSL 3 keys are safe to read from several
    // threads (their provider caches take a lock).

    /// The `EVP_PKEY*`, owned: freed with this object.
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { EVP_PKEY_free(pointer) }

    /// The algorithms faultline makes keys with.
    enum Algorithm: Equatable, CustomStringConvertible {
        /// EC on NIST P-256 (prime256v1).
        case p256
        /// RSA with a modulus of `bits`.
        case rsa(bits: Int32)

        var description: String {
            switch self {
            case .p256: "EC P-256"
            case let .rsa(bits): "RSA \(bits)"
            }
        }
    }

    /// A fresh key pair. OpenSSL 3's provider-based calls, not the deprecated EC_KEY/RSA ones
    /// (and not EVP_EC_gen/EVP_RSA_gen, macros over a variadic function Swift cannot call).
    static func generate(_ algorithm: Algorithm) throws(CertificateError) -> PrivateKey {
        let operation = "generating an \(algorithm) key"
        let name = algorithm == .p256 ? "EC" : "RSA"
        guard let context = EVP_PKEY_CTX_new_from_name(nil, name, nil) else { throw .openSSL(operation) }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw .openSSL(operation) }
        let configured = switch algorithm {
        case .p256: EVP_PKEY_CTX_set_group_name(context, "P-256")
        case let .rsa(bits): EVP_PKEY_CTX_set_rsa_keygen_bits(context, bits)
        }
        guard configured == 1 else { throw .openSSL(operation) }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw .openSSL(operation) }
        return PrivateKey(owning: key)
    }

    /// `EC P-256`, `RSA 2048`: the algorithm and size, as `Algorithm` names them.
    var description: String {
        let bits = EVP_PKEY_get_bits(pointer)
        switch EVP_PKEY_get_base_id(pointer) {
        case EVP_PKEY_EC: return bits == 256 ? "\(Algorithm.p256)" : "EC \(bits)"
        case EVP_PKEY_RSA: return "\(Algorithm.rsa(bits: bits))"
        default: return "a \(bits)-bit key"
        }
    }

    /// Reads an unencrypted PEM private key (PKCS#8 or traditional).
    convenience init(pem: String, what: String) throws(CertificateError) {
        let key = try PEM.read(pem, "reading \(what) as a PEM private key") { PEM_read_bio_PrivateKey($0, nil, nil, nil) }
        self.init(owning: key)
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), what servers load.
    func pemText() throws(CertificateError) -> String {
        try PEM.text("writing a private key as PEM") { PEM_write_bio_PrivateKey($0, pointer, nil, nil, 0, nil, nil) }
    }
}
