//! Real processes: trackers, timeouts, argument lists, notify scripts. Intervals are short,
//! every wait is bounded generously, so a loaded 2-core machine stays well inside them.

use std::{
    ffi::OsStr,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use tokio::{sync::mpsc, time::timeout};

use super::{
    NotifyScripts, TrackerChange,
    exec::{Outcome, Program, Stop, TERM_GRACE},
    track_file, tracker,
};
use crate::{
    config::{Command, Notify, VrrpScript},
    fsm::NotifyState,
    time::Centisecs,
};

/// Upper bound for anything a test waits for.
const PATIENCE: Duration = Duration::from_secs(10);

/// A directory of its own per test, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xvrrp-scripts-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// An executable file `name` holding `body`.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(line: impl Into<String>) -> Command {
    Command {
        line: line.into(),
        run_as: None,
    }
}

fn program(line: impl Into<String>) -> Program {
    Program::new("test", &command(line), None).unwrap()
}

/// Whether `pid` is a process that has not died (zombies have).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(!matches!(state, 'Z' | 'X'))
        })
        .unwrap_or(false)
}

/// The pids a script wrote to `file`, one per line, once there are `count` of them.
async fn pids(file: &Path, count: usize) -> Vec<u32> {
    timeout(PATIENCE, async {
        loop {
            if let Ok(text) = std::fs::read_to_string(file) {
                let pids: Vec<u32> = text.lines().filter_map(|l| l.parse().ok()).collect();
                if pids.len() >= count {
                    return pids;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the script never wrote its pids")
}

async fn all_dead(pids: &[u32]) {
    let gone = timeout(PATIENCE, async {
        while pids.iter().any(|&p| alive(p)) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "processes {pids:?} still alive");
}

/// The arguments a `printf '%s\0' "$@"` script wrote, split at the NULs.
fn written_args(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let mut args: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // The piece after the last terminator (the whole of an empty file) is no argument.
    args.pop();
    args
}

/// Replaces `path`'s content at once, so that a poller never reads a half-written file.
fn put(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

const ARGS_TO_FILE: &str = "for a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$0.args\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_reach_the_script_exactly() {
    let dir = TempDir::new();
    let script = dir.script("args", &format!("#!/bin/sh\n{ARGS_TO_FILE}"));
    let line = format!(
        r#"{} 'a b' "c'd" \x41 '$HOME' ; '*' "" "tab\there""#,
        script.display()
    );
    let outcome = program(line).run(&[], PATIENCE, Stop::Terminate).await;
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(
        written_args(&dir.path("args.args")),
        ["a b", "c'd", "A", "$HOME", ";", "*", "", "tab\there"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_without_shebang_run_under_sh_with_the_same_arguments() {
    let dir = TempDir::new();
    let script = dir.script("plain", ARGS_TO_FILE);
    let p = program(format!("{} 'x y' z", script.display()));
    assert_eq!(
        p.argv(&[OsStr::new("extra")]),
        [
            OsStr::new("/bin/sh"),
            script.as_os_str(),
            OsStr::new("x y"),
            OsStr::new("z"),
            OsStr::new("extra")
        ]
    );
    let outcome = p
        .run(&[OsStr::new("extra")], PATIENCE, Stop::Terminate)
        .await;
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(written_args(&dir.path("plain.args")), ["x y", "z", "extra"]);
    let elf = program("true");
    assert_eq!(elf.argv(&[]).len(), 1, "ELF binaries are exec'd directly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_signals() {
    assert_eq!(
        program("/bin/sh -c 'exit 3'")
            .run(&[], PATIENCE, Stop::Terminate)
            .await,
        Outcome::Exited(3)
    );
    let killed = program("/bin/sh -c 'kill -USR1 $$'")
        .run(&[], PATIENCE, Stop::Terminate)
        .await;
    assert_eq!(killed, Outcome::Signaled(libc::SIGUSR1));
    assert!(!killed.success());
    assert!(Program::new("t", &command("xvrrp-no-such-program"), None).is_err());
    let dir = TempDir::new();
    let gone = dir.script("gone", "#!/bin/sh\n");
    let p = program(gone.display().to_string());
    std::fs::remove_file(&gone).unwrap();
    assert!(matches!(
        p.run(&[], PATIENCE, Stop::Terminate).await,
        Outcome::NotStarted(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_is_only_path() {
    let dir = TempDir::new();
    let out = dir.path("env");
    let outcome = program(format!("/bin/sh -c 'env -0 > {}'", out.display()))
        .run(&[], PATIENCE, Stop::Terminate)
        .await;
    assert_eq!(outcome, Outcome::Exited(0));
    let env = std::fs::read(&out).unwrap();
    let names: Vec<String> = env
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| {
            String::from_utf8_lossy(v)
                .split('=')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(names.iter().any(|n| n == "PATH"), "{names:?}");
    // What sh adds by itself is all there may be besides PATH; cargo's variables are not.
    assert!(
        names
            .iter()
            .all(|n| ["PATH", "PWD", "OLDPWD", "SHLVL", "_"].contains(&n.as_str())),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_whole_group_and_fails() {
    let dir = TempDir::new();
    let pidfile = dir.path("pids");
    let script = dir.script(
        "hang",
        &format!(
            "#!/bin/sh\nsleep 30 &\necho $! > {p}.tmp\necho $$ >> {p}.tmp\nmv {p}.tmp {p}\nsleep 30\n",
            p = pidfile.display()
        ),
    );
    let limit = Duration::from_millis(300);
    let start = Instant::now();
    let outcome = program(script.display().to_string())
        .run(&[], limit, Stop::Terminate)
        .await;
    let took = start.elapsed();
    assert_eq!(outcome, Outcome::TimedOut);
    assert!(!outcome.success());
    assert!(took >= limit, "{took:?}");
    // sh dies of the SIGTERM itself, so the grace period is not needed.
    assert!(took < limit + TERM_GRACE, "{took:?}");
    all_dead(&pids(&pidfile, 2).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ignored_means_sigkill_after_the_grace() {
    let dir = TempDir::new();
    let pidfile = dir.path("pids");
    let script = dir.script(
        "stubborn",
        &format!(
            "#!/bin/sh\ntrap '' TERM\necho $$ > {p}.tmp\nmv {p}.tmp {p}\nwhile :; do sleep 1; done\n",
            p = pidfile.display()
        ),
    );
    let limit = Duration::from_millis(200);
    let start = Instant::now();
    let outcome = program(script.display().to_string())
        .run(&[], limit, Stop::Terminate)
        .await;
    let took = start.elapsed();
    assert_eq!(outcome, Outcome::TimedOut);
    assert!(took >= limit + TERM_GRACE, "{took:?}");
    assert!(took < limit + TERM_GRACE + PATIENCE, "{took:?}");
    all_dead(&pids(&pidfile, 1).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_run_kills_its_group() {
    let dir = TempDir::new();
    let pidfile = dir.path("pids");
    let script = dir.script(
        "long",
        &format!(
            "#!/bin/sh\nsleep 30 &\necho $! > {p}.tmp\necho $$ >> {p}.tmp\nmv {p}.tmp {p}\nwait\n",
            p = pidfile.display()
        ),
    );
    let p = program(script.display().to_string());
    let run = tokio::spawn(async move { p.run(&[], PATIENCE * 6, Stop::Terminate).await });
    let running = pids(&pidfile, 2).await;
    assert!(running.iter().all(|&pid| alive(pid)));
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    all_dead(&running).await;
}

fn vrrp_script(line: String, interval_cs: u32, rise: u32, fall: u32) -> VrrpScript {
    VrrpScript {
        name: "chk".into(),
        command: command(line),
        interval: Centisecs(interval_cs),
        timeout: None,
        weight: -10,
        weight_reverse: false,
        fall,
        rise,
    }
}

async fn next(rx: &mut mpsc::Receiver<TrackerChange>) -> TrackerChange {
    timeout(PATIENCE, rx.recv())
        .await
        .expect("no tracker change in time")
        .expect("tracker ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_follows_a_flag_file_with_fall_and_rise() {
    let dir = TempDir::new();
    let flag = dir.path("ok");
    let runs = dir.path("runs");
    let script = dir.script(
        "check",
        &format!(
            "#!/bin/sh\nif [ -e {f} ]; then echo ok >> {r}; exit 0; fi\necho fail >> {r}\nexit 1\n",
            f = flag.display(),
            r = runs.display()
        ),
    );
    let spec = vrrp_script(script.display().to_string(), 5, 3, 2);
    let (tx, mut rx) = mpsc::channel(8);
    let task = tracker::spawn(&spec, program(script.display().to_string()), tx);
    let down = TrackerChange::Script {
        name: "chk".into(),
        up: false,
    };
    let up = TrackerChange::Script {
        name: "chk".into(),
        up: true,
    };
    // The first result is reported at once, failure or not.
    assert_eq!(next(&mut rx).await, down);
    let results = |word: &str| {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == word)
            .count()
    };

    std::fs::write(&flag, "").unwrap();
    assert_eq!(next(&mut rx).await, up);
    assert!(results("ok") >= 3, "up after fewer than rise successes");

    let fails_before = results("fail");
    std::fs::remove_file(&flag).unwrap();
    assert_eq!(next(&mut rx).await, down);
    assert!(
        results("fail") - fails_before >= 2,
        "down after fewer than fall failures"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_counts_a_timeout_as_failure() {
    let dir = TempDir::new();
    let flag = dir.path("ok");
    let script = dir.script(
        "slow",
        &format!(
            "#!/bin/sh\n[ -e {f} ] && exit 0\nsleep 30\n",
            f = flag.display()
        ),
    );
    let mut spec = vrrp_script(script.display().to_string(), 5, 1, 1);
    spec.timeout = Some(Centisecs(20));
    std::fs::write(&flag, "").unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let task = tracker::spawn(&spec, program(script.display().to_string()), tx);
    assert_eq!(
        next(&mut rx).await,
        TrackerChange::Script {
            name: "chk".into(),
            up: true
        }
    );
    std::fs::remove_file(&flag).unwrap();
    let start = Instant::now();
    assert_eq!(
        next(&mut rx).await,
        TrackerChange::Script {
            name: "chk".into(),
            up: false
        }
    );
    assert!(start.elapsed() < Duration::from_millis(200) + TERM_GRACE);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn track_file_reports_new_values_only() {
    let dir = TempDir::new();
    let path = dir.path("prio");
    std::fs::write(&path, "5\n").unwrap();
    let initial = track_file::read_value(&path).unwrap();
    assert_eq!(initial, 5);
    let (tx, mut rx) = mpsc::channel(8);
    let task = track_file::spawn(
        "tf".into(),
        path.clone(),
        Duration::from_millis(20),
        initial,
        tx,
    );
    let file = |value| TrackerChange::File {
        name: "tf".into(),
        value,
    };
    put(&path, "0x10");
    assert_eq!(next(&mut rx).await, file(16));
    // Out of range: ignored, the last value stays.
    put(&path, "99999999999");
    tokio::time::sleep(Duration::from_millis(100)).await;
    put(&path, "16");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(next(&mut rx).await, file(0));
    assert!(rx.try_recv().is_err());
    task.abort();
}

fn notify_with(any: Option<String>, master: Option<String>, stop: Option<String>) -> Notify {
    Notify {
        master: master.map(command),
        stop: stop.map(command),
        any: any.map(command),
        ..Notify::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_gets_keepalived_arguments() {
    let dir = TempDir::new();
    let any = dir.script("any", &format!("#!/bin/sh\n{ARGS_TO_FILE}"));
    let own = dir.script("own", &format!("#!/bin/sh\n{ARGS_TO_FILE}"));
    let notify = notify_with(
        Some(format!("{} 'first arg'", any.display())),
        Some(format!("{} m1", own.display())),
        None,
    );
    let scripts = NotifyScripts::instance("VI_1", &notify, None, PATIENCE).unwrap();
    let outcomes = timeout(PATIENCE, scripts.fire(NotifyState::Master, 97))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ("notify_master(VI_1)".to_string(), Outcome::Exited(0)),
            ("notify(VI_1)".to_string(), Outcome::Exited(0))
        ]
    );
    assert_eq!(written_args(&dir.path("own.args")), ["m1"]);
    assert_eq!(
        written_args(&dir.path("any.args")),
        ["first arg", "INSTANCE", "VI_1", "MASTER", "97"]
    );

    // No notify_backup: only the generic script runs.
    let outcomes = timeout(PATIENCE, scripts.fire(NotifyState::Backup, 50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        written_args(&dir.path("any.args")),
        ["first arg", "INSTANCE", "VI_1", "BACKUP", "50"]
    );

    let group = NotifyScripts::group("G1", &notify, None, PATIENCE).unwrap();
    timeout(PATIENCE, group.fire(NotifyState::Fault, 97))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        written_args(&dir.path("any.args")),
        ["first arg", "GROUP", "G1", "FAULT", "0"]
    );
    assert_eq!(
        group.arguments(NotifyState::Stop, 200),
        ["GROUP", "G1", "STOP", "0"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_scripts_are_bounded_and_reaped() {
    let dir = TempDir::new();
    let pidfile = dir.path("pids");
    let hang = dir.script(
        "hang",
        &format!(
            "#!/bin/sh\necho $$ >> {p}\nsleep 30\n",
            p = pidfile.display()
        ),
    );
    let line = Some(hang.display().to_string());
    let notify = notify_with(line.clone(), line.clone(), line);
    let scripts =
        NotifyScripts::instance("VI_1", &notify, None, Duration::from_millis(200)).unwrap();
    let start = Instant::now();
    let outcomes = timeout(PATIENCE, scripts.fire(NotifyState::Master, 100))
        .await
        .unwrap()
        .unwrap();
    assert!(
        outcomes.iter().all(|(_, o)| *o == Outcome::TimedOut),
        "{outcomes:?}"
    );
    assert!(start.elapsed() < Duration::from_millis(200) + TERM_GRACE);
    let first = pids(&pidfile, 2).await;
    all_dead(&first).await;

    // STOP: keepalived's one second, then SIGKILL.
    let start = Instant::now();
    let outcomes = timeout(PATIENCE, scripts.fire(NotifyState::Stop, 100))
        .await
        .unwrap()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes.iter().all(|(_, o)| *o == Outcome::TimedOut));
    assert!(
        took >= super::STOP_TIMEOUT && took < super::STOP_TIMEOUT + TERM_GRACE,
        "{took:?}"
    );
    let all = pids(&pidfile, 4).await;
    all_dead(&all).await;
    // Reaped, not zombies: the leaders are gone from /proc altogether.
    for pid in all {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} left behind"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trackers_run_what_instances_track() {
    let dir = TempDir::new();
    let ok = dir.script("ok", "#!/bin/sh\nexit 0\n");
    let marker = dir.path("unused-ran");
    let unused = dir.script(
        "unused",
        &format!("#!/bin/sh\ntouch {}\n", marker.display()),
    );
    let file = dir.path("prio");
    put(&file, "7\n");
    let text = format!(
        "vrrp_script chk {{\n  script {ok}\n  interval 1\n}}\n\
         vrrp_script spare {{\n  script {unused}\n  interval 1\n}}\n\
         vrrp_track_file tf {{\n  file {file}\n}}\n\
         vrrp_track_file other {{\n  file {file}.other\n}}\n\
         vrrp_instance VI_1 {{\n  interface lo\n  virtual_router_id 51\n  priority 100\n\
           virtual_ipaddress {{\n    192.0.2.100\n  }}\n\
           track_script {{\n    chk\n  }}\n  track_file {{\n    tf\n  }}\n}}\n",
        ok = ok.display(),
        unused = unused.display(),
        file = file.display()
    );
    let loaded = crate::config::parse_str(Path::new("k.conf"), &text, &crate::config::System)
        .unwrap_or_else(|d| panic!("{d}"));
    let mut trackers = super::Trackers::start(&loaded.config, Duration::from_millis(20)).unwrap();
    assert_eq!(trackers.initial_files, [("tf".to_string(), 7)]);
    assert_eq!(
        next(&mut trackers.changes).await,
        TrackerChange::Script {
            name: "chk".into(),
            up: true
        }
    );
    put(&file, "-3\n");
    assert_eq!(
        next(&mut trackers.changes).await,
        TrackerChange::File {
            name: "tf".into(),
            value: -3
        }
    );
    assert!(!marker.exists(), "an untracked vrrp_script ran");
}
