//! The operator's documents agree with each other and with the code: the table of
//! `docs/configuration.md`, `.env.example`, and the variables `src/` reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The configuration table: variable → default cell (one row may name several).
fn config_table() -> BTreeMap<String, String> {
    let page = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let mut vars = BTreeMap::new();
    for line in page.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        for name in cells[1].split(',') {
            vars.insert(
                name.trim().trim_matches('`').to_string(),
                cells[2].to_string(),
            );
        }
    }
    vars
}

/// `.env.example`: variable → value, commented-out lines (`# NAME=value`) included.
fn env_example() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join(".env.example")).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.strip_prefix("# ").unwrap_or(l);
            let (name, value) = l.split_once('=')?;
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_name.then(|| {
                let value = value.split("  #").next().unwrap_or(value).trim();
                (name.to_string(), value.to_string())
            })
        })
        .collect()
}

/// String literals in `src/` that look like this service's variables.
fn variables_in_src() -> BTreeSet<String> {
    const PREFIXES: &[&str] = &[
        "LISTEN_",
        "WEBHOOK_",
        "AMQP_",
        "QUEUE_",
        "RECEIVER_",
        "WORKER_",
        "RETRY_",
        "RECHECK_",
        "CXONE_",
        "SLACK_",
        "TEAMS_",
        "NOTIFY_",
        "REQUIRED_",
        "SCAN_",
        "METRICS_",
        "LOG_",
    ];
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for literal in text.split('"').skip(1).step_by(2) {
                    let env_like = literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    if env_like && PREFIXES.iter().any(|p| literal.starts_with(p)) {
                        out.insert(literal.to_string());
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&root().join("src"), &mut out);
    out
}

#[test]
fn the_configuration_page_and_env_example_list_the_same_variables() {
    let table: BTreeSet<String> = config_table().into_keys().collect();
    let example: BTreeSet<String> = env_example().into_keys().collect();
    assert!(table.len() > 30, "table not found: {table:?}");
    assert_eq!(
        table.difference(&example).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in docs/configuration.md's table but not in .env.example"
    );
    assert_eq!(
        example.difference(&table).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in .env.example but not in docs/configuration.md's table"
    );
}

#[test]
fn every_variable_the_code_reads_is_documented_and_every_documented_one_is_read() {
    let table: BTreeSet<String> = config_table().into_keys().collect();
    let src = variables_in_src();
    assert_eq!(
        src.difference(&table).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "read in src/ but missing from docs/configuration.md's table"
    );
    // RUST_LOG is read by tracing's EnvFilter, not by name in src/.
    let documented_only: Vec<&String> = table
        .difference(&src)
        .filter(|v| *v != "RUST_LOG")
        .collect();
    assert_eq!(
        documented_only,
        Vec::<&String>::new(),
        "documented but never read in src/"
    );
}

#[test]
fn env_example_shows_the_documented_default_wherever_the_page_gives_one() {
    let example = env_example();
    for (name, default) in config_table() {
        // Only a default that is one literal value (`300`), not a sentence or "unset".
        let literal = default.strip_prefix('`').and_then(|d| d.strip_suffix('`'));
        let Some(literal) = literal.filter(|d| !d.contains('`')) else {
            continue;
        };
        assert_eq!(
            example.get(&name).map(String::as_str),
            Some(literal),
            "{name}: docs/configuration.md's default is `{literal}`"
        );
    }
}

/// The relative links of a markdown file (`[text](path)`, anchors dropped).
fn relative_links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|link| link.split('#').next().unwrap_or(link).to_string())
        .filter(|link| !link.is_empty() && !link.contains("://") && !link.starts_with("mailto:"))
        .collect()
}

#[test]
fn the_readme_stays_short_and_links_every_page_of_docs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.len() <= 12 * 1024,
        "README.md has {} bytes: keep it a five-minute read (at most 12 KB) and move depth to docs/",
        readme.len()
    );
    let links: BTreeSet<String> = relative_links(&readme).into_iter().collect();
    let mut pages: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| format!("docs/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".md"))
        .collect();
    pages.push("bench/README.md".into());
    for page in pages {
        assert!(links.contains(&page), "README.md does not link {page}");
    }
}

#[test]
fn every_relative_link_of_the_docs_points_at_a_file_that_exists() {
    let mut documents = vec![root().join("README.md"), root().join("bench/README.md")];
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        documents.push(e.unwrap().path());
    }
    for doc in documents {
        let text = std::fs::read_to_string(&doc).unwrap();
        let dir = doc.parent().unwrap();
        for link in relative_links(&text) {
            assert!(
                dir.join(&link).exists(),
                "{}: the link {link} points at nothing",
                doc.display()
            );
        }
    }
}
