//! Starting the real `optdesk-app` under WebKitWebDriver, on a database of the test's own.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::webdriver::Session;

/// The app binary: `OPTDESK_APP_BIN`, else the workspace's debug build.
pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("OPTDESK_APP_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/optdesk-app")
}

/// Why the window cannot be driven here, if it cannot: no display, no WebKitWebDriver, no app.
pub fn unavailable() -> Option<String> {
    if std::env::var_os("DISPLAY").is_none() {
        return Some("no DISPLAY (scripts/test runs this under xvfb-run)".into());
    }
    if Command::new("WebKitWebDriver")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("WebKitWebDriver is not installed (webkit2gtk-driver)".into());
    }
    if !app_binary().exists() {
        return Some(format!(
            "{} is not built (cargo build -p optdesk-app)",
            app_binary().display()
        ));
    }
    None
}

pub struct Launched {
    pub session: Session,
    driver: Child,
    /// Seconds from asking for the window to the Contacts screen's `data-ready`.
    pub ready_after: f64,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts WebKitWebDriver, which starts the app with `env`, and waits for the Contacts screen.
pub fn launch(env: &[(String, String)], log: &std::path::Path) -> Result<Launched, String> {
    let port = free_port();
    let log_file = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("WebKitWebDriver");
    cmd.arg(format!("--port={port}"))
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .stdout(Stdio::null())
        .stderr(log_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut driver = cmd.spawn().map_err(|e| format!("WebKitWebDriver: {e}"))?;
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > until {
            let _ = driver.kill();
            return Err("WebKitWebDriver did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let session = Session::new(
        &format!("http://127.0.0.1:{port}"),
        json!({"webkitgtk:browserOptions": {"binary": app_binary(), "args": []}}),
    );
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            let _ = driver.kill();
            return Err(e);
        }
    };
    if let Err(e) = session.wait(
        "[data-screen=Contacts][data-ready=true]",
        Duration::from_secs(30),
    ) {
        let _ = driver.kill();
        return Err(e);
    }
    Ok(Launched {
        ready_after: started.elapsed().as_secs_f64(),
        session,
        driver,
    })
}

impl Drop for Launched {
    fn drop(&mut self) {
        // The session first: it closes the app; killing the driver alone would leave it running.
        self.session.close();
        std::thread::sleep(Duration::from_millis(300));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Resident memory in KiB, read from /proc: the `optdesk-app` process (all of it, and its own
/// anonymous memory — the rest is shared library pages such as WebKitGTK and, under Xvfb, the
/// LLVM of Mesa's software renderer) and its WebKit helper processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Resident {
    pub app: u64,
    pub app_anon: u64,
    pub webkit: u64,
}

pub fn resident_kib() -> Resident {
    let mut r = Resident::default();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return r;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(path.join("status")) else {
            continue;
        };
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        match comm.trim() {
            "optdesk-app" => {
                r.app += field("VmRSS:");
                r.app_anon += field("RssAnon:");
            }
            c if c.starts_with("WebKitWebProces") || c.starts_with("WebKitNetworkPr") => {
                r.webkit += field("VmRSS:")
            }
            _ => {}
        }
    }
    r
}
