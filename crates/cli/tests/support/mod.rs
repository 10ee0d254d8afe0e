//! What every CLI suite shares: the real `optdesk` binary on a temporary database, with the
//! environment each suite gives it, and helpers that say what went wrong when a command fails.
#![allow(dead_code)]

pub mod broadcasts;
pub mod receiver;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

pub struct Cli {
    pub dir: tempfile::TempDir,
    env: Vec<(String, OsString)>,
    key: optdesk_core::store::DbKey,
}

impl Cli {
    /// A fresh database in a temporary folder; HOME and XDG_DATA_HOME point there too, so a test
    /// can never touch the real per-user database.
    pub fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let mut cli = Cli {
            dir,
            env: Vec::new(),
            key: optdesk_core::store::DbKey::generate().unwrap(),
        };
        let home: OsString = cli.dir.path().into();
        cli.env.push(("HOME".into(), home.clone()));
        cli.env.push(("XDG_DATA_HOME".into(), home));
        cli.env.push(("OPTDESK_DB".into(), cli.db().into()));
        // As on a server: the key from the environment (the keyring's part is tested on its own).
        let key = cli.key.recovery_code();
        cli.env.push(("OPTDESK_DB_KEY".into(), key.into()));
        cli
    }

    /// Another fresh database on the same machine: same key (as the keyring would give it).
    pub fn same_machine(&self) -> Cli {
        let mut cli = Cli::new();
        cli.key = self.key.clone();
        cli.env.retain(|(k, _)| k != "OPTDESK_DB_KEY");
        cli.env
            .push(("OPTDESK_DB_KEY".into(), self.key.recovery_code().into()));
        cli
    }

    pub fn key(&self) -> &optdesk_core::store::DbKey {
        &self.key
    }

    /// The test's database, opened as the CLI opens it.
    pub fn store(&self) -> optdesk_core::Store {
        optdesk_core::Store::open(self.db(), &self.key).unwrap()
    }

    /// A raw connection to the test's database, unlocked with its key.
    pub fn conn(&self) -> rusqlite::Connection {
        optdesk_core::store::connect(&self.db(), &self.key).unwrap()
    }

    pub fn with_env(mut self, key: &str, value: impl Into<OsString>) -> Cli {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("optdesk.sqlite3")
    }

    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_optdesk"));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs a command that must fail; its stderr, checked to be one `optdesk: …` message.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "{args:?} should have failed");
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(
            err.starts_with("optdesk: "),
            "errors are one clear sentence on stderr: {err}"
        );
        err
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    pub fn sql(&self, sql: &str) {
        self.conn().execute_batch(sql).unwrap();
    }

    pub fn db_count(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

// Real processes on 127.0.0.1, for the suites that start servers.

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (SIGKILL) when dropped, even by a failed assertion.
pub struct Proc(Option<std::process::Child>);

impl Proc {
    pub fn new(c: std::process::Child) -> Proc {
        Proc(Some(c))
    }

    pub fn exited(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_some())
    }

    pub fn output(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn wait_port(port: u16, what: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < until, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
