import CaravanCore
import CaravanKit
import SwiftUI

/// Indicator screening and the core's explainable assessment (not a formal identification).
struct ScreeningView: View {
    @EnvironmentObject var model: AppModel
    let caseId: String
    @State private var stored = ScreeningForm()
    @State private var form = ScreeningForm()
    @State private var result: ScreeningAssessment?
    @State private var error: String?

    var body: some View {
        let labels = model.labels
        Form {
            Section("Indicators") {
                ForEach(labels.choices("indicator")) { indicator in
                    Picker(indicator.label, selection: Binding(get: { form.answers[indicator.code] },
                                                               set: { form.answers[indicator.code] = $0 })) {
                        Text("—").tag(String?.none)
                        ForEach(labels.choices("answer")) { Text($0.label).tag(Optional($0.code)) }
                    }
                }
            }
            Section {
                ChoiceSet(title: String(localized: "Vulnerability factors"), choices: labels.choices("vulnerability"),
                          selected: $form.vulnerabilities)
            }
            if let error { Text(error).foregroundColor(.red) }
            Button("Save and assess", action: assess)
            if let a = result {
                Section {
                    Text(labels.label("screening_outcome", a.outcome)).font(.title2)
                    ForEach(a.indicators, id: \.self) { Text("• " + labels.label("indicator", $0)) }
                    if !a.categories.isEmpty { Text(labels.labels("indicator_category", a.categories)) }
                    if !a.vulnerabilities.isEmpty { Text(labels.labels("vulnerability", a.vulnerabilities)) }
                    Text("Supports a referral decision; it is not a formal identification.").font(.footnote)
                }
            }
        }
        .navigationTitle("Screening")
        .task {
            do {
                stored = ScreeningForm(try await model.run { try $0.getCase(id: caseId) })
                form = stored
            } catch { self.error = AppModel.message(error) }
        }
    }

    private func assess() {
        let edits = form.edits(from: stored)
        Task {
            do {
                result = try await model.run { store in
                    if !edits.isEmpty { try store.updateCase(id: caseId, edits: edits) }
                    return try store.assessCase(id: caseId)
                }
                stored = form
            } catch { self.error = AppModel.message(error) }
        }
    }
}
