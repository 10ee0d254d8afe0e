//! What the relay's operator sees: `/healthz`, and `/metrics` (Prometheus text) behind the
//! admin secret.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{bearer, text, S};
use crate::{store, wire};

pub(super) async fn healthz(State(s): S) -> Response {
    let ok = s
        .reader
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
        .is_ok();
    if ok {
        text(StatusCode::OK, "ok\n")
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the relay's database cannot be read\n",
        )
    }
}

pub(super) async fn metrics(State(s): S, headers: HeaderMap) -> Response {
    let conn = s.reader.lock().unwrap_or_else(|p| p.into_inner());
    let Ok(Some(hash)) = store::admin_hash(&conn) else {
        return text(
            StatusCode::FORBIDDEN,
            "no admin secret is set; run `optdesk relay admin-secret --data DIR`",
        );
    };
    if !bearer(&headers)
        .is_some_and(|g| wire::same(wire::sha256_hex(g.as_bytes()).as_bytes(), hash.as_bytes()))
    {
        return text(StatusCode::UNAUTHORIZED, "wrong admin secret");
    }
    let boxes = match store::list(&conn) {
        Ok(b) => b,
        Err(e) => return text(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    drop(conn);
    let now = store::now_ms();
    let mut out = String::new();
    let line = |out: &mut String, name: &str, labels: &str, v: String| {
        out.push_str(&format!("optdesk_relay_{name}{{{labels}}} {v}\n"));
    };
    for b in boxes {
        let l = format!("mailbox=\"{}\"", b.name.replace(['"', '\\', '\n'], "_"));
        line(&mut out, "stored_total", &l, b.stored.to_string());
        line(&mut out, "pulled_total", &l, b.pulled.to_string());
        line(&mut out, "pending", &l, b.pending.to_string());
        line(&mut out, "pending_bytes", &l, b.pending_bytes.to_string());
        let age = b
            .oldest_pending
            .map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
        line(
            &mut out,
            "oldest_pending_age_seconds",
            &l,
            format!("{age:.1}"),
        );
        let r = s.rejected(&b.id);
        for (why, n) in [
            ("unsigned", &r.unsigned),
            ("forged", &r.forged),
            ("too_large", &r.too_large),
            ("over_quota", &r.over_quota),
            ("no_key", &r.no_key),
            ("bad_pull_secret", &r.bad_pull_secret),
        ] {
            line(
                &mut out,
                "rejected_total",
                &format!("{l},reason=\"{why}\""),
                n.load(Ordering::Relaxed).to_string(),
            );
        }
    }
    line(
        &mut out,
        "unknown_mailbox_total",
        "",
        s.unknown_mailbox.load(Ordering::Relaxed).to_string(),
    );
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}
