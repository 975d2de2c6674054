//! Problems found in a configuration, each pinned to the place that caused it.
//!
//! The format is the compiler one (`file:line:col: severity: message`) so editors and CI logs
//! can jump to the spot; keepalived itself only prints `(file: Line N)`.

use std::{fmt, path::Path, sync::Arc};

/// Where a token starts: the file it came from (includes keep their own name), 1-based line and
/// 1-based column counted in characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<Path>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.pos, self.severity, self.message)
    }
}

/// Every problem of one load, in the order they were found; at least one is an error when it
/// comes back as the `Err` of [`super::load`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn error(&mut self, pos: &Pos, message: impl Into<String>) {
        self.push(pos, Severity::Error, message.into());
    }

    pub fn warn(&mut self, pos: &Pos, message: impl Into<String>) {
        self.push(pos, Severity::Warning, message.into());
    }

    fn push(&mut self, pos: &Pos, severity: Severity, message: String) {
        self.0.push(Diagnostic {
            pos: pos.clone(),
            severity,
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Warning)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// One diagnostic per line, ready for a terminal or a log.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_a_compiler() {
        let pos = Pos {
            file: Path::new("/etc/keepalived/keepalived.conf").into(),
            line: 7,
            col: 5,
        };
        let mut d = Diagnostics::default();
        d.warn(&pos, "Unknown keyword 'foo'");
        d.error(&pos, "priority 0 outside range [1, 255]");
        assert_eq!(
            d.to_string(),
            "/etc/keepalived/keepalived.conf:7:5: warning: Unknown keyword 'foo'\n\
             /etc/keepalived/keepalived.conf:7:5: error: priority 0 outside range [1, 255]\n"
        );
        assert!(d.has_errors());
        assert_eq!(d.warnings().count(), 1);
        assert_eq!(d.errors().count(), 1);
    }
}
