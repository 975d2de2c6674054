//! SIGHUP: read the configuration again and apply the difference.
//!
//! A configuration with errors is refused whole (its diagnostics logged) and the running one
//! stays. Otherwise units are compared by their `Spec`: an equal unit keeps its state, VIPs
//! and timers; a new or changed one is opened and started as at startup; a unit that is gone
//! or changed is shut down as on SIGTERM (a Master sends priority 0 and drops its VIPs).
//! Except, as keepalived keeps an instance's state across a reload: a lone instance that is
//! Master or Backup and still configured as the same virtual router (name, interface, VRID,
//! family) is succeeded by its new self, with the counters carried on and no notify script
//! run. A Master's successor resumes as Master (`Event::Resume`) with the VIPs it still
//! configures left in service; its new priority is in its next advert, and a Backup above it
//! preempts as usual. A Backup's starts as at startup, as Backup, sending no priority 0 and
//! running no notify_stop on the way. A sync group is succeeded the same way when its new
//! self has the same virtual routers as members (in any order) and all of them are Master,
//! or all Backup; its members then start as one (`SyncGroup::start`), so that a group of
//! Masters resumes without passing through Backup. Other groups, and instances in Fault,
//! restart.
//! Interfaces that gain an instance have their XDP liveness map emptied (see the module doc of
//! `daemon`). A Master that stops here drops its VIPs at once, without the handover of a
//! SIGTERM: waiting for the new master would hold up the loop that every other instance runs on.

use std::collections::HashSet;

use super::{Daemon, Spec, Unit, instance::Slot, load, sd_notify, steer_slot_off};
use crate::{fsm::State, net::iface::LinkState};

impl Daemon {
    pub(super) async fn reload(&mut self) {
        tracing::info!(config = %self.opts.config.display(), "SIGHUP: reloading");
        let _ = sd_notify::notify("RELOADING=1");
        match load(&self.opts.config) {
            Ok(loaded) => self.apply(loaded.config).await,
            Err(e) => tracing::error!("reload refused, the running configuration stays: {e:#}"),
        }
        let _ = sd_notify::notify("READY=1");
    }

    async fn apply(&mut self, config: crate::config::Config) {
        // Started first, so that a script that cannot be prepared refuses the whole reload.
        // Every script's first result is reported again, so kept instances converge on the
        // new runs.
        match crate::scripts::Trackers::start(&config, super::TRACK_FILE_POLL) {
            Ok(trackers) => self.trackers = trackers,
            Err(e) => {
                tracing::error!("reload refused, the running configuration stays: {e:#}");
                return;
            }
        }
        let specs = Spec::all(&config);
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.units)
            .into_iter()
            .partition(|u| specs.contains(&u.spec));
        self.units = kept;
        // Kept instances hold their announcers; new ones read each interface's MAC and index
        // afresh, in case an interface was replaced since.
        self.announcers.clear();
        self.config = config;
        self.io.garp_interval = self.config.global.garp_interval;
        self.io.gna_interval = self.config.global.gna_interval;
        let first_new = self.units.len();
        let mut fresh = HashSet::new();
        for spec in specs {
            if self.units.iter().any(|u| u.spec == spec) {
                continue;
            }
            let name = spec.name().to_owned();
            match self.open_unit(spec).await {
                Ok(unit) => {
                    fresh.extend(unit.slots.iter().map(|s| s.iface.name().to_owned()));
                    self.units.push(unit);
                }
                Err(e) => tracing::error!(unit = %name, "not started: {e:#}"),
            }
        }
        // Opened before the old ones stop, so that a Master can be succeeded by its new self.
        let mut resume = HashSet::new();
        for mut unit in gone {
            let found = (first_new..self.units.len())
                .find_map(|u| Some((u, successors(&unit, &self.units[u])?)));
            let up = |s: &Slot| s.iface.link_state().is_ok_and(|l| l == LinkState::Up);
            let master = unit
                .slots
                .iter()
                .all(|s| s.state == State::Master && s.handover.is_none() && up(s));
            let backup = unit.slots.iter().all(|s| s.state == State::Backup);
            match found {
                Some((u, members)) if master || backup => {
                    let state = unit.slots[0].state;
                    tracing::info!(unit = %unit.spec.name(), ?state, "changed: its new configuration carries on in the same state");
                    unit.succeed(&mut self.units[u]);
                    for (m, &successor) in members.iter().enumerate() {
                        unit.reclaim(&self.renewer, m);
                        let old = &mut unit.slots[m];
                        steer_slot_off(&mut self.dataplanes, old);
                        old.succeed(&mut self.units[u].slots[successor], &self.io)
                            .await;
                        if master {
                            resume.insert((u, successor));
                        }
                    }
                }
                _ => {
                    tracing::info!(unit = %unit.spec.name(), "stopping: removed or changed");
                    self.stop_unit(unit).await;
                }
            }
        }
        let used: HashSet<_> = self
            .units
            .iter()
            .flat_map(|u| u.slots.iter().map(|s| s.socket_key.clone()))
            .collect();
        self.sockets.retain(|k| used.contains(k));
        if let Err(e) = self.attach_dataplanes(&fresh) {
            tracing::error!("XDP: {e:#}");
        }
        for u in 0..self.units.len() {
            self.steer(u);
        }
        for u in first_new..self.units.len() {
            tracing::info!(unit = %self.units[u].spec.name(), "starting");
            self.remove_leftovers(u, &resume).await;
            self.start_unit(u, &resume).await;
        }
    }
}

/// Whether `new`, a unit of the reloaded configuration, is `old` carried on: both lone
/// instances, or both sync groups, whose members are the same virtual routers
/// (`Slot::same_router`), each once. Returns, for each of `old`'s members, its successor's
/// index in `new`.
fn successors(old: &Unit, new: &Unit) -> Option<Vec<usize>> {
    if old.spec.group.is_some() != new.spec.group.is_some() || old.slots.len() != new.slots.len() {
        return None;
    }
    let members: Vec<usize> = old
        .slots
        .iter()
        .map(|o| new.slots.iter().position(|n| n.same_router(o)))
        .collect::<Option<_>>()?;
    let distinct: HashSet<_> = members.iter().collect();
    (distinct.len() == members.len()).then_some(members)
}
