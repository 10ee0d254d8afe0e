//! `webhook_mode = ngrok`: an ngrok tunnel inside this process (ngrok's official agent SDK),
//! serving the same axum receiver as the local port. It lives as long as the process that owns
//! the receiver (the app or `optdesk serve`). The requests it carries are counted against the
//! plan's monthly quota (`ngrok_monthly_requests`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::Router;
use futures_util::StreamExt;
use ngrok::prelude::*;

use super::endpoint::{BoxFuture, EndpointState, Mode, Reachability};
use crate::error::{Error, Result};
use crate::secrets::Secret;

/// How long ngrok's service has to answer before OptDesk says it cannot be reached.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the agent connects: ngrok's service, unless `OPTDESK_NGROK_SERVER` names another
/// (tests point it at a loopback port that never answers).
fn server_override() -> Option<String> {
    std::env::var("OPTDESK_NGROK_SERVER")
        .ok()
        .filter(|s| !s.is_empty())
}

pub struct Ngrok {
    authtoken: Option<Secret>,
    domain: Option<String>,
    carried: Arc<AtomicU64>,
    down: Arc<Mutex<Option<String>>>,
    session: Option<ngrok::Session>,
}

impl Ngrok {
    pub fn new(authtoken: Option<Secret>, domain: Option<String>) -> Ngrok {
        Ngrok {
            authtoken,
            domain,
            carried: Arc::new(AtomicU64::new(0)),
            down: Arc::new(Mutex::new(Some("not started".into()))),
            session: None,
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s = format!("{s}: {x}");
        src = x.source();
    }
    s
}

const WHAT_TO_DO: &str = "check this PC's internet connection and that a firewall lets it reach connect.ngrok-agent.com on port 443, or use your own HTTPS address with `optdesk config set webhook_mode manual`";

fn connect_error(e: &ngrok::session::ConnectError) -> Error {
    use ngrok::session::ConnectError as C;
    Error::invalid(match e {
        C::Auth(_) => format!(
            "ngrok refused the authtoken ({}): copy it again from dashboard.ngrok.com → Your Authtoken and save it in Settings → Connect webhooks (or `optdesk credentials set --ngrok`)",
            chain(e)
        ),
        _ => format!("could not reach ngrok's service ({}): {WHAT_TO_DO}", chain(e)),
    })
}

impl Reachability for Ngrok {
    fn mode(&self) -> Mode {
        Mode::Ngrok
    }

    fn open(&mut self, app: Router) -> BoxFuture<'_, Result<Option<String>>> {
        Box::pin(async move {
            let Some(token) = self.authtoken.clone() else {
                return Err(Error::invalid(
                    "no ngrok authtoken is saved: make a free account at ngrok.com, copy the authtoken from dashboard.ngrok.com → Your Authtoken and save it in Settings → Connect webhooks (or `optdesk credentials set --ngrok`)",
                ));
            };
            let domain = self.domain.clone();
            let connect = async {
                let mut builder = ngrok::Session::builder();
                builder.authtoken(token.expose());
                if let Some(server) = server_override() {
                    builder.server_addr(server).map_err(|e| {
                        Error::invalid(format!("OPTDESK_NGROK_SERVER is not an address: {e}"))
                    })?;
                }
                let session = builder.connect().await.map_err(|e| connect_error(&e))?;
                let mut endpoint = session.http_endpoint();
                if let Some(d) = &domain {
                    endpoint.domain(d.clone());
                }
                let tunnel = endpoint.listen().await.map_err(|e| {
                    Error::invalid(format!(
                        "ngrok would not open the tunnel{} ({}): check ngrok_domain against dashboard.ngrok.com → Domains",
                        domain.as_deref().map(|d| format!(" on {d}")).unwrap_or_default(),
                        chain(&e)
                    ))
                })?;
                Ok::<_, Error>((session, tunnel))
            };
            let (session, tunnel) = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                Err(_) => {
                    return Err(Error::invalid(format!(
                        "could not reach ngrok's service within {} s: {WHAT_TO_DO}",
                        CONNECT_TIMEOUT.as_secs()
                    )))
                }
                Ok(r) => r?,
            };
            let url = tunnel.url().trim_end_matches('/').to_string();
            let carried = self.carried.clone();
            let counted = app.layer(middleware::from_fn(move |req: Request, next: Next| {
                carried.fetch_add(1, Ordering::Relaxed);
                next.run(req)
            }));
            *self.down.lock().unwrap_or_else(|p| p.into_inner()) = None;
            let listener = TunnelListener {
                tunnel,
                down: self.down.clone(),
            };
            tokio::spawn(async move {
                let _ = axum::serve(listener, counted).await;
            });
            self.session = Some(session);
            Ok(Some(url))
        })
    }

    fn state(&self) -> EndpointState {
        match self.down.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            None => EndpointState::Up,
            Some(why) => EndpointState::Down(why),
        }
    }

    fn take_requests(&self) -> u64 {
        self.carried.swap(0, Ordering::Relaxed)
    }
}

/// The tunnel as an axum listener: each connection ngrok hands over is served like a local one.
struct TunnelListener {
    tunnel: ngrok::tunnel::HttpTunnel,
    down: Arc<Mutex<Option<String>>>,
}

impl axum::serve::Listener for TunnelListener {
    type Io = ngrok::conn::EndpointConn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.tunnel.next().await {
                Some(Ok(conn)) => {
                    let addr = conn.remote_addr();
                    return (conn, addr);
                }
                Some(Err(e)) => {
                    *self.down.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("ngrok: {}", chain(&e)));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                None => {
                    *self.down.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some("the ngrok tunnel closed; restart OptDesk's receiver".into());
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

/// The quota warning, once 80% of the month's requests are used.
pub fn quota_warning(carried: u64, quota: u64) -> Option<String> {
    if quota == 0 || carried * 100 < quota * 80 {
        return None;
    }
    let pct = carried * 100 / quota;
    Some(format!(
        "ngrok has carried {carried} of the plan's {quota} requests this month ({pct}%): when they run out, webhooks stop arriving until the month resets; a paid plan or the relay mailbox avoid that"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota() {
        assert_eq!(quota_warning(15_999, 20_000), None);
        let w = quota_warning(16_000, 20_000).unwrap();
        assert!(
            w.contains("16000 of the plan's 20000") && w.contains("(80%)"),
            "{w}"
        );
        assert_eq!(quota_warning(10, 0), None);
    }

    #[tokio::test]
    async fn without_an_authtoken_it_says_where_to_get_one() {
        let e = Ngrok::new(None, None)
            .open(Router::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("dashboard.ngrok.com"), "{e}");
    }
}
