import CaravanCore
import CaravanKit
import SwiftUI
import UIKit

/// Team and sync: create or join a team (invitation as a QR code, in person), then sync by
/// QR codes, through a shared folder (Files: USB drive, SD card, cloud folder) or live on
/// the local network.
struct SyncView: View {
    enum Scanning { case frames, invitation, receipt }

    @EnvironmentObject var model: AppModel
    @State private var group: String?
    @State private var members: [GroupMember] = []
    @State private var waiting: [String: UInt64] = [:]
    @State private var myRole: MemberRole?
    @State private var teamName = ""
    @State private var deviceName = UIDevice.current.name
    @State private var peer = ""
    @State private var status: String?
    @State private var error: String?
    @State private var showing: [String] = []
    @State private var frame = 0
    @State private var scanning: Scanning?
    @State private var pickFolder = false
    @State private var scan = QrReassembler()
    private let timer = Timer.publish(every: 0.7, on: .main, in: .common).autoconnect()

    var body: some View {
        Form {
            if let status { Text(status) }
            if let error { Text(error).foregroundColor(.red) }
            if !showing.isEmpty {
                Section {
                    QRCodeView(text: showing[min(frame, showing.count - 1)])
                    if showing.count > 1 { Text("\(frame + 1) / \(showing.count)") }
                    Button("Done") { showing = [] }
                }
            }
            Section("Team") {
                TextField("This phone's name", text: $deviceName)
                if let group {
                    Text(group).font(.headline)
                    ForEach(members, id: \.deviceId) { m in
                        HStack {
                            Text("• \(m.name) (\(m.shortId), \(roleLabel(m.role)))\(m.active ? "" : " — " + String(localized: "revoked"))\(m.thisDevice ? " ★" : "")")
                            if myRole == .coordinator && m.active && !m.thisDevice {
                                Button("Revoke", role: .destructive) {
                                    let id = m.deviceId
                                    act { try $0.revokeMember(deviceIdHex: id); return String(localized: "Revoked. The team key changed: that phone can read nothing new. Sync with the team now.") }
                                }
                            }
                        }
                    }
                    if myRole == .coordinator {
                        Button("Invite a phone") { invite(.fieldWorker) }
                        Button("Invite a coordinator") { invite(.coordinator) }
                    }
                } else {
                    TextField("Team name", text: $teamName)
                    Button("Create team") {
                        let name = teamName, device = deviceName
                        act { try $0.createGroup(name: name, deviceName: device); return nil }
                    }.disabled(teamName.isEmpty || deviceName.isEmpty)
                    Button("Join (scan invitation)") { scanning = .invitation }.disabled(deviceName.isEmpty)
                }
            }
            Section("QR codes") {
                // One hand-over target per colleague's phone, with what waits for it.
                ForEach(members.filter { $0.active && !$0.thisDevice }, id: \.deviceId) { m in
                    Button("Show updates to \(m.name) (\(waiting[m.deviceId] ?? 0) waiting)") {
                        let peer = m.deviceId, name = m.name
                        act { store in
                            let frames = try store.qrFrames(peer: peer)
                            await MainActor.run { frame = 0; showing = frames }
                            return String(localized: "Let \(name) scan every code, then scan the receipt their phone shows.")
                        }
                    }
                    // For a colleague whose phone lost its data, or when a showing reached
                    // the wrong phone: everything, whatever was confirmed before.
                    Button("Show everything to \(m.name)") {
                        let peer = m.deviceId, name = m.name
                        act { store in
                            let frames = try store.qrFramesEverything(peer: peer)
                            await MainActor.run { frame = 0; showing = frames }
                            return String(localized: "Let \(name) scan every code, then scan the receipt their phone shows.")
                        }
                    }
                }
                Button("Scan updates") { scan = QrReassembler(); scanning = .frames }
                Button("Scan a receipt") { scanning = .receipt }
            }.disabled(group == nil)
            Section("Shared folder") {
                Text("A USB stick, an SD card or a shared folder. It only ever holds encrypted files.").font(.footnote)
                Button("Choose folder and sync") { pickFolder = true }
            }.disabled(group == nil)
            Section("Same Wi-Fi or hotspot") {
                Button("Wait for a colleague") {
                    act { store in
                        syncReport(try LocalNetworkSync.listen(store: store) { port in
                            Task { @MainActor in status = String(localized: "Waiting on port \(port)") }
                        })
                    }
                }
                TextField("Colleague's address (e.g. 192.168.43.1:7700)", text: $peer)
                    .keyboardType(.numbersAndPunctuation).autocorrectionDisabled()
                Button("Connect") {
                    let parts = peer.split(separator: ":")
                    let host = String(parts.first ?? ""), port = parts.count > 1 ? UInt16(parts[1]) ?? LocalNetworkSync.defaultPort : LocalNetworkSync.defaultPort
                    act { syncReport(try LocalNetworkSync.connect(store: $0, host: host, port: port)) }
                }.disabled(peer.isEmpty)
            }.disabled(group == nil)
        }
        .navigationTitle("Sync")
        .onReceive(timer) { _ in if showing.count > 1 { frame = (frame + 1) % showing.count } }
        .task(id: model.revision) { await loadTeam() }
        .sheet(isPresented: Binding(get: { scanning != nil }, set: { if !$0 { scanning = nil } })) {
            QRScannerView { text in scanned(text) }.ignoresSafeArea()
        }
        .fileImporter(isPresented: $pickFolder, allowedContentTypes: [.folder]) { result in
            guard case .success(let url) = result else { return }
            act { store in
                let s = try store.syncFolder(url)
                return String(localized: "Read \(s.bundlesImported), wrote \(s.bundlesWritten).") + " " + syncReport(s.changes)
            }
        }
    }

