import CaravanCore
import CaravanKit
import SwiftUI

/// The case form, driven by the vocabularies; notes and conflicts of a stored case.
struct CaseFormView: View {
    @EnvironmentObject var model: AppModel
    @Environment(\.dismiss) private var dismiss
    let caseId: String?
    @State private var details: CaseDetails?
    @State private var stored = CaseForm()
    @State private var form = CaseForm()
    @State private var error: String?
    @State private var eraseReason: String?

    var body: some View {
        let labels = model.labels
        Form {
            Section {
                ForEach(FormFields.scalars, id: \.self) { field in
                    ChoicePicker(title: labels.fieldTitle(scalarFieldVocabulary(field: field)), choices: labels.choices(field),
                                 selection: Binding(get: { form.scalars[field] }, set: { form.scalars[field] = $0 }))
                }
                ForEach(FormFields.sets, id: \.self) { field in
                    let vocabulary = setFieldVocabulary(field: field)
                    ChoiceSet(title: labels.fieldTitle(vocabulary), choices: labels.choices(vocabulary),
                              selected: Binding(get: { form.sets[field] ?? [] }, set: { form.sets[field] = $0 }))
                }
            }
            Section("Consent") {
                Toggle("Agrees to sharing with partner organisations",
                       isOn: Binding(get: { form.shareWithPartners == true }, set: { form.shareWithPartners = $0 }))
                Toggle("Agrees to inclusion in statistics",
                       isOn: Binding(get: { form.includeInStatistics == true }, set: { form.includeInStatistics = $0 }))
            }
            Section {
                TextField("New note", text: $form.newNote, axis: .vertical)
                // Likely identifiers, highlighted as the worker types (UTF-16 spans of
                // screenNote's findings, as on Android).
                let findings = NoteHighlights.screen(form.newNote)
                if findings.isEmpty {
                    Text("No names, phone numbers, document numbers or exact dates.").font(.footnote)
                } else {
                    Text(highlighted(form.newNote, findings: findings)).font(.footnote)
                    Text("The highlighted parts look like personal details: rephrase them.").font(.footnote).foregroundColor(.red)
                }
            }
            if let error { Text(error).foregroundColor(.red) }
            Button("Save", action: save)
            if let caseId, let details {
                Section {
                    NavigationLink("Screening") { ScreeningView(caseId: caseId) }
                    NavigationLink("Referrals") { ReferralView(caseId: caseId) }
                }
                if !details.conflicts.isEmpty {
                    Section("Conflicting edits") {
                        ForEach(details.conflicts, id: \.field) { c in
                            Text("\(c.field): \(c.current) ≠ \(c.others.joined(separator: ", "))").font(.footnote)
                        }
                        Text("Choose the right value above and save to resolve.").font(.footnote)
                    }
                }
                if !details.notes.isEmpty {
                    Section("Notes") {
                        ForEach(details.notes, id: \.id) { n in
                            Text("\(Date(timeIntervalSince1970: Double(n.atMs) / 1000).formatted(date: .abbreviated, time: .omitted)) — \(n.text)")
                                .font(.footnote)
                        }
                    }
                }
                Section("Erase this record") {
                    ChoicePicker(title: String(localized: "Reason for erasing"), choices: labels.choices("erasure_reason"), selection: $eraseReason)
                    Button("Erase", role: .destructive, action: erase).disabled(eraseReason == nil)
                }
            }
        }
        .navigationTitle(caseId == nil ? "New record" : "Record")
        .task(id: model.revision) { await load() }
    }

    private func load() async {
        guard let caseId else { return }
        do {
            let c = try await model.run { try $0.getCase(id: caseId) }
            details = c
            stored = CaseForm(c)
            form = stored
        } catch { self.error = AppModel.message(error) }
    }

    private func save() {
        let edits = form.edits(from: stored)
        let id = caseId
        Task {
            do {
                try await model.run { store -> Void in
                    if let id { if !edits.isEmpty { try store.updateCase(id: id, edits: edits) } } else { _ = try store.addCase(edits: edits) }
                }
                dismiss()
            } catch { self.error = AppModel.message(error) }
        }
    }

    private func erase() {
        guard let caseId, let reason = eraseReason else { return }
        Task {
            do {
                try await model.run { try $0.eraseCase(id: caseId, reason: reason) }
                dismiss()
            } catch { self.error = AppModel.message(error) }
        }
    }
}

extension Labels {
    /// The heading of a field, by its vocabulary.
    func fieldTitle(_ vocabulary: String) -> String {
        switch vocabulary {
        case "gender": return String(localized: "Gender")
        case "age_band": return String(localized: "Age")
        case "case_status": return String(localized: "Status")
        case "trafficking_status": return String(localized: "Trafficking status")
        case "relationship_to_trafficker": return String(localized: "Relationship to the trafficker")
        case "country": return String(localized: "Citizenship")
        case "exploitation_type": return String(localized: "Type of exploitation")
        case "labour_industry": return String(localized: "Industry (forced labour)")
        case "sexual_exploitation_type": return String(localized: "Sexual exploitation")
        case "means_of_control": return String(localized: "Means of control")
        case "recruitment_method": return String(localized: "Recruitment")
        case "recruitment_app": return String(localized: "Apps used")
        case "recruiter_relation": return String(localized: "Recruiter")
        default: return vocabulary
        }
    }
}

/// `text` with the spans of its findings (`NoteHighlights.ranges`) on a yellow background.
private func highlighted(_ text: String, findings: [NoteFinding]) -> AttributedString {
    var out = AttributedString(text)
    for range in NoteHighlights.ranges(text: text, findings: findings) {
        if let r = Range<AttributedString.Index>(range, in: out) { out[r].backgroundColor = .yellow }
    }
    return out
}
