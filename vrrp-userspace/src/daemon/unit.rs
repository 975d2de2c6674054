//! What the daemon drives as one: a lone instance, or a `vrrp_sync_group` whose members the
//! fsm moves together. Reloads compare and restart whole units.

use crate::{
    config,
    fsm::{self, Action, Event, State},
    scripts::NotifyScripts,
    time::Monotonic,
};

use super::{
    instance::{NOTIFY_TIMEOUT, NotifyRun, Slot, notify_state},
    renewer::Renewer,
};

/// Everything of the configuration a unit depends on; equal specs keep a unit running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub group: Option<config::SyncGroup>,
    pub instances: Vec<config::Instance>,
    /// The `vrrp_script`s and track files the members refer to.
    pub scripts: Vec<config::VrrpScript>,
    pub track_files: Vec<config::TrackFile>,
    /// Who notify scripts run as, unless a command names its own user.
    pub script_user: Option<config::RunAs>,
}

impl Spec {
    /// The units of `cfg`: one per sync group, one per instance outside any group.
    pub fn all(cfg: &config::Config) -> Vec<Spec> {
        let mut specs: Vec<Spec> = cfg
            .sync_groups
            .iter()
            .map(|g| {
                let members = g.instances.iter().filter_map(|n| cfg.instance(n)).cloned();
                Spec::new(cfg, Some(g.clone()), members.collect())
            })
            .collect();
        for i in &cfg.instances {
            if cfg.sync_group_of(&i.name).is_none() {
                specs.push(Spec::new(cfg, None, vec![i.clone()]));
            }
        }
        specs
    }

    fn new(
        cfg: &config::Config,
        group: Option<config::SyncGroup>,
        instances: Vec<config::Instance>,
    ) -> Spec {
        let uses = |name: &str, lists: fn(&config::Instance) -> &[config::Tracked]| {
            instances
                .iter()
                .any(|i| lists(i).iter().any(|t| t.name == name))
        };
        Spec {
            scripts: cfg
                .scripts
                .iter()
                .filter(|s| uses(&s.name, |i| &i.track_scripts))
                .cloned()
                .collect(),
            track_files: cfg
                .track_files
                .iter()
                .filter(|f| uses(&f.name, |i| &i.track_files))
                .cloned()
                .collect(),
            script_user: cfg.global.script_user.clone(),
            group,
            instances,
        }
    }

    pub fn name(&self) -> &str {
        match &self.group {
            Some(g) => &g.name,
            None => &self.instances[0].name,
        }
    }
}

pub enum Machine {
    /// Boxed: an instance is several times the size of a group's vector.
    Solo(Box<fsm::Instance>),
    Group(fsm::SyncGroup),
}

impl Machine {
    pub fn new(spec: &Spec, configs: Vec<fsm::Config>) -> Machine {
        let mut instances: Vec<fsm::Instance> =
            configs.into_iter().map(fsm::Instance::new).collect();
        for (i, cfg) in instances.iter().zip(&spec.instances) {
            for adjustment in i.adjustments() {
                tracing::warn!(instance = %cfg.name, ?adjustment, "setting adjusted as keepalived does");
            }
        }
        match &spec.group {
            Some(g) => Machine::Group(fsm::SyncGroup::new(instances, g.tracking_weight)),
            None => Machine::Solo(Box::new(
                instances.pop().expect("a lone unit has one instance"),
            )),
        }
    }

    pub fn handle(&mut self, member: usize, event: Event, now: Monotonic) -> Vec<(usize, Action)> {
        match self {
            Machine::Solo(i) => i.handle(event, now).into_iter().map(|a| (0, a)).collect(),
            Machine::Group(g) => g.handle(member, event, now),
        }
    }

