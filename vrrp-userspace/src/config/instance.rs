//! `vrrp_instance`: reading the block, then completing it the way keepalived's
//! `vrrp_complete_instance` does (defaults from global_defs, strict-mode rules, interval
//! rounding), warning wherever keepalived quietly changes what was written.

use std::net::IpAddr;

use super::{
    diagnostic::{Diagnostics, Pos},
    global::{Garp, GlobalDefs, Version},
    keywords::{self, Context},
    lexer::Token,
    notify::Notify,
    script,
    track::{self, TrackRef, Tracked},
    tree::Node,
    value::{self, MICROS_PER_CENTI, MICROS_PER_SEC},
    vip::Vip,
};
use crate::time::Centisecs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthType {
    Pass,
    Ah,
}

/// VRRPv2 authentication (RFC 2338); the password is at most 8 bytes, as on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    pub kind: AuthType,
    pub pass: Vec<u8>,
}

/// One VRRP router as configured. `PartialEq` is what a reload compares: an instance whose
/// config is equal keeps running untouched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    pub state: InitialState,
    /// `None` only for unicast instances that give `unicast_src_ip`.
    pub interface: Option<String>,
    pub vrid: u8,
    pub priority: u8,
    pub advert_int: Centisecs,
    pub version: Version,
    pub family: Family,
    pub strict: bool,
    pub skip_check_adv_addr: bool,
    pub preempt: bool,
    pub preempt_delay: Centisecs,
    pub accept: bool,
    pub auth: Option<Auth>,
    pub vips: Vec<Vip>,
    pub excluded_vips: Vec<Vip>,
    pub track_scripts: Vec<Tracked>,
    pub track_interfaces: Vec<Tracked>,
    pub track_files: Vec<Tracked>,
    pub notify: Notify,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    pub garp: Garp,
    /// xvrrp's `handover_window`: how long, after leaving Master, XDP sends frames still
    /// addressed to us on to the new master; `None` for the default, which covers the GARP
    /// bursts (`handover_window_or_default`); zero turns the redirect off.
    pub handover_window: Option<Centisecs>,
}

impl Instance {
    /// The sources adverts may come from: with unicast peers, only those. keepalived checks
    /// this only with `check_unicast_src`; we always do, so that a forged advert from elsewhere
    /// (priority 255, say) cannot take mastership. The keyword is accepted.
    pub fn allowed_peers(&self) -> Option<&[IpAddr]> {
        (!self.unicast_peers.is_empty()).then_some(self.unicast_peers.as_slice())
    }

    /// The handover window: as configured, or long enough for the new master's delayed
    /// GARP burst (`garp_master_delay`) to have corrected every neighbour cache, plus a second.
    pub fn handover_window_or_default(&self) -> Centisecs {
        self.handover_window
            .unwrap_or(Centisecs(self.garp.master_delay.0 + 100))
    }
}

/// Where things were written, for diagnostics raised after the block is read (references,
/// duplicates, the host); kept out of [`Instance`] so moving a block does not look like a change.
#[derive(Clone, Debug)]
pub struct Located {
    pub instance: Instance,
    pub name_pos: Pos,
    /// Every interface named (instance, VIP `dev`, track_interface): the name, where, and how
    /// keepalived words its absence.
    pub interfaces: Vec<(String, Pos, String)>,
    pub vrid_pos: Pos,
    /// `track_script` / `track_file` entries before their names are resolved.
    pub track_scripts: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    /// Where each kept notify command is written, by keyword.
    pub notify_pos: Vec<(String, Pos)>,
}

