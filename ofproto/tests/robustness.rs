//! Decoder robustness: hundreds of thousands of hostile inputs, none may panic, and whatever decodes
//! must survive encode -> decode unchanged.
//!
//! Inputs are derived from real messages (the Ryu corpus and proptest-generated messages of every
//! family) by bit flips, truncations, length-field corruption, byte insertions and deletions, type
//! confusion (a body under another header type), plus purely random bodies. The run is deterministic
//! (fixed seed) and bounded both in count and in wall time so it stays a unit-test-speed check; the
//! cargo-fuzz target in `ofproto/fuzz` is the open-ended version.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ofproto::Message;

use common::{Rng, hex};

/// Inputs to try (the brief: ~200k).
const TARGET_INPUTS: usize = 200_000;
/// Stop early if the machine is slow: the suite must stay well under 15 s.
const TIME_BUDGET: Duration = Duration::from_secs(11);
/// Fewer than this many inputs means the budget was eaten by something pathological.
const MIN_INPUTS: usize = 20_000;
/// Offset of the 16-bit length field in `ofp_header` (OF1.3.5 §7.1).
const HEADER_LENGTH_AT: usize = 2;
const HEADER_LEN: usize = 8;

/// Runs the decoder on `input` and checks the contract. Returns whether the input decoded.
fn check(input: &Bytes, failures: &mut Vec<String>) -> bool {
    let decoded = match catch_unwind(AssertUnwindSafe(|| Message::decode(input))) {
        Ok(result) => result,
        Err(_) => {
            failures.push(format!("decode panicked on {}", hex(input)));
            return false;
        }
    };
    let (header, msg) = match decoded {
        Ok(ok) => ok,
        Err(err) => {
            // A frame shorter than its header says can only be a truncation.
            if input.len() >= HEADER_LEN {
                let declared = u16::from_be_bytes([input[2], input[3]]) as usize;
                if declared > input.len() && declared >= HEADER_LEN && !err.is_truncation() {
                    failures.push(format!(
                        "frame of {} bytes declaring {declared}: expected a truncation error, got {err} on {}",
                        input.len(),
                        hex(input)
                    ));
                }
            }
            return false;
        }
    };
    let encoded = match catch_unwind(AssertUnwindSafe(|| msg.to_bytes(header.xid))) {
        Ok(bytes) => bytes,
        Err(_) => {
            failures.push(format!("encode panicked on the decoding of {}: {msg:?}", hex(input)));
            return true;
        }
    };
    match Message::decode(&encoded) {
        Ok((header2, msg2)) if msg2 == msg && header2.xid == header.xid => {}
        Ok((_, msg2)) => failures.push(format!(
            "decode(encode(m)) != m for input {}\n  m  = {msg:?}\n  m' = {msg2:?}\n  encoded = {}",
            hex(input),
            hex(&encoded)
        )),
        Err(err) => failures.push(format!(
            "re-encoded message does not decode ({err}); input {}, encoded {}, value {msg:?}",
            hex(input),
            hex(&encoded)
        )),
    }
    true
}

/// Writes `len` into the header length field so the damage is seen by the body parsers rather than
/// stopped at the frame check.
fn fix_header_length(frame: &mut [u8]) {
    if frame.len() >= HEADER_LEN {
        let len = u16::try_from(frame.len()).unwrap_or(u16::MAX);
        frame[HEADER_LENGTH_AT..HEADER_LENGTH_AT + 2].copy_from_slice(&len.to_be_bytes());
    }
}

/// Offsets of 16-bit big-endian values that look like length fields of a TLV ending inside the
/// frame: candidates for targeted corruption.
fn plausible_length_fields(frame: &[u8]) -> Vec<usize> {
    (HEADER_LEN..frame.len().saturating_sub(1))
        .filter(|&at| {
            let v = u16::from_be_bytes([frame[at], frame[at + 1]]) as usize;
            v >= 4 && at + v <= frame.len() + 4
        })
        .collect()
}

/// One mutation of `seed`; the header length is kept consistent unless the mutation is about it.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut frame = seed.to_vec();
    match rng.below(8) {
        // Bit flips anywhere after the version byte.
        0 => {
            for _ in 0..=rng.below(4) {
                if frame.len() > 1 {
                    let at = 1 + rng.below(frame.len() - 1);
                    frame[at] ^= 1 << rng.below(8);
                }
            }
            fix_header_length(&mut frame);
        }
        // Truncation with the header still claiming the full length: must be a truncation error.
        1 => frame.truncate(rng.below(frame.len() + 1)),
        // Truncation with the header length following: the body parsers see a short structure.
        2 => {
            frame.truncate(HEADER_LEN + rng.below(frame.len().saturating_sub(HEADER_LEN) + 1));
            fix_header_length(&mut frame);
        }
        // Corrupt a length-looking field (or any 16-bit word) with a boundary value.
        3 => {
            let candidates = plausible_length_fields(&frame);
            let at = if !candidates.is_empty() && !rng.chance(4) {
                candidates[rng.below(candidates.len())]
            } else if frame.len() > HEADER_LEN + 1 {
                HEADER_LEN + rng.below(frame.len() - HEADER_LEN - 1)
            } else {
                return frame;
            };
            let old = u16::from_be_bytes([frame[at], frame[at + 1]]);
            let new = match rng.below(8) {
                0 => 0,
                1 => old.wrapping_add(1),
                2 => old.wrapping_sub(1),
                3 => old.wrapping_add(8),
                4 => old.wrapping_sub(8),
                5 => 0xffff,
                6 => rng.below(16) as u16,
                _ => rng.next_u64() as u16,
            };
            frame[at..at + 2].copy_from_slice(&new.to_be_bytes());
            fix_header_length(&mut frame);
        }
        // Byte insertion inside the body.
        4 => {
            let at = HEADER_LEN.min(frame.len()) + rng.below(frame.len().saturating_sub(HEADER_LEN) + 1);
            let n = 1 + rng.below(8);
            let insert: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            frame.splice(at..at, insert);
            fix_header_length(&mut frame);
        }
        // Byte deletion inside the body.
        5 => {
            if frame.len() > HEADER_LEN {
                let at = HEADER_LEN + rng.below(frame.len() - HEADER_LEN);
                let n = (1 + rng.below(8)).min(frame.len() - at);
                frame.drain(at..at + n);
            }
            fix_header_length(&mut frame);
        }
        // Type confusion: the body of one message under another type number (0..=29 known, some not).
        6 => {
            if frame.len() > 1 {
                frame[1] = rng.below(34) as u8;
            }
        }
        // Overwrite a random run of bytes.
        _ => {
            if frame.len() > HEADER_LEN {
                let at = HEADER_LEN + rng.below(frame.len() - HEADER_LEN);
                let n = (1 + rng.below(16)).min(frame.len() - at);
                for b in &mut frame[at..at + n] {
                    *b = rng.byte();
                }
            }
        }
    }
    frame
}

