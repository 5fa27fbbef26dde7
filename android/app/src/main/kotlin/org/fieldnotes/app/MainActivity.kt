package org.fieldnotes.app

import android.os.Bundle
import android.view.WindowManager
import androidx.activity.ComponentActivity
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import org.fieldnotes.app.ui.CaseFormScreen
import org.fieldnotes.app.ui.CaseListScreen
import org.fieldnotes.app.ui.ReferralScreen
import org.fieldnotes.app.ui.ScreeningScreen
import org.fieldnotes.app.ui.SyncScreen
import org.fieldnotes.app.ui.UnlockScreen

/** The only activity: shows the screen the [AppViewModel] is on. */
class MainActivity : ComponentActivity() {
    private val model: AppViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // No screenshots, no screen recording, no thumbnail in the recent-apps list.
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        setContent {
            MaterialTheme {
                Surface {
                    val screen = model.screen
                    BackHandler(enabled = screen !is Screen.Unlock && screen !is Screen.Cases) { model.back() }
                    when (screen) {
                        Screen.Unlock -> UnlockScreen(model)
                        Screen.Cases -> CaseListScreen(model)
                        is Screen.Form -> CaseFormScreen(model, screen.caseId)
                        is Screen.Screening -> ScreeningScreen(model, screen.caseId)
                        is Screen.Referral -> ReferralScreen(model, screen.caseId)
                        Screen.Sync -> SyncScreen(model)
                    }
                }
            }
        }
    }
}