/// What the block said, before defaults and keepalived's rules apply.
#[derive(Default)]
struct Raw {
    state: Option<(InitialState, Pos)>,
    interface: Option<Token>,
    vrid: Option<(u8, Pos)>,
    priority: Option<u8>,
    advert_us: Option<(u64, Pos)>,
    version: Option<Version>,
    strict: Option<bool>,
    skip_check_adv_addr: Option<bool>,
    nopreempt: Option<Pos>,
    preempt_delay_us: Option<(u64, Pos)>,
    accept: Option<bool>,
    auth: Option<(Option<AuthType>, Option<Vec<u8>>, Pos)>,
    vips: Vec<(Vip, Pos)>,
    excluded_vips: Vec<(Vip, Pos)>,
    track_scripts: Vec<TrackRef>,
    track_interfaces: Vec<TrackRef>,
    track_files: Vec<TrackRef>,
    notify: Notify,
    notify_pos: Vec<(String, Pos)>,
    unicast_src_ip: Option<(IpAddr, Pos)>,
    unicast_peers: Vec<(IpAddr, Pos)>,
    garp: Garp,
    handover_window_us: Option<u64>,
}

/// RFC 5798's 12-bit advert interval field, in centiseconds. RFC 3768's 8 bits of seconds
/// need no check here: keepalived already refuses `advert_int` above 255.
const V3_MAX_ADVERT_CENTIS: u64 = (1 << 12) - 1;
/// keepalived sizes the address list for an interface MTU it cannot see at config time.
const DEFAULT_MTU: usize = 1500;

fn address(tok: &Token, what: &str, diags: &mut Diagnostics) -> Option<IpAddr> {
    match tok.text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            diags.error(&tok.pos, format!("invalid {what} address '{}'", tok.text));
            None
        }
    }
}

