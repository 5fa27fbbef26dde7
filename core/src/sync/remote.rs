//! Joining from afar: a join request sent over an untrusted channel (e-mail, a
//! messenger), checked by a verification code read out over the phone.
//!
//! 1. The new device makes a **join request**: its device key, its X25519 key and a
//!    name, signed with its device key, as text (`caravan-request:…`). The app shows
//!    the request's **code**.
//! 2. The request travels over any channel to a coordinator, whose app shows the same
//!    code computed from the request it received. On the phone, the requester reads
//!    its code out and the coordinator types it in.
//! 3. Only if the codes match does the coordinator's device issue the invitation,
//!    sealed to the request's X25519 key (`caravan-invite-for:…`), so it too can travel
//!    over any channel: only the requesting device can open it.
//!
//! Someone who replaces the request on the way gets a different code, unless they
//! find a key pair whose request has the same code: the code is 80 bits (16 base32
//! characters), far beyond a search, while still short enough to read out.

use serde::{Deserialize, Serialize};

use crate::codec::{base32, unbase32, B32, B64};
use crate::error::{Error, Result};
use crate::identity::{DeviceId, DeviceIdentity};

const PREFIX: &str = "caravan-request:";
const LABEL: &[u8] = b"caravan/join-request/v1";
/// Longest request text accepted.
const MAX_TEXT: usize = 2048;

#[derive(Serialize, Deserialize)]
struct Body {
    device: B32,
    x25519: B32,
    name: String,
    nonce: [u8; 16],
    sig: B64,
}

fn signed_part(device: &B32, x25519: &B32, nonce: &[u8; 16], name: &str) -> Vec<u8> {
    [LABEL, &device.0, &x25519.0, nonce, name.as_bytes()].concat()
}

/// A join request: the text to send, and the code to read out over the phone.
pub struct JoinRequest {
    text: String,
    code: String,
    device: DeviceId,
    x25519: [u8; 32],
    name: String,
}

impl JoinRequest {
    /// A new request from `me`, naming the device `name`.
    pub(crate) fn new(me: &DeviceIdentity, name: &str) -> Result<JoinRequest> {
        let name = super::group::checked_name(name, "device name")?;
        let device = B32(me.id().0);
        let x25519 = B32(me.x25519().public());
        let nonce: [u8; 16] = crate::crypto::random_array()?;
        let sig = B64(me.sign(&signed_part(&device, &x25519, &nonce, name)));
        let body = Body {
            device,
            x25519,
            name: name.into(),
            nonce,
            sig,
        };
        let bytes = crate::codec::cbor(&body)?;
        JoinRequest::parse(&format!("{PREFIX}{}", base32(&bytes)))
    }

    /// Parses and checks a request received from another device.
    pub(crate) fn parse(text: &str) -> Result<JoinRequest> {
        let bad = || Error::invalid("join request", "this is not a valid Caravan join request");
        let text = text.trim();
        if text.len() > MAX_TEXT {
            return Err(bad());
        }
        let bytes = unbase32(text.strip_prefix(PREFIX).ok_or_else(bad)?).ok_or_else(bad)?;
        let mut reader = bytes.as_slice();
        let body: Body = ciborium::from_reader(&mut reader).map_err(|_| bad())?;
        if !reader.is_empty()
            || !DeviceId(body.device.0).verify(
                &signed_part(&body.device, &body.x25519, &body.nonce, &body.name),
                &body.sig.0,
            )
        {
            return Err(bad());
        }
        // The same rules as for a name typed on this device: 1 to 80 characters,
        // trimmed, and no identifier (a modified app could sign anything).
        if super::group::checked_name(&body.name, "device name")? != body.name {
            return Err(Error::invalid(
                "device name",
                "the name has spaces around it",
            ));
        }
        let digest =
            crate::crypto::sha256(&[b"caravan/request-code/v1".as_slice(), &bytes].concat());
        let c = base32(&digest.as_ref()[..10]);
        let code = format!("{}-{}-{}-{}", &c[..4], &c[4..8], &c[8..12], &c[12..16]);
        Ok(JoinRequest {
            text: format!("{PREFIX}{}", base32(&bytes)),
            code,
            device: DeviceId(body.device.0),
            x25519: body.x25519.0,
            name: body.name,
        })
    }

