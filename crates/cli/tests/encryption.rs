//! Encryption at rest: the file, its backups and its key, as an owner (or a thief) meets them.

mod support;

use std::process::Command;

use support::Cli;

const NAME: &str = "Ana Lopez-Secret";

fn plain_sqlite3(file: &std::path::Path) -> std::process::Output {
    Command::new("sqlite3")
        .arg(file)
        .arg("SELECT count(*) FROM contacts;")
        .output()
        .expect("the sqlite3 tool (scripts/test installs it)")
}

#[test]
fn the_file_and_its_backups_reveal_nothing_without_the_key() {
    let cli = Cli::new();
    cli.ok(&["contacts", "add", "+447911123456", "--name", NAME]);

    for file in [cli.db(), {
        let backup = cli.dir.path().join("monday.optdesk");
        cli.ok(&["backup", backup.to_str().unwrap()]);
        backup
    }] {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(NAME.len()).any(|w| w == NAME.as_bytes()));
        assert!(!bytes.windows(12).any(|w| w == b"447911123456"));
        let o = plain_sqlite3(&file);
        assert!(!o.status.success(), "sqlite3 read {}", file.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not a database"), "{err}");
    }

    // The recovery code is the key: on another machine (no keyring), it opens the file.
    let code = cli.ok(&["key", "export"]);
    assert_eq!(code.trim(), cli.key().recovery_code());
    let elsewhere = Command::new(env!("CARGO_BIN_EXE_optdesk"))
        .args(["contacts", "list", "--json"])
        .env("OPTDESK_DB", cli.db())
        .env("OPTDESK_DB_KEY", code.trim())
        .env("HOME", cli.dir.path())
        .env("XDG_DATA_HOME", cli.dir.path())
        .output()
        .unwrap();
    assert!(elsewhere.status.success());
    assert!(String::from_utf8_lossy(&elsewhere.stdout).contains(NAME));

    // A wrong key is refused with a sentence, and the file is untouched.
    let before = std::fs::read(cli.db()).unwrap();
    let wrong = Command::new(env!("CARGO_BIN_EXE_optdesk"))
        .args(["contacts", "list"])
        .env("OPTDESK_DB", cli.db())
        .env("OPTDESK_DB_KEY", "ab".repeat(32))
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("encrypted with another key"), "{err}");
    assert_eq!(std::fs::read(cli.db()).unwrap(), before);
    let bad = cli
        .cmd(&["contacts", "list"])
        .env("OPTDESK_DB_KEY", "not-a-key")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("64 hexadecimal digits"));
}

#[test]
fn a_database_from_before_encryption_is_encrypted_in_place_without_loss() {
    let cli = Cli::new();
    cli.ok(&["contacts", "add", "+447911123456", "--name", NAME]);
    cli.ok(&[
        "consent",
        "set",
        "+447911123456",
        "--topic",
        "marketing",
        "--state",
        "opted_in",
        "--source",
        "in store",
        "--proof",
        "Signed the form at the till",
    ]);
    // Make the plain file an older OptDesk would have left: decrypt it with SQLCipher's export.
    let plain = cli.dir.path().join("plain.sqlite3");
    let conn = cli.conn();
    conn.execute(
        "ATTACH DATABASE ?1 AS plain KEY ''",
        [plain.to_str().unwrap()],
    )
    .unwrap();
    conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))
        .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(&format!(
        "PRAGMA plain.user_version = {version}; DETACH DATABASE plain;"
    ))
    .unwrap();
    drop(conn);
    assert!(plain_sqlite3(&plain).status.success(), "the copy is plain");
    std::fs::rename(&plain, cli.db()).unwrap();
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", cli.db().display()));
    }

    let shown = cli.ok(&["contacts", "show", "+447911123456"]);
    assert!(
        shown.contains(NAME) && shown.contains("Signed the form at the till"),
        "{shown}"
    );
    assert!(cli.ok(&["consent", "verify"]).contains("intact: 1 events"));
    assert!(!plain_sqlite3(&cli.db()).status.success(), "encrypted now");
}

/// Needs a running Secret Service (`scripts/test` starts gnome-keyring under dbus-run-session).
#[test]
#[ignore = "needs a Secret Service; scripts/test runs it with one"]
fn without_optdesk_db_key_the_key_is_made_once_in_the_keyring() {
    let cli = Cli::new();
    let run = |args: &[&str]| {
        let o = cli.cmd(args).env_remove("OPTDESK_DB_KEY").output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&["contacts", "add", "+447911123456", "--name", NAME]);
    assert!(run(&["contacts", "list"]).contains(NAME));
    let code = run(&["key", "export"]);
    let key = optdesk_core::store::DbKey::parse(&code).unwrap();
    let store = optdesk_core::Store::open(cli.db(), &key).unwrap();
    assert_eq!(
        optdesk_core::contacts::list(store.conn(), &Default::default())
            .unwrap()
            .len(),
        1
    );
    assert!(!plain_sqlite3(&cli.db()).status.success());
}
