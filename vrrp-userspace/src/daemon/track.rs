//! An instance's tracked objects (`track_interface`, `track_script`, `track_file`) as fsm
//! trackers.
//!
//! keepalived's `reverse` applies the weight with the opposite sign in the opposite state
//! (`weight -10 reverse` adds 10 while failing). The fsm knows only "a negative weight applies
//! while failing, a positive one while succeeding", which says the same once both the weight
//! and the status are inverted; a weight of 0 (FAULT while failing) is not inverted.
//!
//! A track file's number moves the priority by `weight × value`, a variable amount the fsm's
//! trackers (a fixed weight, on or off) cannot carry: only its FAULT outcome is tracked
//! (`scripts::effect`), and a weighted file is tracked as "FAULT at -254 or below" with a
//! warning that the adjustment itself is not applied.

use crate::{
    config,
    fsm::{self, Event, TrackerId},
    net::iface::{Interface, LinkState},
    scripts::{FileEffect, effect},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Interface(String),
    Script(String),
    /// A track file with the weight and `reverse` this instance reads it with.
    File {
        name: String,
        weight: i32,
        reverse: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Tracked {
    pub source: Source,
    pub id: TrackerId,
    inverted: bool,
}

impl Tracked {
    /// The fsm event for a track file's new value.
    pub fn file_event(&self, value: i64) -> Option<Event> {
        match &self.source {
            Source::File {
                weight, reverse, ..
            } => Some(self.event(effect(value, *weight, *reverse) == FileEffect::Fault)),
            _ => None,
        }
    }

    /// The fsm event for the object's new status.
    pub fn event(&self, failing: bool) -> Event {
        Event::Tracker {
            id: self.id,
            failing: failing != self.inverted,
        }
    }
}

/// The trackers of `cfg` with their status now; `files` holds each track file's value at
/// start. A script counts as succeeding until its first result, which always comes.
pub fn trackers(
    cfg: &config::Instance,
    files: &[(String, i64)],
) -> (Vec<Tracked>, Vec<fsm::Tracker>) {
    let mut tracked = Vec::new();
    let mut initial = Vec::new();
    for t in &cfg.track_interfaces {
        let up = Interface::by_name(&t.name)
            .and_then(|i| i.link_state())
            .is_ok_and(|s| s == LinkState::Up);
        push(
            &mut tracked,
            &mut initial,
            Source::Interface(t.name.clone()),
            t,
            !up,
        );
    }
    for t in &cfg.track_scripts {
        push(
            &mut tracked,
            &mut initial,
            Source::Script(t.name.clone()),
            t,
            false,
        );
    }
    for t in &cfg.track_files {
        if t.weight != 0 {
            tracing::warn!(
                instance = %cfg.name, file = %t.name, weight = t.weight,
                "track_file weights are not applied to the priority; only FAULT (-254 or below) is"
            );
        }
        let value = files
            .iter()
            .find(|(n, _)| *n == t.name)
            .map_or(0, |(_, v)| *v);
        let source = Source::File {
            name: t.name.clone(),
            weight: t.weight,
            reverse: t.reverse,
        };
        let failing = effect(value, t.weight, t.reverse) == FileEffect::Fault;
        let fault_only = config::Tracked {
            weight: 0,
            reverse: false,
            ..t.clone()
        };
        push(&mut tracked, &mut initial, source, &fault_only, failing);
    }
    (tracked, initial)
}

fn push(
    tracked: &mut Vec<Tracked>,
    initial: &mut Vec<fsm::Tracker>,
    source: Source,
    t: &config::Tracked,
    failing: bool,
) {
    let id = TrackerId(tracked.len() as u32);
    let inverted = t.reverse && t.weight != 0;
    let weight = if inverted { -t.weight } else { t.weight };
    tracked.push(Tracked {
        source,
        id,
        inverted,
    });
    initial.push(fsm::Tracker {
        id,
        // Weights are within ±254 (config checks the range).
        weight: weight as i16,
        failing: failing != inverted,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(weight: i32, reverse: bool) -> config::Tracked {
        config::Tracked {
            name: "x".into(),
            weight,
            reverse,
        }
    }

    #[test]
    fn reverse_inverts_weight_and_status_but_not_a_fault_tracker() {
        let (mut t, mut i) = (Vec::new(), Vec::new());
        push(
            &mut t,
            &mut i,
            Source::Script("a".into()),
            &tracked(-10, true),
            true,
        );
        push(
            &mut t,
            &mut i,
            Source::Script("b".into()),
            &tracked(0, true),
            true,
        );
        assert_eq!(
            (i[0].weight, i[0].failing),
            (10, false),
            "+10 while failing"
        );
        assert_eq!((i[1].weight, i[1].failing), (0, true));
        assert_eq!(
            t[0].event(false),
            Event::Tracker {
                id: TrackerId(0),
                failing: true
            }
        );
        assert_eq!(
            t[1].event(false),
            Event::Tracker {
                id: TrackerId(1),
                failing: false
            }
        );
    }
}
