//! From the statement tree to a [`Config`]: the top-level blocks, then what needs all of them
//! at once (names defined twice, references, VRIDs shared on a link) and the host checks.

use std::collections::{HashMap, hash_map::Entry};

use super::{
    Command, Config, RunAs,
    diagnostic::{Diagnostics, Pos},
    global::GlobalDefs,
    host::Host,
    instance::Located,
    keywords::{self, Context},
    script::{TrackFile, VrrpScript},
    sync_group::LocatedGroup,
    track::{TrackRef, Tracked},
    tree::Node,
    value,
};
use crate::scripts::{Exposure, identity::DEFAULT_USER as DEFAULT_SCRIPT_USER};

/// Keeps the first definition of each name; a second is an error naming the first.
fn first_definitions<T>(
    items: Vec<T>,
    kind: &str,
    key: impl Fn(&T) -> (&str, &Pos),
    diags: &mut Diagnostics,
) -> Vec<T> {
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut kept = Vec::new();
    for item in items {
        let (name, pos) = key(&item);
        match seen.entry(name.to_string()) {
            Entry::Occupied(first) => diags.error(
                pos,
                format!("{kind} {name} already defined at {}", first.get()),
            ),
            Entry::Vacant(slot) => {
                slot.insert(pos.clone());
                kept.push(item);
            }
        }
    }
    kept
}

pub fn assemble(nodes: &[Node], host: &dyn Host, diags: &mut Diagnostics) -> Config {
    // Every instance inherits global_defs, wherever in the file (or includes) it was written.
    let mut global = GlobalDefs::default();
    for node in nodes.iter().filter(|n| n.key.text == "global_defs") {
        if let Some(items) = value::block(node, diags) {
            global.parse(items, diags);
        }
    }

    let (mut scripts, mut files, mut instances, mut groups) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for node in nodes {
        match node.key.text.as_str() {
            "global_defs" => {}
            "vrrp_script" => scripts
                .extend(VrrpScript::parse(node, diags).map(|(s, at)| (s, at, node.pos().clone()))),
            "vrrp_track_file" | "track_file" => {
                files.extend(TrackFile::parse(node, diags).map(|f| (f, node.pos().clone())))
            }
            "vrrp_instance" => instances.extend(Located::parse(node, &global, diags)),
            "vrrp_sync_group" => groups.extend(LocatedGroup::parse(node, diags)),
            _ => keywords::not_handled(node, Context::TopLevel, diags),
        }
    }
    let mut scripts = first_definitions(scripts, "vrrp_script", |(s, _, p)| (&s.name, p), diags);
    let files = first_definitions(files, "track_file", |(f, p)| (&f.name, p), diags);
    let mut instances = first_definitions(
        instances,
        "vrrp instance",
        |l| (&l.instance.name, &l.name_pos),
        diags,
    );
    let mut groups = first_definitions(
        groups,
        "vrrp sync group",
        |g| (&g.group.name, &g.pos),
        diags,
    );

    check_vrids(&instances, diags);
    check_interfaces(&instances, host, diags);
    // keepalived disables a track script it cannot run, or must not run, instead of failing
    // the instance: the instances tracking it go on as if they did not (vrrp.c
    // `check_vrrp_script_security` removes it from their lists), so a refused script neither
    // fails them nor adds its weight.
    let users = ScriptUsers::new(&global, host);
    let mut insecure = false;
    let mut disabled = Vec::new();
    scripts.retain(|(script, at, _)| {
        let program = script.command.program();
        let refusal = match host.script_problem(program) {
            Some(problem) => Some(format!(
                "Script {program} cannot be accessed - {problem}; disabling track script {} since not found/accessible",
                script.name
            )),
            None => match users.judge(&script.command, host) {
                Verdict::Run => None,
                Verdict::Warn(why) => {
                    insecure = true;
                    diags.warn(at, why);
                    None
                }
                Verdict::Refuse(why) => Some(format!(
                    "{why}; disabling track script {} due to insecure",
                    script.name
                )),
            },
        };
        match refusal {
            None => true,
            Some(message) => {
                disabled.push(script.name.clone());
                diags.warn(at, message);
                false
            }
        }
    });

    for located in &mut instances {
        let track_scripts = resolve(
            &located.instance,
            "script",
            &located.track_scripts,
            diags,
            |wanted| match scripts.iter().find(|(s, _, _)| s.name == wanted) {
                Some((s, _, _)) => Lookup::Found(s.weight, s.weight_reverse),
                None if disabled.iter().any(|d| d == wanted) => Lookup::Disabled,
                None => Lookup::Missing,
            },
        );
        let track_files = resolve(
            &located.instance,
            "file",
            &located.track_files,
            diags,
            |wanted| match files.iter().find(|(f, _)| f.name == wanted) {
                Some((f, _)) => Lookup::Found(f.weight, f.weight_reverse),
                None => Lookup::Missing,
            },
        );
        located.instance.track_scripts = track_scripts;
        located.instance.track_files = track_files;
    }
    check_groups(&groups, &instances, diags);
    zero_group_weights(&groups, &mut instances, diags);
    for l in &mut instances {
        check_notify(
            &mut l.instance.notify,
            &l.notify_pos,
            host,
            &users,
            &mut insecure,
            diags,
        );
    }
    for g in &mut groups {
        check_notify(
            &mut g.group.notify,
            &g.notify_pos,
            host,
            &users,
            &mut insecure,
            diags,
        );
    }
    check_script_security(&users, &scripts, &instances, &groups, insecure, diags);

    Config {
        global,
        scripts: scripts.into_iter().map(|(s, _, _)| s).collect(),
        track_files: files.into_iter().map(|(f, _)| f).collect(),
        instances: instances.into_iter().map(|l| l.instance).collect(),
        sync_groups: groups.into_iter().map(|g| g.group).collect(),
    }
}

