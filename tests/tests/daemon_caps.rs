//! The daemon as packaging/xvrrp.service runs it: an unprivileged user whose only capabilities
//! are the unit's AmbientCapabilities. With all four it becomes master, holds the VIP, runs
//! XDP natively and answers `xvrrp status`; without any one of them it refuses to start, with
//! a message, so none of the four is superfluous.

use std::{
    os::unix::fs::PermissionsExt as _,
    path::Path,
    process::{Command, Output},
    time::Duration,
};

use tests::{
    daemon::{Lan, Scratch, VIP, config, has_addr, wait_for, xvrrp},
    netns::Netns,
};

/// As `AmbientCapabilities=` in packaging/xvrrp.service.
const UNIT_CAPS: [&str; 4] = ["bpf", "perfmon", "net_admin", "net_raw"];

fn unit_caps() -> Vec<&'static str> {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/xvrrp.service"),
    )
    .expect("reading packaging/xvrrp.service");
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("AmbientCapabilities="))
        .expect("the unit grants ambient capabilities");
    let mut granted: Vec<String> = line
        .split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_lowercase())
        .collect();
    granted.sort();
    let mut ours: Vec<&str> = UNIT_CAPS.to_vec();
    ours.sort();
    assert_eq!(
        granted, ours,
        "this test and the unit disagree on the capabilities"
    );
    UNIT_CAPS.to_vec()
}

/// A directory the unprivileged user can write its control socket into.
fn runtime_dir(scratch: &Scratch) -> String {
    let dir = scratch.path("run");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir.display().to_string()
}

/// `xvrrp run` in `ns` as user nobody with exactly `caps` (ambient, inheritable, bounding).
fn command_as_nobody(ns: &Netns, scratch: &Scratch, caps: &[&str]) -> Command {
    let conf = scratch.write("r1.conf", &config(150, "0.5", ""));
    let set = |prefix: &str| {
        let mut s = "-all".to_string();
        for c in caps {
            s += &format!(",{prefix}{c}");
        }
        s
    };
    let run = runtime_dir(scratch);
    ns.command(&[
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        &format!("--inh-caps={}", set("+")),
        &format!("--ambient-caps={}", set("+")),
        &format!("--bounding-set={}", set("+")),
        &xvrrp().display().to_string(),
        "run",
        "-f",
        &conf.display().to_string(),
        "--control",
        &format!("{run}/xvrrp.sock"),
        // Native or nothing: with `auto` a missing BPF capability would only cost the tracker.
        "--xdp",
        "native",
    ])
}

#[test]
fn runs_as_nobody_with_the_units_capabilities() {
    let caps = unit_caps();
    let lan = Lan::new("cap", 1);
    let mut child = command_as_nobody(lan.router(1), &lan.scratch, &caps)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting xvrrp under setpriv");
    let still_running = |child: &mut std::process::Child| child.try_wait().unwrap().is_none();
    wait_for(
        "the unprivileged daemon to hold the VIP",
        Duration::from_secs(15),
        || has_addr(lan.router(1), "eth0", VIP) || !still_running(&mut child),
        String::new,
    );
    assert!(
        still_running(&mut child),
        "the daemon exited: {}",
        stop(child).1
    );

    let status = Command::new(xvrrp())
        .args(["status", "--control"])
        .arg(lan.scratch.path("run/xvrrp.sock"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.status.success() && text.contains("MASTER"),
        "status: {text}"
    );
    assert!(
        text.contains("native"),
        "XDP is not attached natively: {text}"
    );

    // SIGTERM as the unit's ExecStop would: the VIP goes, the daemon exits 0.
    let (code, log) = stop(child);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !has_addr(lan.router(1), "eth0", VIP),
        "VIP left behind: {log}"
    );
}

#[test]
fn each_of_the_units_capabilities_is_needed() {
    let caps = unit_caps();
    for missing in caps.iter() {
        let fewer: Vec<&str> = caps.iter().copied().filter(|c| c != missing).collect();
        let lan = Lan::new("capless", 1);
        let out: Output = command_as_nobody(lan.router(1), &lan.scratch, &fewer)
            .output()
            .expect("running xvrrp under setpriv");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "without CAP_{} the daemon should refuse to start:\n{log}",
            missing.to_uppercase()
        );
        assert!(
            !has_addr(lan.router(1), "eth0", VIP),
            "without {missing}: VIP was added"
        );
        let named = format!("CAP_{}", missing.to_uppercase());
        assert!(
            log.contains(&named),
            "without {missing}: the error does not say {named}:\n{log}"
        );
    }
}

/// SIGTERM, wait, and the exit code with what the daemon logged.
fn stop(child: std::process::Child) -> (Option<i32>, String) {
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().expect("waiting for xvrrp");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