    /// Starts every member, member `m` with `event(m)` (see [`fsm::SyncGroup::start`]).
    pub fn start(
        &mut self,
        event: impl Fn(usize) -> Event,
        now: Monotonic,
    ) -> Vec<(usize, Action)> {
        match self {
            Machine::Solo(i) => i
                .handle(event(0), now)
                .into_iter()
                .map(|a| (0, a))
                .collect(),
            Machine::Group(g) => g.start(event, now),
        }
    }

    /// See [`fsm::Instance::renew`].
    pub fn renew(
        &mut self,
        member: usize,
        advert: fsm::Advert,
        now: Monotonic,
    ) -> Option<Monotonic> {
        match self {
            Machine::Solo(i) => i.renew(advert, now),
            Machine::Group(g) => g.renew(member, advert, now),
        }
    }

    /// See [`fsm::Instance::readvertise`].
    pub fn readvertise(&mut self, member: usize, now: Monotonic) -> Option<(u8, Monotonic)> {
        match self {
            Machine::Solo(i) => i.readvertise(now),
            Machine::Group(g) => g.readvertise(member, now),
        }
    }

    pub fn member(&self, index: usize) -> &fsm::Instance {
        match self {
            Machine::Solo(i) => i,
            Machine::Group(g) => &g.members()[index],
        }
    }
}

pub struct Unit {
    pub spec: Spec,
    pub machine: Machine,
    pub slots: Vec<Slot>,
    /// A sync group's own notify scripts and the state they last announced.
    group_notify: Option<(NotifyScripts, State)>,
}

impl Unit {
    pub fn new(
        spec: Spec,
        machine: Machine,
        slots: Vec<Slot>,
        script_user: Option<&config::RunAs>,
    ) -> anyhow::Result<Unit> {
        let group_notify = match &spec.group {
            Some(g) => Some((
                NotifyScripts::group(&g.name, &g.notify, script_user, NOTIFY_TIMEOUT)?,
                State::Initialize,
            )),
            None => None,
        };
        Ok(Unit {
            spec,
            machine,
            slots,
            group_notify,
        })
    }

