//! `ansim report yearly` end to end: a store holding a fixture year's rollup (and the year
//! before), the binary writes the Korean and English pages with the figures worked out by
//! hand, and — where Debian's Chromium is installed (`.ci/run` installs it) — a PDF, and the
//! browser opens both pages and saves screenshots (in the test's target directory) that must
//! be real renderings. Without Chromium the browser part is skipped with the reason printed.

use domain::AffiliateId;
use std::path::PathBuf;
use std::process::Command;
use store::{Store, TrendKey, Write};

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ANSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn put(s: &dyn Store, affiliate: &str, day: &str, verdict: &str, typology: &str, n: usize, amount: i64) {
    let key = TrendKey {
        day: app::trends::parse_day(day).unwrap(),
        kind: "transfer".into(),
        verdict: verdict.into(),
        typology: typology.into(),
        age_band: "60s".into(),
        amount_band: "1m_10m".into(),
    };
    let a = AffiliateId(affiliate.into());
    let writes: Vec<Write> = (0..n)
        .map(|i| Write {
            trend: Some((key.clone(), amount)),
            ..store::conformance::write(&a, &format!("{day}-{verdict}-{i}"))
        })
        .collect();
    s.commit(&writes).unwrap();
}

#[test]
fn the_yearly_report_reads_as_a_report_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        let s = store::sqlite::SqliteStore::open(&data.join("ansim.db")).unwrap();
        put(&s, "bank", "2025-05-01", "block", "institution_impersonation", 40, 3_000_000);
        put(&s, "bank", "2026-02-10", "block", "institution_impersonation", 50, 2_000_000);
        put(&s, "pay", "2026-09-15", "hold", "family_impersonation", 12, 500_000);
        put(&s, "messenger", "2026-09-16", "warn", "parcel_smishing", 30, 0);
        put(&s, "pay", "2026-10-01", "allow", "", 1_000, 20_000);
    }
    let out = dir.path().join("report");
    let run = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["report", "yearly", "--year", "2026", "--out"])
        .arg(&out)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let ko = std::fs::read_to_string(out.join("index.html")).unwrap();
    let en = std::fs::read_to_string(out.join("index.en.html")).unwrap();
    // 50 + 12 + 30 + 1,000 decisions; 92 protected (last year 40, +130.0%); 50 blocked; held
    // or blocked 100,000,000 + 6,000,000 won.
    for (page, lang, title) in [(&ko, "ko", "금융안전 연례 보고서 2026"), (&en, "en", "Financial safety report 2026")]
    {
        assert!(page.contains(&format!("<html lang=\"{lang}\">")), "{lang}");
        assert!(page.contains(title), "{lang}: title");
        for figure in
            ["1,092", "92</b>", "40 (+130.0%)", "106,000,000", "<svg", "trend_day WHERE day BETWEEN 20454 AND 20818"]
        {
            assert!(page.contains(figure), "{lang}: {figure} missing");
        }
    }
    assert!(ko.contains("신고 방법") && ko.contains("1332"), "how to report, in Korean");
    assert!(ko.contains("신속한 접수와 후속 조치") && en.contains("Rapid intake and follow-up"));
    assert!(
        ko.contains("전국 현황") && en.contains("8,545") && en.contains("newdaily.co.kr"),
        "cited national figures"
    );
    assert!(en.contains("How to report") && en.contains("institution impersonation"));
    // Bad input is refused by name, and writes nothing.
    let bad = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["report", "yearly", "--year", "12", "--out"])
        .arg(dir.path().join("none"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--year"), "{}", String::from_utf8_lossy(&bad.stderr));
    assert!(!dir.path().join("none").exists());

    let Some(browser) = chromium() else {
        eprintln!(
            "skipping the browser part: no Chromium at /usr/bin/chromium (apt-get install chromium fonts-noto-cjk)"
        );
        return;
    };
    let pdf = std::fs::read(out.join("report.pdf")).expect("report.pdf beside the pages when Chromium is installed");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for page in ["index.html", "index.en.html"] {
        let png = shots.join(page.replace(".html", ".png"));
        let _ = std::fs::remove_file(&png);
        let run = Command::new(&browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
            .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
            .arg("--window-size=1000,2600")
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", out.join(page).display()))
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let bytes = std::fs::read(&png).unwrap();
        // A blank 1000 × 2600 page compresses to a few kilobytes; charts, tables and text
        // make it much larger.
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 60_000, "{page}: {} bytes", bytes.len());
        eprintln!("screenshot of {page}: {}", png.display());
    }
}
