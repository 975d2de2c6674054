//! Who a script runs as, resolved once when the script is set up: user and group lookups go
//! through NSS and may block, which must not happen while the protocol runs.

use std::ffi::CString;

use anyhow::{Context, bail};

use crate::config::RunAs;

/// keepalived's default script user when neither the script nor `script_user` names one.
pub(crate) const DEFAULT_USER: &str = "keepalived_script";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

impl Identity {
    /// This process's effective ids.
    pub fn current() -> Identity {
        // SAFETY: geteuid and getegid cannot fail and touch no memory.
        unsafe {
            Identity {
                uid: libc::geteuid(),
                gid: libc::getegid(),
            }
        }
    }

    /// keepalived's order (notify.c `notify_script_init`, `get_default_script_user`): the
    /// script's own `user`, else `script_user`, else `keepalived_script` if it exists, else the
    /// daemon's own ids. A user without a group runs with the user's primary group.
    ///
    /// A user named in the configuration that this process cannot switch to is an error. The
    /// implicit `keepalived_script` is passed over then: a daemon without CAP_SETUID (as
    /// packaging/xvrrp.service runs it) runs scripts as itself, which is no more privileged.
    pub fn resolve(own: Option<&RunAs>, script_user: Option<&RunAs>) -> anyhow::Result<Identity> {
        if let Some(run_as) = own.or(script_user) {
            let target = Identity::of(run_as)?;
            target
                .reachable()
                .with_context(|| format!("cannot run scripts as user '{}'", run_as.user))?;
            return Ok(target);
        }
        Ok(match user(DEFAULT_USER)? {
            Some((uid, gid)) if (Identity { uid, gid }).reachable().is_ok() => {
                Identity { uid, gid }
            }
            _ => Identity::current(),
        })
    }

    /// Whether the child of this process can become `self` before it execs the script:
    /// another uid needs CAP_SETUID, another gid (and dropping supplementary groups) needs
    /// CAP_SETGID.
    fn reachable(self) -> anyhow::Result<()> {
        let me = Identity::current();
        let missing: Vec<&str> = [
            (self.uid != me.uid, CAP_SETUID, "CAP_SETUID"),
            (self != me, CAP_SETGID, "CAP_SETGID"),
        ]
        .into_iter()
        .filter(|&(needed, cap, _)| needed && !has_capability(cap))
        .map(|(_, _, name)| name)
        .collect();
        if !missing.is_empty() {
            bail!(
                "xvrrp runs as uid {} gid {} without {}, so it cannot switch to uid {} gid {}: \
                 grant the capabilities, or name the daemon's own user in script_user",
                me.uid,
                me.gid,
                missing.join(" and "),
                self.uid,
                self.gid
            );
        }
        Ok(())
    }

    pub(super) fn of(run_as: &RunAs) -> anyhow::Result<Identity> {
        let Some((uid, primary)) = user(&run_as.user)? else {
            bail!("script user '{}' does not exist", run_as.user);
        };
        let gid = match &run_as.group {
            None => primary,
            Some(name) => match group(name)? {
                Some(gid) => gid,
                None => bail!("script group '{name}' does not exist"),
            },
        };
        Ok(Identity { uid, gid })
    }
}

const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// Whether `cap` is in this thread's effective set (capget(2), version 3: two 32-bit words).
fn has_capability(cap: u32) -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes two `Data` words for a version 3 header, as capget(2) says.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    rc == 0 && data[(cap / 32) as usize].effective & (1 << (cap % 32)) != 0
}

/// Room for one passwd or group entry; glibc asks for retries with more on ERANGE.
const LOOKUP_BUF: usize = 16 * 1024;

/// The uid and primary gid of user `name`, if it exists.
pub(crate) fn user(name: &str) -> anyhow::Result<Option<(libc::uid_t, libc::gid_t)>> {
    let c_name = CString::new(name).context("user name contains a NUL byte")?;
    // SAFETY: passwd is plain C data (integers and pointers); all zeroes is a valid value.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; LOOKUP_BUF];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r writes only into `pwd`, `buf` (of the length given) and `found`.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 {
        bail!(
            "cannot look up user '{name}': {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
    Ok((!found.is_null()).then_some((pwd.pw_uid, pwd.pw_gid)))
}

fn group(name: &str) -> anyhow::Result<Option<libc::gid_t>> {
    let c_name = CString::new(name).context("group name contains a NUL byte")?;
    // SAFETY: group is plain C data (integers and pointers); all zeroes is a valid value.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; LOOKUP_BUF];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: getgrnam_r writes only into `grp`, `buf` (of the length given) and `found`.
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 {
        bail!(
            "cannot look up group '{name}': {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
    Ok((!found.is_null()).then_some(grp.gr_gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_as(user: &str, group: Option<&str>) -> RunAs {
        RunAs {
            user: user.into(),
            group: group.map(Into::into),
        }
    }

    #[test]
    fn own_user_wins_over_script_user() {
        let root = run_as("root", None);
        let nobody = run_as("nobody", None);
        let got = Identity::resolve(Some(&root), Some(&nobody)).unwrap();
        assert_eq!(got, Identity { uid: 0, gid: 0 });
        let got = Identity::resolve(None, Some(&root)).unwrap();
        assert_eq!(got, Identity { uid: 0, gid: 0 });
    }

    #[test]
    fn group_overrides_primary_group() {
        let got = Identity::resolve(Some(&run_as("root", Some("nogroup"))), None).unwrap();
        assert_eq!(got.uid, 0);
        assert_eq!(got.gid, group("nogroup").unwrap().unwrap());
        assert_ne!(got.gid, 0);
    }

    #[test]
    fn unknown_names_are_errors() {
        let err = Identity::resolve(Some(&run_as("xvrrp-no-such-user", None)), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "script user 'xvrrp-no-such-user' does not exist"
        );
        let err = Identity::resolve(Some(&run_as("root", Some("xvrrp-no-such-group"))), None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "script group 'xvrrp-no-such-group' does not exist"
        );
    }

    #[test]
    fn default_is_keepalived_script_else_ourselves() {
        let expected = match user(DEFAULT_USER).unwrap() {
            Some((uid, gid)) => Identity { uid, gid },
            None => Identity::current(),
        };
        assert_eq!(Identity::resolve(None, None).unwrap(), expected);
    }
}
