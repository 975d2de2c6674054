//! `track_script`, `track_interface` and `track_file` lists inside an instance:
//! `NAME [weight N [reverse|noreverse]]` per line.

use super::{
    diagnostic::Diagnostics,
    lexer::Token,
    script::{self},
    tree::Node,
    value,
};

/// One tracked object and how its state moves the instance's priority; weight 0 means "FAULT
/// while down".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
}

/// A list entry before names are resolved: the weight is only known once the referenced
/// `vrrp_script` / track file is.
#[derive(Clone, Debug)]
pub struct TrackRef {
    pub name: Token,
    pub weight: Option<(i32, bool)>,
}

pub fn parse_list(node: &Node, range: (i64, i64), diags: &mut Diagnostics) -> Vec<TrackRef> {
    let Some(items) = value::block(node, diags) else {
        return Vec::new();
    };
    if let Some(extra) = node.args.first() {
        diags.warn(
            &extra.pos,
            format!("extra arguments after '{}' ignored", node.key.text),
        );
    }
    let mut refs = Vec::new();
    for item in items {
        if item.block.is_some() {
            diags.error(
                item.pos(),
                format!("unexpected block in '{}'", node.key.text),
            );
            continue;
        }
        let weight = match item.args.split_first() {
            None => None,
            Some((word, rest)) if word.text == "weight" => {
                match script::weight(item, rest, range, diags) {
                    Some(w) => Some(w),
                    None => continue,
                }
            }
            Some((word, _)) => {
                diags.error(
                    &word.pos,
                    format!(
                        "unexpected '{}' after {} (expected weight)",
                        word.text, item.key.text
                    ),
                );
                continue;
            }
        };
        refs.push(TrackRef {
            name: item.key.clone(),
            weight,
        });
    }
    refs
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{lexer::lex, tree::parse};

    #[test]
    fn names_with_optional_weights() {
        let mut d = Diagnostics::default();
        let nodes = parse(
            &lex(
                Path::new("t.conf"),
                "track_script {\n a\n b weight 10\n c weight -3 reverse\n d weight 999\n e heavy\n f weight\n}\n",
                &mut d,
            ),
            &mut d,
        );
        let refs = parse_list(&nodes[0], script::SCRIPT_WEIGHT, &mut d);
        let got: Vec<_> = refs
            .iter()
            .map(|r| (r.name.text.as_str(), r.weight))
            .collect();
        assert_eq!(
            got,
            [
                ("a", None),
                ("b", Some((10, false))),
                ("c", Some((-3, true)))
            ]
        );
        assert_eq!(
            d.to_string(),
            "t.conf:5:11: error: weight '999' outside range [-253, 253]\n\
             t.conf:6:4: error: unexpected 'heavy' after e (expected weight)\n\
             t.conf:7:2: error: 'f' needs a weight\n"
        );
    }
}