impl Raw {
    fn read(&mut self, name: &str, items: &[Node], diags: &mut Diagnostics) {
        for node in items {
            if self.garp.parse("", node, diags) {
                continue;
            }
            if let Some(kept) = self.notify.parse(name, node, diags) {
                self.notify_pos
                    .extend(kept.map(|at| (node.key.text.clone(), at)));
                continue;
            }
            match node.key.text.as_str() {
                "state" => {
                    let Some(tok) = value::value(node, diags) else {
                        continue;
                    };
                    let state = match tok.text.as_str() {
                        "MASTER" => InitialState::Master,
                        "BACKUP" if matches!(self.state, Some((InitialState::Master, _))) => {
                            diags.warn(
                                &tok.pos,
                                format!(
                                    "({name}) state previously set as MASTER - ignoring BACKUP"
                                ),
                            );
                            continue;
                        }
                        "BACKUP" => InitialState::Backup,
                        other => {
                            diags.warn(
                                &tok.pos,
                                format!("({name}) unknown state '{other}', defaulting to BACKUP"),
                            );
                            InitialState::Backup
                        }
                    };
                    self.state = Some((state, node.pos().clone()));
                }
                "interface" => {
                    self.interface = value::value(node, diags).cloned().or(self.interface.take())
                }
                "virtual_router_id" => {
                    if let Some(tok) = value::value(node, diags)
                        && let Some(n) = value::int(tok, "virtual_router_id", 1, 255, diags)
                    {
                        self.vrid = Some((n as u8, tok.pos.clone()));
                    }
                }
                "priority" => {
                    if let Some(tok) = value::value(node, diags)
                        && let Some(n) = value::int(tok, "priority", 1, 255, diags)
                    {
                        self.priority = Some(n as u8);
                    }
                }
                "advert_int" => {
                    if let Some(tok) = value::value(node, diags)
                        && let Some(us) = value::micros(
                            tok,
                            "advert_int",
                            MICROS_PER_CENTI,
                            255 * MICROS_PER_SEC,
                            diags,
                        )
                    {
                        self.advert_us = Some((us, tok.pos.clone()));
                    }
                }
                "version" => {
                    if let Some(tok) = value::value(node, diags) {
                        match value::parse_int(&tok.text) {
                            Some(2) => self.version = Some(Version::V2),
                            Some(3) => self.version = Some(Version::V3),
                            _ => diags.error(
                                &tok.pos,
                                format!("({name}) version '{}' invalid: must be 2 or 3", tok.text),
                            ),
                        }
                    }
                }
                "strict_mode" => self.strict = value::bool_word(node, diags).or(self.strict),
                // Always on (see `Instance::allowed_peers`).
                "check_unicast_src" => value::flag(node, diags),
                "skip_check_adv_addr" => {
                    self.skip_check_adv_addr =
                        value::bool_word(node, diags).or(self.skip_check_adv_addr)
                }
                "nopreempt" => {
                    value::flag(node, diags);
                    self.nopreempt = Some(node.pos().clone());
                }
                "preempt" => {
                    value::flag(node, diags);
                    self.nopreempt = None;
                }
                "preempt_delay" => {
                    if let Some(tok) = value::value(node, diags)
                        && let Some(us) =
                            value::micros(tok, "preempt_delay", 0, 1000 * MICROS_PER_SEC, diags)
                    {
                        self.preempt_delay_us = Some((us, node.pos().clone()));
                    }
                }
                "handover_window" => {
                    if let Some(tok) = value::value(node, diags) {
                        self.handover_window_us =
                            value::micros(tok, "handover_window", 0, 3600 * MICROS_PER_SEC, diags)
                                .or(self.handover_window_us);
                    }
                }
                "accept" => {
                    value::flag(node, diags);
                    self.accept = Some(true);
                }
                "no_accept" => {
                    value::flag(node, diags);
                    self.accept = Some(false);
                }
                "authentication" => self.authentication(name, node, diags),
                "virtual_ipaddress" => {
                    for item in value::block(node, diags).unwrap_or_default() {
                        if let Some(vip) = Vip::parse(item, diags) {
                            self.vips.push((vip, item.pos().clone()));
                        }
                    }
                }
                "virtual_ipaddress_excluded" => {
                    for item in value::block(node, diags).unwrap_or_default() {
                        if let Some(vip) = Vip::parse(item, diags) {
                            self.excluded_vips.push((vip, item.pos().clone()));
                        }
                    }
                }
                "track_script" => {
                    self.track_scripts
                        .extend(track::parse_list(node, script::SCRIPT_WEIGHT, diags))
                }
                "track_interface" => self.track_interfaces.extend(track::parse_list(
                    node,
                    script::SCRIPT_WEIGHT,
                    diags,
                )),
                "track_file" => {
                    self.track_files
                        .extend(track::parse_list(node, script::FILE_WEIGHT, diags))
                }
                "unicast_src_ip" | "mcast_src_ip" => {
                    if let Some(tok) = value::value(node, diags)
                        && let Some(addr) = address(tok, "source", diags)
                    {
                        self.unicast_src_ip = Some((addr, tok.pos.clone()));
                    }
                }
                "unicast_peer" => {
                    for item in value::block(node, diags).unwrap_or_default() {
                        if let Some(option) = item.args.first() {
                            diags.warn(
                                &option.pos,
                                format!("unicast_peer option '{}' is a keepalived feature xvrrp does not implement; ignored", option.text),
                            );
                        }
                        if let Some(addr) = address(&item.key, "unicast peer", diags) {
                            self.unicast_peers.push((addr, item.pos().clone()));
                        }
                    }
                }
                _ => keywords::not_handled(node, Context::Instance, diags),
            }
        }
    }

    fn authentication(&mut self, name: &str, node: &Node, diags: &mut Diagnostics) {
        let Some(items) = value::block(node, diags) else {
            return;
        };
        let (mut kind, mut pass) = (None, None);
        for item in items {
            match item.key.text.as_str() {
                "auth_type" => {
                    let Some(tok) = value::value(item, diags) else {
                        continue;
                    };
                    match tok.text.as_str() {
                        "PASS" => kind = Some(AuthType::Pass),
                        "AH" => kind = Some(AuthType::Ah),
                        other => {
                            // The error stands for the whole block; no follow-on warnings about it.
                            diags.error(
                                &tok.pos,
                                format!("({name}) unknown authentication type '{other}'"),
                            );
                            return;
                        }
                    }
                }
                "auth_pass" => {
                    let Some(tok) = value::value(item, diags) else {
                        continue;
                    };
                    let mut bytes = tok.text.as_bytes().to_vec();
                    if bytes.len() > 8 {
                        diags.warn(&tok.pos, "Truncating auth_pass to 8 characters");
                        bytes.truncate(8);
                    }
                    pass = Some(bytes);
                }
                _ => diags.warn(item.pos(), format!("Unknown keyword '{}'", item.key.text)),
            }
        }
        self.auth = Some((kind, pass, node.pos().clone()));
    }