enum Lookup {
    Found(i32, bool),
    /// Defined, but disabled by the host check: tracking it silently does nothing.
    Disabled,
    Missing,
}

/// Names to tracked objects, with the entry's weight or else the object's own. The address
/// owner drops weighted entries, as keepalived does: its priority cannot move.
fn resolve(
    instance: &super::Instance,
    kind: &str,
    refs: &[TrackRef],
    diags: &mut Diagnostics,
    lookup: impl Fn(&str) -> Lookup,
) -> Vec<Tracked> {
    let owner = &instance.name;
    let mut tracked = Vec::new();
    for r in refs {
        let name = r.name.text.as_str();
        match lookup(name) {
            Lookup::Found(weight, reverse) => {
                let (weight, reverse) = r.weight.unwrap_or((weight, reverse));
                if instance.priority == 255 && weight != 0 {
                    diags.warn(
                        &r.name.pos,
                        format!("({owner}) ignoring tracked {kind} {name} with weights due to address_owner"),
                    );
                    continue;
                }
                tracked.push(Tracked {
                    name: name.to_string(),
                    weight,
                    reverse,
                });
            }
            Lookup::Disabled => {}
            Lookup::Missing => diags.error(
                &r.name.pos,
                format!("({owner}) track {kind} {name} not found"),
            ),
        }
    }
    tracked
}

/// Two routers with one VRID on one link and family would answer each other's adverts.
fn check_vrids(instances: &[Located], diags: &mut Diagnostics) {
    let mut seen: HashMap<(&str, super::Family, u8), &Located> = HashMap::new();
    for l in instances {
        let i = &l.instance;
        let Some(interface) = i.interface.as_deref() else {
            continue;
        };
        match seen.entry((interface, i.family, i.vrid)) {
            Entry::Occupied(first) => diags.error(
                &l.vrid_pos,
                format!(
                    "{} and {} both use VRID {} with {} on interface {interface} (first at {})",
                    first.get().instance.name,
                    i.name,
                    i.vrid,
                    i.family,
                    first.get().vrid_pos
                ),
            ),
            Entry::Vacant(slot) => {
                slot.insert(l);
            }
        }
    }
}

