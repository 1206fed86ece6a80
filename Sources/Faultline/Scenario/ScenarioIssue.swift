/// A place in a scenario file: 1-based line and column (columns count Unicode scalars, as
/// libyaml does).
public struct SourcePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Line number starting from 1.
    public let line: Int
    /// Column number starting from 1.
    public let column: Int

    /// A position.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// One mistake in a scenario file, printed as `file:line:col: message` like a compiler's.
public struct ScenarioIssue: Sendable, Hashable, CustomStringConvertible {
    /// The file as the user named it.
    public let file: String
    /// Where the mistake is; nil when it is about the whole file (it cannot be read).
    public let position: SourcePosition?
    /// What is wrong, and where possible how to fix it.
    public let message: String

    /// An issue at `position` in `file`.
    public init(file: String, position: SourcePosition?, message: String) {
        self.file = file
        self.position = position
        self.message = message
    }

    /// `file:line:col: message`, or `file: message` without a position.
    public var description: String {
        guard let position else { return "\(file): \(message)" }
        return "\(file):\(position.line):\(position.column): \(message)"
    }
}

/// Every mistake found in one scenario file, in document order. The loader never stops at the
/// first one, so a user fixes a file in one round instead of one error per run.
public struct ScenarioErrors: Error, Sendable, CustomStringConvertible {
    /// The mistakes, sorted by position.
    public let issues: [ScenarioIssue]

    /// Errors from `issues`.
    public init(issues: [ScenarioIssue]) {
        self.issues = issues
    }

    /// One `file:line:col: message` per line.
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
