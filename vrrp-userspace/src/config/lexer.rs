//! keepalived.conf as a stream of tokens, with `include` already spliced in.
//!
//! keepalived's format is line based: a line is a keyword and its arguments, `{` / `}` open and
//! close blocks anywhere on a line, `!` or `#` at the start of a token comments out the rest of
//! the line, and double quotes make one argument out of text with spaces (notify scripts).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use super::diagnostic::{Diagnostics, Pos};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Word,
    Quoted,
    Open,
    Close,
    EndOfLine,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// The word, or a quoted string without its quotes; empty for the other kinds.
    pub text: String,
    pub pos: Pos,
}

impl Token {
    pub fn is_value(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Quoted)
    }
}

/// Tokens of one text, as if it were the file `file`; `include` lines are resolved relative to
/// `file`'s directory, as keepalived does (it changes into the directory of each file it opens).
pub fn lex(file: &Path, text: &str, diags: &mut Diagnostics) -> Vec<Token> {
    let mut out = Vec::new();
    let mut stack = vec![canonical(file)];
    lex_into(&Arc::from(file), text, &mut stack, &mut out, diags);
    out
}

/// Tokens of a file on disk; an unreadable top-level file is an error at line 1.
pub fn lex_file(file: &Path, diags: &mut Diagnostics) -> Vec<Token> {
    match std::fs::read(file) {
        Ok(bytes) => lex(file, &String::from_utf8_lossy(&bytes), diags),
        Err(e) => {
            diags.error(
                &Pos {
                    file: file.into(),
                    line: 1,
                    col: 1,
                },
                format!("cannot read {}: {e}", file.display()),
            );
            Vec::new()
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn lex_into(
    file: &Arc<Path>,
    text: &str,
    stack: &mut Vec<PathBuf>,
    out: &mut Vec<Token>,
    diags: &mut Diagnostics,
) {
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let first = out.len();
        lex_line(file, index as u32 + 1, line, out, diags);
        let checked = out
            .get(first)
            .filter(|t| t.kind == Kind::Word)
            .and_then(|t| {
                INCLUDES
                    .iter()
                    .find(|(keyword, _)| *keyword == t.text)
                    .map(|(_, checked)| *checked)
            });
        if let Some(checked) = checked {
            let keyword = out.drain(first..).next().expect("the include keyword");
            include(file, line, &keyword, checked, stack, out, diags);
        } else if out.len() > first {
            let pos = Pos {
                file: file.clone(),
                line: index as u32 + 1,
                col: line.chars().count() as u32 + 1,
            };
            out.push(Token {
                kind: Kind::EndOfLine,
                text: String::new(),
                pos,
            });
        }
    }
}

fn lex_line(
    file: &Arc<Path>,
    line_no: u32,
    line: &str,
    out: &mut Vec<Token>,
    diags: &mut Diagnostics,
) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let pos = |i: usize| Pos {
        file: file.clone(),
        line: line_no,
        col: i as u32 + 1,
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '!' || c == '#' {
            return;
        }
        let start = i;
        let (kind, text) = match c {
            '{' => {
                i += 1;
                (Kind::Open, String::new())
            }
            '}' => {
                i += 1;
                (Kind::Close, String::new())
            }
            '"' => match chars[i + 1..].iter().position(|&q| q == '"') {
                Some(len) => {
                    i += len + 2;
                    (
                        Kind::Quoted,
                        chars[start + 1..start + 1 + len].iter().collect(),
                    )
                }
                None => {
                    diags.error(&pos(start), "unterminated quoted string");
                    i = chars.len();
                    (Kind::Quoted, chars[start + 1..].iter().collect())
                }
            },
            _ => {
                // keepalived ends a word at '!' or '#' too: `auth_pass ab#cd` sets "ab".
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '{' | '}' | '"' | '!' | '#')
                {
                    i += 1;
                }
                (Kind::Word, chars[start..i].iter().collect())
            }
        };
        out.push(Token {
            kind,
            text,
            pos: pos(start),
        });
    }
}

/// keepalived's include keywords; all but plain `include` make a pattern that matches nothing
/// or a file that cannot be read an error (`include` itself only logs).
const INCLUDES: &[(&str, bool)] = &[
    ("include", false),
    ("includer", true),
    ("includem", true),
    ("includew", true),
    ("includeb", true),
    ("includea", true),
];

/// glibc's GLOB_BRACE, which keepalived uses and the glob crate lacks; bounded because each
/// brace multiplies the patterns.
const MAX_BRACE_PATTERNS: usize = 64;