/// keepalived refuses to start when any named interface is missing.
fn check_interfaces(instances: &[Located], host: &dyn Host, diags: &mut Diagnostics) {
    for (name, at, missing) in instances.iter().flat_map(|l| &l.interfaces) {
        if !host.interface_exists(name) {
            diags.error(
                at,
                format!("{missing} (Non-existent interface specified in configuration)"),
            );
        }
    }
}

fn check_groups(groups: &[LocatedGroup], instances: &[Located], diags: &mut Diagnostics) {
    let mut member_of: HashMap<&str, &str> = HashMap::new();
    for g in groups {
        let group = g.group.name.as_str();
        for member in &g.members {
            let name = member.text.as_str();
            if !instances.iter().any(|l| l.instance.name == name) {
                diags.error(
                    &member.pos,
                    format!("Virtual router {name} specified in sync group {group} doesn't exist"),
                );
            } else if let Some(first) = member_of.get(name) {
                diags.error(
                    &member.pos,
                    format!("Virtual router {name} cannot exist in more than one sync group (already in {first})"),
                );
            } else {
                member_of.insert(name, group);
            }
        }
        if g.members.len() == 1 {
            diags.warn(&g.pos, format!("Sync group {group} has only 1 virtual router(s) - this probably isn't what you want"));
        }
    }
}

/// keepalived reports a notify script it cannot run, or must not run, when it starts; it then
/// never runs it, so the command is dropped here too.
fn check_notify(
    notify: &mut super::Notify,
    written: &[(String, Pos)],
    host: &dyn Host,
    users: &ScriptUsers,
    insecure: &mut bool,
    diags: &mut Diagnostics,
) {
    for (keyword, slot) in notify.iter_mut() {
        let Some(command) = slot else { continue };
        let program = command.program();
        let at = written.iter().find(|(k, _)| k == keyword).map(|(_, at)| at);
        let refusal = match host.script_problem(program) {
            Some(problem) => format!("Script {program} cannot be accessed - {problem}"),
            None => match users.judge(command, host) {
                Verdict::Run => continue,
                Verdict::Warn(why) => {
                    *insecure = true;
                    if let Some(at) = at {
                        diags.warn(at, why);
                    }
                    continue;
                }
                Verdict::Refuse(why) => why,
            },
        };
        if let Some(at) = at {
            diags.warn(at, format!("{refusal}; {keyword} will not run"));
        }
        *slot = None;
    }
}

/// Who runs scripts, as keepalived decides (notify.c `notify_script_init`,
/// `get_default_script_user`): a command's own `user`, else `script_user`, else
/// `keepalived_script` when that user exists, else the daemon itself.
struct ScriptUsers {
    default: Option<RunAs>,
    security: bool,
}

/// What keepalived does with a script it can run.
enum Verdict {
    Run,
    /// Run it, with this warning.
    Warn(String),
    /// Never run it, for this reason.
    Refuse(String),
}

impl ScriptUsers {
    fn new(global: &GlobalDefs, host: &dyn Host) -> ScriptUsers {
        let keepalived_script = || {
            host.user_exists(DEFAULT_SCRIPT_USER).then(|| RunAs {
                user: DEFAULT_SCRIPT_USER.into(),
                group: None,
            })
        };
        ScriptUsers {
            default: global.script_user.clone().or_else(keepalived_script),
            security: global.enable_script_security,
        }
    }

    /// `None`: the daemon's own ids.
    fn runs_as<'a>(&'a self, command: &'a Command) -> Option<&'a RunAs> {
        command.run_as.as_ref().or(self.default.as_ref())
    }

    /// Whether `command` runs as root, taking the daemon's own ids for root's (as keepalived's
    /// are; the unit's unprivileged daemon cannot become root anyway).
    fn as_root(&self, command: &Command) -> bool {
        self.runs_as(command).is_none_or(|r| r.user == "root")
    }

