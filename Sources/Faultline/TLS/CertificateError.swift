import COpenSSL
import Glibc

/// A key, certificate or CA-cache operation that failed: what faultline was doing and why,
/// the why being OpenSSL's own error text when OpenSSL refused.
public struct CertificateError: Error, Sendable, CustomStringConvertible {
    /// What was being done: `generating an EC P-256 key`, `reading .faultline/ca/root.pem`.
    public let operation: String
    /// Why it failed: OpenSSL's error queue, the system's errno text, or faultline's reason.
    public let reason: String

    public var description: String { "\(operation): \(reason)" }

    init(_ operation: String, _ reason: String) {
        self.operation = operation
        self.reason = reason
    }

    /// An OpenSSL call failed: drains this thread's error queue into `reason`, so a later
    /// failure never reports this one's leftovers.
    static func openSSL(_ operation: String) -> CertificateError {
        let reasons = OpenSSLErrors.drain()
        return CertificateError(operation, reasons.isEmpty ? "OpenSSL gave no reason" : reasons.joined(separator: "; "))
    }

    /// A system call failed with `code` (an errno).
    static func system(_ operation: String, _ code: Int32) -> CertificateError {
        CertificateError(operation, String(cString: strerror(code)))
    }
}
