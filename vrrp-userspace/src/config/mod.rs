//! keepalived.conf, read and checked the way keepalived 2.2 does, for the VRRP half.
//!
//! [`load`] reads a file with its includes, reports every problem as
//! `file:line:col: error|warning: message`, and yields a [`Config`] only when there is no
//! error. Where keepalived quietly changes a value (`vrrp_garp_interval 0`, authentication in
//! strict mode, MASTER without priority 255 in strict mode) the same change is made and a
//! warning says so; keywords of keepalived's other halves only warn.

mod assemble;
mod diagnostic;
mod global;
mod host;
mod instance;
mod keywords;
mod lexer;
mod notify;
mod script;
mod sync_group;
mod track;
mod tree;
mod value;
mod vip;

use std::path::Path;

pub use diagnostic::{Diagnostic, Diagnostics, Pos, Severity};
pub use global::{Garp, GlobalDefs, Version};
pub use host::{Host, System};
pub use instance::{Auth, AuthType, Family, InitialState, Instance};
pub use notify::{Command, Notify, RunAs};
pub use script::{TrackFile, VrrpScript};
pub use sync_group::SyncGroup;
pub use track::Tracked;
pub use vip::Vip;

/// A valid configuration: every reference resolved, every value in range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub global: GlobalDefs,
    /// Scripts the host can run; keepalived drops the others (with a warning).
    pub scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFile>,
    pub instances: Vec<Instance>,
    pub sync_groups: Vec<SyncGroup>,
}

impl Config {
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.instances.iter().any(|i| i == instance))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Reads `path` (and what it includes), checking interfaces and scripts on this machine.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    load_with(path, &System)
}

pub fn load_with(path: &Path, host: &dyn Host) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::default();
    let tokens = lexer::lex_file(path, &mut diags);
    finish(&tokens, host, diags)
}

/// Checks `text` as if it were the file `file` (includes resolve relative to its directory).
pub fn parse_str(file: &Path, text: &str, host: &dyn Host) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::default();
    let tokens = lexer::lex(file, text, &mut diags);
    finish(&tokens, host, diags)
}

fn finish(
    tokens: &[lexer::Token],
    host: &dyn Host,
    mut diags: Diagnostics,
) -> Result<Loaded, Diagnostics> {
    let nodes = tree::parse(tokens, &mut diags);
    let config = assemble::assemble(&nodes, host, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Loaded {
        config,
        warnings: diags.0,
    })
}

#[cfg(test)]
mod tests;