    /// keepalived's `check_script_secure`: with `enable_script_security`, a script that would
    /// fall back to the daemon's own ids, or that someone other than root could replace while
    /// it runs as root, is refused; without it, the latter only earns a warning.
    fn judge(&self, command: &Command, host: &dyn Host) -> Verdict {
        let program = command.program();
        let runs_as = self.runs_as(command);
        if self.security && runs_as.is_none() {
            return Verdict::Refuse(format!(
                "Unable to set default user {DEFAULT_SCRIPT_USER} for script {program} \
                 (enable_script_security needs script_user, the script's own user or the user {DEFAULT_SCRIPT_USER})"
            ));
        }
        match host.script_exposure(program, runs_as) {
            None => Verdict::Run,
            Some(e @ Exposure::Writable { .. }) if !self.security => Verdict::Warn(format!(
                "Unsafe permissions found for script '{program}' ({e})."
            )),
            Some(e @ Exposure::Writable { .. }) => Verdict::Refuse(format!(
                "Unsafe permissions found for script '{program}' - disabling ({e})"
            )),
            Some(e @ Exposure::WrongType { .. }) => Verdict::Refuse(format!(
                "Wrong file type found in script path '{program}' ({e})"
            )),
            Some(e @ Exposure::Unreadable { .. }) => Verdict::Refuse(format!(
                "check_script_secure could not examine script '{program}' - disabling ({e})"
            )),
        }
    }
}

/// A script keepalived can run as root without `enable_script_security` is what it calls a
/// security violation; it says so once, adding whether some script could be replaced.
fn check_script_security(
    users: &ScriptUsers,
    scripts: &[(VrrpScript, Pos, Pos)],
    instances: &[Located],
    groups: &[LocatedGroup],
    insecure: bool,
    diags: &mut Diagnostics,
) {
    if users.security {
        return;
    }
    let as_root = |c: &Command| users.as_root(c);
    let notify_as_root = |notify: &super::Notify, written: &[(String, Pos)]| {
        notify
            .iter()
            .filter(|(_, c)| c.as_ref().is_some_and(as_root))
            .find_map(|(keyword, _)| {
                written
                    .iter()
                    .find(|(k, _)| k == keyword)
                    .map(|(_, at)| at.clone())
            })
    };
    let first = scripts
        .iter()
        .filter(|(s, _, _)| as_root(&s.command))
        .map(|(_, at, _)| at.clone())
        .chain(
            instances
                .iter()
                .filter_map(|l| notify_as_root(&l.instance.notify, &l.notify_pos)),
        )
        .chain(
            groups
                .iter()
                .filter_map(|g| notify_as_root(&g.group.notify, &g.notify_pos)),
        )
        .next();
    if let Some(at) = first {
        let insecure = if insecure {
            ". There are insecure scripts."
        } else {
            ""
        };
        diags.warn(
            &at,
            format!("SECURITY VIOLATION - scripts are being executed but script_security not enabled (this script runs as root){insecure}"),
        );
    }
}

/// keepalived zeroes the tracking weights of sync group members (unless the group says
/// `sync_group_tracking_weight`): members must move together, so a failure means FAULT.
fn zero_group_weights(groups: &[LocatedGroup], instances: &mut [Located], diags: &mut Diagnostics) {
    for g in groups.iter().filter(|g| !g.group.tracking_weight) {
        for member in &g.members {
            let Some(l) = instances
                .iter_mut()
                .find(|l| l.instance.name == member.text)
            else {
                continue;
            };
            let i = &mut l.instance;
            for t in i.track_interfaces.iter_mut().filter(|t| t.weight != 0) {
                diags.warn(
                    &member.pos,
                    format!(
                        "({}) ignoring {} tracked interface weight due to SYNC group",
                        i.name, t.name
                    ),
                );
                t.weight = 0;
            }
            for (kind, list) in [
                ("script", &mut i.track_scripts),
                ("file", &mut i.track_files),
            ] {
                for t in list.iter_mut().filter(|t| t.weight != 0) {
                    diags.warn(
                        &member.pos,
                        format!(
                            "({}) ignoring tracked {kind} {} with weights due to SYNC group",
                            i.name, t.name
                        ),
                    );
                    t.weight = 0;
                }
            }
        }
    }
}
