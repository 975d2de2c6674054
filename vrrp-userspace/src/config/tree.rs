//! Tokens grouped into statements and blocks: `keyword args… [{ statements… }]`.
//!
//! The same shape serves keyword blocks (`vrrp_instance`) and value lists (`virtual_ipaddress`,
//! whose items are addresses with options), so the block modules decide what a statement means.

use super::{
    diagnostic::{Diagnostics, Pos},
    lexer::{Kind, Token},
};

/// keepalived's own blocks nest three deep (`vrrp_instance` / `authentication`); anything far
/// deeper is garbage, and bounding it keeps the recursion from exhausting the stack.
const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub key: Token,
    pub args: Vec<Token>,
    /// Present when the statement opened a block, on its own line or the next one.
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn pos(&self) -> &Pos {
        &self.key.pos
    }
}

pub fn parse(tokens: &[Token], diags: &mut Diagnostics) -> Vec<Node> {
    let mut parser = Parser {
        tokens,
        at: 0,
        diags,
    };
    parser.items(0)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    diags: &'a mut Diagnostics,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.at)
    }

    /// Statements until the `}` closing this level (consumed) or the end of input.
    fn items(&mut self, depth: usize) -> Vec<Node> {
        let mut nodes = Vec::new();
        while let Some(tok) = self.peek() {
            match tok.kind {
                Kind::EndOfLine => self.at += 1,
                Kind::Close if depth > 0 => {
                    self.at += 1;
                    return nodes;
                }
                Kind::Close => {
                    self.diags
                        .error(&tok.pos, "unexpected '}' with no block open");
                    self.at += 1;
                }
                Kind::Open => {
                    self.diags
                        .error(&tok.pos, "unexpected '{' with no keyword before it");
                    let open = tok.clone();
                    self.at += 1;
                    self.block(&open, depth);
                }
                Kind::Word | Kind::Quoted => nodes.push(self.statement(depth)),
            }
        }
        nodes
    }

    fn statement(&mut self, depth: usize) -> Node {
        let key = self.tokens[self.at].clone();
        self.at += 1;
        let mut args = Vec::new();
        while let Some(tok) = self.peek().filter(|t| t.is_value()) {
            args.push(tok.clone());
            self.at += 1;
        }
        let mut look = self.at;
        while self
            .tokens
            .get(look)
            .is_some_and(|t| t.kind == Kind::EndOfLine)
        {
            look += 1;
        }
        let block = match self.tokens.get(look) {
            Some(open) if open.kind == Kind::Open => {
                let open = open.clone();
                self.at = look + 1;
                Some(self.block(&open, depth))
            }
            _ => None,
        };
        Node { key, args, block }
    }

    fn block(&mut self, open: &Token, depth: usize) -> Vec<Node> {
        if depth + 1 >= MAX_DEPTH {
            self.diags.error(&open.pos, "blocks nested too deeply");
            self.skip_block();
            return Vec::new();
        }
        let start = self.at;
        let items = self.items(depth + 1);
        let closed = self.at > start && self.tokens[self.at - 1].kind == Kind::Close;
        if !closed {
            self.diags.error(&open.pos, "missing '}' for this '{'");
        }
        items
    }

    fn skip_block(&mut self) {
        let mut level = 1usize;
        while let Some(tok) = self.peek() {
            self.at += 1;
            match tok.kind {
                Kind::Open => level += 1,
                Kind::Close if level == 1 => return,
                Kind::Close => level -= 1,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::lexer::lex;

    fn tree(text: &str) -> (Vec<Node>, Diagnostics) {
        let mut d = Diagnostics::default();
        let toks = lex(Path::new("t.conf"), text, &mut d);
        (parse(&toks, &mut d), d)
    }

    fn keys(nodes: &[Node]) -> Vec<&str> {
        nodes.iter().map(|n| n.key.text.as_str()).collect()
    }

    #[test]
    fn statements_blocks_and_args() {
        let (n, d) = tree("a 1 2\nb {\n  c 3\n  d\n}\ne\n");
        assert!(d.is_empty(), "{d}");
        assert_eq!(keys(&n), ["a", "b", "e"]);
        assert_eq!(n[0].args.len(), 2);
        assert!(n[0].block.is_none());
        assert_eq!(keys(n[1].block.as_ref().unwrap()), ["c", "d"]);
    }

    #[test]
    fn brace_on_the_next_line_opens_the_block() {
        let (n, d) = tree("vrrp_script chk\n\n{\n  script x\n}\n");
        assert!(d.is_empty(), "{d}");
        assert_eq!(keys(&n), ["vrrp_script"]);
        assert_eq!(keys(n[0].block.as_ref().unwrap()), ["script"]);
    }

    #[test]
    fn one_line_blocks_and_nested_blocks() {
        let (n, d) = tree("i { v { 192.0.2.1 192.0.2.2 }\n a { t PASS } }\n");
        assert!(d.is_empty(), "{d}");
        let inner = n[0].block.as_ref().unwrap();
        assert_eq!(keys(inner), ["v", "a"]);
        assert_eq!(keys(inner[0].block.as_ref().unwrap()), ["192.0.2.1"]);
        assert_eq!(
            inner[0].block.as_ref().unwrap()[0].args[0].text,
            "192.0.2.2"
        );
    }

    #[test]
    fn unbalanced_braces_are_errors_at_their_position() {
        let (_, d) = tree("a {\n  b {\n}\n");
        assert_eq!(
            d.to_string(),
            "t.conf:1:3: error: missing '}' for this '{'\n"
        );
        let (_, d) = tree("a\n}\n");
        assert_eq!(
            d.to_string(),
            "t.conf:2:1: error: unexpected '}' with no block open\n"
        );
        let (n, d) = tree("a\nb\n  {\n}\n");
        assert!(d.is_empty());
        assert!(n[1].block.is_some());
        let (_, d) = tree("{ x }\n");
        assert_eq!(
            d.to_string(),
            "t.conf:1:1: error: unexpected '{' with no keyword before it\n"
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "a {".repeat(100) + &"}".repeat(100);
        let (_, d) = tree(&text);
        assert_eq!(d.errors().count(), 1);
        assert!(d.to_string().contains("blocks nested too deeply"));
    }
}
