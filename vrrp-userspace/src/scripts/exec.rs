//! Running one operator command the way keepalived does (notify.c `system_call_script`): in
//! its own process group, as its configured user with only that user's group, stdin on
//! `/dev/null`, killed as a group when it outlives its time. Output goes to the log.

use std::{
    ffi::{OsStr, OsString},
    fmt, io,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncRead, AsyncReadExt},
    process::{Child, Command as Process},
    time,
};

use super::{argv, identity::Identity};
use crate::config::{Command, RunAs};

/// keepalived waits this long after SIGTERM before it sends SIGKILL (vrrp_scheduler.c).
pub const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a SIGKILLed group leader before leaving it to tokio's reaper.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// What `confstr(_CS_PATH)` gives on glibc: keepalived's search path when PATH is unset.
const CS_PATH: &str = "/bin:/usr/bin";
/// Longest output line logged as one message; longer lines are cut into pieces.
const MAX_LINE: usize = 4096;

/// A command ready to run: split, its program found, its user resolved.
#[derive(Clone, Debug)]
pub struct Program {
    /// Names the command in logs: the vrrp_script name or the notify keyword and owner.
    label: Arc<str>,
    path: PathBuf,
    args: Vec<OsString>,
    /// Neither `#!` nor ELF: keepalived hands such files to `/bin/sh` (through system(3),
    /// after libmagic failed to call them executable); here `/bin/sh FILE ARGS…`, which runs
    /// the same script without building a shell string.
    interpreted: bool,
    identity: Identity,
    /// PATH given to the command: the only variable in its environment.
    search_path: OsString,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    /// Killed by a signal it was not sent for a timeout.
    Signaled(i32),
    /// Outlived its timeout and was killed with its process group.
    TimedOut,
    /// Could not be started at all.
    NotStarted(String),
}

impl Outcome {
    /// keepalived's rule: exit status 0 is success, everything else a failure.
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with status {code}"),
            Outcome::Signaled(sig) => write!(f, "failed due to signal {sig}"),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::NotStarted(why) => write!(f, "could not be started: {why}"),
        }
    }
}

/// What a timeout sends to the process group first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, then SIGKILL after [`TERM_GRACE`]: keepalived's way with track scripts.
    Terminate,
    /// SIGKILL at once: keepalived's way with scripts run on stop.
    Kill,
}

impl Program {
    /// Prepares `command`: splits its line as keepalived does, finds a bare program name in
    /// PATH and resolves its user (the command's own, else `script_user`, else keepalived's
    /// default). Fails when the line does not split or the user does not exist.
    pub fn new(
        label: impl Into<Arc<str>>,
        command: &Command,
        script_user: Option<&RunAs>,
    ) -> anyhow::Result<Program> {
        let label = label.into();
        let mut words = argv::split(&command.line)
            .with_context(|| format!("{label}: cannot split '{}'", command.line))?
            .into_iter();
        let program = words.next().unwrap_or_default();
        let search_path = search_path();
        let path = find(Path::new(&program), &search_path)
            .with_context(|| format!("{label}: {} not found in PATH", program.display()))?;
        let interpreted = !has_exec_magic(&path);
        let identity = Identity::resolve(command.run_as.as_ref(), script_user)
            .with_context(|| format!("{label}: cannot run '{}'", command.line))?;
        Ok(Program {
            label,
            path,
            args: words.collect(),
            interpreted,
            identity,
            search_path,
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The argv the command runs with when given `extra` arguments.
    pub fn argv<'a>(&'a self, extra: &'a [&'a OsStr]) -> Vec<&'a OsStr> {
        let shell = self.interpreted.then_some(OsStr::new("/bin/sh"));
        shell
            .into_iter()
            .chain([self.path.as_os_str()])
            .chain(self.args.iter().map(OsString::as_os_str))
            .chain(extra.iter().copied())
            .collect()
    }

    /// Runs the command with `extra` appended to its arguments and waits for it, at most
    /// `timeout` before stopping it as `stop` says. Dropping the future kills the process
    /// group of a command still running; the leader is reaped either way.
    pub async fn run(&self, extra: &[&OsStr], timeout: Duration, stop: Stop) -> Outcome {
        let argv = self.argv(extra);
        let mut process = Process::new(argv[0]);
        process
            .args(&argv[1..])
            .env_clear()
            .env("PATH", &self.search_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let target = self.identity;
        let me = Identity::current();
        // SAFETY: the closure runs between fork and exec and only makes the async-signal-safe
        // setgroups / setgid / setuid system calls on values computed before the fork.
        unsafe {
            process.pre_exec(move || become_user(target, me));
        }
        let mut child = match process.spawn() {
            Ok(child) => Group::new(child),
            Err(e) => return Outcome::NotStarted(e.to_string()),
        };
        if let Some(out) = child.child.stdout.take() {
            log_output(self.label.clone(), "stdout", out);
        }
        if let Some(err) = child.child.stderr.take() {
            log_output(self.label.clone(), "stderr", err);
        }
        child.wait(timeout, stop).await
    }
}

/// A running command and its process group, which is killed if the command is dropped while
/// it runs.
struct Group {
    child: Child,
    pgid: libc::pid_t,
}

impl Group {
    fn new(child: Child) -> Group {
        // The leader is unreaped until waited for, so its pid is there and names the group.
        let pgid = child.id().map_or(0, |pid| pid as libc::pid_t);
        Group { child, pgid }
    }

