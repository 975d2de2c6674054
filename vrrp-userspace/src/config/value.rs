//! Reading one statement's value: numbers, seconds, names, flags and blocks, with the error
//! pointing at the offending token.

use std::{net::IpAddr, time::Duration};

use super::{diagnostic::Diagnostics, lexer::Token, tree::Node};
use crate::time::Centisecs;

pub const MICROS_PER_SEC: u64 = 1_000_000;
pub const MICROS_PER_CENTI: u64 = 10_000;

/// The statement's only value. Missing is an error; extra words are ignored by keepalived, so
/// they only warn.
pub fn value<'a>(node: &'a Node, diags: &mut Diagnostics) -> Option<&'a Token> {
    no_block(node, diags);
    let Some(first) = node.args.first() else {
        diags.error(node.pos(), format!("'{}' needs a value", node.key.text));
        return None;
    };
    if let Some(extra) = node.args.get(1) {
        diags.warn(
            &extra.pos,
            format!("extra arguments after '{}' ignored", node.key.text),
        );
    }
    Some(first)
}

/// A keyword that stands alone (`nopreempt`).
pub fn flag(node: &Node, diags: &mut Diagnostics) {
    no_block(node, diags);
    if let Some(extra) = node.args.first() {
        diags.warn(
            &extra.pos,
            format!(
                "'{}' takes no value; ignored '{}'",
                node.key.text, extra.text
            ),
        );
    }
}

fn no_block(node: &Node, diags: &mut Diagnostics) {
    if node.block.is_some() {
        diags.error(
            node.pos(),
            format!("'{}' does not take a block", node.key.text),
        );
    }
}

/// The statements inside `keyword { … }`.
pub fn block<'a>(node: &'a Node, diags: &mut Diagnostics) -> Option<&'a [Node]> {
    match &node.block {
        Some(items) => Some(items),
        None => {
            diags.error(
                node.pos(),
                format!("'{}' needs a {{ }} block", node.key.text),
            );
            None
        }
    }
}

/// The name after a named block keyword (`vrrp_instance VI_1 {`).
pub fn block_name<'a>(node: &'a Node, diags: &mut Diagnostics) -> Option<&'a Token> {
    match node.args.as_slice() {
        [name] => Some(name),
        [] => {
            diags.error(node.pos(), format!("{} must have a name", node.key.text));
            None
        }
        [_, extra, ..] => {
            diags.error(
                &extra.pos,
                format!("{} must have a single name", node.key.text),
            );
            None
        }
    }
}

pub fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// An integer in `min..=max`, else an error in keepalived's words.
pub fn int(tok: &Token, keyword: &str, min: i64, max: i64, diags: &mut Diagnostics) -> Option<i64> {
    match parse_int(&tok.text) {
        Some(n) if (min..=max).contains(&n) => Some(n),
        Some(_) => {
            diags.error(
                &tok.pos,
                format!("{keyword} '{}' outside range [{min}, {max}]", tok.text),
            );
            None
        }
        None => {
            diags.error(
                &tok.pos,
                format!("invalid number '{}' for {keyword}", tok.text),
            );
            None
        }
    }
}

