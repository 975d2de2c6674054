//! `vrrp_sync_group NAME { group { … } notify… }`: instances that change state together.

use super::{
    diagnostic::{Diagnostics, Pos},
    keywords::{self, Context},
    lexer::Token,
    notify::Notify,
    tree::Node,
    value,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    /// Member instance names, all defined and in no other group.
    pub instances: Vec<String>,
    pub notify: Notify,
    /// `sync_group_tracking_weight`: members keep their tracking weights. Without it keepalived
    /// zeroes them, so that members cannot end up with priorities that split the group.
    pub tracking_weight: bool,
}

/// A sync group with the positions its member names were written at.
#[derive(Clone, Debug)]
pub struct LocatedGroup {
    pub group: SyncGroup,
    pub pos: Pos,
    pub members: Vec<Token>,
    /// Where each kept notify command is written, by keyword.
    pub notify_pos: Vec<(String, Pos)>,
}

impl LocatedGroup {
    pub fn parse(node: &Node, diags: &mut Diagnostics) -> Option<LocatedGroup> {
        let name = value::block_name(node, diags)?;
        let items = value::block(node, diags)?;
        let mut notify = Notify::default();
        let mut members: Option<Vec<Token>> = None;
        let mut notify_pos = Vec::new();
        let mut tracking_weight = false;
        for item in items {
            if let Some(kept) = notify.parse(&name.text, item, diags) {
                notify_pos.extend(kept.map(|at| (item.key.text.clone(), at)));
                continue;
            }
            match item.key.text.as_str() {
                "group" => {
                    let Some(list) = value::block(item, diags) else {
                        continue;
                    };
                    if members.is_some() {
                        diags.warn(
                            item.pos(),
                            format!(
                                "Group list already specified for sync group {} - ignoring",
                                name.text
                            ),
                        );
                        continue;
                    }
                    // Names may share a line (`group { VI_1 VI_2 }`), as keepalived reads words.
                    members = Some(
                        list.iter()
                            .flat_map(|n| std::iter::once(n.key.clone()).chain(n.args.clone()))
                            .collect(),
                    );
                }
                "sync_group_tracking_weight" => {
                    value::flag(item, diags);
                    tracking_weight = true;
                }
                "global_tracking" => {
                    value::flag(item, diags);
                    diags.warn(
                        item.pos(),
                        format!("({}) global_tracking is deprecated. Use track_interface/script/file on the sync group", name.text),
                    );
                    tracking_weight = true;
                }
                _ => keywords::not_handled(item, Context::SyncGroup, diags),
            }
        }
        let members = members.unwrap_or_default();
        if members.is_empty() {
            diags.warn(
                node.pos(),
                format!(
                    "Warning - sync group {} has empty group block - ignoring",
                    name.text
                ),
            );
            return None;
        }
        let group = SyncGroup {
            name: name.text.clone(),
            instances: members.iter().map(|t| t.text.clone()).collect(),
            notify,
            tracking_weight,
        };
        Some(LocatedGroup {
            group,
            pos: node.pos().clone(),
            members,
            notify_pos,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{lexer::lex, notify::Command, tree::parse};

    fn group(text: &str) -> (Option<LocatedGroup>, Diagnostics) {
        let mut d = Diagnostics::default();
        let nodes = parse(&lex(Path::new("g.conf"), text, &mut d), &mut d);
        (LocatedGroup::parse(&nodes[0], &mut d), d)
    }

    #[test]
    fn members_and_notify() {
        let (g, d) = group(
            "vrrp_sync_group G {\n group {\n  VI_1\n  VI_2 VI_3\n }\n notify_master /bin/m\n notify \"/bin/n x\" root\n}\n",
        );
        assert!(d.is_empty(), "{d}");
        let g = g.unwrap().group;
        assert_eq!(g.instances, ["VI_1", "VI_2", "VI_3"]);
        assert!(!g.tracking_weight);
        assert_eq!(
            g.notify.master,
            Some(Command {
                line: "/bin/m".into(),
                run_as: None
            })
        );
        assert_eq!(g.notify.any.unwrap().run_as.unwrap().user, "root");
    }

    #[test]
    fn tracking_weight_keywords() {
        let (g, d) =
            group("vrrp_sync_group G {\n group {\n  A\n  B\n }\n sync_group_tracking_weight\n}\n");
        assert!(d.is_empty(), "{d}");
        assert!(g.unwrap().group.tracking_weight);
        let (g, d) = group("vrrp_sync_group G {\n group {\n  A\n  B\n }\n global_tracking\n}\n");
        assert_eq!(
            d.to_string(),
            "g.conf:6:2: warning: (G) global_tracking is deprecated. Use track_interface/script/file on the sync group\n"
        );
        assert!(g.unwrap().group.tracking_weight);
    }

    #[test]
    fn empty_group_and_unsupported_tracking() {
        let (g, d) = group("vrrp_sync_group G {\n track_interface {\n  eth0\n }\n}\n");
        assert!(g.is_none());
        assert_eq!(
            d.to_string(),
            "g.conf:2:2: warning: 'track_interface' is a keepalived feature xvrrp does not implement; ignored\n\
             g.conf:1:1: warning: Warning - sync group G has empty group block - ignoring\n"
        );
    }
}
