import CaravanCore
import CaravanKit
import SwiftUI

/// Referrals of a case: refer to a service at a partner organisation, update a status.
struct ReferralView: View {
    @EnvironmentObject var model: AppModel
    let caseId: String
    @State private var referrals: [CaseReferral] = []
    @State private var service: String?
    @State private var partner = ""
    @State private var orgType: String?
    @State private var reason: String?
    @State private var error: String?

    var body: some View {
        let labels = model.labels
        Form {
            ForEach(referrals, id: \.id) { r in
                Section("\(labels.label("service_type", r.service)) — \(r.partner)") {
                    ChoicePicker(title: String(localized: "Status"), choices: labels.choices("referral_status"),
                                 selection: Binding(get: { r.status }, set: { s in if let s { update(r.id, s) } }))
                }
            }
            Section("New referral") {
                ChoicePicker(title: String(localized: "Service"), choices: labels.choices("service_type"), selection: $service)
                TextField("Partner organisation (an organisation, never a person)", text: $partner)
                ChoicePicker(title: String(localized: "Type of organisation"), choices: labels.choices("organisation_type"), selection: $orgType)
                ChoicePicker(title: String(localized: "Reason"), choices: labels.choices("referral_reason"), selection: $reason)
                Button("Refer", action: refer).disabled(service == nil || partner.trimmingCharacters(in: .whitespaces).isEmpty)
            }
            if let error { Text(error).foregroundColor(.red) }
        }
        .navigationTitle("Referrals")
        .task(id: model.revision) { await load() }
    }

    private func load() async {
        do { referrals = try await model.run { try $0.getCase(id: caseId).referrals } } catch { self.error = AppModel.message(error) }
    }

    private func refer() {
        guard let service else { return }
        let partner = self.partner.trimmingCharacters(in: .whitespaces), orgType = self.orgType, reason = self.reason
        Task {
            do {
                _ = try await model.run {
                    try $0.refer(id: caseId, service: service, partner: partner, organisationType: orgType, reason: reason)
                }
                self.service = nil
                self.partner = ""
            } catch { self.error = AppModel.message(error) }
        }
    }

    private func update(_ referral: String, _ status: String) {
        Task {
            do {
                try await model.run { try $0.setReferralStatus(id: caseId, referral: referral, status: status) }
            } catch { self.error = AppModel.message(error) }
        }
    }
}
