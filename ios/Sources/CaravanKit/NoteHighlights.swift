import CaravanCore
import Foundation

/// Where to highlight likely personal identifiers in a note, as the Android module's
/// `NoteHighlights` does: the UTF-16 spans (`startUtf16`/`endUtf16`, what `NSRange`
/// and `String.utf16` count) of `screenNote`'s findings or of a `NoteRejected` error.
public enum NoteHighlights {
    /// The spans of `findings` in `text`: sorted, overlapping ones merged, clamped.
    public static func ranges(text: String, findings: [NoteFinding]) -> [Range<String.Index>] {
        let count = text.utf16.count
        let spans = findings
            .map { (min(Int($0.startUtf16), count), min(Int($0.endUtf16), count)) }
            .filter { $0.0 < $0.1 }
            .sorted { $0.0 < $1.0 }
        var merged: [(Int, Int)] = []
        for (start, end) in spans {
            if let last = merged.last, start <= last.1 {
                merged[merged.count - 1] = (last.0, max(last.1, end))
            } else {
                merged.append((start, end))
            }
        }
        return merged.compactMap { start, end in
            let utf16 = text.utf16
            guard let lower = utf16.index(utf16.startIndex, offsetBy: start, limitedBy: utf16.endIndex),
                  let upper = utf16.index(utf16.startIndex, offsetBy: end, limitedBy: utf16.endIndex),
                  let from = lower.samePosition(in: text), let to = upper.samePosition(in: text)
            else { return nil }
            return from..<to
        }
    }

    /// The findings of a failed save: those of a `NoteRejected`, none for another error.
    public static func findings(of error: Error) -> [NoteFinding] {
        guard let error = error as? CaravanError, case let .NoteRejected(findings) = error else { return [] }
        return findings
    }

    /// Screens `text` as the worker types (no store needed).
    public static func screen(_ text: String) -> [NoteFinding] {
        text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? [] : screenNote(text: text)
    }
}
