//! The app started where no window can open (a server, an SSH session) says so in a sentence
//! and exits, instead of GTK's panic and backtrace.

use std::process::Command;

#[test]
fn without_a_display_the_app_says_so_and_exits() {
    let bin = optdesk_e2e::app::app_binary();
    assert!(
        bin.exists(),
        "{} is not built (scripts/test builds it: cargo build -p optdesk-app)",
        bin.display()
    );
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(&bin)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("OptDesk cannot start: there is no display")
            && err.contains("optdesk serve")
            && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
