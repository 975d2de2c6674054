//! `global_defs`: defaults for every instance, and who scripts run as.

use std::time::Duration;

use super::{
    diagnostic::Diagnostics,
    keywords::{self, Context},
    notify::{self, RunAs},
    tree::Node,
    value::{self, MICROS_PER_SEC},
};
use crate::time::Centisecs;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: IPv4 only, whole-second intervals, optional authentication.
    #[default]
    V2,
    /// RFC 5798: IPv4 or IPv6, centisecond intervals.
    V3,
}

/// Gratuitous ARP / unsolicited NA after becoming master; global defaults, overridable per
/// instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Garp {
    /// Delay before the second burst.
    pub master_delay: Centisecs,
    /// Messages per burst.
    pub master_repeat: u32,
    /// Period of the refresh bursts while master; `None` sends none.
    pub master_refresh: Option<Centisecs>,
    pub master_refresh_repeat: u32,
    /// Messages a Master sends when it hears a lower-priority Master (a split brain
    /// resolving); `None`: as many as `master_repeat` (keepalived's default), 0 in strict mode.
    pub lower_prio_repeat: Option<u32>,
    /// keepalived's `higher_prio_send_advert`, on by default here: a Master that hears a
    /// higher priority sends one advert of its own before stepping down, so that the winner
    /// hears a lower-priority Master and re-announces the VIPs. Without it, a split brain that
    /// heals with the winner's advert arriving first leaves neighbours on the loser's MAC.
    pub higher_prio_send_advert: bool,
}

impl Default for Garp {
    fn default() -> Self {
        Garp {
            master_delay: Centisecs::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
            lower_prio_repeat: None,
            higher_prio_send_advert: true,
        }
    }
}

impl Garp {
    /// Claims the garp statements; `prefix` is `vrrp_` in global_defs and empty in an instance.
    pub fn parse(&mut self, prefix: &str, node: &Node, diags: &mut Diagnostics) -> bool {
        let Some(name) = node.key.text.strip_prefix(prefix) else {
            return false;
        };
        let keyword = node.key.text.as_str();
        match name {
            "garp_master_delay" => {
                if let Some(secs) =
                    value::value(node, diags).and_then(|t| whole_secs(t, keyword, diags))
                {
                    self.master_delay = Centisecs::from_secs(secs);
                }
            }
            "garp_master_refresh" => {
                if let Some(secs) =
                    value::value(node, diags).and_then(|t| whole_secs(t, keyword, diags))
                {
                    self.master_refresh = (secs != 0).then(|| Centisecs::from_secs(secs));
                }
            }
            "garp_master_repeat" => {
                if let Some(n) = repeat(node, diags) {
                    self.master_repeat = n;
                }
            }
            "garp_master_refresh_repeat" => {
                if let Some(n) = repeat(node, diags) {
                    self.master_refresh_repeat = n;
                }
            }
            "higher_prio_send_advert" => {
                self.higher_prio_send_advert =
                    super::value::bool_word(node, diags).unwrap_or(self.higher_prio_send_advert);
            }
            // keepalived allows 0 here: no GARP on a lower-priority advert.
            "garp_lower_prio_repeat" => {
                if let Some(tok) = value::value(node, diags)
                    && let Some(n) = value::int(tok, keyword, 0, i64::from(i32::MAX), diags)
                {
                    self.lower_prio_repeat = Some(n as u32);
                }
            }
            _ => return false,
        }
        true
    }
}

/// Whole seconds that still fit in `Centisecs`.
fn whole_secs(tok: &super::lexer::Token, keyword: &str, diags: &mut Diagnostics) -> Option<u32> {
    value::int(tok, keyword, 0, i64::from(u32::MAX / 100), diags).map(|n| n as u32)
}

