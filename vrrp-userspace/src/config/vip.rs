//! One line of `virtual_ipaddress` / `virtual_ipaddress_excluded`:
//! `<IPADDR>[/<MASK>] [brd <IPADDR>] [dev <STRING>] [scope <SCOPE>] [label <LABEL>] …`.

use std::net::{IpAddr, Ipv4Addr};

use super::{diagnostic::Diagnostics, tree::Node, value};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vip {
    pub addr: IpAddr,
    /// Defaults to the full length (/32, /128) as in keepalived.
    pub prefix: u8,
    /// Interface to add the address to; the instance's interface when unset.
    pub dev: Option<String>,
    pub label: Option<String>,
    pub brd: Option<Ipv4Addr>,
    /// rtnetlink scope (0 global, 200 site, 253 link, 254 host, 255 nowhere).
    pub scope: Option<u8>,
}

/// Options keepalived accepts that change nothing xvrrp implements; `true` when they take a
/// value.
const UNSUPPORTED: &[(&str, bool)] = &[
    ("home", false),
    ("-nodad", false),
    ("nodad", false),
    ("mngtmpaddr", false),
    ("noprefixroute", false),
    ("autojoin", false),
    ("no_track", false),
    ("use_vmac", false),
    ("peer", true),
    ("preferred_lft", true),
    ("track_group", true),
];

fn scope(text: &str) -> Option<u8> {
    match text {
        "global" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        _ => text.parse().ok(),
    }
}

impl Vip {
    /// `None` when the address itself is unusable (an error has been reported); a bad option
    /// is reported and the rest of the line still read.
    pub fn parse(node: &Node, diags: &mut Diagnostics) -> Option<Vip> {
        if node.block.is_some() {
            diags.error(
                node.pos(),
                format!("unexpected block after address '{}'", node.key.text),
            );
        }
        let (addr, prefix) = match value::parse_prefixed(&node.key.text) {
            Ok(parsed) => parsed,
            Err(e) => {
                diags.error(node.pos(), e);
                return None;
            }
        };
        let mut vip = Vip {
            addr,
            prefix,
            dev: None,
            label: None,
            brd: None,
            scope: None,
        };
        let mut ok = true;
        let mut words = node.args.iter();
        while let Some(word) = words.next() {
            let option = word.text.as_str();
            let takes_value = match option {
                "dev" | "label" | "brd" | "broadcast" | "scope" => true,
                _ => {
                    match UNSUPPORTED.iter().find(|(name, _)| *name == option) {
                        Some((_, takes_value)) => {
                            diags.warn(
                            &word.pos,
                            format!("address option '{option}' is a keepalived feature xvrrp does not implement; ignored"),
                        );
                            *takes_value
                        }
                        None => {
                            diags.warn(&word.pos, format!("Unknown configuration entry '{option}' for ip address - ignoring"));
                            false
                        }
                    }
                }
            };
            if !takes_value {
                continue;
            }
            let Some(arg) = words.next() else {
                diags.error(&word.pos, format!("'{option}' needs a value"));
                ok = false;
                continue;
            };
            match option {
                "dev" => vip.dev = Some(arg.text.clone()),
                "label" => vip.label = Some(arg.text.clone()),
                "brd" | "broadcast" => match arg.text.parse::<Ipv4Addr>() {
                    Ok(brd) if addr.is_ipv4() => vip.brd = Some(brd),
                    _ => {
                        diags.error(
                            &arg.pos,
                            format!("invalid broadcast address '{}' for {addr}", arg.text),
                        );
                        ok = false;
                    }
                },
                "scope" => match scope(&arg.text) {
                    Some(s) => vip.scope = Some(s),
                    None => {
                        diags.error(&arg.pos, format!("invalid scope '{}'", arg.text));
                        ok = false;
                    }
                },
                _ => {}
            }
        }
        ok.then_some(vip)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{lexer::lex, tree::parse};

    fn vips(text: &str) -> (Vec<Option<Vip>>, Diagnostics) {
        let mut d = Diagnostics::default();
        let nodes = parse(&lex(Path::new("v.conf"), text, &mut d), &mut d);
        (nodes.iter().map(|n| Vip::parse(n, &mut d)).collect(), d)
    }

    #[test]
    fn every_option() {
        let (v, d) = vips(
            "192.0.2.10/24 brd 192.0.2.255 dev eth0 scope link label eth0:1\n2001:db8::1/64 dev eth1 scope 200\n192.0.2.11\n",
        );
        assert!(d.is_empty(), "{d}");
        assert_eq!(
            v[0],
            Some(Vip {
                addr: "192.0.2.10".parse().unwrap(),
                prefix: 24,
                dev: Some("eth0".into()),
                label: Some("eth0:1".into()),
                brd: Some("192.0.2.255".parse().unwrap()),
                scope: Some(253),
            })
        );
        let v6 = v[1].as_ref().unwrap();
        assert_eq!(
            (v6.addr, v6.prefix, v6.scope),
            ("2001:db8::1".parse().unwrap(), 64, Some(200))
        );
        assert_eq!(v[2].as_ref().unwrap().prefix, 32);
    }

    #[test]
    fn bad_addresses_and_options() {
        let (v, d) = vips(
            "192.0.2.300\n192.0.2.1/40\n192.0.2.2 scope galaxy\n2001:db8::2 brd 192.0.2.255\n192.0.2.3 dev\n\
             192.0.2.4 noprefixroute peer 192.0.2.9 frobnicate\n",
        );
        assert_eq!(v.iter().filter(|v| v.is_some()).count(), 1);
        assert_eq!(
            d.to_string(),
            "v.conf:1:1: error: invalid IP address '192.0.2.300'\n\
             v.conf:2:1: error: invalid prefix length '/40' for 192.0.2.1 (must be 0..=32)\n\
             v.conf:3:17: error: invalid scope 'galaxy'\n\
             v.conf:4:17: error: invalid broadcast address '192.0.2.255' for 2001:db8::2\n\
             v.conf:5:11: error: 'dev' needs a value\n\
             v.conf:6:11: warning: address option 'noprefixroute' is a keepalived feature xvrrp does not implement; ignored\n\
             v.conf:6:25: warning: address option 'peer' is a keepalived feature xvrrp does not implement; ignored\n\
             v.conf:6:40: warning: Unknown configuration entry 'frobnicate' for ip address - ignoring\n"
        );
    }
}
