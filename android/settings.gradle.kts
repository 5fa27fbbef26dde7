// Field Notes (Caravan's Android shell): a library module over the Rust core and a thin
// Compose app. Build steps: android/README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "caravan-android"
include(":caravan", ":app")
