//! Commands keepalived runs: notify scripts and the user they run as.

use super::{
    diagnostic::{Diagnostics, Pos},
    tree::Node,
    value,
};

/// `user [group]`; without a group the user's own group applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
}

/// A command line as written (quoted when it has arguments), run through no shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub line: String,
    pub run_as: Option<RunAs>,
}

impl Command {
    /// The program: the first word of the line, which keepalived checks for access.
    pub fn program(&self) -> &str {
        self.line.split_whitespace().next().unwrap_or("")
    }
}

/// Scripts run on transitions. `any` is keepalived's `notify`, which gets the new state as an
/// argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    pub master: Option<Command>,
    pub backup: Option<Command>,
    pub fault: Option<Command>,
    pub stop: Option<Command>,
    pub any: Option<Command>,
}

impl Notify {
    /// Claims `notify*` statements: `None` for any other keyword, else where the command that
    /// was kept is written (`Some(None)` when the statement was rejected).
    pub fn parse(
        &mut self,
        owner: &str,
        node: &Node,
        diags: &mut Diagnostics,
    ) -> Option<Option<Pos>> {
        let slot = self
            .iter_mut()
            .find(|(keyword, _)| *keyword == node.key.text)?
            .1;
        let Some(command) = command(node, diags) else {
            return Some(None);
        };
        if slot.is_some() {
            diags.warn(
                node.pos(),
                format!(
                    "({owner}) {} script already specified - ignoring {}",
                    node.key.text, command.line
                ),
            );
            return Some(None);
        }
        *slot = Some(command);
        Some(Some(node.args[0].pos.clone()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Option<Command>)> {
        [
            ("notify_master", &self.master),
            ("notify_backup", &self.backup),
            ("notify_fault", &self.fault),
            ("notify_stop", &self.stop),
            ("notify", &self.any),
        ]
        .into_iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&'static str, &mut Option<Command>)> {
        [
            ("notify_master", &mut self.master),
            ("notify_backup", &mut self.backup),
            ("notify_fault", &mut self.fault),
            ("notify_stop", &mut self.stop),
            ("notify", &mut self.any),
        ]
        .into_iter()
    }
}

/// `keyword <line> [user [group]]`.
pub fn command(node: &Node, diags: &mut Diagnostics) -> Option<Command> {
    let Some((line, rest)) = node.args.split_first() else {
        diags.error(node.pos(), format!("'{}' needs a value", node.key.text));
        return None;
    };
    if node.block.is_some() {
        diags.error(
            node.pos(),
            format!("'{}' does not take a block", node.key.text),
        );
    }
    if line.text.trim().is_empty() {
        diags.error(&line.pos, format!("empty command for '{}'", node.key.text));
        return None;
    }
    Some(Command {
        line: line.text.clone(),
        run_as: run_as(node, rest, diags),
    })
}

/// `user [group]` from the given words, as in `script_user` and after notify commands.
pub fn run_as(
    node: &Node,
    words: &[super::lexer::Token],
    diags: &mut Diagnostics,
) -> Option<RunAs> {
    match words {
        [] => None,
        [user] => Some(RunAs {
            user: user.text.clone(),
            group: None,
        }),
        [user, group, extra @ ..] => {
            if let Some(extra) = extra.first() {
                diags.warn(
                    &extra.pos,
                    format!("extra arguments after '{}' ignored", node.key.text),
                );
            }
            Some(RunAs {
                user: user.text.clone(),
                group: Some(group.text.clone()),
            })
        }
    }
}

/// `script_user user [group]` / `user user [group]`.
pub fn user_statement(node: &Node, diags: &mut Diagnostics) -> Option<RunAs> {
    if node.args.is_empty() {
        value::value(node, diags);
        return None;
    }
    run_as(node, &node.args, diags)
}
