//! `cargo xtask bench xdp`: what the XDP program costs per packet, beside an empty XDP program
//! measured in the same run: BPF_PROG_RUN with `repeat`, the kernel's mean per run (a whole
//! number of nanoseconds; timing the syscall from here would add the test loop's own
//! per-iteration work, which dilutes every ratio).
//!
//! Targets (issue 2): non-VRRP ≤ 1.15× the empty program, absorbed advert ≤ 4×.

use std::time::Duration;

use aya::programs::{TestRun as _, TestRunOptions, Xdp};
use tests::frames::{Advert, Checksum, Family, udp};
use vrrp_userspace::dataplane::{Dataplane, PassProgram};

/// Each case is measured this many times, interleaved with the others; the median is kept.
const ROUNDS: usize = 11;

struct Case {
    name: &'static str,
    frame: Vec<u8>,
    /// Absorption on for this case.
    absorb: bool,
    /// Run on the empty program instead of xvrrp.
    baseline: bool,
    target: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    tests::require_root();
    let mut repeat = 1_000_000u32;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--repeat N")
            }
            // cargo bench passes --bench to every harness=false target.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other:?} (expected --json, --repeat N)"),
        }
    }

    let mut pass = PassProgram::load()?;
    let mut dp = Dataplane::load()?;
    let advert = Advert::v3_ipv4().build();
    let cases = [
        Case {
            name: "empty program (baseline)",
            frame: udp(Family::V4),
            absorb: false,
            baseline: true,
            target: None,
        },
        Case {
            name: "non-VRRP IPv4 UDP",
            frame: udp(Family::V4),
            absorb: false,
            baseline: false,
            target: Some(1.15),
        },
        Case {
            name: "non-VRRP IPv6 UDP",
            frame: udp(Family::V6),
            absorb: false,
            baseline: false,
            target: Some(1.15),
        },
        Case {
            name: "absorbed advert",
            frame: advert.clone(),
            absorb: true,
            baseline: false,
            target: Some(4.0),
        },
        Case {
            name: "passed advert",
            frame: advert,
            absorb: false,
            baseline: false,
            target: None,
        },
        Case {
            name: "invalid advert (bad checksum)",
            frame: Advert {
                checksum: Checksum::Corrupt,
                ..Advert::v3_ipv4()
            }
            .build(),
            absorb: false,
            baseline: false,
            target: None,
        },
    ];

    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        for (case, out) in cases.iter().zip(&mut samples) {
            let program = if case.baseline {
                pass.program()?
            } else {
                dp.set_absorb(case.absorb)?;
                dp.program()?
            };
            out.push(measure(program, &case.frame, repeat)?);
        }
    }
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            s[s.len() / 2].as_secs_f64() * 1e9
        })
        .collect();
    let base = medians[0];

    if json {
        let rows: Vec<String> = cases
            .iter()
            .zip(&medians)
            .map(|(c, ns)| {
                format!(
                    "{{\"case\":\"{}\",\"ns_per_packet\":{ns:.1},\"ratio\":{:.3},\"target\":{}}}",
                    c.name,
                    ns / base,
                    c.target.map_or("null".into(), |t| t.to_string())
                )
            })
            .collect();
        println!(
            "{{\"bench\":\"xdp\",\"repeat\":{repeat},\"rounds\":{ROUNDS},\"results\":[{}]}}",
            rows.join(",")
        );
    } else {
        println!("XDP per-packet cost, BPF_PROG_RUN, repeat {repeat}, median of {ROUNDS} rounds");
        println!(
            "{:<32} {:>10} {:>8} {:>8}",
            "case", "ns/pkt", "ratio", "target"
        );
        for (c, ns) in cases.iter().zip(&medians) {
            let ratio = ns / base;
            let target = c.target.map_or(String::new(), |t| {
                format!("≤{t}{}", if ratio <= t { "" } else { " MISSED" })
            });
            println!("{:<32} {ns:>10.1} {ratio:>7.2}× {target:>8}", c.name);
        }
    }
    Ok(())
}

fn measure(program: &Xdp, frame: &[u8], repeat: u32) -> anyhow::Result<Duration> {
    let opts = TestRunOptions {
        data_in: Some(frame),
        repeat,
        ..Default::default()
    };
    Ok(program.test_run(opts)?.duration)
}
