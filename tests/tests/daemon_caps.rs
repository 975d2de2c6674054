//! The daemon as packaging/xvrrp.service runs it: an unprivileged user whose only capabilities
//! are the unit's AmbientCapabilities, with no_new_privs (NoNewPrivileges=yes). The running
//! process is checked for exactly those ids and capabilities. With all four it becomes
//! master, holds the VIP, runs XDP natively, serves its control socket 0600 and answers
//! `xvrrp status`; its scripts run as its own user; without any one of the capabilities it
//! refuses to start, with a message, so none of the four is superfluous; a `script_user` it
//! cannot switch to is refused at start, naming the missing capability; the unit's root
//! `ExecStartPre=+` steps let it pin its XDP.
//!
//! Not covered (systemd is not there to apply them): the unit's sandboxing (ProtectSystem=,
//! SystemCallFilter=, RestrictAddressFamilies=, ...).

use std::{
    os::unix::fs::{MetadataExt as _, PermissionsExt as _},
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
/// Their bits (linux/capability.h): CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_PERFMON 38, CAP_BPF 39.
const UNIT_CAP_MASK: u64 = 1 << 12 | 1 << 13 | 1 << 38 | 1 << 39;
const NOBODY: u32 = 65534;

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

/// `xvrrp run` in `ns` as user nobody with exactly `caps` (ambient, inheritable, bounding),
/// no supplementary groups and no_new_privs, on `conf`.
fn command_as_nobody(ns: &Netns, scratch: &Scratch, caps: &[&str], conf: &str) -> Command {
    let args = nobody_args(scratch, caps, conf);
    ns.command(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The command line of `command_as_nobody`, from `setpriv` on.
fn nobody_args(scratch: &Scratch, caps: &[&str], conf: &str) -> Vec<String> {
    let conf = scratch.write("r1.conf", conf);
    let set = |prefix: &str| {
        let mut s = "-all".to_string();
        for c in caps {
            s += &format!(",{prefix}{c}");
        }
        s
    };
    let run = runtime_dir(scratch);
    [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--no-new-privs",
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
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn runs_as_nobody_with_the_units_capabilities() {
    let caps = unit_caps();
    let lan = Lan::new("cap", 1);
    // Written by its notify script, as whoever runs it: the daemon's own user.
    let ids = lan.scratch.path("run/notify.ids");
    let notify = lan.scratch.script(
        "notify.sh",
        &format!(
            "{{ id -u; id -g; grep -E '^Cap(Eff|Amb)' /proc/$$/status; }} > {}",
            ids.display()
        ),
    );
    let conf = config(
        150,
        "0.5",
        &format!("  notify_master \"{}\"", notify.display()),
    );
    let mut child = command_as_nobody(lan.router(1), &lan.scratch, &caps, &conf)
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

    // `ip netns exec` and setpriv exec, so the child is the daemon itself.
    let proc_status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    assert_eq!(field(&proc_status, "Name"), "xvrrp");
    for ids in ["Uid", "Gid"] {
        let all: Vec<u32> = field(&proc_status, ids)
            .split_whitespace()
            .map(|id| id.parse().unwrap())
            .collect();
        assert_eq!(all, [NOBODY; 4], "{ids} (real, effective, saved, fs)");
    }
    assert_eq!(field(&proc_status, "Groups"), "", "supplementary groups");
    assert_eq!(field(&proc_status, "NoNewPrivs"), "1");
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let got = u64::from_str_radix(field(&proc_status, set), 16).unwrap();
        assert_eq!(
            got, UNIT_CAP_MASK,
            "{set} is {got:#x}, the unit grants {UNIT_CAP_MASK:#x}"
        );
    }

    let socket = lan.scratch.path("run/xvrrp.sock");
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "control socket mode"
    );
    assert_eq!(meta.uid(), NOBODY, "control socket owner");

    wait_for(
        "the notify_master script",
        Duration::from_secs(5),
        || std::fs::read_to_string(&ids).is_ok_and(|t| t.lines().count() == 4),
        || std::fs::read_to_string(&ids).unwrap_or_default(),
    );
    let script = std::fs::read_to_string(&ids).unwrap();
    let mut lines = script.lines();
    assert_eq!(lines.next(), Some("65534"), "script uid: {script}");
    assert_eq!(lines.next(), Some("65534"), "script gid: {script}");
    // Scripts inherit the daemon's ambient capabilities, as keepalived's (root) scripts have
    // root's: notify scripts that change routes keep working under the unit.
    for line in lines {
        let (set, mask) = line.split_once(':').unwrap();
        assert_eq!(
            u64::from_str_radix(mask.trim(), 16).unwrap(),
            UNIT_CAP_MASK,
            "script {set}: {script}"
        );
    }

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
        let out: Output =
            command_as_nobody(lan.router(1), &lan.scratch, &fewer, &config(150, "0.5", ""))
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

/// The unit's root `ExecStartPre=+` steps let the unprivileged daemon pin its XDP under the
/// default /sys/fs/bpf/xvrrp; without them, bpffs as systemd mounts it (mode 0700) keeps it out,
/// and it runs unpinned. Each case runs in a mount namespace of its own with a fresh bpffs,
/// and the daemon enters only the test's network namespace, so the host's bpffs is untouched.
#[test]
fn the_units_bpffs_steps_let_the_unprivileged_daemon_pin() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/xvrrp.service"),
    )
    .expect("reading packaging/xvrrp.service");
    let steps: Vec<String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStartPre=+"))
        .map(|c| c.replace("-o xvrrp -g xvrrp", "-o nobody -g nogroup"))
        .collect();
    assert!(steps.len() >= 2, "the unit's root steps: {steps:?}");
    for (case, with_steps) in [("with the unit's steps", true), ("without them", false)] {
        let lan = Lan::new("cappin", 1);
        let args = nobody_args(&lan.scratch, &unit_caps(), &config(150, "0.5", ""));
        let mut script = String::from("set -e\nmount -t bpf -o mode=0700 bpf /sys/fs/bpf\n");
        if with_steps {
            for step in &steps {
                script += &format!("{step}\n");
            }
        }
        script += &format!(
            "exec nsenter --net=/run/netns/{} -- {}\n",
            lan.router(1).name(),
            args.join(" ")
        );
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting xvrrp in a mount namespace of its own");
        wait_for(
            "the unprivileged daemon to hold the VIP",
            Duration::from_secs(15),
            || has_addr(lan.router(1), "eth0", VIP) || child.try_wait().unwrap().is_some(),
            String::new,
        );
        let (code, log) = stop(child);
        assert_eq!(code, Some(0), "{case}: {log}");
        if with_steps {
            assert!(log.contains("pinned=true"), "{case}: not pinned\n{log}");
        } else {
            assert!(
                log.contains("XDP not pinned") && log.contains("Permission denied"),
                "{case}: {log}"
            );
        }
    }
}

/// A `script_user` the unprivileged daemon cannot become is refused before anything starts,
/// naming the capabilities it lacks.
#[test]
fn a_script_user_it_cannot_become_is_refused() {
    let caps = unit_caps();
    let lan = Lan::new("capuser", 1);
    let check = lan.scratch.script("check.sh", "exit 0");
    let conf = format!(
        "global_defs {{\n  script_user root\n}}\nvrrp_script chk {{\n  script \"{}\"\n}}\n{}",
        check.display(),
        config(150, "0.5", "  track_script {\n    chk\n  }")
    );
    let out = command_as_nobody(lan.router(1), &lan.scratch, &caps, &conf)
        .output()
        .expect("running xvrrp under setpriv");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started anyway:\n{log}");
    assert!(
        log.contains("cannot run scripts as user 'root'")
            && log.contains("without CAP_SETUID and CAP_SETGID"),
        "{log}"
    );
    assert!(!has_addr(lan.router(1), "eth0", VIP), "VIP was added");
}

/// The value of `name:` in a /proc status file.
fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
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
