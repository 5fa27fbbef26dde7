//! Unsigned LEB128 numbers, as Automerge's change chunks and the store's compact
//! summaries (`super::summary_codec`) write them.

/// Appends `v` as unsigned LEB128.
pub(crate) fn write(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The unsigned LEB128 number at the start of `bytes`, and how many bytes it took;
/// `None` if it is cut short, longer than 10 bytes or beyond 2⁶⁴ − 1.
pub(crate) fn read(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().take(10).enumerate() {
        let part = u64::from(b & 0x7f);
        let shift = 7 * i as u32;
        if shift > 0 && part >> (64 - shift) != 0 {
            return None;
        }
        value |= part << shift;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_overflow_is_refused() {
        assert_eq!(read(&[0x7f]), Some((127, 1)));
        assert_eq!(read(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(read(&[0x80; 10]), None);
        assert_eq!(
            read(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            None
        );
        assert_eq!(read(&[]), None);
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write(&mut out, v);
            assert_eq!(read(&out), Some((v, out.len())));
        }
    }
}
