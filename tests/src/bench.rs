//! What every bench target takes from `cargo xtask bench`: `--json`, `--out DIR`, and options
//! of its own (`--name VALUE`); `--bench`, which cargo passes to every bench target, is ignored.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{Context as _, bail};

pub struct BenchArgs {
    /// One JSON document on stdout instead of a table.
    pub json: bool,
    /// Where plots and reports go.
    pub out: PathBuf,
    options: BTreeMap<String, String>,
}

impl BenchArgs {
    /// Parses the process's arguments; `own` names the options (without `--`) this bench takes.
    pub fn parse(own: &[&str]) -> anyhow::Result<Self> {
        let mut parsed = BenchArgs {
            json: false,
            // cargo runs benches from the package's directory: the workspace's target dir,
            // not one of its own.
            out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench")),
            options: BTreeMap::new(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--json" => parsed.json = true,
                "--bench" => {}
                "--out" => parsed.out = args.next().context("--out DIR")?.into(),
                other => match other.strip_prefix("--").filter(|o| own.contains(o)) {
                    Some(name) => {
                        let value = args.next().with_context(|| format!("--{name} VALUE"))?;
                        parsed.options.insert(name.to_owned(), value);
                    }
                    None => bail!(
                        "unknown argument {other:?} (expected --json, --out DIR{})",
                        own.iter()
                            .map(|o| format!(", --{o} VALUE"))
                            .collect::<String>()
                    ),
                },
            }
        }
        std::fs::create_dir_all(&parsed.out)
            .with_context(|| format!("creating {}", parsed.out.display()))?;
        Ok(parsed)
    }

    /// The value of `--name`, parsed, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> anyhow::Result<T> {
        match self.options.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("--{name}: cannot parse {v:?}")),
            None => Ok(default),
        }
    }
}
