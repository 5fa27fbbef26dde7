import CaravanCore
import Foundation

/// One choice of a form: a vocabulary code and its label.
public struct Choice: Hashable, Identifiable {
    public let code: String
    public let label: String
    public var id: String { code }
}

/// Vocabulary labels in the app's language (Russian or English, as iOS picked for the
/// app's own strings). Codes from a newer version have no label and show as the code.
public final class Labels {
    public let language: String
    private let tables: [String: VocabularyInfo]

    public init(language: String = Labels.appLanguage()) {
        self.language = language
        tables = Dictionary(vocabularies().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// `ru` when iOS chose the app's Russian strings, else `en`.
    public static func appLanguage() -> String {
        Bundle.main.preferredLocalizations.first?.hasPrefix("ru") == true ? "ru" : "en"
    }

    public func choices(_ vocabularyId: String) -> [Choice] {
        (tables[vocabularyId]?.entries ?? []).map { Choice(code: $0.code, label: language == "ru" ? $0.labelRu : $0.labelEn) }
    }

    public func choices(_ field: ScalarField) -> [Choice] { choices(scalarFieldVocabulary(field: field)) }
    public func choices(_ field: SetField) -> [Choice] { choices(setFieldVocabulary(field: field)) }

    public func label(_ vocabularyId: String, _ code: String) -> String {
        guard let e = tables[vocabularyId]?.entries.first(where: { $0.code == code }) else { return code }
        return language == "ru" ? e.labelRu : e.labelEn
    }

    public func labels(_ vocabularyId: String, _ codes: [String]) -> String {
        codes.map { label(vocabularyId, $0) }.joined(separator: ", ")
    }

    /// The code of a summary value: case summaries carry `VocabularyCode`s, indices into
    /// the same tables (read once above), so resolving one is an array lookup.
    public func code(_ vocabularyId: String, _ value: VocabularyCode) -> String {
        switch value {
        case let .known(index): return entry(vocabularyId, index).code
        case let .unknown(code): return code
        }
    }

    /// The label of a summary value, or its code if this version does not know it.
    public func label(_ vocabularyId: String, _ value: VocabularyCode) -> String {
        switch value {
        case let .known(index):
            let e = entry(vocabularyId, index)
            return language == "ru" ? e.labelRu : e.labelEn
        case let .unknown(code): return code
        }
    }

    /// Labels for several summary values, joined for a list row.
    public func labels(_ vocabularyId: String, _ values: [VocabularyCode]) -> String {
        values.map { label(vocabularyId, $0) }.joined(separator: ", ")
    }

    /// The entry a known value points at. The tables come from the same library as the
    /// summaries, so a missing entry is a programming error (a wrong vocabulary id).
    private func entry(_ vocabularyId: String, _ index: UInt16) -> VocabularyEntry {
        guard let entries = tables[vocabularyId]?.entries, Int(index) < entries.count else {
            preconditionFailure("no entry \(index) in vocabulary \(vocabularyId)")
        }
        return entries[Int(index)]
    }
}
