import CaravanKit
import SwiftUI

/// PIN entry; on first launch, choose a PIN and an optional second (duress) PIN.
struct UnlockView: View {
    @EnvironmentObject var model: AppModel
    @State private var setUp = false
    @State private var pin = ""
    @State private var confirm = ""
    @State private var duress = ""
    @State private var error: String?
    @State private var busy = false

    var body: some View {
        Form {
            Section {
                Text(setUp ? "Enter your PIN." : "Choose a PIN of at least 4 digits.")
                SecureField("PIN", text: $pin).keyboardType(.numberPad)
                if !setUp {
                    SecureField("PIN again", text: $confirm).keyboardType(.numberPad)
                    SecureField("Second PIN (optional)", text: $duress).keyboardType(.numberPad)
                    Text("If someone forces you to open the app, enter the second PIN: everything is erased and an empty notebook opens.")
                        .font(.footnote)
                }
            } header: { Text("Field Notes").font(.title) }
            if let error { Text(error).foregroundColor(.red) }
            Button(setUp ? "Open" : "Start", action: submit)
                .disabled(busy || pin.count < KeyVault.minPin)
        }
        .onAppear { setUp = model.isSetUp }
    }

    private func submit() {
        error = nil
        if !setUp {
            guard pin == confirm else { error = String(localized: "The two PINs differ."); return }
            guard duress.isEmpty || (duress.count >= KeyVault.minPin && duress != pin) else {
                error = String(localized: "The second PIN must have at least 4 digits and differ from the PIN.")
                return
            }
        }
        busy = true
        let entered = pin
        pin = ""
        Task {
            defer { busy = false }
            do {
                if !setUp {
                    try await model.setUp(pin: entered, duressPin: duress.isEmpty ? nil : duress)
                } else {
                    switch try await model.unlock(pin: entered) {
                    case .opened: break
                    case .wrongPin(let left): error = String(localized: "Wrong PIN. \(left) tries left.")
                    case .wiped:
                        error = String(localized: "Too many wrong PINs: the notebook was erased.")
                        setUp = false
                    }
                }
            } catch {
                self.error = AppModel.message(error)
            }
        }
    }
}
