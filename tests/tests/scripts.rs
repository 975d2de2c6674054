//! Scripts run as the user keepalived would run them as: setuid / setgid with the
//! supplementary groups reduced to the script's group (needs root to switch users).

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use tests::require_root;
use vrrp_userspace::{
    config::{Command, Notify, RunAs},
    fsm::NotifyState,
    scripts::{NotifyScripts, Outcome},
};

const PATIENCE: Duration = Duration::from_secs(10);

/// A world-writable directory, so that a script running as `nobody` can write its report.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("xvrrp-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A script that writes `uid gid groups` of whoever runs it to `<script>.id`.
fn id_script(dir: &Path) -> PathBuf {
    let path = dir.join("whoami");
    std::fs::write(
        &path,
        "#!/bin/sh\necho \"$(id -u) $(id -g) $(id -G)\" > \"$0.id\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn ids_of(notify: &Notify, script_user: Option<&RunAs>, report: &Path) -> String {
    let _ = std::fs::remove_file(report);
    let scripts = NotifyScripts::instance("VI_1", notify, script_user, PATIENCE).unwrap();
    let outcomes = tokio::time::timeout(PATIENCE, scripts.fire(NotifyState::Master, 100))
        .await
        .expect("notify script did not finish")
        .unwrap();
    assert_eq!(outcomes[0].1, Outcome::Exited(0), "{outcomes:?}");
    std::fs::read_to_string(report).unwrap().trim().to_string()
}

fn run_as(user: &str, group: Option<&str>) -> RunAs {
    RunAs {
        user: user.into(),
        group: group.map(Into::into),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_run_as_their_user_with_only_its_group() {
    require_root();
    let dir = TempDir::new("scripts-setuid");
    let script = id_script(&dir.0);
    let report = dir.0.join("whoami.id");
    let line = script.display().to_string();
    let notify = |user: Option<RunAs>| Notify {
        master: Some(Command {
            line: line.clone(),
            run_as: user,
        }),
        ..Notify::default()
    };

    // `user nobody`: nobody's primary group, and no other group.
    assert_eq!(
        ids_of(&notify(Some(run_as("nobody", None))), None, &report).await,
        "65534 65534 65534"
    );
    // `script_user nobody nogroup` applies when the script names no user.
    let nogroup = run_as("nobody", Some("nogroup"));
    assert_eq!(
        ids_of(&notify(None), Some(&nogroup), &report).await,
        "65534 65534 65534"
    );
    // `user root nogroup`: the group given, not root's.
    assert_eq!(
        ids_of(
            &notify(Some(run_as("root", Some("nogroup")))),
            None,
            &report
        )
        .await,
        "0 65534 65534"
    );
    // Root as root keeps only root's group, as keepalived's setgroups(1, &gid) leaves it.
    assert_eq!(
        ids_of(&notify(Some(run_as("root", None))), None, &report).await,
        "0 0 0"
    );
}
