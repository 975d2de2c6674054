//! Notify scripts of an instance or sync group, run on state changes the way keepalived's
//! `send_instance_notifies` / `send_group_notifies` (vrrp_notify.c) run them: the state's own
//! script (`notify_master` …) is started first, then the generic `notify` with
//! `TYPE NAME STATE PRIORITY` appended to its own arguments. keepalived does not wait for
//! one before starting the other, nor for the scripts of the previous transition; neither
//! does this (operators who need ordering use a FIFO in keepalived).

use std::{ffi::OsStr, time::Duration};

use futures::future::join_all;

use super::exec::{Outcome, Program, Stop};
use crate::{
    config::{Notify, RunAs},
    fsm::NotifyState,
};

/// keepalived gives scripts run on stop one second (`TIMER_HZ`), then kills their group.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Instance,
    Group,
}

/// The notify commands of one instance or sync group, ready to run.
#[derive(Debug)]
pub struct NotifyScripts {
    kind: Kind,
    name: String,
    master: Option<Program>,
    backup: Option<Program>,
    fault: Option<Program>,
    stop: Option<Program>,
    any: Option<Program>,
    timeout: Duration,
}

/// keepalived's state words for notify scripts.
pub fn state_word(state: NotifyState) -> &'static str {
    match state {
        NotifyState::Master => "MASTER",
        NotifyState::Backup => "BACKUP",
        NotifyState::Fault => "FAULT",
        NotifyState::Stop => "STOP",
    }
}

impl NotifyScripts {
    /// The scripts of instance `name`; each run gets at most `timeout` (STOP:
    /// [`STOP_TIMEOUT`]) before its process group is killed.
    pub fn instance(
        name: &str,
        notify: &Notify,
        script_user: Option<&RunAs>,
        timeout: Duration,
    ) -> anyhow::Result<NotifyScripts> {
        NotifyScripts::new(Kind::Instance, name, notify, script_user, timeout)
    }

    /// The scripts of sync group `name`; keepalived passes priority 0 for groups.
    pub fn group(
        name: &str,
        notify: &Notify,
        script_user: Option<&RunAs>,
        timeout: Duration,
    ) -> anyhow::Result<NotifyScripts> {
        NotifyScripts::new(Kind::Group, name, notify, script_user, timeout)
    }

    fn new(
        kind: Kind,
        name: &str,
        notify: &Notify,
        script_user: Option<&RunAs>,
        timeout: Duration,
    ) -> anyhow::Result<NotifyScripts> {
        let program = |keyword: &str, command: &Option<crate::config::Command>| {
            command
                .as_ref()
                .map(|c| Program::new(format!("{keyword}({name})"), c, script_user))
                .transpose()
        };
        Ok(NotifyScripts {
            kind,
            name: name.to_string(),
            master: program("notify_master", &notify.master)?,
            backup: program("notify_backup", &notify.backup)?,
            fault: program("notify_fault", &notify.fault)?,
            stop: program("notify_stop", &notify.stop)?,
            any: program("notify", &notify.any)?,
            timeout,
        })
    }

    /// What the generic `notify` script gets after its own arguments.
    pub fn arguments(&self, state: NotifyState, priority: u8) -> [String; 4] {
        let (kind, priority) = match self.kind {
            Kind::Instance => ("INSTANCE", priority),
            Kind::Group => ("GROUP", 0),
        };
        [
            kind.to_string(),
            self.name.clone(),
            state_word(state).to_string(),
            priority.to_string(),
        ]
    }

    /// Starts the scripts for entering `state` with effective `priority` (ignored for
    /// groups) and returns at once. The task that runs them reaps them, logs how each ended
    /// and yields the outcomes by label; callers that do not care may drop the handle, the
    /// scripts run on regardless.
    pub fn fire(
        &self,
        state: NotifyState,
        priority: u8,
    ) -> tokio::task::JoinHandle<Vec<(String, Outcome)>> {
        let own = match state {
            NotifyState::Master => &self.master,
            NotifyState::Backup => &self.backup,
            NotifyState::Fault => &self.fault,
            NotifyState::Stop => &self.stop,
        };
        let (timeout, stop) = match state {
            NotifyState::Stop => (STOP_TIMEOUT, Stop::Kill),
            _ => (self.timeout, Stop::Terminate),
        };
        let runs: Vec<(Program, Vec<String>)> = own
            .iter()
            .map(|p| (p.clone(), Vec::new()))
            .chain(
                self.any
                    .iter()
                    .map(|p| (p.clone(), self.arguments(state, priority).to_vec())),
            )
            .collect();
        tokio::spawn(async move {
            // join_all polls in order, so the state's own script is spawned first.
            join_all(runs.iter().map(|(program, extra)| async move {
                let extra: Vec<&OsStr> = extra.iter().map(OsStr::new).collect();
                let outcome = program.run(&extra, timeout, stop).await;
                if outcome.success() {
                    tracing::debug!(script = program.label(), "notify script {outcome}");
                } else {
                    tracing::warn!(script = program.label(), "notify script {outcome}");
                }
                (program.label().to_string(), outcome)
            }))
            .await
        })
    }
}