    /// keepalived's completion rules, in its order, so the same config ends up the same way.
    fn complete(
        self,
        name: &Token,
        pos: &Pos,
        global: &GlobalDefs,
        diags: &mut Diagnostics,
    ) -> Option<Located> {
        let n = name.text.as_str();
        let strict = self.strict.unwrap_or(global.vrrp_strict);
        let mut ok = true;

        // The first address decides the family, as in keepalived; the rest must agree.
        let family = self
            .vips
            .first()
            .map(|(v, _)| Family::of(&v.addr))
            .or(self.unicast_src_ip.as_ref().map(|(a, _)| Family::of(a)))
            .unwrap_or(Family::Ipv4);
        for (vip, at) in &self.vips {
            if Family::of(&vip.addr) != family {
                diags.error(
                    at,
                    format!(
                        "({n}): address family must match VRRP instance [{}/{}] - {family} instance \
                         (keepalived ignores this address; use a separate instance or virtual_ipaddress_excluded)",
                        vip.addr, vip.prefix
                    ),
                );
                ok = false;
            }
        }
        for (what, addr, at) in self
            .unicast_src_ip
            .iter()
            .map(|(a, p)| ("src", a, p))
            .chain(
                self.unicast_peers
                    .iter()
                    .map(|(a, p)| ("unicast peer", a, p)),
            )
        {
            if Family::of(addr) != family {
                diags.error(at, format!("({n}) {what} address {addr} MUST be of the same family as the instance ({family})"));
                ok = false;
            }
        }

        let version = match (family, self.version) {
            (Family::Ipv6, Some(Version::V2)) => {
                diags.warn(
                    pos,
                    format!("({n}) cannot use IPv6 with VRRP version 2; setting version 3"),
                );
                Version::V3
            }
            (Family::Ipv6, _) => Version::V3,
            (Family::Ipv4, v) => v.unwrap_or(global.vrrp_version),
        };

        if self.vips.is_empty() {
            if version == Version::V3 || strict {
                diags.error(
                    pos,
                    format!("({n}) No VIP specified; at least one is required"),
                );
                ok = false;
            } else {
                diags.warn(
                    pos,
                    format!("({n}) No VIP specified; at least one is sensible"),
                );
            }
        }

        let priority = self.priority.unwrap_or(match self.state {
            Some((InitialState::Master, _)) => 255,
            _ => 100,
        });
        let owner_state = if priority == 255 {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        let mut state = match &self.state {
            None => owner_state,
            Some((state, at))
                if strict && (*state == InitialState::Master) != (priority == 255) =>
            {
                diags.warn(
                    at,
                    format!("({n}) State MASTER must match being address owner"),
                );
                owner_state
            }
            Some((state, _)) => *state,
        };

        let auth = match self.auth {
            None => None,
            Some((kind, pass, at)) => {
                // IPv6 instances are always v3 here, so keepalived's "AH with IPv6" case is
                // covered by the v3 refusal.
                let refused = if strict {
                    Some("Strict mode does not support authentication. Ignoring.")
                } else if version == Version::V3 {
                    Some("VRRP version 3 does not support authentication. Ignoring.")
                } else {
                    None
                };
                match (refused, kind, pass.filter(|p| !p.is_empty())) {
                    (Some(why), _, _) => {
                        diags.warn(&at, format!("({n}) {why}"));
                        None
                    }
                    (None, None, _) => {
                        // keepalived leaves the type at NONE without a word; a warning is kinder.
                        diags.warn(
                            &at,
                            format!("({n}) authentication without auth_type - ignored"),
                        );
                        None
                    }
                    (None, Some(_), None) => {
                        diags.warn(
                            &at,
                            format!(
                                "({n}) Authentication specified but no password given. Ignoring"
                            ),
                        );
                        None
                    }
                    (None, Some(kind), Some(pass)) => {
                        if kind == AuthType::Ah && state == InitialState::Master && priority != 255
                        {
                            diags.warn(
                                &at,
                                format!("({n}) Initial state master is incompatible with AH authentication - clearing"),
                            );
                            state = InitialState::Backup;
                        }
                        Some(Auth { kind, pass })
                    }
                }
            }
        };

        if strict && !self.unicast_peers.is_empty() {
            diags.error(
                &self.unicast_peers[0].1,
                format!("({n}) Unicast peers are not supported in strict mode"),
            );
            ok = false;
        }
        if self.interface.is_none() && self.unicast_src_ip.is_none() {
            diags.error(pos, format!("({n}) no interface: an instance needs 'interface' (or 'unicast_src_ip' for unicast)"));
            ok = false;
        }
        let Some((vrid, vrid_pos)) = self.vrid else {
            diags.error(pos, format!("({n}) the virtual router id must be set"));
            return None;
        };

        if family == Family::Ipv6
            && self.unicast_peers.is_empty()
            && let Some((first, at)) = self.vips.first()
            && !matches!(first.addr, IpAddr::V6(a) if a.is_unicast_link_local())
        {
            let verb = if strict { "must" } else { "should" };
            diags.warn(
                at,
                format!("({n}) the first IPv6 VIP address {verb} be link local"),
            );
        }

        let mut interfaces = Vec::new();
        if let Some(t) = &self.interface {
            interfaces.push((
                t.text.clone(),
                t.pos.clone(),
                format!("interface {} for vrrp_instance {n} doesn't exist", t.text),
            ));
        }
        for (vip, at) in self.vips.iter().chain(&self.excluded_vips) {
            if let Some(dev) = &vip.dev {
                interfaces.push((
                    dev.clone(),
                    at.clone(),
                    format!("interface {dev} for ip address {} doesn't exist", vip.addr),
                ));
            }
        }

        let mut vips: Vec<Vip> = self.vips.into_iter().map(|(v, _)| v).collect();
        let mut excluded_vips: Vec<Vip> = self.excluded_vips.into_iter().map(|(v, _)| v).collect();
        let max = max_vips(family, version, auth.as_ref());
        if vips.len() > max {
            diags.warn(
                pos,
                format!(
                    "({n}) Number of VIPs ({}) exceeds maximum/space available in packet (max {max} addresses) - excess moved to eVIPs",
                    vips.len()
                ),
            );
            excluded_vips.splice(0..0, vips.drain(max..));
        }

        let mut preempt = self.nopreempt.is_none();
        if let Some(at) = &self.nopreempt {
            if priority == 255 {
                diags.warn(
                    at,
                    format!(
                        "({n}) nopreempt is incompatible with priority 255. resetting nopreempt"
                    ),
                );
                preempt = true;
            } else if state == InitialState::Master {
                diags.warn(at, format!("({n}) Warning - nopreempt will not work with initial state MASTER - clearing"));
                preempt = true;
            }
        }
        let mut preempt_delay = Centisecs(0);
        if let Some((us, at)) = self.preempt_delay_us.filter(|(us, _)| *us > 0) {
            if state == InitialState::Master {
                diags.warn(&at, format!("({n}) Warning - preempt delay will not work with initial state MASTER - clearing"));
            } else if strict {
                diags.warn(
                    &at,
                    format!("({n}) preempt_delay is incompatible with strict mode - resetting"),
                );
            } else if !preempt {
                diags.warn(
                    &at,
                    format!("({n}) preempt_delay is incompatible with nopreempt mode - resetting"),
                );
            } else {
                preempt_delay = value::centis(us);
            }
        }

        let mut accept = self.accept.unwrap_or(priority == 255 || !strict);
        if accept && priority != 255 && strict && version == Version::V2 {
            diags.warn(pos, format!("({n}) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"));
            accept = false;
        }

        let advert_int = advert_int(n, self.advert_us, version, diags);

        let interface = self.interface.as_ref().map(|t| t.text.clone());
        let track_interfaces = self
            .track_interfaces
            .into_iter()
            .filter_map(|t| {
                let (weight, reverse) = t.weight.unwrap_or((0, false));
                if interface.as_deref() == Some(t.name.text.as_str()) {
                    diags.warn(
                        &t.name.pos,
                        format!(
                            "({n}) Ignoring track_interface {} since own interface",
                            t.name.text
                        ),
                    );
                    return None;
                }
                // The address owner's priority is fixed at 255, so a weight could only lower it.
                if priority == 255 && weight != 0 {
                    diags.warn(
                        &t.name.pos,
                        format!(
                            "({n}) ignoring {} tracked interface due to address owner",
                            t.name.text
                        ),
                    );
                    return None;
                }
                interfaces.push((
                    t.name.text.clone(),
                    t.name.pos.clone(),
                    format!("({n}) tracked interface {} doesn't exist", t.name.text),
                ));
                Some(Tracked {
                    name: t.name.text,
                    weight,
                    reverse,
                })
            })
            .collect();

        let instance = Instance {
            name: n.to_string(),
            state,
            interface,
            vrid,
            priority,
            advert_int,
            version,
            family,
            strict,
            skip_check_adv_addr: self
                .skip_check_adv_addr
                .unwrap_or(global.vrrp_skip_check_adv_addr),
            preempt,
            preempt_delay,
            accept,
            auth,
            vips,
            excluded_vips,
            track_scripts: Vec::new(),
            track_interfaces,
            track_files: Vec::new(),
            notify: self.notify,
            unicast_src_ip: self.unicast_src_ip.map(|(a, _)| a),
            unicast_peers: self.unicast_peers.into_iter().map(|(a, _)| a).collect(),
            garp: self.garp,
            handover_window: self.handover_window_us.map(value::centis),
        };
        ok.then(|| Located {
            instance,
            name_pos: name.pos.clone(),
            interfaces,
            vrid_pos,
            track_scripts: self.track_scripts,
            track_files: self.track_files,
            notify_pos: self.notify_pos,
        })
    }
}

/// How many addresses fit in one advert on a 1500-byte Ethernet link (and the 8-bit count).
fn max_vips(family: Family, version: Version, auth: Option<&Auth>) -> usize {
    const ETHER: usize = 14;
    const VRRP_HEADER: usize = 8;
    let (ip_header, addr_len) = match family {
        Family::Ipv4 => (20, 4),
        Family::Ipv6 => (40, 16),
    };
    let mut header = ETHER + ip_header + VRRP_HEADER;
    if family == Family::Ipv4 && version == Version::V2 {
        header += 8;
        if matches!(
            auth,
            Some(Auth {
                kind: AuthType::Ah,
                ..
            })
        ) {
            header += 24;
        }
    }
    ((DEFAULT_MTU - header) / addr_len).min(255)
}

/// The advert interval after keepalived's per-version rounding and clamping.
fn advert_int(
    n: &str,
    written: Option<(u64, Pos)>,
    version: Version,
    diags: &mut Diagnostics,
) -> Centisecs {
    let Some((us, at)) = written else {
        return Centisecs::from_secs(1);
    };
    let secs = value::fmt_secs(us);
    match version {
        Version::V2 if us % MICROS_PER_SEC != 0 => {
            let rounded = ((us + MICROS_PER_SEC / 2) / MICROS_PER_SEC).max(1);
            diags.warn(&at, format!("({n}) VRRPv2 advertisement interval {secs}s must be an integer. rounding to {rounded}s"));
            Centisecs::from_secs(rounded as u32)
        }
        Version::V2 => Centisecs::from_secs((us / MICROS_PER_SEC) as u32),
        Version::V3 if us > V3_MAX_ADVERT_CENTIS * MICROS_PER_CENTI => {
            diags.warn(&at, format!("({n}) VRRPv3 advertisement interval {secs}s is out of range. Must be less than 40.96s. Setting to 40.95s"));
            Centisecs(V3_MAX_ADVERT_CENTIS as u32)
        }
        Version::V3 if us % MICROS_PER_CENTI != 0 => {
            let rounded = value::centis(us).max(Centisecs(1));
            diags.warn(&at, format!("({n}) VRRPv3 advertisement interval {secs}s must be in units of 10ms - rounding to {rounded}"));
            rounded
        }
        Version::V3 => Centisecs((us / MICROS_PER_CENTI) as u32),
    }
}

impl Located {
    /// Reads one `vrrp_instance NAME { … }`; `None` when it cannot become an instance (the
    /// reasons are in `diags`).
    pub fn parse(node: &Node, global: &GlobalDefs, diags: &mut Diagnostics) -> Option<Located> {
        let name = value::block_name(node, diags)?;
        let items = value::block(node, diags)?;
        let mut raw = Raw {
            garp: global.garp.clone(),
            ..Raw::default()
        };
        raw.read(&name.text, items, diags);
        raw.complete(name, node.pos(), global, diags)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{lexer::lex, tree::parse};

    fn at() -> Pos {
        Pos {
            file: Path::new("i.conf").into(),
            line: 1,
            col: 1,
        }
    }

    #[test]
    fn advert_interval_per_version() {
        let mut d = Diagnostics::default();
        let mut adv = |us: u64, v: Version| advert_int("V", Some((us, at())), v, &mut d);
        assert_eq!(adv(1_000_000, Version::V2), Centisecs(100));
        assert_eq!(
            adv(400_000, Version::V2),
            Centisecs(100),
            "never rounds down to 0"
        );
        assert_eq!(adv(2_500_000, Version::V2), Centisecs(300), "half up");
        assert_eq!(adv(10_000, Version::V3), Centisecs(1));
        assert_eq!(adv(15_000, Version::V3), Centisecs(2));
        assert_eq!(adv(40_950_000, Version::V3), Centisecs(4095));
        assert_eq!(adv(40_960_000, Version::V3), Centisecs(4095));
        assert_eq!(d.warnings().count(), 4);
        assert_eq!(advert_int("V", None, Version::V3, &mut d), Centisecs(100));
    }

    #[test]
    fn addresses_per_advert() {
        assert_eq!(max_vips(Family::Ipv4, Version::V2, None), 255);
        assert_eq!(max_vips(Family::Ipv6, Version::V3, None), 89);
    }

    #[test]
    fn on_off_words() {
        let mut d = Diagnostics::default();
        let nodes = parse(
            &lex(
                Path::new("i.conf"),
                "strict_mode\nstrict_mode off\nstrict_mode YES\nstrict_mode maybe\n",
                &mut d,
            ),
            &mut d,
        );
        let got: Vec<_> = nodes.iter().map(|n| value::bool_word(n, &mut d)).collect();
        assert_eq!(got, [Some(true), Some(false), Some(true), None]);
        assert_eq!(
            d.to_string(),
            "i.conf:4:13: error: invalid strict_mode 'maybe' (expected on|off|true|false|yes|no)\n"
        );
    }

    #[test]
    fn too_many_vips_move_to_excluded() {
        let mut d = Diagnostics::default();
        let vips: String = (0..100).map(|i| format!("  2001:db8::{i:x}\n")).collect();
        let text = format!(
            "vrrp_instance V {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n{vips} }}\n}}\n"
        );
        let nodes = parse(&lex(Path::new("i.conf"), &text, &mut d), &mut d);
        let l = Located::parse(&nodes[0], &GlobalDefs::default(), &mut d).unwrap();
        assert_eq!(
            (l.instance.vips.len(), l.instance.excluded_vips.len()),
            (89, 11)
        );
        assert!(d.to_string().contains(
            "i.conf:1:1: warning: (V) Number of VIPs (100) exceeds maximum/space available in packet (max 89 addresses) - excess moved to eVIPs\n"
        ));
    }
}