/// A repeat count; keepalived turns 0 into 1 with a complaint.
fn repeat(node: &Node, diags: &mut Diagnostics) -> Option<u32> {
    let tok = value::value(node, diags)?;
    let n = value::int(tok, &node.key.text, 0, i64::from(i32::MAX), diags)? as u32;
    if n == 0 {
        diags.warn(
            &tok.pos,
            format!("{} must be greater than 0, setting to 1", node.key.text),
        );
        return Some(1);
    }
    Some(n)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    /// Version of instances that do not say; IPv6 instances are always v3.
    pub vrrp_version: Version,
    pub vrrp_strict: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub garp: Garp,
    /// Pause between GARPs on one interface. Kept as a `Duration` because keepalived takes
    /// microseconds here (`0.001` is common) and centiseconds would round that to nothing.
    pub garp_interval: Duration,
    /// Pause between unsolicited NAs on one interface; microseconds like `garp_interval`.
    pub gna_interval: Duration,
    pub script_user: Option<RunAs>,
    pub enable_script_security: bool,
}

impl GlobalDefs {
    /// Reads one `global_defs` block; several blocks add up, later values winning.
    pub fn parse(&mut self, items: &[Node], diags: &mut Diagnostics) {
        for node in items {
            if self.garp.parse("vrrp_", node, diags) {
                continue;
            }
            match node.key.text.as_str() {
                "router_id" => {
                    if let Some(tok) = value::value(node, diags) {
                        self.router_id = Some(tok.text.clone());
                    }
                }
                "vrrp_version" => {
                    if let Some(tok) = value::value(node, diags) {
                        match value::parse_int(&tok.text) {
                            Some(2) => self.vrrp_version = Version::V2,
                            Some(3) => self.vrrp_version = Version::V3,
                            _ => diags.error(
                                &tok.pos,
                                format!(
                                    "vrrp_version '{}' invalid: Version must be either 2 or 3",
                                    tok.text
                                ),
                            ),
                        }
                    }
                }
                "vrrp_strict" => {
                    value::flag(node, diags);
                    self.vrrp_strict = true;
                }
                "vrrp_skip_check_adv_addr" => {
                    value::flag(node, diags);
                    self.vrrp_skip_check_adv_addr = true;
                }
                // Always on: an instance with unicast peers believes only them (see
                // `Instance::allowed_peers`).
                "vrrp_check_unicast_src" => value::flag(node, diags),
                "vrrp_garp_interval" => {
                    self.garp_interval = interval(node, diags).unwrap_or(self.garp_interval)
                }
                "vrrp_gna_interval" => {
                    self.gna_interval = interval(node, diags).unwrap_or(self.gna_interval)
                }
                "vrrp_min_garp" => {
                    value::flag(node, diags);
                    // One burst of one message and no second burst, as keepalived documents it.
                    self.garp.master_delay = Centisecs(0);
                    self.garp.master_repeat = 1;
                    self.garp.master_refresh = None;
                    self.garp.master_refresh_repeat = 1;
                }
                "script_user" => {
                    if let Some(user) = notify::user_statement(node, diags) {
                        self.script_user = Some(user);
                    }
                }
                "enable_script_security" => {
                    value::flag(node, diags);
                    self.enable_script_security = true;
                }
                _ => keywords::not_handled(node, Context::GlobalDefs, diags),
            }
        }
    }
}

