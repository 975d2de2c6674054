//! A command line split into words the way keepalived splits `script` / `notify*` commands
//! (parser.c, `alloc_strvec_quoted_escaped`), so that the same text yields the same argv.
//!
//! Unlike a shell, keepalived expands backslash escapes inside single quotes too, and knows
//! no variables, globbing or redirections: the words go straight to execve. Escapes produce
//! bytes (`\xff` is the byte 0xff), hence `OsString` words.

use std::{ffi::OsString, fmt, iter::Peekable, os::unix::ffi::OsStringExt, slice::Iter};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitError {
    UnmatchedQuote(char),
    TrailingBackslash,
    Empty,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::UnmatchedQuote(q) => write!(f, "missing terminating {q}"),
            SplitError::TrailingBackslash => f.write_str("missing escape char at end"),
            SplitError::Empty => f.write_str("empty command"),
        }
    }
}

impl std::error::Error for SplitError {}

type Bytes<'a> = Peekable<Iter<'a, u8>>;

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The words of `line`: blanks separate words outside quotes, `'` and `"` group, and `\`
/// escapes (C escapes, `\xHH`, `\cX`, octal) apply everywhere, inside quotes too.
pub fn split(line: &str) -> Result<Vec<OsString>, SplitError> {
    let mut words = Vec::new();
    let mut bytes = line.as_bytes().iter().peekable();
    loop {
        while bytes.next_if(|&&b| is_blank(b)).is_some() {}
        if bytes.peek().is_none() {
            break;
        }
        let mut word = Vec::new();
        let mut quote = None;
        while let Some(&&b) = bytes.peek() {
            match (b, quote) {
                (b'\\', _) => {
                    bytes.next();
                    word.push(escape(&mut bytes)?);
                }
                (b, Some(q)) if b == q => {
                    bytes.next();
                    quote = None;
                }
                (b'\'' | b'"', None) => {
                    bytes.next();
                    quote = Some(b);
                }
                (b, None) if is_blank(b) => break,
                (b, _) => {
                    bytes.next();
                    word.push(b);
                }
            }
        }
        if let Some(q) = quote {
            return Err(SplitError::UnmatchedQuote(char::from(q)));
        }
        words.push(OsString::from_vec(word));
    }
    if words.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(words)
}

/// The byte a backslash sequence stands for, with the sequence consumed.
fn escape(bytes: &mut Bytes<'_>) -> Result<u8, SplitError> {
    let b = *bytes.next().ok_or(SplitError::TrailingBackslash)?;
    Ok(match b {
        // keepalived shifts every digit into one char, so only the last two count.
        b'x' if bytes.peek().is_some_and(|b| b.is_ascii_hexdigit()) => {
            digits(bytes, 16, usize::MAX).0 as u8
        }
        b'c' if bytes.peek().is_some() => bytes.next().map_or(0, |b| b & 0x1f),
        b'0'..=b'7' => {
            let (rest, n) = digits(bytes, 8, 2);
            ((u32::from(b - b'0') << (3 * n)) | rest) as u8
        }
        b'a' => 0x07,
        b'b' => 0x08,
        b'E' => 0x1b,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        other => other,
    })
}

/// Up to `max` digits in `radix` (their value modulo 2^32), and how many there were.
fn digits(bytes: &mut Bytes<'_>, radix: u32, max: usize) -> (u32, u32) {
    let mut value = 0u32;
    let mut n = 0;
    while (n as usize) < max {
        let Some(d) = bytes.peek().and_then(|&&b| char::from(b).to_digit(radix)) else {
            break;
        };
        bytes.next();
        value = value.wrapping_mul(radix).wrapping_add(d);
        n += 1;
    }
    (value, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<u8>> {
        split(line)
            .unwrap()
            .into_iter()
            .map(OsString::into_vec)
            .collect()
    }

    #[test]
    fn blanks_separate_and_quotes_group() {
        assert_eq!(
            words("  /bin/check\t192.0.2.1  'a b' \"c  d\"e f'g'h "),
            [&b"/bin/check"[..], b"192.0.2.1", b"a b", b"c  de", b"fgh"]
        );
        assert_eq!(words("x '' \"\""), [&b"x"[..], b"", b""]);
        assert_eq!(
            words("say \"it's\" 'a \"b\"'"),
            [&b"say"[..], b"it's", b"a \"b\""]
        );
    }

    #[test]
    fn shell_syntax_is_literal() {
        assert_eq!(
            words("/bin/echo $HOME `id` ; rm -rf / | cat > x && *"),
            [
                &b"/bin/echo"[..],
                b"$HOME",
                b"`id`",
                b";",
                b"rm",
                b"-rf",
                b"/",
                b"|",
                b"cat",
                b">",
                b"x",
                b"&&",
                b"*"
            ]
        );
    }

    #[test]
    fn escapes_apply_inside_quotes_too() {
        assert_eq!(words(r"a\ b"), [b"a b"]);
        assert_eq!(words(r"'a\'b' "), [b"a'b"]);
        assert_eq!(words(r#""\"q\"""#), [b"\"q\""]);
        assert_eq!(
            words(r"\a\b\E\f\n\r\t\v\\\q"),
            [b"\x07\x08\x1b\x0c\n\r\t\x0b\\q"]
        );
        assert_eq!(words(r"\x41\x4a4b\xz"), [b"AKxz"]);
        assert_eq!(words(r"\101\0\08\1234"), [b"A\x00\x008S4"]);
        assert_eq!(words(r"\cA\c?"), [b"\x01\x1f"]);
        assert_eq!(words(r"\xff"), [b"\xff"]);
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(split("a 'b"), Err(SplitError::UnmatchedQuote('\'')));
        assert_eq!(split("a \"b"), Err(SplitError::UnmatchedQuote('"')));
        assert_eq!(split("a\\"), Err(SplitError::TrailingBackslash));
        assert_eq!(split(" \t "), Err(SplitError::Empty));
    }
}
