//! The shape docs/ARCHITECTURE.md promises, checked on the source itself: every table is written
//! from the one module that owns it, no SQL lives outside the core, and no source file grows past
//! the size where it starts doing two jobs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Each table and the module (a file, or a folder) that alone may write it. The migrations own
/// the schema and are exempt.
const OWNERS: &[(&str, &str)] = &[
    ("contacts", "contacts/"),
    ("contact_tags", "contacts/"),
    ("consent_events", "ledger/"),
    ("ledger_head", "ledger/"),
    ("inbox", "webhook/inbox.rs"),
    ("inbound_messages", "webhook/messages.rs"),
    ("message_statuses", "webhook/statuses.rs"),
    ("outbound_messages", "replies.rs"),
    ("review_queue", "optouts.rs"),
    ("suppressions", "suppression.rs"),
    ("settings", "settings.rs"),
    ("installation", "store/"),
    ("broadcasts", "broadcast/"),
    ("broadcast_recipients", "broadcast/"),
    ("broadcast_pauses", "broadcast/pauses.rs"),
    ("imports", "import/"),
    ("number_health", "health.rs"),
    ("rate_card", "pricing.rs"),
    ("rate_card_source", "pricing.rs"),
    ("receiver_uptime", "reachability/uptime.rs"),
    ("relay_state", "relay/state.rs"),
    ("signup_sources", "signup.rs"),
    ("templates", "templates/"),
    ("webhook_state", "reachability/state.rs"),
];

const WRITES: &[&str] = &[
    "insert into ",
    "insert or ignore into ",
    "insert or replace into ",
    "replace into ",
    "update ",
    "delete from ",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !matches!(
                name,
                "node_modules" | "target" | "dist" | "gen" | ".svelte-kit"
            ) {
                files(&p, ext, out);
            }
        } else if ext.iter().any(|x| name.ends_with(x)) {
            out.push(p);
        }
    }
}

/// The file without its unit tests (which set up rows by hand on purpose).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// (table, line) for every statement in `text` that writes a known table.
fn writes(text: &str) -> Vec<(String, usize)> {
    let tables: Vec<&str> = OWNERS.iter().map(|(t, _)| *t).collect();
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        for w in WRITES {
            let mut from = 0;
            while let Some(i) = lower[from..].find(w) {
                let start = from + i + w.len();
                let word: String = lower[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let boundary =
                    from + i == 0 || !lower.as_bytes()[from + i - 1].is_ascii_alphanumeric();
                if boundary && tables.contains(&word.as_str()) {
                    found.push((word, n + 1));
                }
                from = start;
            }
        }
    }
    found
}

#[test]
fn every_table_is_written_from_its_owner_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &[".rs"], &mut all);
    let owners: BTreeMap<&str, &str> = OWNERS.iter().copied().collect();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for path in &all {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "store/migrations.rs" {
            continue;
        }
        let text = fs::read_to_string(path).unwrap();
        for (table, line) in writes(without_tests(&text)) {
            seen += 1;
            let owner = owners[table.as_str()];
            let ok = if owner.ends_with('/') {
                rel.starts_with(owner)
            } else {
                rel == owner
            };
            if !ok {
                wrong.push(format!("{rel}:{line} writes {table}, which {owner} owns"));
            }
        }
    }
    // The scan finds the writes it is meant to (a broken scan would pass everything).
    assert!(seen > 50, "only {seen} writes found; is the scan broken?");
    assert!(
        wrong.is_empty(),
        "tables written outside their owner:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scan_sees_a_write_and_ignores_a_lookalike() {
    let found =
        writes("tx.execute(\"UPDATE contacts SET name = ?1\")\n// we update settings_view\n");
    assert_eq!(found, vec![("contacts".to_string(), 1)]);
    assert!(writes("x.execute(\"DELETE FROM inbox WHERE id = 1\")").len() == 1);
}

#[test]
fn no_sql_outside_the_core() {
    let root = root();
    let mut all = Vec::new();
    for dir in ["crates/cli/src", "src-tauri/src", "ui/src"] {
        files(&root.join(dir), &[".rs", ".ts", ".svelte"], &mut all);
    }
    assert!(!all.is_empty());
    let mut wrong = Vec::new();
    for path in &all {
        let text = fs::read_to_string(path).unwrap();
        let text = without_tests(&text);
        for (n, line) in text.lines().enumerate() {
            let literal = ["SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM"]
                .iter()
                .any(|k| line.contains(k) && line.contains('"'));
            let call = [
                ".conn()",
                ".execute(",
                "execute_batch(",
                ".query_row(",
                ".prepare(",
            ]
            .iter()
            .any(|k| line.contains(k));
            let sql = literal || call;
            if sql || line.contains("rusqlite") {
                wrong.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "SQL outside crates/core:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_source_file_past_six_hundred_lines() {
    let root = root();
    let mut all = Vec::new();
    for dir in ["crates", "src-tauri/src", "ui/src", "tests"] {
        files(&root.join(dir), &[".rs", ".ts", ".svelte"], &mut all);
    }
    let long: Vec<String> = all
        .iter()
        .filter_map(|p| {
            let n = fs::read_to_string(p).ok()?.lines().count();
            (n > 620).then(|| format!("{} has {n} lines", p.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these before adding more:\n{}",
        long.join("\n")
    );
}
