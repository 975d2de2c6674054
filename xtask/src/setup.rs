//! `cargo xtask setup`: the eBPF toolchain and the packages the tests use, installed only when
//! missing, with a message saying what to do when something cannot be installed.

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// The last bpf-linker that loads the nightly's own libLLVM 22; newer ones want LLVM 23.
const BPF_LINKER_VERSION: &str = "0.10.0";

/// Debian packages the tests and the lab use, with the command that shows each is there.
const PACKAGES: &[(&str, &str)] = &[
    ("iproute2", "ip"),
    ("keepalived", "keepalived"),
    ("tcpdump", "tcpdump"),
    ("nftables", "nft"),
    ("iputils-ping", "ping"),
    ("iptables", "iptables"),
    ("ethtool", "ethtool"),
    ("librsvg2-bin", "rsvg-convert"),
];

pub fn run() -> anyhow::Result<()> {
    nightly_rust_src()?;
    bpf_linker()?;
    cargo_fuzz()?;
    debian_packages()
}

pub fn require_root(why: &str) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("must run as root: {why} (try `sudo -E cargo xtask ...`)");
    }
    Ok(())
}

fn nightly_rust_src() -> anyhow::Result<()> {
    let toolchains = output("rustup", &["toolchain", "list"])
        .context("rustup is needed to build the eBPF program (https://rustup.rs)")?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        bail!(
            "no nightly toolchain: the XDP program is built with nightly's -Z build-std. \
             Install it with `rustup toolchain install nightly --component rust-src`"
        );
    }
    let installed = output(
        "rustup",
        &["component", "list", "--installed", "--toolchain", "nightly"],
    )?;
    if installed.lines().any(|l| l.starts_with("rust-src")) {
        return Ok(());
    }
    eprintln!("setup: adding rust-src to the nightly toolchain");
    run_cmd(
        "rustup",
        &["component", "add", "rust-src", "--toolchain", "nightly"],
    )
    .context("rust-src for nightly could not be installed; the eBPF build needs it")
}

fn bpf_linker() -> anyhow::Result<()> {
    if let Ok(v) = output("bpf-linker", &["--version"]) {
        if v.split_whitespace().any(|w| w == BPF_LINKER_VERSION) {
            return Ok(());
        }
        eprintln!(
            "setup: found {}, replacing it with bpf-linker {BPF_LINKER_VERSION}",
            v.trim()
        );
    } else {
        eprintln!("setup: installing bpf-linker {BPF_LINKER_VERSION} (about 80 s)");
    }
    let spec = format!("bpf-linker@{BPF_LINKER_VERSION}");
    run_cmd("cargo", &["install", &spec, "--locked", "--force"])
        .with_context(|| format!("installing {spec} failed; the eBPF build links with it"))
}

/// `cargo xtask fuzz` drives libFuzzer through cargo-fuzz; any release does.
pub fn cargo_fuzz() -> anyhow::Result<()> {
    if output("cargo", &["fuzz", "--version"]).is_ok() {
        return Ok(());
    }
    eprintln!("setup: installing cargo-fuzz (about 60 s)");
    run_cmd("cargo", &["install", "cargo-fuzz", "--locked"])
        .context("installing cargo-fuzz failed; `cargo xtask fuzz` runs the fuzz targets with it")
}

fn debian_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, cmd)| !on_path(cmd))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    require_root(&format!("installing {}", missing.join(" ")))?;
    eprintln!("setup: installing {}", missing.join(" "));
    run_cmd("apt-get", &["update", "-q"]).context("apt-get update failed")?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    Command::new("apt-get")
        .args(&args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?
        .success()
        .then_some(())
        .with_context(|| format!("apt-get could not install {}", missing.join(" ")))?;
    // keepalived's package starts a system-wide service; tests run their own in namespaces.
    let _ = Command::new("systemctl")
        .args(["disable", "--now", "keepalived"])
        .stderr(Stdio::null())
        .status();
    Ok(())
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths)
            .chain(["/usr/sbin".into(), "/sbin".into()])
            .any(|dir| dir.join(cmd).is_file())
    })
}

fn output(cmd: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run_cmd(cmd: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(cmd)
        .args(args)
        .status()
        .with_context(|| format!("running {cmd}"))?;
    if !status.success() {
        bail!("{cmd} {} failed ({status})", args.join(" "));
    }
    Ok(())
}