fn expand_braces(pattern: &str) -> Option<Vec<String>> {
    let mut done = Vec::new();
    let mut todo = vec![pattern.to_string()];
    while let Some(p) = todo.pop() {
        let Some((open, close)) = first_brace_pair(&p) else {
            done.push(p);
            continue;
        };
        let mut alternatives = Vec::new();
        let (mut depth, mut start) = (0, open + 1);
        for (i, c) in p[open + 1..close]
            .char_indices()
            .map(|(i, c)| (i + open + 1, c))
        {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    alternatives.push(&p[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        alternatives.push(&p[start..close]);
        for alternative in alternatives.into_iter().rev() {
            todo.push(format!("{}{alternative}{}", &p[..open], &p[close + 1..]));
        }
        if done.len() + todo.len() > MAX_BRACE_PATTERNS {
            return None;
        }
    }
    Some(done)
}

fn first_brace_pair(p: &str) -> Option<(usize, usize)> {
    let open = p.find('{')?;
    let mut depth = 0;
    for (i, c) in p[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return Some((open, open + i)),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The pattern is the rest of the raw line (quotes and a trailing comment removed): the token
/// stream would have split brace expressions apart.
fn include_pattern(line: &str, keyword: &Token) -> (String, u32) {
    let skip = keyword.pos.col as usize - 1 + keyword.text.chars().count();
    let rest: String = line.chars().skip(skip).collect();
    let lead = rest.chars().take_while(|c| c.is_whitespace()).count();
    let rest = rest.trim_start();
    let col = keyword.pos.col + keyword.text.chars().count() as u32 + lead as u32;
    if let Some(quoted) = rest.strip_prefix('"') {
        return (
            quoted.split('"').next().unwrap_or_default().to_string(),
            col,
        );
    }
    let end = rest.find(['#', '!']).unwrap_or(rest.len());
    (rest[..end].trim_end().to_string(), col)
}

fn include(
    file: &Arc<Path>,
    line: &str,
    keyword: &Token,
    checked: bool,
    stack: &mut Vec<PathBuf>,
    out: &mut Vec<Token>,
    diags: &mut Diagnostics,
) {
    let (pattern, col) = include_pattern(line, keyword);
    let at = Pos {
        file: file.clone(),
        line: keyword.pos.line,
        col,
    };
    if pattern.is_empty() || pattern.contains(char::is_whitespace) {
        diags.error(
            &keyword.pos,
            format!(
                "{} takes exactly one file name or glob pattern",
                keyword.text
            ),
        );
        return;
    }
    let problem = |diags: &mut Diagnostics, message: String| {
        if checked {
            diags.error(&at, message)
        } else {
            diags.warn(&at, message)
        }
    };
    let Some(patterns) = expand_braces(&pattern) else {
        diags.error(
            &at,
            format!(
                "include pattern '{pattern}' expands to more than {MAX_BRACE_PATTERNS} patterns"
            ),
        );
        return;
    };
    let base = file.parent().unwrap_or(Path::new(""));
    let mut matched = false;
    for one in patterns {
        let paths = match glob::glob(&base.join(&one).to_string_lossy()) {
            Ok(paths) => paths,
            Err(e) => {
                diags.error(&at, format!("invalid include pattern '{pattern}': {e}"));
                return;
            }
        };
        for entry in paths {
            let path = match entry {
                Ok(path) => path,
                Err(e) => {
                    problem(
                        diags,
                        format!("cannot read {}: {}", e.path().display(), e.error()),
                    );
                    continue;
                }
            };
            if path.is_dir() {
                continue;
            }
            matched = true;
            let key = canonical(&path);
            if stack.contains(&key) {
                diags.error(
                    &at,
                    format!("include loop: {} is already being read", path.display()),
                );
                continue;
            }
            match std::fs::read(&path) {
                Ok(bytes) => {
                    stack.push(key);
                    lex_into(
                        &Arc::from(path.as_path()),
                        &String::from_utf8_lossy(&bytes),
                        stack,
                        out,
                        diags,
                    );
                    stack.pop();
                }
                Err(e) => problem(diags, format!("cannot read {}: {e}", path.display())),
            }
        }
    }
    if !matched {
        problem(diags, format!("Config files missing '{pattern}'."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_and_texts(text: &str) -> (Vec<(Kind, String, u32, u32)>, Diagnostics) {
        let mut d = Diagnostics::default();
        let toks = lex(Path::new("t.conf"), text, &mut d);
        (
            toks.into_iter()
                .map(|t| (t.kind, t.text, t.pos.line, t.pos.col))
                .collect(),
            d,
        )
    }

    fn w(s: &str, line: u32, col: u32) -> (Kind, String, u32, u32) {
        (Kind::Word, s.to_string(), line, col)
    }

    #[test]
    fn words_braces_and_line_ends_with_positions() {
        let (t, d) = kinds_and_texts("global_defs {\n  router_id R1\n}\n");
        assert!(d.is_empty());
        assert_eq!(
            t,
            vec![
                w("global_defs", 1, 1),
                (Kind::Open, String::new(), 1, 13),
                (Kind::EndOfLine, String::new(), 1, 14),
                w("router_id", 2, 3),
                w("R1", 2, 13),
                (Kind::EndOfLine, String::new(), 2, 15),
                (Kind::Close, String::new(), 3, 1),
                (Kind::EndOfLine, String::new(), 3, 2),
            ]
        );
    }

    #[test]
    fn comments_anywhere_but_inside_quotes() {
        let (t, _) =
            kinds_and_texts("! whole line\n# also\na b # trailing\nc d!e \"x # y\"\nf g#h\n");
        let texts: Vec<_> = t
            .iter()
            .filter(|t| t.0 != Kind::EndOfLine)
            .map(|t| t.1.as_str())
            .collect();
        assert_eq!(texts, ["a", "b", "c", "d", "f", "g"]);
    }

    #[test]
    fn braces_split_words_and_one_line_blocks_work() {
        let (t, _) = kinds_and_texts("virtual_ipaddress {192.0.2.1}");
        let kinds: Vec<_> = t.iter().map(|t| t.0.clone()).collect();
        assert_eq!(
            kinds,
            [
                Kind::Word,
                Kind::Open,
                Kind::Word,
                Kind::Close,
                Kind::EndOfLine
            ]
        );
        assert_eq!(t[2].1, "192.0.2.1");
        assert_eq!(t[2].3, 20);
    }

    #[test]
    fn quoted_strings_keep_spaces_and_report_unterminated() {
        let (t, d) =
            kinds_and_texts("notify_master \"/bin/n.sh 192.0.2.1 master\"\nscript \"/bin/x");
        assert_eq!(
            t[1],
            (Kind::Quoted, "/bin/n.sh 192.0.2.1 master".into(), 1, 15)
        );
        assert_eq!(
            d.to_string(),
            "t.conf:2:8: error: unterminated quoted string\n"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let (t, _) = kinds_and_texts("é x");
        assert_eq!(t[1], w("x", 1, 3));
    }

    #[test]
    fn crlf_line_ends_are_accepted() {
        let (t, _) = kinds_and_texts("a b\r\nc\r\n");
        assert_eq!(t[1], w("b", 1, 3));
        assert_eq!(t[3], w("c", 2, 1));
    }

    #[test]
    fn include_without_match_warns() {
        let (t, d) = kinds_and_texts("include /nonexistent-xvrrp-dir/*.conf\na\n");
        assert_eq!(t[0], w("a", 2, 1));
        assert_eq!(
            d.to_string(),
            "t.conf:1:9: warning: Config files missing '/nonexistent-xvrrp-dir/*.conf'.\n"
        );
    }

    #[test]
    fn include_needs_one_argument() {
        let (_, d) = kinds_and_texts("include\ninclude a b\nincludea ! only a comment\n");
        assert_eq!(
            d.to_string(),
            "t.conf:1:1: error: include takes exactly one file name or glob pattern\n\
             t.conf:2:1: error: include takes exactly one file name or glob pattern\n\
             t.conf:3:1: error: includea takes exactly one file name or glob pattern\n"
        );
    }

    #[test]
    fn checking_include_variants_make_a_missing_match_an_error() {
        let (_, d) = kinds_and_texts("includea \"/nonexistent-xvrrp-dir/x.conf\" # why\n");
        assert_eq!(
            d.to_string(),
            "t.conf:1:10: error: Config files missing '/nonexistent-xvrrp-dir/x.conf'.\n"
        );
    }

    #[test]
    fn brace_expressions_expand_like_glibc() {
        assert_eq!(
            expand_braces("a/{b,c}.conf").unwrap(),
            ["a/b.conf", "a/c.conf"]
        );
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}").unwrap(),
            ["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(expand_braces("x{y").unwrap(), ["x{y"]);
        assert_eq!(
            expand_braces("{a,b}{c,d}").unwrap(),
            ["ac", "ad", "bc", "bd"]
        );
        assert!(expand_braces(&"{a,b}".repeat(10)).is_none());
    }
}
