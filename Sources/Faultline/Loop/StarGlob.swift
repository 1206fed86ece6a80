/// The one wildcard users write in paths and request descriptions: `*` matches any run of
/// bytes (`/` and spaces included), everything else itself. Greedy with backtracking to the
/// last star only: linear for the patterns people write, never exponential.
enum StarGlob {
    /// `*` as any run of bytes; everything else literal. Backtracks to the last star only.
    static func matches(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: (p: Int, t: Int)?
        let asterisk = UInt8(ascii: "*")
        while t < text.endIndex {
            if p < pattern.endIndex && pattern[p] == asterisk {
                star = (p, t)
                p += 1
            } else if p < pattern.endIndex && pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let resume = star {
                star = (resume.p, resume.t + 1)
                p = resume.p + 1
                t = resume.t + 1
            } else {
                return false
            }
        }
        while p < pattern.endIndex && pattern[p] == asterisk { p += 1 }
        return p == pattern.endIndex
    }
}
