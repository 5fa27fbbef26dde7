//! Shared helpers for Caravan's cross-crate tests.
