import CaravanCore
import CaravanKit
import SwiftUI

/// The case list with filters by status, country, type of exploitation and conflicts.
struct CaseListView: View {
    @EnvironmentObject var model: AppModel
    @State private var cases: [CaseSummary] = []
    @State private var status: String?
    @State private var country: String?
    @State private var exploitation: String?
    @State private var conflictsOnly = false
    @State private var error: String?
    @State private var confirmWipe = false

    var body: some View {
        let labels = model.labels
        List {
            Section {
                ChoicePicker(title: String(localized: "Status"), choices: labels.choices("case_status"), selection: $status)
                ChoicePicker(title: String(localized: "Country"), choices: labels.choices("country"), selection: $country)
                ChoicePicker(title: String(localized: "Exploitation"), choices: labels.choices("exploitation_type"), selection: $exploitation)
                Toggle("Conflicts only", isOn: $conflictsOnly)
            }
            if let error { Text(error).foregroundColor(.red) }
            Section {
                if cases.isEmpty { Text("No records.") }
                ForEach(cases, id: \.id) { c in
                    NavigationLink(destination: CaseFormView(caseId: c.id)) { CaseRow(summary: c, labels: labels) }
                }
            }
        }
        .navigationTitle("Field Notes")
        .toolbar {
            ToolbarItem(placement: .navigationBarLeading) {
                Menu {
                    Button("Lock") { model.lock() }
                    Button("Erase everything", role: .destructive) { confirmWipe = true }
                } label: { Image(systemName: "ellipsis.circle") }
            }
            ToolbarItemGroup(placement: .navigationBarTrailing) {
                NavigationLink(destination: SyncView()) { Image(systemName: "arrow.triangle.2.circlepath") }
                NavigationLink(destination: CaseFormView(caseId: nil)) { Image(systemName: "plus") }
            }
        }
        .confirmationDialog("Erase every record and the key on this phone, now? This cannot be undone.",
                            isPresented: $confirmWipe, titleVisibility: .visible) {
            Button("Erase everything", role: .destructive) { model.panic() }
        }
        .task(id: "\(status ?? "")|\(country ?? "")|\(exploitation ?? "")|\(conflictsOnly)|\(model.revision)") { await reload() }
    }

    private func reload() async {
        let filter = CaseListFilter(caseStatus: status, country: country, exploitation: exploitation,
                                    createdFromMs: nil, createdToMs: nil, conflictsOnly: conflictsOnly)
        do {
            cases = try await model.run { try $0.listCases(filter: filter) }
            error = nil
        } catch {
            self.error = AppModel.message(error)
        }
    }
}

private struct CaseRow: View {
    let summary: CaseSummary
    let labels: Labels

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            let who = [summary.gender.map { labels.label("gender", $0) },
                       summary.ageBand.map { labels.label("age_band", $0) },
                       summary.citizenship.isEmpty ? nil : summary.citizenship.map { labels.code("country", $0) }.joined(separator: "/")]
                .compactMap { $0 }.joined(separator: " · ")
            Text(who.isEmpty ? String(summary.id.prefix(8)) : who).font(.headline)
            let what = [summary.caseStatus.map { labels.label("case_status", $0) },
                        summary.exploitation.isEmpty ? nil : labels.labels("exploitation_type", summary.exploitation)]
                .compactMap { $0 }.joined(separator: " · ")
            if !what.isEmpty { Text(what).font(.subheadline) }
            if summary.conflicts > 0 { Text("\(summary.conflicts) to resolve").font(.caption).foregroundColor(.orange) }
        }
    }
}
