//! Frames captured from real peers, stored as hex under `tests/fixtures/` (see its README).

use std::path::PathBuf;

/// The frame in `tests/fixtures/<name>.hex`; whitespace in the file is ignored.
pub fn frame(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(
        digits.len().is_multiple_of(2),
        "{}: odd number of hex digits",
        path.display()
    );
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("ascii");
            u8::from_str_radix(s, 16)
                .unwrap_or_else(|e| panic!("{}: bad hex {s:?}: {e}", path.display()))
        })
        .collect()
}
