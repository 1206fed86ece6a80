/// "Did you mean …?" for misspelt keys, proxies, phases and parameters.
enum Suggestion {
    /// The candidate closest to `word` by edit distance, when it is close enough to be a typo:
    /// one edit for short words, else at most 2 or a third of the word. Ties go to the earlier candidate,
    /// so lists ordered by importance suggest the likelier key.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let lowered = word.lowercased()
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != word {
            let distance = editDistance(lowered, candidate.lowercased())
            let shorter = min(word.count, candidate.count)
            let limit = shorter <= 3 ? 1 : max(2, shorter / 3)
            guard distance <= limit, distance < word.count else { continue }
            if best == nil || distance < best?.distance ?? .max { best = (candidate, distance) }
        }
        return best?.candidate
    }

    /// ` (did you mean 'X'?)` or, without a close candidate, `; expected a, b or c` so the user
    /// still sees what is allowed.
    static func hint(for word: String, in candidates: [String], listing: String = "expected") -> String {
        if let close = closest(to: word, in: candidates) { return " (did you mean '\(close)'?)" }
        guard !candidates.isEmpty else { return "" }
        return "; \(listing) \(list(candidates))"
    }

    /// `a`, `a or b`, `a, b or c`.
    static func list(_ words: [String], conjunction: String = "or") -> String {
        guard let last = words.last else { return "" }
        guard words.count > 1 else { return last }
        return words.dropLast().joined(separator: ", ") + " \(conjunction) " + last
    }

    /// Edit distance counting an insertion, a deletion, a substitution or a swap of two
    /// neighbours as one edit (optimal string alignment), on Unicode scalars: `tsl` is one
    /// edit from `tls`, as a typist sees it.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
