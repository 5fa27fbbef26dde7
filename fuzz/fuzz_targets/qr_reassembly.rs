//! Fuzzes QR frame reassembly (`caravan_core::sync::qr`). Must never panic.
//!
//! Input: a mode byte, then
//! - `mode & 1 == 0`: records `u16 BE length | frame bytes`, each pushed to one
//!   `Reassembler`; with `mode & 2` each record first gets magic, version and check
//!   repaired, so the header and geometry checks behind the checksum are reached;
//! - `mode & 1 == 1`: `u16 BE max_frame selector | u64 BE seed | bundle`: the bundle is
//!   split, shuffled, duplicated (and with `mode & 2` bit-flipped copies are injected),
//!   and must come back byte for byte.
//!
//! Seeds: `fuzz/corpus/qr_reassembly/`, written by `fuzz/gen_corpus.py`.
#![no_main]

use caravan_core::sync::qr::{self, Reassembler, MAX_FRAMES, MAX_MAX_FRAME, MIN_MAX_FRAME};
use libfuzzer_sys::fuzz_target;
use ring::digest;

const OVERHEAD: usize = 24;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        arbitrary_frames(rest, mode & 2 != 0);
    } else {
        valid_frames(rest, mode & 2 != 0);
    }
});

fn arbitrary_frames(mut data: &[u8], repair: bool) {
    let mut r = Reassembler::new();
    while let Some((len, rest)) = data.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (frame, tail) = rest.split_at(len);
        data = tail;
        let mut frame = frame.to_vec();
        if repair {
            repair_check(&mut frame);
        }
        push_checked(&mut r, &frame);
    }
    if r.is_complete() {
        let _ = r.finish();
    }
}

fn valid_frames(data: &[u8], corrupt: bool) {
    let Some((selector, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Some((seed, bundle)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let span = MAX_MAX_FRAME - MIN_MAX_FRAME + 1;
    let max_frame = MIN_MAX_FRAME + usize::from(u16::from_be_bytes(*selector)) % span;
    let frames = match qr::split(bundle, max_frame) {
        Ok(frames) => frames,
        Err(_) => {
            assert!(bundle.len() > MAX_FRAMES * (max_frame - OVERHEAD));
            return;
        }
    };
    assert!(frames.iter().all(|f| f.len() <= max_frame));
    let mut rng = u64::from_be_bytes(*seed) | 1;
    let mut next = move |bound: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % bound as u64) as usize
    };
    let mut order: Vec<usize> = (0..frames.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, next(i + 1));
    }
    let mut r = Reassembler::new();
    let mut forged = false;
    for &i in &order {
        if next(4) == 0 {
            let j = order[next(order.len())];
            push_checked(&mut r, &frames[j]);
        }
        if corrupt && next(2) == 0 {
            let mut bad = frames[i].clone();
            let bit = next(bad.len() * 8);
            bad[bit / 8] ^= 1 << (bit % 8);
            if push_checked(&mut r, &bad) {
                // Only a genuine 32-bit check collision may let a flipped frame in.
                let (body, check) = bad.split_at(bad.len() - 4);
                assert_eq!(&sha256(body)[..4], check);
                forged = true;
            }
        }
        assert!(push_checked(&mut r, &frames[i]) || forged);
    }
    if forged {
        let _ = r.finish();
        return;
    }
    assert!(r.is_complete());
    assert!(r.missing().is_empty());
    assert_eq!(r.finish().expect("complete bundle"), bundle);
}

/// Pushes a frame and checks the reassembler's invariants; returns whether it was accepted.
fn push_checked(r: &mut Reassembler, frame: &[u8]) -> bool {
    let before = r.clone();
    match r.push(frame) {
        Ok(progress) => {
            assert!(progress.received <= progress.total);
            assert!(progress.total >= 1 && progress.total <= MAX_FRAMES);
            assert_eq!(progress.complete, progress.received == progress.total);
            assert_eq!(progress.complete, r.is_complete());
            assert_eq!(r.missing().len(), progress.total - progress.received);
            if progress.duplicate {
                assert_eq!(*r, before);
            }
            true
        }
        Err(_) => {
            assert_eq!(*r, before, "a refused frame changed the reassembler");
            false
        }
    }
}

/// Makes an arbitrary frame pass the magic, version and checksum tests.
fn repair_check(frame: &mut [u8]) {
    if frame.len() < OVERHEAD {
        return;
    }
    frame[..4].copy_from_slice(b"CVQ\x01");
    let at = frame.len() - 4;
    let check = sha256(&frame[..at]);
    frame[at..].copy_from_slice(&check[..4]);
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}
