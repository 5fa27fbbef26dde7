import SwiftUI

/// Field Notes: a thin SwiftUI shell over CaravanKit.
@main
struct FieldNotesApp: App {
    @StateObject private var model = AppModel()
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            ZStack {
                RootView().environmentObject(model)
                // Nothing readable in the app switcher's snapshot.
                if scenePhase != .active { Color(.systemBackground).ignoresSafeArea() }
            }
        }
        .onChange(of: scenePhase) { phase in model.scenePhaseChanged(phase) }
    }
}

struct RootView: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        if model.store == nil {
            UnlockView()
        } else {
            NavigationView { CaseListView() }.navigationViewStyle(.stack)
        }
    }
}