    private func invite(_ role: MemberRole) {
        act { store in
            let invitation = try store.invite(role: role)
            await MainActor.run { showing = [invitation] }
            let code = (try? invitationCode(invitation: invitation)) ?? ""
            return String(localized: "Let your colleague scan this code now, in person. Never send it.") + " " + String(localized: "Both phones must show the code \(code).")
        }
    }

    private func roleLabel(_ role: MemberRole) -> String {
        switch role {
        case .coordinator: return String(localized: "coordinator")
        case .fieldWorker: return String(localized: "field worker")
        case .partner: return String(localized: "partner")
        }
    }

    private func loadTeam() async {
        do {
            group = try await model.run { try $0.groupName() }
            members = group == nil ? [] : try await model.run { try $0.members() }
            var counts: [String: UInt64] = [:]
            for m in members where m.active && !m.thisDevice {
                let peer = m.deviceId
                counts[peer] = try await model.run { try $0.handoverWaiting(peer: peer) }
            }
            waiting = counts
            myRole = group == nil ? nil : try await model.run { try $0.myRole() }
        } catch { self.error = AppModel.message(error) }
    }

    private func scanned(_ text: String) {
        switch scanning {
        case .invitation:
            scanning = nil
            let device = deviceName
            act {
                try $0.joinGroup(invitation: text, deviceName: device)
                let code = (try? invitationCode(invitation: text)) ?? ""
                return String(localized: "You joined the team.") + " " + String(localized: "Both phones must show the code \(code).")
            }
        case .frames:
            let scan = self.scan
            act { store in
                let progress = try scan.pushText(text: text)
                guard progress.complete else {
                    return String(localized: "Scanned \(progress.received) of \(progress.total) codes")
                }
                let imported = try store.importHandover(bundle: scan.finish())
                // The sender's position moves only when it scans this receipt.
                await MainActor.run { scanning = nil; frame = 0; showing = imported.receipt.map { [$0] } ?? [] }
                return syncReport(imported.summary) + " " + (imported.receipt != nil
                    ? String(localized: "Show this receipt to the phone that sent the updates.")
                    : String(localized: "Some changes need earlier ones: ask the sender to show all updates."))
            }
        case .receipt:
            scanning = nil
            act { store in
                let peer = try store.confirmHandover(receipt: text)
                return String(localized: "Confirmed: \(peer) has the updates.")
            }
        case nil:
            break
        }
    }

    /// Runs `work` off the main thread, then shows its message or error and reloads.
    private func act(_ work: @escaping (CaravanStore) async throws -> String?) {
        error = nil
        guard let store = model.store else { return }
        Task {
            do {
                let message = try await Task.detached { try await work(store) }.value
                status = message ?? status
                model.changed()
            } catch { self.error = AppModel.message(error) }
        }
    }
}

/// What a sync changed, in one line (a free function: called off the main actor).
private func syncReport(_ s: SyncSummary) -> String {
    String(localized: "New: \(s.casesCreated), updated: \(s.casesUpdated), erased: \(s.casesErased).")
}
