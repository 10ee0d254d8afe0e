//! `contacts export` → a spreadsheet saves it again → `contacts import` gives the same state.
//! The re-save is LibreOffice itself, headless, in each direction a shop owner takes: the
//! workbook saved as a workbook or as CSV, the CSV saved as CSV or as a workbook.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A list with what spreadsheets get wrong: names a spreadsheet would run as formulas, accents and
/// curly quotes, a quoted remark, several tags, numbers from three countries, an opt-out, and
/// consent times of the day.
const LIST: &str = "phone,name,tags,marketing,marketing_source,marketing_at,marketing_text,utility\n\
07911 123456,=Zoé \u{201c}Z\u{201d},vip;regulars,yes,Summer fair,2026-03-01 14:30,\"ticked \"\"yes\"\"\",no\n\
+33 6 12 34 56 78,-Ann,,no,,2026-04-02T09:15:00Z,,\n\
+1 202 555 0143,@bob,wholesale,,,,,yes\n\
0044 7400 654321,Çağla Øye,,yes,Shop counter,2026-05-03 08:00:00 +0100,,yes\n";

/// Runs LibreOffice to save `file` as `to` ("xlsx" or "csv") into `out`; the new file's path.
fn resave(file: &Path, to: &str, out: &Path, profile: &Path) -> PathBuf {
    // Read and write CSV as UTF-8 with commas and double quotes (what a shop picks in the dialog
    // for a file that came as UTF-8); each test has its own LibreOffice profile.
    let filter = match to {
        "csv" => "csv:Text - txt - csv (StarCalc):44,34,76",
        other => other,
    };
    let run = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--infilter=CSV:44,34,76",
            "--convert-to",
            filter,
            "--outdir",
        ])
        .arg(out)
        .arg(file)
        .env("HOME", profile)
        .output()
        .expect("soffice (libreoffice-calc-nogui) is installed by scripts/test");
    assert!(
        run.status.success(),
        "LibreOffice could not save {}: {}",
        file.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    let saved = out.join(file.with_extension(to).file_name().unwrap());
    assert!(saved.exists(), "LibreOffice wrote no {}", saved.display());
    saved
}

/// A spreadsheet keeps a time to the millisecond: compare exports to that.
fn to_millis(csv: &str) -> String {
    let b = csv.as_bytes();
    let mut out = String::with_capacity(csv.len());
    let mut i = 0;
    while i < b.len() {
        let micros = b.get(i) == Some(&b'.')
            && b.len() > i + 7
            && b[i + 1..i + 7].iter().all(u8::is_ascii_digit)
            && b[i + 7] == b'Z';
        if micros {
            out.push_str(&csv[i..i + 4]);
            out.push_str("000Z");
            i += 8;
        } else {
            let ch = csv[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[test]
fn export_resaved_by_a_spreadsheet_imports_to_the_same_state() {
    let cli = support::Cli::new();
    cli.ok(&["config", "set", "default_region", "GB"]);
    let list = cli.file("list.csv", LIST.as_bytes());
    let out = cli.ok(&[
        "contacts",
        "import",
        list.to_str().unwrap(),
        "--source",
        "paper form",
    ]);
    assert!(
        out.contains("4 added") && out.contains("0 rejected"),
        "{out}"
    );
    let before = cli.ok(&["contacts", "export"]);
    let dir = cli.dir.path();
    let csv = cli.file("export.csv", before.as_bytes());
    let xlsx = dir.join("export.xlsx");
    cli.ok(&["contacts", "export", "--output", xlsx.to_str().unwrap()]);
    let profile = dir.join("libreoffice");

    let mut cases = vec![("the workbook as exported", xlsx.clone())];
    for (from, to) in [
        (&xlsx, "xlsx"),
        (&xlsx, "csv"),
        (&csv, "csv"),
        (&csv, "xlsx"),
    ] {
        let out = dir.join(format!(
            "{}-as-{to}",
            from.extension().unwrap().to_string_lossy()
        ));
        std::fs::create_dir_all(&out).unwrap();
        cases.push(("re-saved", resave(from, to, &out, &profile)));
    }
    for (what, file) in cases {
        let other = cli.same_machine();
        other.ok(&["config", "set", "default_region", "GB"]);
        let report = other.ok(&["contacts", "import", file.to_str().unwrap()]);
        assert!(
            report.contains("4 added") && report.contains("0 blocked, 0 rejected"),
            "{what} {}: {report}",
            file.display()
        );
        let after = other.ok(&["contacts", "export"]);
        assert_eq!(
            to_millis(&after),
            to_millis(&before),
            "{what} {} reads back differently",
            file.display()
        );
    }
}

#[test]
fn a_workbook_export_needs_a_file_and_a_known_format() {
    let cli = support::Cli::new();
    let e = cli.fails(&["contacts", "export", "--format", "xlsx"]);
    assert!(e.contains("--output FILE.xlsx"), "{e}");
    let e = cli.fails(&["contacts", "export", "--format", "pdf"]);
    assert!(e.contains("use csv, json or xlsx"), "{e}");
    let e = cli.fails(&["contacts", "export", "--json", "--format", "csv"]);
    assert!(e.contains("disagree"), "{e}");
    // The extension decides when no format is given.
    let json = cli.dir.path().join("all.json");
    cli.ok(&["contacts", "export", "-o", json.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(v.as_array().is_some_and(Vec::is_empty), "{v}");
}
