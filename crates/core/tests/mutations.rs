//! Random mutations of the real-world corpus' bodies — fields removed, retyped, duplicated,
//! bytes truncated — never panic the processor or stop it, and a customer's STOP in the same
//! body as the damaged parts is still applied.

mod common;

use std::cell::RefCell;
use std::path::PathBuf;

use optdesk_core::contacts;
use optdesk_core::model::ConsentState::{OptedIn, OptedOut};
use optdesk_core::model::Topic::Marketing;
use optdesk_core::webhook::{self, process};
use proptest::prelude::*;
use serde_json::{json, Value};

const ANA: &str = "447911123456";

fn corpus() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/realworld-webhooks/payloads");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the real-world corpus is not at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).ok())
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Retype(u8),
    Duplicate,
}

/// Every path (object keys and array indexes) in a value, depth first.
fn paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                here.push(k.clone());
                out.push(here.clone());
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(i.to_string());
                out.push(here.clone());
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn mutate(v: &mut Value, path: &[String], m: &Mutation) {
    let (last, parent_path) = path.split_last().unwrap();
    let mut parent = &mut *v;
    for p in parent_path {
        parent = match parent {
            Value::Object(o) => o.get_mut(p).unwrap(),
            Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            _ => return,
        };
    }
    let replacement = |old: &Value, k: u8| match k % 6 {
        0 => Value::Null,
        1 => json!(12345),
        2 => json!("a string"),
        3 => json!([old.clone()]),
        4 => json!({"x": old.clone()}),
        _ => json!(true),
    };
    match parent {
        Value::Object(o) => match m {
            Mutation::Remove => {
                o.remove(last);
            }
            Mutation::Retype(k) => {
                let new = replacement(&o[last], *k);
                o.insert(last.clone(), new);
            }
            Mutation::Duplicate => {
                let copy = o[last].clone();
                o.insert(format!("{last}_copy"), copy.clone());
                if let Some(Value::Array(a)) = o.get_mut(last) {
                    if let Some(first) = a.first().cloned() {
                        a.push(first);
                    }
                }
            }
        },
        Value::Array(a) => {
            let i: usize = last.parse().unwrap();
            match m {
                Mutation::Remove => {
                    a.remove(i);
                }
                Mutation::Retype(k) => a[i] = replacement(&a[i], *k),
                Mutation::Duplicate => {
                    let copy = a[i].clone();
                    a.insert(i, copy);
                }
            }
        }
        _ => {}
    }
}

/// The mutated body with a good STOP from Ana as one more change of its first entry.
fn with_stop(mut v: Value, id: &str) -> Value {
    let stop = json!({"field": "messages", "value": {"messaging_product": "whatsapp",
        "contacts": [{"wa_id": ANA, "profile": {"name": "Ana"}}],
        "messages": [{"from": ANA, "id": id, "timestamp": "1781604100", "type": "text", "text": {"body": "STOP"}}]}});
    match v.get_mut("entry").and_then(Value::as_array_mut) {
        Some(entries) if entries.first().is_some_and(Value::is_object) => {
            let e = entries[0].as_object_mut().unwrap();
            match e.get_mut("changes").and_then(Value::as_array_mut) {
                Some(changes) => changes.push(stop),
                None => {
                    e.insert("changes".into(), json!([stop]));
                }
            }
        }
        _ => {
            if let Some(o) = v.as_object_mut() {
                o.insert("entry".into(), json!([{"id": "1", "changes": [stop]}]));
            }
        }
    }
    v
}

thread_local! {
    static DB: RefCell<Option<common::Db>> = const { RefCell::new(None) };
    static CORPUS: Vec<Value> = corpus();
    static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        any::<u8>().prop_map(Mutation::Retype),
        Just(Mutation::Duplicate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_bodies_never_panic_and_the_intact_stop_still_counts(
        pick in any::<prop::sample::Index>(),
        muts in prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..6),
        truncate in prop::option::weighted(0.15, any::<prop::sample::Index>()),
    ) {
        let mut body = CORPUS.with(|c| pick.get(c).clone());
        for (at, m) in &muts {
            let mut all = Vec::new();
            paths(&body, &mut Vec::new(), &mut all);
            if all.is_empty() {
                break;
            }
            let path: Vec<String> = at.get(&all).clone();
            mutate(&mut body, &path, m);
        }
        let id = format!("wamid.MUT{}", NEXT.with(|n| { let v = n.get(); n.set(v + 1); v }));
        let mut bytes = serde_json::to_vec(&with_stop(body, &id)).unwrap();
        if let Some(t) = &truncate {
            bytes.truncate(t.index(bytes.len()));
        }
        DB.with(|cell| {
            let mut cell = cell.borrow_mut();
            let d = cell.get_or_insert_with(|| {
                let mut d = common::db();
                d.add(&format!("+{ANA}"));
                d
            });
            d.set(&format!("+{ANA}"), Marketing, OptedIn);
            webhook::store_in_inbox(&mut d.store, &bytes).unwrap();
            let p = process::Processor::from_settings(d.store.conn()).unwrap();
            let report = process::process_pending(&mut d.store, &p).expect("processing never fails as a whole");
            let ana = contacts::require(d.store.conn(), &format!("+{ANA}")).unwrap();
            if truncate.is_none() {
                prop_assert_eq!(report.failed, 0, "a body with one good part is applied");
                prop_assert_eq!(ana.marketing, Some(OptedOut), "the STOP beside the damaged parts counts");
            } else {
                prop_assert!(report.processed + report.failed == 1, "{:?}", report);
            }
            Ok(())
        })?;
    }
}
