//! keepalived's script security (notify.c `check_script_secure` and `check_security`): a
//! script that runs with root's user or group id, or is set-uid or set-gid root, must not be
//! replaceable by anyone but root. Otherwise whoever can write the file, or rename entries in
//! a directory above it, runs code as root the next time the script fires.
//!
//! The rules, for every component of the path as written and of the path its symlinks lead to
//! (as keepalived 2.2.7 walks the resolved path, and later versions the written one too):
//! - every component is owned by root;
//! - a regular file, or a directory without the sticky bit, is neither world-writable nor
//!   group-writable with a group other than root (a sticky directory such as `/tmp` only lets
//!   owners rename their own entries, so its write bits do not matter; a symlink's own mode
//!   means nothing);
//! - on the resolved path every component but the script is a directory, and the script is a
//!   regular file.

use std::{
    fmt, io,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

use super::{
    exec::{find, search_path},
    identity::Identity,
};
use crate::config::RunAs;

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;
const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const OWNER_EXEC: u32 = 0o100;
const GROUP_EXEC: u32 = 0o010;

/// Why a script that needs protection is not protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// `component` (the script or a directory above it) can be changed by a non-root user.
    Writable { component: PathBuf },
    /// `component` is not a directory where one is needed, or the script is neither a
    /// regular file nor a symlink.
    WrongType { component: PathBuf },
    /// `component` could not be examined.
    Unreadable { component: PathBuf, error: String },
}

impl fmt::Display for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exposure::Writable { component } => {
                write!(
                    f,
                    "{} can be changed by a non-root user",
                    component.display()
                )
            }
            Exposure::WrongType { component } => {
                write!(f, "{} has the wrong file type", component.display())
            }
            Exposure::Unreadable { component, error } => {
                write!(f, "{}: {error}", component.display())
            }
        }
    }
}

/// The exposure of `program` (a path, or a name found in PATH) as a configuration names it,
/// run as `run_as` (`None`: the daemon's own ids). `None` too when the program or the user
/// cannot be found: the config checks and [`super::Trackers::start`] report those.
pub fn script_exposure(program: &str, run_as: Option<&RunAs>) -> Option<Exposure> {
    let path = find(Path::new(program), &search_path()).ok()?;
    let runs_as = match run_as {
        Some(run_as) => Identity::of(run_as).ok()?,
        None => Identity::current(),
    };
    exposure(runs_as, &path)
}

/// keepalived's `need_script_protection`: the script runs with uid 0 or gid 0, or the file
/// itself (symlinks followed) is set-uid root or set-gid root.
pub fn needs_protection(runs_as: Identity, script: &Path) -> io::Result<bool> {
    if runs_as.uid == 0 || runs_as.gid == 0 {
        return Ok(true);
    }
    let meta = std::fs::metadata(script)?;
    let mode = meta.mode();
    Ok(
        (meta.uid() == 0 && mode & S_ISUID != 0 && mode & OWNER_EXEC != 0)
            || (meta.gid() == 0 && mode & S_ISGID != 0 && mode & GROUP_EXEC != 0),
    )
}

/// The first exposure of `script` run as `runs_as`: on the path as written, then on the path
/// its symlinks lead to. `None` when it needs no protection or is protected.
pub fn exposure(runs_as: Identity, script: &Path) -> Option<Exposure> {
    let unreadable = |e: io::Error| Exposure::Unreadable {
        component: script.to_path_buf(),
        error: e.to_string(),
    };
    match needs_protection(runs_as, script) {
        Ok(false) => return None,
        Ok(true) => {}
        Err(e) => return Some(unreadable(e)),
    }
    let real = match std::fs::canonicalize(script) {
        Ok(real) => real,
        Err(e) => return Some(unreadable(e)),
    };
    walk(script, false).or_else(|| walk(&real, true))
}

/// Every prefix of `path` from the root (or its first relative component) down, the script
/// last. On a `resolved` path every component but the last must be a directory and the last
/// a regular file.
fn walk(path: &Path, resolved: bool) -> Option<Exposure> {
    let mut prefixes: Vec<&Path> = path
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    prefixes.reverse();
    let last = prefixes.len().saturating_sub(1);
    prefixes.into_iter().enumerate().find_map(|(i, component)| {
        let meta = match std::fs::symlink_metadata(component) {
            Ok(meta) => meta,
            Err(e) => {
                return Some(Exposure::Unreadable {
                    component: component.to_path_buf(),
                    error: e.to_string(),
                });
            }
        };
        let kind = meta.file_type();
        let right_type = match (resolved, i == last) {
            (false, _) => true,
            (true, false) => kind.is_dir(),
            (true, true) => kind.is_file(),
        };
        let component = component.to_path_buf();
        if !right_type {
            Some(Exposure::WrongType { component })
        } else if writable_by_others(meta.uid(), meta.gid(), meta.mode()) {
            Some(Exposure::Writable { component })
        } else {
            None
        }
    })
}

/// The permission rule of keepalived's `check_security` for one component; symlinks (whose
/// mode is always 0777) only need a root owner.
fn writable_by_others(uid: u32, gid: u32, mode: u32) -> bool {
    let bits_matter = match mode & libc::S_IFMT {
        libc::S_IFDIR => mode & S_ISVTX == 0,
        libc::S_IFREG => true,
        _ => false,
    };
    uid != 0 || (bits_matter && ((gid != 0 && mode & GROUP_WRITE != 0) || mode & OTHER_WRITE != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: u32 = libc::S_IFREG;
    const DIR: u32 = libc::S_IFDIR;
    const LINK: u32 = libc::S_IFLNK;

    #[test]
    fn keepalived_permission_rule() {
        // (uid, gid, mode, unsafe)
        let cases = [
            (0, 0, FILE | 0o755, false),
            (0, 0, FILE | 0o775, false),
            (0, 65534, FILE | 0o775, true),
            (0, 65534, FILE | 0o755, false),
            (0, 0, FILE | 0o757, true),
            (1000, 0, FILE | 0o700, true),
            (0, 0, DIR | 0o755, false),
            (0, 0, DIR | 0o777, true),
            (0, 0, DIR | 0o1777, false),
            (0, 65534, DIR | 0o1775, false),
            (0, 65534, DIR | 0o775, true),
            (1000, 0, DIR | 0o1777, true),
            (0, 0, LINK | 0o777, false),
            (1000, 0, LINK | 0o777, true),
        ];
        for (uid, gid, mode, expected) in cases {
            assert_eq!(
                writable_by_others(uid, gid, mode),
                expected,
                "uid {uid} gid {gid} mode {mode:o}"
            );
        }
    }

    #[test]
    fn scripts_of_other_users_need_no_protection() {
        let nobody = Identity {
            uid: 65534,
            gid: 65534,
        };
        assert!(!needs_protection(nobody, Path::new("/bin/sh")).unwrap());
        let root_group = Identity { uid: 65534, gid: 0 };
        assert!(needs_protection(root_group, Path::new("/bin/sh")).unwrap());
    }
}
