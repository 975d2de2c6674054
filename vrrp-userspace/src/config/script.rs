//! `vrrp_script` and `vrrp_track_file` / `track_file`: the things instances track by name.

use std::path::PathBuf;

use super::{
    diagnostic::{Diagnostics, Pos},
    keywords::{self, Context},
    lexer::Token,
    notify::{self, Command},
    tree::Node,
    value,
};
use crate::time::Centisecs;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpScript {
    pub name: String,
    /// `script` and `user` together.
    pub command: Command,
    pub interval: Centisecs,
    /// Time after which a run counts as failed; keepalived uses the interval when unset.
    pub timeout: Option<Centisecs>,
    /// Priority change while the script succeeds (positive) or fails (negative); 0 makes a
    /// failure put the instance in FAULT.
    pub weight: i32,
    pub weight_reverse: bool,
    pub fall: u32,
    pub rise: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackFile {
    pub name: String,
    pub path: PathBuf,
    /// Multiplies the number read from the file.
    pub weight: i32,
    pub weight_reverse: bool,
}

pub const SCRIPT_WEIGHT: (i64, i64) = (-253, 253);
pub const FILE_WEIGHT: (i64, i64) = (-254, 254);

/// `weight N [reverse|noreverse]`, from the words after the keyword.
pub fn weight(
    node: &Node,
    words: &[Token],
    range: (i64, i64),
    diags: &mut Diagnostics,
) -> Option<(i32, bool)> {
    let Some((n, rest)) = words.split_first() else {
        diags.error(node.pos(), format!("'{}' needs a weight", node.key.text));
        return None;
    };
    let weight = value::int(n, "weight", range.0, range.1, diags)? as i32;
    let reverse = match rest {
        [] => false,
        [word] if word.text == "reverse" => true,
        [word] if word.text == "noreverse" || word.text == "no_reverse" => false,
        [word, ..] => {
            diags.error(
                &word.pos,
                format!(
                    "unexpected '{}' after weight (expected reverse or noreverse)",
                    word.text
                ),
            );
            return None;
        }
    };
    Some((weight, reverse))
}

/// Reads the `interval` / `timeout` seconds, which keepalived wants greater than 0.
fn positive_secs(node: &Node, owner: &str, diags: &mut Diagnostics) -> Option<Centisecs> {
    let tok = value::value(node, diags)?;
    let secs = value::int(tok, &node.key.text, 0, i64::from(u32::MAX / 100), diags)? as u32;
    if secs == 0 {
        diags.warn(
            &tok.pos,
            format!(
                "({owner}): vrrp script {} must be greater than 0, setting to 1",
                node.key.text
            ),
        );
        return Some(Centisecs::from_secs(1));
    }
    Some(Centisecs::from_secs(secs))
}

/// `fall` / `rise`, where keepalived turns 0 into 1.
fn count(node: &Node, owner: &str, diags: &mut Diagnostics) -> Option<u32> {
    let tok = value::value(node, diags)?;
    match value::parse_int(&tok.text) {
        Some(0) => {
            diags.warn(
                &tok.pos,
                format!(
                    "({owner}): vrrp script {} value '0' invalid, defaulting to 1",
                    node.key.text
                ),
            );
            Some(1)
        }
        _ => value::int(tok, &node.key.text, 1, i64::from(i32::MAX), diags).map(|n| n as u32),
    }
}

impl VrrpScript {
    /// The script and where its command was written (for the host's access check).
    pub fn parse(node: &Node, diags: &mut Diagnostics) -> Option<(VrrpScript, Pos)> {
        let name = value::block_name(node, diags)?;
        let items = value::block(node, diags)?;
        let owner = name.text.as_str();
        let mut line = None;
        let mut run_as = None;
        let mut script = VrrpScript {
            name: name.text.clone(),
            command: Command {
                line: String::new(),
                run_as: None,
            },
            interval: Centisecs::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            fall: 1,
            rise: 1,
        };
        for item in items {
            match item.key.text.as_str() {
                "script" => {
                    if let Some(command) = notify::command(item, diags) {
                        line = Some((command, item.args[0].pos.clone()));
                    }
                }
                "user" => run_as = notify::user_statement(item, diags).or(run_as),
                "interval" => {
                    script.interval = positive_secs(item, owner, diags).unwrap_or(script.interval)
                }
                "timeout" => script.timeout = positive_secs(item, owner, diags).or(script.timeout),
                "weight" => {
                    if let Some((w, reverse)) = weight(item, &item.args, SCRIPT_WEIGHT, diags) {
                        script.weight = w;
                        script.weight_reverse = reverse;
                    }
                }
                "fall" => script.fall = count(item, owner, diags).unwrap_or(script.fall),
                "rise" => script.rise = count(item, owner, diags).unwrap_or(script.rise),
                _ => keywords::not_handled(item, Context::Script, diags),
            }
        }
        let Some((line, at)) = line else {
            diags.warn(
                node.pos(),
                format!("No script set for vrrp_script {owner} - removing"),
            );
            return None;
        };
        script.command = Command {
            run_as: run_as.or(line.run_as),
            line: line.line,
        };
        Some((script, at))
    }
}

impl TrackFile {
    pub fn parse(node: &Node, diags: &mut Diagnostics) -> Option<TrackFile> {
        let name = value::block_name(node, diags)?;
        let items = value::block(node, diags)?;
        let mut path = None;
        let mut file = TrackFile {
            name: name.text.clone(),
            path: PathBuf::new(),
            weight: 1,
            weight_reverse: false,
        };
        for item in items {
            match item.key.text.as_str() {
                "file" => {
                    path = value::value(item, diags)
                        .map(|t| PathBuf::from(&t.text))
                        .or(path)
                }
                "weight" => {
                    if let Some((w, reverse)) = weight(item, &item.args, FILE_WEIGHT, diags) {
                        file.weight = w;
                        file.weight_reverse = reverse;
                    }
                }
                _ => keywords::not_handled(item, Context::TrackFile, diags),
            }
        }
        let Some(path) = path else {
            diags.error(
                node.pos(),
                format!("{} {} has no 'file'", node.key.text, file.name),
            );
            return None;
        };
        file.path = path;
        Some(file)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{lexer::lex, notify::RunAs, tree::parse};

    fn first(text: &str) -> (Node, Diagnostics) {
        let mut d = Diagnostics::default();
        let nodes = parse(&lex(Path::new("s.conf"), text, &mut d), &mut d);
        (nodes.into_iter().next().unwrap(), d)
    }

    #[test]
    fn script_with_every_keyword() {
        let (n, mut d) = first(
            "vrrp_script chk {\n script \"/bin/check 192.0.2.1\"\n interval 2\n timeout 3\n weight -5 reverse\n\
             fall 2\n rise 4\n user nobody nogroup\n}\n",
        );
        let (s, at) = VrrpScript::parse(&n, &mut d).unwrap();
        assert!(d.is_empty(), "{d}");
        assert_eq!((at.line, at.col), (2, 9));
        assert_eq!(
            s,
            VrrpScript {
                name: "chk".into(),
                command: Command {
                    line: "/bin/check 192.0.2.1".into(),
                    run_as: Some(RunAs {
                        user: "nobody".into(),
                        group: Some("nogroup".into())
                    })
                },
                interval: Centisecs(200),
                timeout: Some(Centisecs(300)),
                weight: -5,
                weight_reverse: true,
                fall: 2,
                rise: 4,
            }
        );
    }

    #[test]
    fn script_defaults_and_fixups() {
        let (n, mut d) = first(
            "vrrp_script s1 {\n  script /bin/true\n  interval 0\n  timeout 0\n  fall 0\n  rise 0\n}\n",
        );
        let (s, _) = VrrpScript::parse(&n, &mut d).unwrap();
        assert!(!d.has_errors());
        assert_eq!(
            d.to_string(),
            "s.conf:3:12: warning: (s1): vrrp script interval must be greater than 0, setting to 1\n\
             s.conf:4:11: warning: (s1): vrrp script timeout must be greater than 0, setting to 1\n\
             s.conf:5:8: warning: (s1): vrrp script fall value '0' invalid, defaulting to 1\n\
             s.conf:6:8: warning: (s1): vrrp script rise value '0' invalid, defaulting to 1\n"
        );
        assert_eq!(
            (s.interval, s.timeout, s.fall, s.rise, s.weight),
            (Centisecs(100), Some(Centisecs(100)), 1, 1, 0)
        );
    }

    #[test]
    fn script_errors() {
        let (n, mut d) = first(
            "vrrp_script s1 {\n  weight 300\n  interval x\n  weight 5 sideways\n  init_fail\n}\n",
        );
        assert!(VrrpScript::parse(&n, &mut d).is_none());
        assert_eq!(
            d.to_string(),
            "s.conf:2:10: error: weight '300' outside range [-253, 253]\n\
             s.conf:3:12: error: invalid number 'x' for interval\n\
             s.conf:4:12: error: unexpected 'sideways' after weight (expected reverse or noreverse)\n\
             s.conf:5:3: warning: 'init_fail' is a keepalived feature xvrrp does not implement; ignored\n\
             s.conf:1:1: warning: No script set for vrrp_script s1 - removing\n"
        );
        let (n, mut d) = first("vrrp_script {\n}\n");
        assert!(VrrpScript::parse(&n, &mut d).is_none());
        assert_eq!(
            d.to_string(),
            "s.conf:1:1: error: vrrp_script must have a name\n"
        );
    }

    #[test]
    fn track_file() {
        let (n, mut d) =
            first("vrrp_track_file tf {\n  file /run/xvrrp/prio\n  weight -10 reverse\n}\n");
        let f = TrackFile::parse(&n, &mut d).unwrap();
        assert!(d.is_empty(), "{d}");
        assert_eq!(
            f,
            TrackFile {
                name: "tf".into(),
                path: "/run/xvrrp/prio".into(),
                weight: -10,
                weight_reverse: true
            }
        );
        let (n, mut d) = first("track_file tf {\n  weight 255\n}\n");
        assert!(TrackFile::parse(&n, &mut d).is_none());
        assert_eq!(
            d.to_string(),
            "s.conf:2:10: error: weight '255' outside range [-254, 254]\n\
             s.conf:1:1: error: track_file tf has no 'file'\n"
        );
    }
}
