//! keepalived.conf from arbitrary bytes (invalid UTF-8 converted lossily, as `config::load`
//! reads files): never a panic, and every diagnostic points into the text.
#![no_main]

use std::{borrow::Cow, path::Path};

use libfuzzer_sys::fuzz_target;
use vrrp_userspace::config::{self, Diagnostic, Host};

/// In a directory that does not exist, so that relative includes match nothing.
const FILE: &str = "/nonexistent/xvrrp-fuzz/keepalived.conf";

/// Every interface exists and every script runs, so that the checks behind them are reached.
struct EveryInterface;

impl Host for EveryInterface {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }

    fn script_problem(&self, _: &str) -> Option<String> {
        None
    }

    /// A minimal system's accounts, so that both answers are reachable.
    fn user_exists(&self, name: &str) -> bool {
        matches!(name, "root" | "nobody")
    }
}

fuzz_target!(|data: &[u8]| {
    let text = confined(String::from_utf8_lossy(data));
    let diagnostics = match config::parse_str(Path::new(FILE), &text, &EveryInterface) {
        Ok(loaded) => loaded.warnings,
        Err(diags) => {
            assert!(diags.has_errors(), "refused without an error: {diags}");
            diags.0
        }
    };
    let lines: Vec<&str> = text.split('\n').collect();
    for d in &diagnostics {
        assert_within(d, &lines);
    }
});

/// The text with `/` replaced on every line that mentions `include`, so that no include
/// pattern (braces can make one absolute: `{,/}etc`) reaches outside [`FILE`]'s missing
/// directory: the fuzzer must not read, or walk, the real file system.
fn confined(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains("include") {
        return text;
    }
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            if line.contains("include") {
                line.replace('/', "_")
            } else {
                line.to_string()
            }
        })
        .collect();
    Cow::Owned(lines.join("\n"))
}

/// The diagnostic names the input, a line of it, and a column within that line or just after
/// its end (where a missing value or brace is reported); columns count characters.
fn assert_within(d: &Diagnostic, lines: &[&str]) {
    assert_eq!(&*d.pos.file, Path::new(FILE), "{d}");
    let line = usize::try_from(d.pos.line).unwrap();
    assert!(
        (1..=lines.len()).contains(&line),
        "{d}: the input has {} lines",
        lines.len()
    );
    let text = lines[line - 1];
    let text = text.strip_suffix('\r').unwrap_or(text);
    let col = usize::try_from(d.pos.col).unwrap();
    assert!(
        (1..=text.chars().count() + 1).contains(&col),
        "{d}: line {line} is {text:?}"
    );
}
