//! Gratuitous ARP / unsolicited NA scheduling while Master.
//!
//! RFC 5798 §6.4.1/§6.4.2 ask for one gratuitous ARP (one unsolicited NA) per address on
//! becoming Master. keepalived sends bursts instead, and so do we, with its knobs and defaults
//! (keepalived.conf(5)):
//! - `garp_master_repeat` (default 5): "number of gratuitous ARP messages to send at a time
//!   after transition to MASTER";
//! - `garp_master_delay` (default 5 s, 0 for none): "delay for second set of gratuitous ARPs
//!   after transition to MASTER";
//! - `garp_master_refresh` (default 0, none): "minimum time interval for refreshing gratuitous
//!   ARPs while MASTER", each refresh sending `garp_master_refresh_repeat` (default 1).
//! - `garp_lower_prio_repeat` (default `garp_master_repeat`, 0 in strict mode): a burst when a
//!   Master hears a lower-priority Master. That is a split brain resolving: the other side
//!   answered ARP for the VIPs meanwhile, and neighbours that believed it must be corrected.
//!
//! keepalived checks the refresh deadline when it sends an advert, so its refresh lands on the
//! first advert after the interval; we arm a timer for the interval itself, which meets the
//! "minimum interval" wording and keeps the refresh independent of the advert interval.

use super::{Action, TimerId, timers::Armed};
use crate::time::{Centisecs, Monotonic};

/// keepalived's `garp_master_*` settings for one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GarpConfig {
    /// Delay of the second burst after becoming Master; zero disables it.
    pub master_delay: Centisecs,
    /// Messages per burst on becoming Master (and in the delayed burst).
    pub master_repeat: u32,
    /// Period of refresh bursts while Master; zero disables them.
    pub master_refresh: Centisecs,
    /// Messages per refresh burst.
    pub master_refresh_repeat: u32,
    /// Messages per burst on hearing a lower-priority Master; zero sends none.
    pub lower_prio_repeat: u32,
    /// Before stepping down for a higher-priority Master, send one advert of our own, so that
    /// it hears a lower-priority Master and sends that burst (keepalived's
    /// `higher_prio_send_advert`).
    pub higher_prio_send_advert: bool,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            master_delay: Centisecs::from_secs(5),
            master_repeat: 5,
            master_refresh: Centisecs(0),
            master_refresh_repeat: 1,
            lower_prio_repeat: 5,
            higher_prio_send_advert: true,
        }
    }
}

impl GarpConfig {
    /// The first burst, and the timers for the delayed burst and the refresh.
    pub(crate) fn on_master(&self, armed: &mut Armed, out: &mut Vec<Action>, now: Monotonic) {
        out.push(Action::SendGarp {
            count: self.master_repeat,
        });
        if self.master_delay.0 > 0 {
            armed.arm(out, TimerId::GarpDelay, now + self.master_delay);
        }
        if self.master_refresh.0 > 0 {
            armed.arm(out, TimerId::GarpRefresh, now + self.master_refresh);
        }
    }

    pub(crate) fn on_leave_master(&self, armed: &mut Armed, out: &mut Vec<Action>) {
        armed.cancel(out, TimerId::GarpDelay);
        armed.cancel(out, TimerId::GarpRefresh);
    }

    /// Handles a due GARP timer; the caller checked it is one of ours and due.
    pub(crate) fn on_timer(
        &self,
        timer: TimerId,
        armed: &mut Armed,
        out: &mut Vec<Action>,
        now: Monotonic,
    ) {
        match timer {
            TimerId::GarpDelay => out.push(Action::SendGarp {
                count: self.master_repeat,
            }),
            TimerId::GarpRefresh => {
                out.push(Action::SendGarp {
                    count: self.master_refresh_repeat,
                });
                armed.arm(out, TimerId::GarpRefresh, now + self.master_refresh);
            }
            TimerId::Adver | TimerId::MasterDown => unreachable!("not a GARP timer: {timer:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Monotonic = Monotonic(1_000_000_000);

    #[test]
    fn defaults_are_keepalived_s() {
        let g = GarpConfig::default();
        assert_eq!((g.master_delay, g.master_repeat), (Centisecs(500), 5));
        assert_eq!(
            (g.master_refresh, g.master_refresh_repeat),
            (Centisecs(0), 1)
        );
    }

    #[test]
    fn becoming_master_sends_a_burst_and_schedules_the_second() {
        let g = GarpConfig {
            master_repeat: 3,
            ..GarpConfig::default()
        };
        let (mut armed, mut out) = (Armed::default(), Vec::new());
        g.on_master(&mut armed, &mut out, T0);
        assert_eq!(
            out,
            vec![
                Action::SendGarp { count: 3 },
                Action::ArmTimer {
                    timer: TimerId::GarpDelay,
                    at: T0 + Centisecs(500)
                },
            ]
        );
        out.clear();
        g.on_timer(
            TimerId::GarpDelay,
            &mut armed,
            &mut out,
            T0 + Centisecs(500),
        );
        assert_eq!(out, vec![Action::SendGarp { count: 3 }]);
    }

    #[test]
    fn refresh_repeats_every_period_with_its_own_count() {
        let g = GarpConfig {
            master_delay: Centisecs(0),
            master_refresh: Centisecs::from_secs(60),
            master_refresh_repeat: 2,
            ..GarpConfig::default()
        };
        let (mut armed, mut out) = (Armed::default(), Vec::new());
        g.on_master(&mut armed, &mut out, T0);
        assert_eq!(
            out,
            vec![
                Action::SendGarp { count: 5 },
                Action::ArmTimer {
                    timer: TimerId::GarpRefresh,
                    at: T0 + Centisecs(6000)
                },
            ]
        );
        out.clear();
        let t1 = T0 + Centisecs(6000);
        g.on_timer(TimerId::GarpRefresh, &mut armed, &mut out, t1);
        assert_eq!(
            out,
            vec![
                Action::SendGarp { count: 2 },
                Action::ArmTimer {
                    timer: TimerId::GarpRefresh,
                    at: t1 + Centisecs(6000)
                },
            ]
        );
        out.clear();
        g.on_leave_master(&mut armed, &mut out);
        assert_eq!(out, vec![Action::CancelTimer(TimerId::GarpRefresh)]);
    }
}
