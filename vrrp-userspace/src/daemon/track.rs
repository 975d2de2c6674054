//! An instance's tracked objects (`track_interface`, `track_script`, `track_file`) as fsm
//! trackers.
//!
//! keepalived's `reverse` applies the weight with the opposite sign in the opposite state
//! (`weight -10 reverse` adds 10 while failing). The fsm knows only "a negative weight applies
//! while failing, a positive one while succeeding", which says the same once both the weight
//! and the status are inverted; a weight of 0 (FAULT while failing) is not inverted.
//!
//! A track file's number moves the priority by `weight × value` (`scripts::effect`: within
//! ±253, FAULT at -254 or below), a variable amount where the fsm's trackers carry a fixed
//! weight, on or off. A weighted file is therefore tracked as a FAULT tracker plus one tracker
//! per bit of the adjustment's magnitude and sign (+1 … +128 applied while "succeeding",
//! -1 … -128 while "failing"), whose sum is the adjustment exactly.

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
    /// A track file with the weight and `reverse` this instance reads it with, and which part
    /// of its effect this tracker carries.
    File {
        name: String,
        weight: i32,
        reverse: bool,
        part: FilePart,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilePart {
    Fault,
    /// One power of two of the adjustment, with its sign.
    Bit(i16),
}

/// The bits of an adjustment within ±253.
const BITS: [i16; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

impl FilePart {
    /// Whether this part's tracker counts as failing when the file holds `value`.
    fn failing(self, value: i64, weight: i32, reverse: bool) -> bool {
        let adjust = match effect(value, weight, reverse) {
            FileEffect::Fault => return self == FilePart::Fault,
            FileEffect::Adjust(a) => a,
        };
        match self {
            FilePart::Fault => false,
            // A positive weight applies while succeeding, a negative one while failing.
            FilePart::Bit(b) if b > 0 => !(adjust > 0 && adjust & i32::from(b) != 0),
            FilePart::Bit(b) => adjust < 0 && -adjust & -i32::from(b) != 0,
        }
    }
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
                weight,
                reverse,
                part,
                ..
            } => Some(self.event(part.failing(value, *weight, *reverse))),
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
        let value = files
            .iter()
            .find(|(n, _)| *n == t.name)
            .map_or(0, |(_, v)| *v);
        let bits = BITS
            .iter()
            .flat_map(|b| [FilePart::Bit(*b), FilePart::Bit(-b)]);
        let parts = std::iter::once(FilePart::Fault).chain(bits.filter(|_| t.weight != 0));
        for part in parts {
            let weight = match part {
                FilePart::Fault => 0,
                FilePart::Bit(b) => i32::from(b),
            };
            let source = Source::File {
                name: t.name.clone(),
                weight: t.weight,
                reverse: t.reverse,
                part,
            };
            let fixed = config::Tracked {
                weight,
                reverse: false,
                ..t.clone()
            };
            let failing = part.failing(value, t.weight, t.reverse);
            push(&mut tracked, &mut initial, source, &fixed, failing);
        }
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

    /// The priority the fsm's trackers add up to for a track file holding `value`.
    fn file_priority(base: u8, weight: i32, reverse: bool, value: i64) -> (u8, bool) {
        let cfg = config::Instance {
            track_files: vec![config::Tracked {
                name: "tf".into(),
                weight,
                reverse,
            }],
            ..instance()
        };
        let (_, trackers) = trackers(&cfg, &[("tf".into(), value)]);
        let mut fsm_cfg = fsm::Config::new(
            fsm::Version::V3,
            base,
            crate::time::Centisecs(100),
            "192.0.2.1".parse().unwrap(),
        );
        fsm_cfg.trackers = trackers;
        let mut i = fsm::Instance::new(fsm_cfg);
        i.handle(Event::Startup, crate::time::Monotonic(1));
        (i.priority(), i.state() == fsm::State::Fault)
    }

    fn instance() -> config::Instance {
        let text = "vrrp_instance V {\n interface lo\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
        config::parse_str(std::path::Path::new("t.conf"), text, &config::System)
            .unwrap()
            .config
            .instances
            .remove(0)
    }

    #[test]
    fn a_weighted_track_file_adds_weight_times_value() {
        assert_eq!(file_priority(100, 10, false, 3), (130, false));
        assert_eq!(file_priority(100, -10, false, 3), (70, false));
        assert_eq!(file_priority(100, 10, true, 3), (70, false), "reverse");
        assert_eq!(file_priority(100, 1, false, 253), (254, false), "clamped");
        assert_eq!(file_priority(100, -1, false, 99), (1, false), "clamped");
        assert!(file_priority(100, -1, false, 254).1, "-254 is FAULT");
        assert!(
            file_priority(100, 0, false, 1).1,
            "weight 0: FAULT on non-zero"
        );
        assert_eq!(file_priority(100, 0, false, 0), (100, false));
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
