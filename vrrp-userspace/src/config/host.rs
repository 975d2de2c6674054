//! What keepalived checks against the machine while loading: interfaces that must exist,
//! scripts that must be executable and, when they run as root, replaceable by root only. Behind a trait so the checks are testable anywhere.

use std::{ffi::CString, path::PathBuf};

use super::RunAs;
use crate::scripts::Exposure;

pub trait Host {
    fn interface_exists(&self, name: &str) -> bool;
    /// Why `program` (a path, or a name looked up in `PATH`) cannot be executed, if it cannot.
    fn script_problem(&self, program: &str) -> Option<String>;
    fn user_exists(&self, name: &str) -> bool;
    /// Why `program` run as `run_as` (`None`: the daemon's own ids) could be replaced by
    /// someone other than root, when it runs with root's ids (keepalived's
    /// `check_script_secure`). Hosts that model no file ownership (test doubles) find nothing.
    fn script_exposure(&self, _program: &str, _run_as: Option<&RunAs>) -> Option<Exposure> {
        None
    }
}

/// The machine this process runs on.
pub struct System;

impl Host for System {
    fn interface_exists(&self, name: &str) -> bool {
        let Ok(name) = CString::new(name) else {
            return false;
        };
        // SAFETY: if_nametoindex reads a NUL-terminated string and nothing else.
        unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
    }

    fn script_problem(&self, program: &str) -> Option<String> {
        let path = if program.contains('/') {
            PathBuf::from(program)
        } else {
            let dirs = std::env::var_os("PATH").unwrap_or_default();
            match std::env::split_paths(&dirs)
                .map(|d| d.join(program))
                .find(|p| p.exists())
            {
                Some(path) => path,
                None => return Some(format!("{program} not found in PATH")),
            }
        };
        let Ok(c_path) = CString::new(path.as_os_str().as_encoded_bytes()) else {
            return Some("path contains a NUL byte".into());
        };
        // SAFETY: access reads a NUL-terminated path and nothing else.
        if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } == 0 {
            None
        } else {
            Some(std::io::Error::last_os_error().to_string())
        }
    }

    fn user_exists(&self, name: &str) -> bool {
        matches!(crate::scripts::identity::user(name), Ok(Some(_)))
    }

    fn script_exposure(&self, program: &str, run_as: Option<&RunAs>) -> Option<Exposure> {
        crate::scripts::script_exposure(program, run_as)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_exists_and_shells_run() {
        assert!(System.interface_exists("lo"));
        assert!(!System.interface_exists("xvrrp-no-such-if"));
        assert!(!System.interface_exists("nul\0byte"));
        assert!(System.user_exists("root"));
        assert!(!System.user_exists("xvrrp-no-such-user"));
        assert_eq!(System.script_problem("/bin/sh"), None);
        assert_eq!(System.script_problem("sh"), None);
        assert!(
            System
                .script_problem("/nonexistent/xvrrp-check")
                .unwrap()
                .contains("No such file or directory")
        );
        assert_eq!(
            System.script_problem("xvrrp-no-such-program").unwrap(),
            "xvrrp-no-such-program not found in PATH"
        );
        let not_executable =
            std::env::temp_dir().join(format!("xvrrp-host-test-{}", std::process::id()));
        std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
        let problem = System.script_problem(not_executable.to_str().unwrap());
        std::fs::remove_file(&not_executable).unwrap();
        assert!(problem.unwrap().contains("Permission denied"));
    }
}
