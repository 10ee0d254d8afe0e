//! Writes a realistic contacts CSV for benchmarks: `cargo run --release --example
//! gen_contacts_csv -- 100000 > contacts.csv`. UK mobiles written the ways shop lists write
//! them, a tenth opted out, names, tags, a consent source and date on every row.

#[path = "support/sample.rs"]
mod sample;

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    print!("{}", sample::contacts_csv(n));
}
