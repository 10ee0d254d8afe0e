//! The one writer: bodies from every request are committed in groups (one fsync for all that
//! arrived meanwhile), and each request learns its cursor only after its group's commit, so no
//! 200 ever goes back for a body that is not on disk.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::{self, Incoming};

pub struct Job {
    pub incoming: Incoming,
    pub done: oneshot::Sender<Result<i64, String>>,
}

/// The largest group one commit takes.
const GROUP: usize = 512;

/// Starts the writer thread on its own connection. `committed` hears each group's newest cursor.
pub fn start(
    mut conn: Connection,
    committed: impl Fn(&[(String, i64, usize)]) + Send + 'static,
) -> SyncSender<Job> {
    let (tx, rx) = sync_channel::<Job>(4096);
    std::thread::Builder::new()
        .name("relay-writer".into())
        .spawn(move || writer(&mut conn, rx, committed))
        .expect("a thread can be started"); // start-up, before any request
    tx
}

fn writer(conn: &mut Connection, rx: Receiver<Job>, committed: impl Fn(&[(String, i64, usize)])) {
    loop {
        let first = match rx.recv_timeout(Duration::from_secs(3600)) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let (incoming, replies): (Vec<Incoming>, Vec<_>) =
            jobs.into_iter().map(|j| (j.incoming, j.done)).unzip();
        match store::insert(conn, &incoming) {
            Ok(seqs) => {
                let done: Vec<(String, i64, usize)> = incoming
                    .iter()
                    .zip(&seqs)
                    .map(|(i, s)| (i.mailbox.clone(), *s, i.sealed.len()))
                    .collect();
                committed(&done);
                for (reply, seq) in replies.into_iter().zip(seqs) {
                    let _ = reply.send(Ok(seq));
                }
            }
            Err(e) => {
                eprintln!(
                    "optdesk relay: storing {} bodies failed: {e}",
                    replies.len()
                );
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