/// `vrrp_garp_interval` / `vrrp_gna_interval`: keepalived rejects anything outside
/// [0.000001, 4294.967295] (so also `0`, the default) and keeps the default; a warning here too.
fn interval(node: &Node, diags: &mut Diagnostics) -> Option<Duration> {
    const MAX_US: u64 = 4294 * MICROS_PER_SEC + 967_295;
    let tok = value::value(node, diags)?;
    match value::parse_micros(&tok.text) {
        Some(us) if (1..=MAX_US).contains(&us) => Some(value::duration(us)),
        _ => {
            diags.warn(
                &tok.pos,
                format!(
                    "{} '{}' is invalid (must be in [0.000001, 4294.967295] seconds) - ignored",
                    node.key.text, tok.text
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{lexer::lex, tree::parse};

    fn global(text: &str) -> (GlobalDefs, Diagnostics) {
        let mut d = Diagnostics::default();
        let nodes = parse(&lex(Path::new("g.conf"), text, &mut d), &mut d);
        let mut g = GlobalDefs::default();
        g.parse(&nodes, &mut d);
        (g, d)
    }

    #[test]
    fn every_keyword() {
        let (g, d) = global(
            "router_id R1\nvrrp_version 3\nvrrp_strict\nvrrp_skip_check_adv_addr\n\
             vrrp_garp_master_delay 10\nvrrp_garp_master_repeat 3\nvrrp_garp_master_refresh 60\n\
             vrrp_garp_master_refresh_repeat 2\nvrrp_garp_interval 0.001\nvrrp_gna_interval 0.000001\n\
             script_user nobody nogroup\nenable_script_security\n",
        );
        assert!(d.is_empty(), "{d}");
        assert_eq!(
            g,
            GlobalDefs {
                router_id: Some("R1".into()),
                vrrp_version: Version::V3,
                vrrp_strict: true,
                vrrp_skip_check_adv_addr: true,
                garp: Garp {
                    master_delay: Centisecs(1000),
                    master_repeat: 3,
                    master_refresh: Some(Centisecs(6000)),
                    master_refresh_repeat: 2,
                    lower_prio_repeat: None,
                    higher_prio_send_advert: true,
                },
                garp_interval: Duration::from_millis(1),
                gna_interval: Duration::from_micros(1),
                script_user: Some(RunAs {
                    user: "nobody".into(),
                    group: Some("nogroup".into())
                }),
                enable_script_security: true,
            }
        );
    }

    #[test]
    fn lower_prio_garps_may_be_zero() {
        let (g, d) = global("vrrp_garp_lower_prio_repeat 0\n");
        assert!(d.is_empty());
        assert_eq!(g.garp.lower_prio_repeat, Some(0));
    }

    #[test]
    fn min_garp_and_defaults() {
        let (g, d) = global("vrrp_min_garp\n");
        assert!(d.is_empty());
        assert_eq!(
            g.garp,
            Garp {
                master_delay: Centisecs(0),
                master_repeat: 1,
                master_refresh: None,
                master_refresh_repeat: 1,
                lower_prio_repeat: None,
                higher_prio_send_advert: true,
            }
        );
        assert_eq!(GlobalDefs::default().garp.master_delay, Centisecs(500));
        assert_eq!(GlobalDefs::default().garp.master_repeat, 5);
    }

    #[test]
    fn keepalived_fixups_warn() {
        let (g, d) = global(
            "vrrp_garp_interval 0\nvrrp_gna_interval 0\nvrrp_garp_master_repeat 0\nvrrp_garp_master_refresh_repeat 0\n",
        );
        assert!(!d.has_errors());
        assert_eq!(
            d.to_string(),
            "g.conf:1:20: warning: vrrp_garp_interval '0' is invalid (must be in [0.000001, 4294.967295] seconds) - ignored\n\
             g.conf:2:19: warning: vrrp_gna_interval '0' is invalid (must be in [0.000001, 4294.967295] seconds) - ignored\n\
             g.conf:3:25: warning: vrrp_garp_master_repeat must be greater than 0, setting to 1\n\
             g.conf:4:33: warning: vrrp_garp_master_refresh_repeat must be greater than 0, setting to 1\n"
        );
        assert_eq!(g.garp_interval, Duration::ZERO);
        assert_eq!(g.garp.master_repeat, 1);
    }

    #[test]
    fn bad_values_are_errors_with_position() {
        let (_, d) = global(
            "vrrp_version 4\nrouter_id\nvrrp_garp_master_delay x\nvrrp_strict yes\nnotification_email {\n a@b\n}\nfoo\n",
        );
        assert_eq!(
            d.to_string(),
            "g.conf:1:14: error: vrrp_version '4' invalid: Version must be either 2 or 3\n\
             g.conf:2:1: error: 'router_id' needs a value\n\
             g.conf:3:24: error: invalid number 'x' for vrrp_garp_master_delay\n\
             g.conf:4:13: warning: 'vrrp_strict' takes no value; ignored 'yes'\n\
             g.conf:5:1: warning: 'notification_email' is a keepalived feature xvrrp does not implement; ignored\n\
             g.conf:8:1: warning: Unknown keyword 'foo'\n"
        );
    }
}