    /// Signals the group while its leader is unreaped: until then its pid cannot be reused,
    /// so the signal cannot reach a stranger.
    fn signal(&mut self, signal: libc::c_int) {
        if self.pgid > 0 && self.child.id().is_some() {
            kill_group(self.pgid, signal);
        }
    }

    async fn wait(&mut self, timeout: Duration, stop: Stop) -> Outcome {
        if let Ok(status) = time::timeout(timeout, self.child.wait()).await {
            return outcome(status);
        }
        let (first, grace) = match stop {
            Stop::Terminate => (libc::SIGTERM, TERM_GRACE),
            Stop::Kill => (libc::SIGKILL, KILL_WAIT),
        };
        self.signal(first);
        if time::timeout(grace, self.child.wait()).await.is_err() {
            self.signal(libc::SIGKILL);
            let _ = time::timeout(KILL_WAIT, self.child.wait()).await;
        }
        // Like keepalived after a SIGTERM: whatever the leader left in its group goes too.
        // The leader is reaped here, but the group id stays taken while any member lives.
        if self.pgid > 0 {
            kill_group(self.pgid, libc::SIGKILL);
        }
        Outcome::TimedOut
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // kill_on_drop then kills the leader again and hands it to tokio's orphan reaper.
        self.signal(libc::SIGKILL);
    }
}

fn kill_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill only sends a signal; a negative pid addresses the process group.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

fn outcome(status: io::Result<ExitStatus>) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(signal)) => Outcome::Signaled(signal),
            (None, None) => Outcome::NotStarted(format!("unexpected wait status {status}")),
        },
        Err(e) => Outcome::NotStarted(format!("wait failed: {e}")),
    }
}

/// Runs in the forked child: keepalived's `set_script_env` drops supplementary groups to the
/// script's group, then sets the group and the user. [`Identity::resolve`] made sure the
/// capabilities for a switch are there.
fn become_user(target: Identity, me: Identity) -> io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    // SAFETY: plain system calls on integers and one pointer to a live gid.
    unsafe {
        if me.uid == 0 || target != me {
            check(libc::setgroups(1, &target.gid))?;
        }
        if target.gid != me.gid {
            check(libc::setgid(target.gid))?;
        }
        if target.uid != me.uid {
            check(libc::setuid(target.uid))?;
        }
    }
    Ok(())
}

/// The daemon's PATH, else keepalived's default.
pub(super) fn search_path() -> OsString {
    std::env::var_os("PATH").unwrap_or_else(|| CS_PATH.into())
}

/// `program` itself when it names a path, else the first regular executable file of that
/// name in `search_path` (what keepalived's `find_path` does when it loads the config).
pub(super) fn find(program: &Path, search_path: &OsStr) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.as_os_str().is_empty() {
        bail!("empty program name");
    }
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    std::env::split_paths(search_path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| anyhow::anyhow!("no executable file"))
}

/// Whether execve can run `path` by itself: a `#!` script or an ELF binary. Unreadable files
/// are left to execve, which reports the problem.
fn has_exec_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    let Ok(mut file) = std::fs::File::open(path) else {
        return true;
    };
    let n = file.read(&mut head).unwrap_or(0);
    head[..n].starts_with(b"#!") || head[..n] == *b"\x7fELF"
}

/// Logs what a command writes, line by line, until every writer has closed the pipe (a
/// command's background children may keep it open after the command exits).
fn log_output(
    label: Arc<str>,
    stream: &'static str,
    mut reader: impl AsyncRead + Unpin + Send + 'static,
) {
    tokio::spawn(async move {
        let mut lines = Lines::default();
        let mut chunk = [0u8; 1024];
        let emit = |line: &[u8]| {
            tracing::info!(script = %label, stream, "{}", String::from_utf8_lossy(line));
        };
        while let Ok(n @ 1..) = reader.read(&mut chunk).await {
            lines.feed(&chunk[..n], emit);
        }
        lines.finish(emit);
    });
}

/// Output cut into lines of at most [`MAX_LINE`] bytes, without their newlines.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            self.flush(&mut emit);
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= MAX_LINE {
            emit(&self.partial[..MAX_LINE]);
            self.partial.drain(..MAX_LINE);
        }
    }

    fn finish(mut self, mut emit: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            self.flush(&mut emit);
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(&[u8])) {
        for piece in self.partial.chunks(MAX_LINE) {
            emit(piece);
        }
        if self.partial.is_empty() {
            emit(b"");
        }
        self.partial.clear();
    }
}