/// Non-negative decimal seconds (`1`, `0.5`, `.25`) in microseconds, exactly: keepalived keeps
/// intervals in microseconds, and going through `f64` would round 0.29 s to 289999 µs.
pub fn parse_micros(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 6 {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_us: u64 = format!("{frac:0<6}").parse().ok()?;
    whole.checked_mul(MICROS_PER_SEC)?.checked_add(frac_us)
}

/// Seconds in `min_us..=max_us`, in microseconds.
pub fn micros(
    tok: &Token,
    keyword: &str,
    min_us: u64,
    max_us: u64,
    diags: &mut Diagnostics,
) -> Option<u64> {
    match parse_micros(&tok.text) {
        Some(us) if (min_us..=max_us).contains(&us) => Some(us),
        Some(_) => {
            diags.error(
                &tok.pos,
                format!(
                    "{keyword} '{}' outside range [{}, {}]",
                    tok.text,
                    fmt_secs(min_us),
                    fmt_secs(max_us)
                ),
            );
            None
        }
        None => {
            diags.error(
                &tok.pos,
                format!("invalid number of seconds '{}' for {keyword}", tok.text),
            );
            None
        }
    }
}

/// Seconds as an operator would write them: `1`, `0.5`, `0.000001`.
pub fn fmt_secs(us: u64) -> String {
    let frac = us % MICROS_PER_SEC;
    if frac == 0 {
        return (us / MICROS_PER_SEC).to_string();
    }
    let frac = format!("{frac:06}");
    format!("{}.{}", us / MICROS_PER_SEC, frac.trim_end_matches('0'))
}

/// Microseconds to centiseconds, half up, as keepalived rounds intervals.
pub fn centis(us: u64) -> Centisecs {
    Centisecs(u32::try_from((us + MICROS_PER_CENTI / 2) / MICROS_PER_CENTI).unwrap_or(u32::MAX))
}

pub fn duration(us: u64) -> Duration {
    Duration::from_micros(us)
}

/// `addr` or `addr/prefix`; the prefix defaults to the full length of the family.
pub fn parse_prefixed(text: &str) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("invalid IP address '{addr}'"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match parse_int(p) {
            Some(n) if (0..=i64::from(max)).contains(&n) && !p.starts_with(['-', '+']) => n as u8,
            _ => {
                return Err(format!(
                    "invalid prefix length '/{p}' for {addr} (must be 0..={max})"
                ));
            }
        },
    };
    Ok((addr, prefix))
}

/// A keyword with an optional on|off|true|false|yes|no (bare means on).
pub fn bool_word(node: &Node, diags: &mut Diagnostics) -> Option<bool> {
    if node.args.is_empty() {
        flag(node, diags);
        return Some(true);
    }
    let tok = value(node, diags)?;
    match tok.text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => {
            diags.error(
                &tok.pos,
                format!(
                    "invalid {} '{}' (expected on|off|true|false|yes|no)",
                    node.key.text, tok.text
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact() {
        assert_eq!(parse_micros("1"), Some(1_000_000));
        assert_eq!(parse_micros("0.29"), Some(290_000));
        assert_eq!(parse_micros(".5"), Some(500_000));
        assert_eq!(parse_micros("0.000001"), Some(1));
        assert_eq!(parse_micros("1."), Some(1_000_000));
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000001",
            "1.2.3",
            "x",
            "99999999999999999999",
        ] {
            assert_eq!(parse_micros(bad), None, "{bad}");
        }
        assert_eq!(fmt_secs(1), "0.000001");
        assert_eq!(fmt_secs(2_500_000), "2.5");
        assert_eq!(fmt_secs(255_000_000), "255");
        assert_eq!(centis(1_234_000), Centisecs(123));
        assert_eq!(centis(1_235_000), Centisecs(124));
    }

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("+5"), Some(5));
        for bad in ["", "-", "1.0", "0x10", "5a", " 5"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixed_addresses() {
        assert_eq!(
            parse_prefixed("192.0.2.1"),
            Ok(("192.0.2.1".parse().unwrap(), 32))
        );
        assert_eq!(
            parse_prefixed("192.0.2.1/24"),
            Ok(("192.0.2.1".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_prefixed("2001:db8::1/64"),
            Ok(("2001:db8::1".parse().unwrap(), 64))
        );
        assert_eq!(
            parse_prefixed("2001:db8::1"),
            Ok(("2001:db8::1".parse().unwrap(), 128))
        );
        assert_eq!(
            parse_prefixed("192.0.2.300"),
            Err("invalid IP address '192.0.2.300'".into())
        );
        assert_eq!(
            parse_prefixed("192.0.2.1/33"),
            Err("invalid prefix length '/33' for 192.0.2.1 (must be 0..=32)".into())
        );
        assert!(parse_prefixed("192.0.2.1/").is_err());
        assert!(parse_prefixed("192.0.2.1/+8").is_err());
    }
}
