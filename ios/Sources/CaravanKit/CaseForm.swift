import CaravanCore

/// The fields of the short case form, in the order a worker fills them in.
public enum FormFields {
    public static let scalars: [ScalarField] = [.gender, .ageBand, .caseStatus, .traffickingStatus, .relationshipToTrafficker]
    public static let sets: [SetField] = [
        .citizenship, .exploitation, .labourIndustry, .sexualExploitation,
        .meansOfControl, .recruitmentMethod, .recruitmentApp, .recruiterRelation,
    ]
}

/// What the case form holds (codes only). `edits(from:)` turns the difference from the
/// stored case into the batch of `CaseEdit`s the core applies all or nothing.
public struct CaseForm: Equatable {
    public var scalars: [ScalarField: String] = [:]
    public var sets: [SetField: Set<String>] = [:]
    public var shareWithPartners: Bool?
    public var includeInStatistics: Bool?
    public var newNote = ""

    public init() {}

    public init(_ c: CaseDetails) {
        let pairs: [(ScalarField, String?)] = [
            (.gender, c.gender), (.ageBand, c.ageBand), (.caseStatus, c.caseStatus),
            (.traffickingStatus, c.traffickingStatus), (.relationshipToTrafficker, c.relationshipToTrafficker),
        ]
        for (field, code) in pairs { scalars[field] = code }
        sets = [
            .citizenship: Set(c.citizenship), .exploitation: Set(c.exploitation),
            .labourIndustry: Set(c.labourIndustry), .sexualExploitation: Set(c.sexualExploitation),
            .meansOfControl: Set(c.meansOfControl), .recruitmentMethod: Set(c.recruitmentMethod),
            .recruitmentApp: Set(c.recruitmentApp), .recruiterRelation: Set(c.recruiterRelation),
        ]
        shareWithPartners = c.consentShareWithPartners
        includeInStatistics = c.consentIncludeInStatistics
    }

    /// Adds or removes `code` in `field`.
    public mutating func toggle(_ field: SetField, _ code: String) {
        var now = sets[field] ?? []
        if now.contains(code) { now.remove(code) } else { now.insert(code) }
        sets[field] = now
    }

    /// The edits that turn `stored` into this form.
    public func edits(from stored: CaseForm = CaseForm()) -> [CaseEdit] {
        var edits: [CaseEdit] = []
        for field in FormFields.scalars where scalars[field] != stored.scalars[field] {
            edits.append(.set(field: field, code: scalars[field]))
        }
        for field in FormFields.sets + [.vulnerability] {
            let now = sets[field] ?? [], before = stored.sets[field] ?? []
            for code in now.subtracting(before).sorted() { edits.append(.add(field: field, code: code)) }
            for code in before.subtracting(now).sorted() { edits.append(.remove(field: field, code: code)) }
        }
        let share = shareWithPartners != stored.shareWithPartners ? shareWithPartners : nil
        let stats = includeInStatistics != stored.includeInStatistics ? includeInStatistics : nil
        if share != nil || stats != nil { edits.append(.consent(shareWithPartners: share, includeInStatistics: stats)) }
        let note = newNote.trimmingCharacters(in: .whitespacesAndNewlines)
        if !note.isEmpty { edits.append(.addNote(text: note)) }
        return edits
    }
}

/// The screening questionnaire: an answer per indicator and the vulnerability factors.
public struct ScreeningForm: Equatable {
    public var answers: [String: String] = [:]
    public var vulnerabilities: Set<String> = []

    public init() {}

    public init(_ c: CaseDetails) {
        answers = Dictionary(c.screeningAnswers.map { ($0.indicator, $0.answer) }, uniquingKeysWith: { a, _ in a })
        vulnerabilities = Set(c.vulnerabilities)
    }

    /// The edits that record this form over `stored`.
    public func edits(from stored: ScreeningForm) -> [CaseEdit] {
        var edits: [CaseEdit] = []
        for (indicator, answer) in answers.sorted(by: { $0.key < $1.key }) where stored.answers[indicator] != answer {
            edits.append(.answer(indicator: indicator, answer: answer))
        }
        for code in vulnerabilities.subtracting(stored.vulnerabilities).sorted() { edits.append(.add(field: .vulnerability, code: code)) }
        for code in stored.vulnerabilities.subtracting(vulnerabilities).sorted() { edits.append(.remove(field: .vulnerability, code: code)) }
        return edits
    }
}