    /// Feeds `event` to member `m`, once every member is back from the renewer thread and the
    /// fsm has replayed the renewals done in its place (`Heard::credit`).
    pub fn handle(
        &mut self,
        renewer: &Renewer,
        m: usize,
        event: fsm::Event,
        now: Monotonic,
    ) -> Vec<(usize, Action)> {
        for i in 0..self.slots.len() {
            self.reclaim(renewer, i);
        }
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some((advert, at)) = slot.heard.replay() {
                // Nothing the fsm decides on has changed since the renewal it repeats.
                let renewed = self.machine.renew(i, advert, at);
                debug_assert!(renewed.is_some(), "{advert:?} not renewed on replay");
            }
        }
        self.machine.handle(m, event, now)
    }

    /// This unit's reloaded self, `successor`, carries on a sync group's announced state, so
    /// that its notify scripts run only on a change (`daemon::reload`).
    pub fn succeed(&self, successor: &mut Unit) {
        if let (Some((_, announced)), Some((_, next))) =
            (&self.group_notify, &mut successor.group_notify)
        {
            *next = *announced;
        }
    }

    /// Takes member `m` back from the renewer thread, if it is there.
    pub fn reclaim(&mut self, renewer: &Renewer, m: usize) {
        let slot = &mut self.slots[m];
        if !slot.delegated {
            return;
        }
        match renewer.reclaim(slot.id) {
            Some(d) => slot.restore(d),
            // Only `Daemon::on_returned` collects entries, and it restores them at once.
            None => unreachable!(
                "instance {} delegated but not with the renewer",
                slot.cfg.name
            ),
        }
    }

    /// Renews member `m`'s Master_Down_Timer for `advert`, received at `at`, if that is all
    /// the advert would do (`fsm::Instance::renew`), and remembers the renewal for its repeats.
    pub fn renew(&mut self, m: usize, advert: fsm::Advert, at: Monotonic) -> Option<Monotonic> {
        let deadline = self.machine.renew(m, advert, at)?;
        let slot = &mut self.slots[m];
        slot.heard.renewed(advert, at, deadline);
        slot.deadlines.arm(fsm::TimerId::MasterDown, deadline);
        Some(deadline)
    }

    /// Sends member `m`'s advert if its Adver_Timer is due at `now` and that is all the expiry
    /// would do (`fsm::Instance::readvertise`); returns whether it did.
    pub async fn readvertise(&mut self, m: usize, now: Monotonic) -> bool {
        let Some((priority, next)) = self.machine.readvertise(m, now) else {
            return false;
        };
        let slot = &mut self.slots[m];
        slot.deadlines.arm(fsm::TimerId::Adver, next);
        slot.send_advert(priority).await;
        true
    }

    /// Records the states the fsm reached; a group's scripts run once every member is in the
    /// new state. Returns the notify runs started.
    pub fn settle(&mut self, now: Monotonic) -> Vec<NotifyRun> {
        let mut runs = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let fsm = self.machine.member(i);
            if fsm.state() != slot.state {
                runs.push(slot.entered(fsm.state(), fsm.priority(), now));
            }
        }
        if let Some((scripts, announced)) = &mut self.group_notify {
            let state = self.slots[0].state;
            if state != *announced && self.slots.iter().all(|s| s.state == state) {
                *announced = state;
                runs.push(scripts.fire(notify_state(state), 0));
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    struct Anything;

    impl config::Host for Anything {
        fn interface_exists(&self, _: &str) -> bool {
            true
        }
        fn script_problem(&self, _: &str) -> Option<String> {
            None
        }
        fn user_exists(&self, _: &str) -> bool {
            true
        }
    }

    fn specs(text: &str) -> Vec<Spec> {
        let loaded = config::parse_str(Path::new("t.conf"), text, &Anything).unwrap();
        Spec::all(&loaded.config)
    }

    fn instance(name: &str, vrid: u8, extra: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority 100\n \
             virtual_ipaddress {{\n  192.0.2.{vrid}\n }}\n{extra}}}\n"
        )
    }

    const SCRIPT: &str = "vrrp_script chk {\n script \"/bin/true\"\n interval 2\n}\n";

    #[test]
    fn groups_and_lone_instances_are_units_with_what_they_track() {
        let text = format!(
            "{SCRIPT}vrrp_sync_group G {{\n group {{\n  A\n  B\n }}\n}}\n{}{}{}",
            instance("A", 1, ""),
            instance("B", 2, ""),
            instance("C", 3, " track_script {\n  chk\n }\n"),
        );
        let specs = specs(&text);
        let names: Vec<&str> = specs.iter().map(Spec::name).collect();
        assert_eq!(names, ["G", "C"]);
        assert_eq!(specs[0].instances.len(), 2);
        assert!(specs[0].scripts.is_empty());
        assert_eq!(specs[1].scripts.len(), 1);
    }

    #[test]
    fn a_unit_changes_only_with_what_it_depends_on() {
        let base = format!(
            "{SCRIPT}{}{}",
            instance("A", 1, ""),
            instance("C", 3, " track_script {\n  chk\n }\n")
        );
        let before = specs(&base);
        let other = specs(&base.replace(
            "priority 100\n virtual_ipaddress {\n  192.0.2.1\n",
            "priority 90\n virtual_ipaddress {\n  192.0.2.1\n",
        ));
        assert_ne!(before[0], other[0], "A changed");
        assert_eq!(before[1], other[1], "C did not");
        let script = specs(&base.replace("interval 2", "interval 3"));
        assert_eq!(before[0], script[0], "A tracks no script");
        assert_ne!(before[1], script[1], "C's script changed");
        let user = specs(&format!("global_defs {{\n script_user nobody\n}}\n{base}"));
        assert_ne!(
            before[0], user[0],
            "notify scripts would run as another user"
        );
    }
}
