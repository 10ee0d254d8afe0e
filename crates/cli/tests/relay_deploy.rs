//! The relay as an operator deploys it: the binary starting in an empty directory, the systemd
//! unit as systemd reads it, and the container image where an engine runs.

use std::process::Stdio;

mod support;

use support::{free_port, wait_port, Proc};

#[test]
fn the_relay_starts_in_an_empty_directory_and_says_what_is_missing() {
    let cli = support::Cli::new();
    let dir = cli.dir.path().join("fresh");
    let err = cli.fails(&[
        "relay",
        "mailbox",
        "add",
        "Shop",
        "--data",
        dir.to_str().unwrap(),
    ]);
    assert!(err.contains("--public-url"), "{err}");
    let err = cli.fails(&[
        "relay",
        "mailbox",
        "add",
        "Shop",
        "--data",
        dir.to_str().unwrap(),
        "--public-url",
        "http://plain.example",
    ]);
    assert!(err.contains("https"), "{err}");
    let err = cli.fails(&["relay", "mailbox", "list"]);
    assert!(err.contains("--data"), "{err}");
    let port = free_port();
    let _relay = Proc::new(
        cli.cmd(&[
            "relay",
            "--data",
            dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_port(port, "the relay");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let health = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(health, 200);
    assert!(dir.join("relay.db").exists());
    assert!(!cli.db().exists(), "the relay opened no shop database");
}

/// `deploy/optdesk-relay.service` as systemd reads it, with this build's binary in ExecStart.
#[test]
fn the_relays_systemd_unit_verifies() {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze is not installed here: the unit is not verified (a manual check in the README)");
        return;
    };
    assert!(out.status.success());
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/optdesk-relay.service"
    ))
    .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/optdesk relay "),
        "{unit}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optdesk-relay.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/optdesk", env!("CARGO_BIN_EXE_optdesk")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The container image, where a container engine runs (none does on the machines CI uses:
/// building it is a manual check in the README).
#[test]
fn the_relays_container_image_builds_where_an_engine_runs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let file = std::fs::read_to_string(format!("{root}/deploy/Containerfile")).unwrap();
    assert!(
        file.contains("-p optdesk-cli --bin optdesk")
            && file.contains("ENTRYPOINT [\"optdesk\", \"relay\""),
        "{file}"
    );
    let engine = ["podman", "docker"].into_iter().find(|e| {
        std::process::Command::new(e)
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(engine) = engine else {
        eprintln!(
            "no container engine runs here: the image is not built (a manual check in the README)"
        );
        return;
    };
    let out = std::process::Command::new(engine)
        .args([
            "build",
            "-f",
            "deploy/Containerfile",
            "-t",
            "optdesk-relay:test",
            ".",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
