import CaravanKit
import SwiftUI

/// A picker over vocabulary choices; "—" clears the value.
struct ChoicePicker: View {
    let title: String
    let choices: [Choice]
    @Binding var selection: String?

    var body: some View {
        Picker(title, selection: $selection) {
            Text("—").tag(String?.none)
            ForEach(choices) { Text($0.label).tag(Optional($0.code)) }
        }
    }
}

/// A multi-select list over vocabulary choices (checkmarks).
struct ChoiceSet: View {
    let title: String
    let choices: [Choice]
    @Binding var selected: Set<String>

    var body: some View {
        NavigationLink {
            List(choices) { choice in
                Button {
                    if selected.contains(choice.code) { selected.remove(choice.code) } else { selected.insert(choice.code) }
                } label: {
                    HStack {
                        Text(choice.label).foregroundColor(.primary)
                        Spacer()
                        if selected.contains(choice.code) { Image(systemName: "checkmark") }
                    }
                }
            }
            .navigationTitle(title)
        } label: {
            VStack(alignment: .leading) {
                Text(title)
                if !selected.isEmpty {
                    Text(choices.filter { selected.contains($0.code) }.map(\.label).joined(separator: ", "))
                        .font(.footnote).foregroundColor(.secondary)
                }
            }
        }
    }
}
