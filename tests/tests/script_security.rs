//! keepalived's script security in a real daemon: with `enable_script_security`, a script that
//! runs as root and that someone other than root could replace (a group-writable file, a
//! world-writable directory on its path) never runs, and the instance goes on as if it did not
//! track it; a root-owned 0755 script in root-owned 0755 directories runs. Without
//! `enable_script_security` the same script runs, with keepalived's warnings. `script_user`
//! decides who tracked and notify scripts run as.

use std::{
    os::unix::fs::{PermissionsExt as _, chown},
    path::{Path, PathBuf},
    time::Duration,
};

use tests::{
    daemon::{Daemon, Lan, VIP, config, has_addr, wait_for},
    require_root,
};

/// A script that records each run in `<name>.ran` next to itself, then exits with `status`.
fn marker_script(dir: &Path, name: &str, status: u8) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\nid -u >> \"$0.ran\"\nexit {status}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn ran(script: &Path) -> String {
    std::fs::read_to_string(format!("{}.ran", script.display())).unwrap_or_default()
}

fn nogroup() -> u32 {
    let out = std::process::Command::new("getent")
        .args(["group", "nogroup"])
        .output()
        .expect("running getent");
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    line.split(':')
        .nth(2)
        .and_then(|gid| gid.parse().ok())
        .unwrap_or_else(|| panic!("no group nogroup: {line:?}"))
}

/// What each test's router 1 tracks: `safe` (root 0755 in the scratch directory, root 0755
/// under the sticky /tmp), `group_writable` (root:nogroup 0775) and `in_open_dir` (root 0755,
/// in a directory mode 0777); the last two fail with weight -150, which would hand the VIP to
/// router 2. The group-writable script is also the instance's notify_master.
struct Setup {
    lan: Lan,
    safe: PathBuf,
    group_writable: PathBuf,
    in_open_dir: PathBuf,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        require_root();
        let lan = Lan::new(tag, 2);
        let dir = lan.scratch.path("scripts");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let safe = marker_script(&dir, "safe", 0);
        let group_writable = marker_script(&dir, "group_writable", 1);
        chown(&group_writable, Some(0), Some(nogroup())).unwrap();
        std::fs::set_permissions(&group_writable, std::fs::Permissions::from_mode(0o775)).unwrap();
        let open = dir.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let in_open_dir = marker_script(&open, "in_open_dir", 1);
        Setup {
            lan,
            safe,
            group_writable,
            in_open_dir,
        }
    }

    fn start(&self, global: &str) -> (Daemon, Daemon) {
        let scripts = format!(
            "global_defs {{\n{global}}}\n\
             vrrp_script safe {{\n  script \"{}\"\n  interval 1\n}}\n\
             vrrp_script group_writable {{\n  script \"{}\"\n  interval 1\n  fall 1\n  weight -150\n}}\n\
             vrrp_script in_open_dir {{\n  script \"{}\"\n  interval 1\n  fall 1\n  weight -150\n}}\n",
            self.safe.display(),
            self.group_writable.display(),
            self.in_open_dir.display()
        );
        let track = format!(
            "  track_script {{\n    safe\n    group_writable\n    in_open_dir\n  }}\n  notify_master \"{}\"",
            self.group_writable.display()
        );
        let d2 = self.lan.daemon(2, &config(100, "0.1", ""), &[]);
        let d1 = self
            .lan
            .daemon(1, &(scripts + &config(200, "0.1", &track)), &[]);
        (d1, d2)
    }
}

#[test]
fn script_security_refuses_scripts_others_can_replace() {
    let s = Setup::new("ssec");
    let (d1, d2) = s.start("  enable_script_security\n  script_user root\n");
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "the safe script to run twice while r1 is master",
        Duration::from_secs(10),
        || ran(&s.safe).lines().count() >= 2 && has_addr(s.lan.router(1), "eth0", VIP),
        logs,
    );
    assert_eq!(ran(&s.safe).lines().next(), Some("0"), "runs as root");
    assert_eq!(ran(&s.group_writable), "", "the group-writable script ran");
    assert_eq!(
        ran(&s.in_open_dir),
        "",
        "the script in a 0777 directory ran"
    );
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert!(
        status.contains("MASTER prio 200/200"),
        "refused scripts must neither fail the instance nor count: {status}"
    );
    let log = d1.log_text();
    for expected in [
        format!(
            "Unsafe permissions found for script '{}' - disabling",
            s.group_writable.display()
        ),
        "disabling track script group_writable due to insecure".to_string(),
        format!(
            "Unsafe permissions found for script '{}' - disabling ({} can be changed by a non-root user)",
            s.in_open_dir.display(),
            s.in_open_dir.parent().unwrap().display()
        ),
        "disabling track script in_open_dir due to insecure".to_string(),
        "notify_master will not run".to_string(),
    ] {
        assert!(log.contains(&expected), "log lacks {expected:?}:\n{log}");
    }
}

#[test]
fn without_script_security_they_run_with_a_warning() {
    let s = Setup::new("snosec");
    let (d1, d2) = s.start("  script_user root\n");
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "the failing scripts to hand the VIP to r2",
        Duration::from_secs(10),
        || has_addr(s.lan.router(2), "eth0", VIP) && !ran(&s.in_open_dir).is_empty(),
        logs,
    );
    assert!(!ran(&s.group_writable).is_empty(), "{}", logs());
    let log = d1.log_text();
    for expected in [
        format!(
            "Unsafe permissions found for script '{}' (",
            s.group_writable.display()
        ),
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled"
            .to_string(),
        "There are insecure scripts.".to_string(),
    ] {
        assert!(log.contains(&expected), "log lacks {expected:?}:\n{log}");
    }
}

/// `script_user nobody`: tracked scripts and notify scripts run as nobody, and need no
/// protection (the group-writable script runs, even with `enable_script_security`).
#[test]
fn script_user_decides_who_scripts_run_as() {
    let s = Setup::new("suser");
    let nobody = {
        let out = std::process::Command::new("id")
            .args(["-u", "nobody"])
            .output()
            .expect("running id");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Its runs must be able to record themselves.
    for script in [&s.safe, &s.group_writable] {
        std::fs::write(format!("{}.ran", script.display()), "").unwrap();
        std::fs::set_permissions(
            format!("{}.ran", script.display()),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
    }
    let (d1, d2) = s.start("  enable_script_security\n  script_user nobody\n");
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "the safe and the group-writable script to run as nobody",
        Duration::from_secs(10),
        || !ran(&s.safe).is_empty() && !ran(&s.group_writable).is_empty(),
        logs,
    );
    for script in [&s.safe, &s.group_writable] {
        let ids = ran(script);
        assert!(
            ids.lines().all(|uid| uid == nobody),
            "{} ran as {ids:?}, not as nobody ({nobody})",
            script.display()
        );
    }
}
