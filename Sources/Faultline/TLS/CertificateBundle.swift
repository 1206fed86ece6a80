extension CertificateAuthority {
    /// Writes what a test needs to play client and server for `tls` into `directory` (made
    /// if missing); see `writeBundle(_:to:)` for the files.
    public func writeBundle(for tls: ServerTLS, to directory: String) throws(CertificateError) {
        try writeBundle(identity(for: tls), to: directory)
    }

    /// Writes `identity` into `directory` (made if missing):
    /// - `ca.pem`: the root to trust, this CA's and only it: the `self_signed` and
    ///   `untrusted_root` certificates must stay untrusted, or they would verify.
    /// - `cert.pem`: the leaf, then the chain, in the order the server sends them.
    /// - `key.pem`: the leaf's key, mode 0600.
    /// Each file is replaced whole (see `CertificateFiles.write`).
    public func writeBundle(_ identity: ServerIdentity, to directory: String) throws(CertificateError) {
        try CertificateFiles.makeDirectories(directory)
        try CertificateFiles.write(rootPEM, to: "\(directory)/ca.pem", mode: 0o644)
        try CertificateFiles.write(identity.chainPEM, to: "\(directory)/cert.pem", mode: 0o644)
        try CertificateFiles.write(identity.keyPEM, to: "\(directory)/key.pem", mode: 0o600)
    }
}
