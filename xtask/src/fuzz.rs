//! `cargo xtask fuzz`: the libFuzzer targets of `fuzz/` (a cargo-fuzz package outside the
//! workspace, built with nightly), each for a fixed time from its checked-in corpus.
//!
//! New inputs go to `fuzz/target/corpus/<target>`, not to the checked-in corpus, which stays
//! small. When coverage has grown, copy them into `fuzz/corpus/<target>` and minimise it by
//! edges alone (hit counts would keep thousands of configs):
//! `cargo +nightly fuzz cmin --sanitizer none <target> fuzz/corpus/<target> -- -use_counters=0`.

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context as _, bail};

/// Each target with the longest input worth trying: beyond it only sizes already covered repeat.
const TARGETS: &[(&str, usize)] = &[
    // A VRRPv3 message over IPv6 with 255 addresses (4088 bytes) after the 17-byte context.
    ("vrrp_codec", 4200),
    // An NA with a few options; the frames themselves are 42 and 86 bytes.
    ("arp_ndisc", 512),
    // Several instances' worth of keepalived.conf.
    ("config", 8192),
    // The daemon reads at most MAX_REQUEST (256) bytes of a request.
    ("control", 256),
];

/// Seconds per target after `cargo xtask test`: each target replays its corpus and mutates
/// for a while. The fuzz build from a clean clone costs about 410 CPU-seconds (it builds the
/// XDP program again, for its own target directory), so this keeps the whole addition near
/// four minutes on two cores.
pub const CI_SECONDS: u64 = 10;

/// Far above what any target needs; a parser that allocates without bound hits it.
const RSS_LIMIT_MB: u32 = 1024;
/// Seconds one input may take before libFuzzer reports it as a hang.
const TIMEOUT_SECS: u32 = 10;

pub fn run(seconds: u64, targets: Vec<String>) -> anyhow::Result<()> {
    crate::setup::cargo_fuzz()?;
    let chosen: Vec<(&str, usize)> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        targets
            .iter()
            .map(|name| {
                TARGETS
                    .iter()
                    .find(|(t, _)| t == name)
                    .copied()
                    .with_context(|| {
                        let known: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
                        format!("no fuzz target {name}; there are {}", known.join(", "))
                    })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut summaries = Vec::new();
    for (target, max_len) in chosen {
        summaries.push(fuzz(target, max_len, seconds)?);
    }
    for s in &summaries {
        eprintln!("{s}");
    }
    Ok(())
}

/// Runs one target; a crash, a hang or running out of memory is an error naming the input.
fn fuzz(target: &str, max_len: usize, seconds: u64) -> anyhow::Result<String> {
    let fuzz_dir = crate::workspace_root().join("fuzz");
    let work_corpus = fuzz_dir.join("target/corpus").join(target);
    std::fs::create_dir_all(&work_corpus)
        .with_context(|| format!("creating {}", work_corpus.display()))?;
    let mut child = Command::new("cargo")
        .args(["+nightly", "fuzz", "run", "--sanitizer", "none", target])
        .arg(&work_corpus)
        .arg(fuzz_dir.join("corpus").join(target))
        .args([
            "--".to_string(),
            format!("-max_total_time={seconds}"),
            format!("-max_len={max_len}"),
            format!("-rss_limit_mb={RSS_LIMIT_MB}"),
            format!("-timeout={TIMEOUT_SECS}"),
            "-print_final_stats=1".to_string(),
        ])
        // The fuzz package builds with the nightly that is there, never a downloaded one.
        .env("RUSTUP_AUTO_INSTALL", "0")
        .current_dir(crate::workspace_root())
        .stderr(Stdio::piped())
        .spawn()
        .context("running cargo +nightly fuzz")?;
    let mut progress = Progress::default();
    let stderr = child.stderr.take().expect("stderr is piped");
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading the fuzzer's output")?;
        eprintln!("{line}");
        progress.read(&line);
    }
    let status = child.wait().context("waiting for cargo fuzz")?;
    if status.success() {
        return Ok(progress.summary(target));
    }
    match progress.artifact {
        Some(artifact) => bail!(
            "fuzz target {target} failed on {0} (replay: cargo +nightly fuzz run --sanitizer none \
             {target} {0})",
            artifact.display()
        ),
        None => bail!("fuzz target {target} did not run ({status})"),
    }
}

/// What libFuzzer's output tells about a run.
#[derive(Default)]
struct Progress {
    /// The last status line (`#N ... cov: C ft: F ... exec/s: E ...`).
    status: Option<String>,
    /// `stat::` lines of `-print_final_stats`.
    stats: Vec<String>,
    /// The input that made the target fail.
    artifact: Option<PathBuf>,
}

impl Progress {
    fn read(&mut self, line: &str) {
        if line.starts_with('#') && line.contains(" cov: ") {
            self.status = Some(line.to_string());
        } else if let Some(stat) = line.strip_prefix("stat::") {
            self.stats
                .push(stat.split_whitespace().collect::<Vec<_>>().join(" "));
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.artifact = Some(PathBuf::from(path.trim()));
        }
    }

    fn summary(&self, target: &str) -> String {
        format!(
            "{target}: {} | {}",
            self.status.as_deref().unwrap_or("no status line"),
            self.stats.join(", ")
        )
    }
}
