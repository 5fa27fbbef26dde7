//! The refusal frame of live sessions (docs/protocol.md section 13.5): what a device
//! sends, in the clear, before it closes a live session it refuses, so that the other
//! side can say what happened instead of "the connection was closed".
//!
//! The frame is `"caravan/refused/v1" ‖ code (1 byte)`: 19 bytes, nothing else. It is
//! not an envelope (an envelope's first byte is `0x87`, this one's is `c`), it is not
//! encrypted and not signed: the refused device may hold no key of the group (a second
//! device on a used invitation), and whoever can cut the connection can forge it, which
//! gains nothing over cutting the connection. It carries a code from a fixed list and
//! nothing else: no text, nothing from the refused message, nothing about the group.

use std::fmt;

/// The ASCII label that starts every refusal frame.
pub const REFUSAL_LABEL: &[u8] = b"caravan/refused/v1";

/// Why a device refused a live session: the code of a refusal frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LiveRefusal {
    /// Code 1. The refusing device does not accept the sender: it is not a member of the
    /// group (a second device on a single-use invitation, a device of another team), it
    /// was revoked, or its message did not open or verify. The only code a device sends
    /// before the peer has proved in this session that it is an active member, so a
    /// non-member learns nothing but "refused". Unknown codes are read as this one.
    NotAccepted,
    /// Code 2. A later message of a session with a peer already accepted in it was
    /// refused: it did not verify, broke a rule of the protocol, or came out of order.
    MessageRefused,
    /// Code 3. The refusing device cannot sync now: its store refuses writes (damaged,
    /// failed disk), or it is itself not an active member (revoked, waiting to be
    /// admitted).
    Unavailable,
    /// Code 4. The message is in a protocol version or cipher suite the refusing device
    /// does not speak.
    Unsupported,
}

impl LiveRefusal {
    /// The code byte of the frame.
    pub fn code(self) -> u8 {
        match self {
            LiveRefusal::NotAccepted => 1,
            LiveRefusal::MessageRefused => 2,
            LiveRefusal::Unavailable => 3,
            LiveRefusal::Unsupported => 4,
        }
    }

    /// The reason for a code; unknown codes (from a later version) read as
    /// [`LiveRefusal::NotAccepted`].
    pub fn from_code(code: u8) -> LiveRefusal {
        match code {
            2 => LiveRefusal::MessageRefused,
            3 => LiveRefusal::Unavailable,
            4 => LiveRefusal::Unsupported,
            _ => LiveRefusal::NotAccepted,
        }
    }

    /// The frame to send: the label and the code.
    pub fn frame(self) -> Vec<u8> {
        let mut out = REFUSAL_LABEL.to_vec();
        out.push(self.code());
        out
    }

    /// The refusal a received message is, if it is one: exactly the label and one byte.
    pub fn parse(message: &[u8]) -> Option<LiveRefusal> {
        match message.strip_prefix(REFUSAL_LABEL) {
            Some([code]) => Some(LiveRefusal::from_code(*code)),
            _ => None,
        }
    }

    /// The reason's name as docs/protocol.md section 20 lists it.
    pub fn name(self) -> &'static str {
        match self {
            LiveRefusal::NotAccepted => "not-accepted",
            LiveRefusal::MessageRefused => "message-refused",
            LiveRefusal::Unavailable => "unavailable",
            LiveRefusal::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for LiveRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_nothing_else_is_a_refusal() {
        for r in [
            LiveRefusal::NotAccepted,
            LiveRefusal::MessageRefused,
            LiveRefusal::Unavailable,
            LiveRefusal::Unsupported,
        ] {
            let f = r.frame();
            assert_eq!(f.len(), 19);
            assert_eq!(LiveRefusal::parse(&f), Some(r));
            assert_eq!(LiveRefusal::from_code(r.code()), r);
        }
        assert_eq!(
            LiveRefusal::parse(b"caravan/refused/v1\x09"),
            Some(LiveRefusal::NotAccepted)
        );
        assert_eq!(LiveRefusal::parse(b"caravan/refused/v1"), None);
        assert_eq!(LiveRefusal::parse(b"caravan/refused/v1\x01\x00"), None);
        assert_eq!(LiveRefusal::parse(&[0x87, 1, 1]), None);
    }
}
