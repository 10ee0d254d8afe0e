//! The core's performance targets (issue #2), measured on real SQLite files:
//! - import of a 100,000-row CSV: under 1.5 s;
//! - the send gate over a 100,000-contact audience: under 50 ms;
//! - listing 100,000 contacts as JSON: under 1 s.
//!
//! `cargo bench -p optdesk-core`; `scripts/bench` adds the comparison with sqlite3's `.import`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use optdesk_core::contacts::{self, Filter};
use optdesk_core::gate::{self, Policy};
use optdesk_core::import::{import_bytes, Options};
use optdesk_core::phone::Region;
use optdesk_core::{time, Category, Store};

#[path = "../examples/support/sample.rs"]
mod sample;

const N: usize = 100_000;

fn options() -> Options {
    Options {
        region: Some(Region::parse("GB").expect("GB")),
        actor: "bench".into(),
        file_name: "bench.csv".into(),
        ..Default::default()
    }
}

fn imported(dir: &tempfile::TempDir, csv: &str) -> Store {
    let mut store = Store::open(
        dir.path().join("bench.sqlite3"),
        &optdesk_core::store::DbKey::generate().expect("key"),
    )
    .expect("open");
    let report = import_bytes(&mut store, csv.as_bytes(), &options()).expect("import");
    assert_eq!(report.added as usize, N, "{report:?}");
    store
}

fn import(c: &mut Criterion) {
    let csv = sample::contacts_csv(N);
    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.bench_function("100k_rows_into_a_new_database", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("tempdir"),
            |dir| {
                let store = imported(&dir, &csv);
                drop(store); // closing checkpoints the WAL: part of the cost a user waits for
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn audience(c: &mut Criterion) {
    let csv = sample::contacts_csv(N);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = imported(&dir, &csv);
    let policy = Policy {
        frequency_cap: Some(chrono::Duration::hours(24)),
        hold_us_marketing: true,
    };
    let now = time::now();
    let mut g = c.benchmark_group("audience");
    g.bench_function("gate_over_100k_contacts", |b| {
        b.iter(|| {
            let decisions = gate::decide_all(store.conn(), Category::Marketing, now, &policy, &[])
                .expect("gate");
            assert_eq!(decisions.len(), N);
            decisions
        })
    });
    g.bench_function("list_100k_contacts_as_json", |b| {
        b.iter(|| {
            let list = contacts::list(store.conn(), &Filter::default()).expect("list");
            serde_json::to_vec(&list).expect("json")
        })
    });
    g.finish();
}

criterion_group!(benches, import, audience);
criterion_main!(benches);
