//! Sync between devices: identities, encrypted envelopes, bundles, live sessions.

mod identity;

pub use identity::{DeviceId, DeviceIdentity, PUBLIC_KEY_LEN, SIGNATURE_LEN};