    /// The request as text, to send over any channel.
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// The verification code (e.g. `7KQ2-M9XD-4TRB-WZ5P`), to read out over the phone.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The name the requesting device gave.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The requesting device.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    pub(crate) fn x25519(&self) -> &[u8; 32] {
        &self.x25519
    }
}

impl std::fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JoinRequest({:?}, {})", self.device, self.code)
    }
}

/// Whether a code typed by a person matches (case, spaces and dashes ignored).
pub(crate) fn codes_match(code: &str, typed: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let (a, b) = (norm(code), norm(typed));
    !a.is_empty() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::group::{GroupState, Role};

    /// A request signed properly by a modified app, with any name.
    fn request_named(me: &DeviceIdentity, name: &str) -> String {
        let device = B32(me.id().0);
        let x25519 = B32(me.x25519().public());
        let nonce = [4u8; 16];
        let sig = B64(me.sign(&signed_part(&device, &x25519, &nonce, name)));
        let body = Body {
            device,
            x25519,
            name: name.into(),
            nonce,
            sig,
        };
        format!(
            "{PREFIX}{}",
            base32(&crate::codec::cbor(&body).expect("cbor"))
        )
    }

    #[test]
    fn a_received_request_gets_the_device_name_rules() {
        let me = DeviceIdentity::generate().expect("me");
        assert_eq!(
            JoinRequest::parse(&request_named(&me, "Shelter, Istanbul"))
                .expect("ok")
                .name(),
            "Shelter, Istanbul"
        );
        let long = "x".repeat(81);
        for name in [
            "",
            "   ",
            " Shelter",
            "Shelter\n",
            long.as_str(),
            "Shelter +7 701 123 4567",
            "aigerim.n@mail.kz",
        ] {
            let text = request_named(&me, name);
            assert!(JoinRequest::parse(&text).is_err(), "{name:?} accepted");
        }
    }

    #[test]
    fn a_remote_invitation_opens_only_on_the_requesting_device_after_the_code_matched() {
        let coordinator = DeviceIdentity::generate().expect("c");
        let newcomer = DeviceIdentity::generate().expect("n");
        let mitm = DeviceIdentity::generate().expect("m");
        let mut g = GroupState::create(&coordinator, "Istanbul shelter network", "Coordinator")
            .expect("group");
        let request = JoinRequest::new(&newcomer, "Shelter, Istanbul").expect("request");
        // The coordinator's copy of the request gives the same code.
        let received = JoinRequest::parse(request.as_text()).expect("parse");
        assert_eq!(received.code(), request.code());
        assert_eq!(received.code().len(), 19);
        // Someone replaced the request on the way: the codes differ and nothing is issued.
        let replaced = JoinRequest::new(&mitm, "Shelter, Istanbul").expect("mitm");
        assert_ne!(replaced.code(), request.code());
        let records = g.records.len();
        assert!(g
            .invite_remote(
                &coordinator,
                Role::FieldWorker,
                replaced.as_text(),
                request.code()
            )
            .is_err());
        assert_eq!(g.records.len(), records, "nothing recorded");
        // The real request, with the code read out (spacing and case do not matter).
        let heard = request.code().to_lowercase().replace('-', " ");
        let inv = g
            .invite_remote(&coordinator, Role::FieldWorker, request.as_text(), &heard)
            .expect("invite");
        let text = inv.as_text();
        assert!(text.starts_with("caravan-invite-for:"));
        assert!(!text.contains("Istanbul"));
        // Only the requesting device opens it.
        assert!(GroupState::join(text, &mitm, "Intruder").is_err());
        let joined = GroupState::join(text, &newcomer, "Shelter, Istanbul").expect("join");
        assert!(joined.view().active(&newcomer.id()).is_some());
        // A tampered request does not parse.
        let mut t = request.as_text().to_string();
        let i = t.len() - 3;
        t.replace_range(i..i + 1, if &t[i..i + 1] == "A" { "B" } else { "A" });
        assert!(JoinRequest::parse(&t).is_err());
        assert!(codes_match("ABCD-EFGH", "abcd efgh"));
        assert!(!codes_match("ABCD-EFGH", "ABCD-EFGX"));
        assert!(!codes_match("", ""));
    }
}
