//! Operators' scripts, run without ever blocking the protocol: `vrrp_script` trackers,
//! `track_file` polling and notify scripts, each in tokio tasks of its own.
//!
//! - `argv`: command lines split into words as keepalived splits them.
//! - `identity`: the user and group a script runs as.
//! - `security`: keepalived's rule that a script run as root is replaceable by root only.
//! - `exec`: one run of one command: process group, user, clean environment, timeout, output
//!   to the log.
//! - `tracker`: `vrrp_script` runs through keepalived's fall/rise counter.
//! - `track_file`: the number in a tracked file and what it does to an instance.
//! - `notify`: `notify_*` and `notify` on state changes.
//!
//! Nothing here goes through a shell string: commands are exec'd with the words keepalived
//! would give them, and the names and states handed to notify scripts are separate
//! arguments. A program without `#!` that is not an ELF binary runs as `/bin/sh FILE ARGS…`.
//!
//! [`Trackers::start`] runs every tracked script and file of a [`Config`] and reports
//! [`TrackerChange`]s on one channel; [`NotifyScripts`] runs an instance's or group's notify
//! commands. Users are resolved when these are built, never while they run.

mod argv;
mod exec;
pub(crate) mod identity;
mod notify;
mod security;
mod track_file;
mod tracker;

#[cfg(test)]
mod tests;

use std::{collections::HashSet, time::Duration};

use anyhow::Context;
use tokio::{sync::mpsc, task::JoinHandle};

pub use exec::Outcome;
pub use notify::{NotifyScripts, STOP_TIMEOUT};
pub use security::{Exposure, script_exposure};
pub use track_file::{FileEffect, effect, read_value};

use crate::config::Config;
use exec::Program;

/// A tracked object whose state the instances tracking it must learn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerChange {
    /// A `vrrp_script` went up or down (after fall/rise). The first result of every script is
    /// always reported.
    Script { name: String, up: bool },
    /// A track file holds a new number; [`effect`] says what it does to each instance.
    File { name: String, value: i64 },
}

/// Changes waiting to be handled before a tracker has to wait for the daemon.
const CHANNEL_DEPTH: usize = 64;

/// The running trackers of a configuration; dropping this stops them and kills the process
/// groups of scripts still running.
#[derive(Debug)]
pub struct Trackers {
    pub changes: mpsc::Receiver<TrackerChange>,
    /// Each tracked file's value at start, by name, for the instances' initial priorities
    /// (keepalived reads the files once before it starts the instances).
    pub initial_files: Vec<(String, i64)>,
    tasks: Vec<JoinHandle<()>>,
}

impl Trackers {
    /// Starts a tracker for every `vrrp_script` and track file some instance tracks, reading
    /// track files every `file_poll`. Fails when a script's command cannot be prepared (its
    /// user does not exist or the daemon cannot switch to it, its line does not split, its
    /// program is not in PATH).
    pub fn start(config: &Config, file_poll: Duration) -> anyhow::Result<Trackers> {
        let scripts: HashSet<&str> = config
            .instances
            .iter()
            .flat_map(|i| &i.track_scripts)
            .map(|t| t.name.as_str())
            .collect();
        let files: HashSet<&str> = config
            .instances
            .iter()
            .flat_map(|i| &i.track_files)
            .map(|t| t.name.as_str())
            .collect();
        let (tx, changes) = mpsc::channel(CHANNEL_DEPTH);
        let mut programs = Vec::new();
        for script in config
            .scripts
            .iter()
            .filter(|s| scripts.contains(s.name.as_str()))
        {
            let program = Program::new(
                script.name.as_str(),
                &script.command,
                config.global.script_user.as_ref(),
            )
            .with_context(|| format!("vrrp_script {}", script.name))?;
            programs.push((script, program));
        }
        let mut tasks = Vec::new();
        let mut initial_files = Vec::new();
        for file in config
            .track_files
            .iter()
            .filter(|f| files.contains(f.name.as_str()))
        {
            // keepalived ignores an out-of-range number at start too, leaving 0.
            let initial = read_value(&file.path).unwrap_or(0);
            initial_files.push((file.name.clone(), initial));
            tasks.push(track_file::spawn(
                file.name.clone(),
                file.path.clone(),
                file_poll,
                initial,
                tx.clone(),
            ));
        }
        for (script, program) in programs {
            tasks.push(tracker::spawn(script, program, tx.clone()));
        }
        Ok(Trackers {
            changes,
            initial_files,
            tasks,
        })
    }
}

impl Drop for Trackers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