/// A header of a random (mostly known) type and a random body.
fn random_frame(rng: &mut Rng) -> Vec<u8> {
    let body_len = if rng.chance(2) { rng.below(32) } else { rng.below(400) };
    let mut frame = vec![0x04, rng.below(34) as u8, 0, 0, 0, 0, 0, 1];
    frame.extend((0..body_len).map(|_| rng.byte()));
    fix_header_length(&mut frame);
    frame
}

struct Outcome {
    inputs: usize,
    decoded: usize,
    failures: Vec<String>,
}

fn run(seeds: &[Bytes], rng_seed: u64, target: usize, budget: Duration) -> Outcome {
    let mut rng = Rng::new(rng_seed);
    let started = Instant::now();
    let mut outcome = Outcome { inputs: 0, decoded: 0, failures: Vec::new() };
    while outcome.inputs < target && outcome.failures.len() < 20 {
        if outcome.inputs.is_multiple_of(1024) && started.elapsed() > budget {
            break;
        }
        let input = if seeds.is_empty() || rng.chance(10) {
            random_frame(&mut rng)
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            let mut frame = mutate(seed, &mut rng);
            // Stack a second mutation now and then: single faults miss interacting length fields.
            if rng.chance(4) {
                frame = mutate(&frame, &mut rng);
            }
            frame
        };
        outcome.inputs += 1;
        if check(&Bytes::from(input), &mut outcome.failures) {
            outcome.decoded += 1;
        }
    }
    outcome
}

#[test]
fn corpus_and_generated_messages_survive_mutation() {
    let mut seeds: Vec<Bytes> = common::whole_frames().into_iter().map(|(_, frame)| frame).collect();
    let corpus_seeds = seeds.len();
    seeds.extend(common::strategies::generated_frames(400, 0x5eed));
    let generated_seeds = seeds.len() - corpus_seeds;

    // Every seed is a valid message and satisfies the contract before it is mutated.
    let mut failures = Vec::new();
    for seed in &seeds {
        if !check(seed, &mut failures) {
            failures.push(format!("seed does not decode: {}", hex(seed)));
        }
    }
    assert!(failures.is_empty(), "unmutated seeds fail:\n{}", failures.join("\n"));

    // Silence the default hook so a panic is reported once, by `check`, with its input.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = run(&seeds, 0x0f13_2026, TARGET_INPUTS, TIME_BUDGET);
    std::panic::set_hook(previous_hook);

    eprintln!(
        "robustness: {} inputs ({} corpus + {} generated seeds), {} decoded successfully",
        outcome.inputs, corpus_seeds, generated_seeds, outcome.decoded
    );
    assert!(
        outcome.failures.is_empty(),
        "{} failures:\n{}",
        outcome.failures.len(),
        outcome.failures.join("\n\n")
    );
    assert!(outcome.inputs >= MIN_INPUTS, "only {} inputs ran within {TIME_BUDGET:?}", outcome.inputs);
    // The round-trip property is only exercised by inputs that decode; most mutations of a valid
    // message (a flipped counter bit, a changed port number) still decode.
    assert!(
        outcome.decoded * 20 >= outcome.inputs,
        "only {} of {} inputs decoded: the round-trip half of the test is barely exercised",
        outcome.decoded,
        outcome.inputs
    );
}

#[test]
fn cut_frames_report_truncation_at_every_length() {
    // Every proper prefix of every corpus message, header length untouched: the decoder must say
    // "truncated" (or, for prefixes shorter than a header, fail) and never panic.
    for (name, frame) in common::whole_frames() {
        for cut in 0..frame.len() {
            let prefix = frame.slice(..cut);
            let err = Message::decode(&prefix).expect_err(&format!("{name} cut at {cut} decoded"));
            assert!(err.is_truncation(), "{name} cut at {cut}: expected truncation, got {err}");
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    // Fully random input, including wrong versions and lengths: only the no-panic half applies.
    let mut rng = Rng::new(42);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let input: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        let input = Bytes::from(input);
        let result = catch_unwind(AssertUnwindSafe(|| Message::decode(&input)));
        assert!(result.is_ok(), "decode panicked on {}", hex(&input));
    }
}
