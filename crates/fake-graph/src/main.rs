//! `fake-graph [--port N]`: the fake Graph API as a process, for suites that are not Rust
//! (the desktop app's end-to-end tests) and for trying OptDesk by hand. Prints its base URL on
//! the first line of stdout, then serves until killed.
//!
//! Steer it over HTTP: `GET /_fake/requests`, `GET|POST /_fake/state` (merge fields such as
//! `{"token_expired": true}` or `{"webhook": {"url": …, "app_secret": …}}`), and
//! `POST /_fake/templates` with a template to add.
#![forbid(unsafe_code)]

use std::io::Write;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                port = args.next().and_then(|p| p.parse().ok()).unwrap_or_else(|| {
                    eprintln!("fake-graph: --port needs a number");
                    std::process::exit(2)
                })
            }
            _ => {
                eprintln!("usage: fake-graph [--port N]");
                std::process::exit(2)
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    optdesk_fake_graph::serve(listener, optdesk_fake_graph::State::default()).await
}
