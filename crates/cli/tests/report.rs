//! `ansim report yearly` end to end: a store holding a fixture year's rollup (and the year
//! before), the binary writes the Korean and English pages with the figures worked out by
//! hand, and — where Debian's Chromium is installed (`.ci/run` installs it) — a PDF, and the
//! browser opens both pages and saves screenshots (in the test's target directory) that must
//! be real renderings. Without Chromium the browser part is skipped with the reason printed.

use domain::AffiliateId;
use std::path::PathBuf;
use std::process::Command;
use store::{Store, TrendKey, Write};

mod cdp;

use cdp::chromium;

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

/// A campaign of the winter with its members and their reports, through the store.
fn campaign(s: &dyn Store) {
    let at = |d: &str| domain::Timestamp::parse_rfc3339(&format!("{d}T00:00:00+09:00")).unwrap().0;
    let body = serde_json::json!({
        "version": 1, "id": "winter", "name": "겨울 송금 안내", "segment": "true", "affiliates": ["bank"],
        "ko": {"title": "t", "body": "b"}, "en": {"title": "t", "body": "b"},
        "starts_ms": at("2026-01-01"), "ends_ms": at("2026-03-01"), "holdout_per_mille": 333,
        "follow_up_days": 30, "created_by": "group/key:test"
    });
    let bank = AffiliateId("bank".into());
    store::in_transaction(s, |tx| {
        let row = store::CampaignRow { id: "winter".into(), body: body.to_string(), created_ms: 0, updated_ms: 0 };
        tx.insert_campaign(&row)?;
        for (prefix, n, control) in [("t", 10, false), ("c", 5, true)] {
            for i in 0..n {
                tx.enroll(&store::MemberRow {
                    campaign: "winter".into(),
                    affiliate: bank.clone(),
                    subject: format!("{prefix}{i}"),
                    control,
                    enrolled_ms: at("2026-01-05"),
                })?;
            }
        }
        for (receipt, subject, won) in [("r1", "t0", 500_000), ("r2", "c0", 1_000_000), ("r3", "c1", 1_000_000)] {
            tx.insert_report(&store::ReportRow {
                receipt: receipt.into(),
                secret_hash: [0; 32],
                source: "bank".into(),
                kind: "voice_phishing".into(),
                case_id: 1,
                priority: 1,
                body: "{}".into(),
                created_ms: at("2026-01-12"),
                subject: Some(subject.into()),
                amount: won,
            })?;
        }
        Ok(())
    })
    .unwrap();
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
        campaign(&s);
        // A family of delivery look-alike domains at two affiliates.
        let day = app::trends::parse_day("2026-09-16").unwrap();
        let seen = |a: &str, id: &str| Write {
            clusters: vec![store::ClusterKey { day, kind: "domain".into(), value: "cj-delivery#.xyz".into() }],
            ..store::conformance::write(&AffiliateId(a.into()), id)
        };
        let writes = [seen("messenger", "d1"), seen("messenger", "d2"), seen("pay", "d3")];
        let out = s.commit(&writes).unwrap();
        s.add_sightings(&store::cluster_deltas(&writes, &out)).unwrap();
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
    assert!(ko.contains("환급 결정") && en.contains("Refunded / claimed (won)"), "relief and refunds");
    assert!(ko.contains("올해 가장 많이 나타난 사기 지표") && en.contains("most frequent fraud indicators"));
    assert!(ko.contains("탐지 모델과 측정된 품질") && en.contains("5-fold cv accuracy 0.95"), "the models' quality");
    for page in [&ko, &en] {
        assert!(
            page.contains("domain cj-delivery#.xyz</td><td>2026-09-16 – 2026-09-16</td><td>3</td><td>0</td><td>2</td>"),
            "the family's row"
        );
    }
    assert!(
        ko.contains("전국 현황") && en.contains("8,545") && en.contains("newdaily.co.kr"),
        "cited national figures"
    );
    assert!(en.contains("How to report") && en.contains("institution impersonation"));
    // The campaign: 10 treated and 5 controls; 1 of 10 and 2 of 5 reported (1,000 and 4,000 per
    // 10,000, a difference of -3,000); won lost 500,000 and 2,000,000 (500,000,000 and
    // 4,000,000,000 per 10,000 users).
    assert!(ko.contains("예방 캠페인과 측정된 효과") && en.contains("Prevention campaigns and their measured effect"));
    for page in [&ko, &en] {
        for figure in [
            "겨울 송금 안내",
            "10 / 5",
            "1,000.0 / 4,000.0",
            "-3,000.0 (",
            "500,000,000 / 4,000,000,000",
            "campaign_member",
        ] {
            assert!(page.contains(figure), "{figure} missing");
        }
        assert_eq!(page.matches("<circle").count(), 1, "one campaign in the forest plot");
    }
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
