//! The group's yearly financial-safety report as HTML a person reads — Korean and English —
//! with inline SVG charts, from the figures `app::report` computes out of the trend rollup.
//! Every number in it is listed in an appendix with the rollup query behind it. `ansim report
//! yearly` writes it to files (`index.html`, `index.en.html`, and `report.pdf` when Debian's
//! Chromium is installed), reading the store only so it runs beside a server; the server shows
//! it at `/yearly` where the live page is shown, linked from there.

use app::report::{Totals, YearFigures};
use app::trends::day_text;
use std::fmt::Write as _;
use std::path::Path;

/// The report's words in one language.
struct Words {
    lang: &'static str,
    title: &'static str,
    lead: &'static str,
    system: &'static str,
    stages: [(&'static str, &'static str); 3],
    trends: &'static str,
    per_month: &'static str,
    stopped_per_month: &'static str,
    typologies: &'static str,
    typology: &'static str,
    this_year: &'static str,
    last_year: &'static str,
    change: &'static str,
    ages: &'static str,
    age: &'static str,
    not_given: &'static str,
    none: &'static str,
    channels: &'static str,
    channel: &'static str,
    defence: &'static str,
    affiliate: &'static str,
    decisions: &'static str,
    warned: &'static str,
    held: &'static str,
    blocked: &'static str,
    stopped_amount: &'static str,
    protected: &'static str,
    waves: &'static str,
    waves_none: &'static str,
    top_rules: &'static str,
    rule: &'static str,
    models: &'static str,
    models_lead: &'static str,
    clusters: &'static str,
    clusters_lead: &'static str,
    indicator: &'static str,
    reports_col: &'static str,
    affiliates_col: &'static str,
    national: &'static str,
    national_lead: &'static str,
    police: &'static str,
    fss: &'static str,
    year_col: &'static str,
    national_cases: &'static str,
    damage: &'static str,
    victims: &'static str,
    refunded: &'static str,
    source: &'static str,
    intake: &'static str,
    intake_lead: &'static str,
    cases_per_month: &'static str,
    cases: &'static str,
    confirmed: &'static str,
    sla_met: &'static str,
    first_action: &'static str,
    minutes: &'static str,
    money_at_risk: &'static str,
    fanned_out: &'static str,
    relief_started: &'static str,
    refunds_decided: &'static str,
    refunded_claimed: &'static str,
    refunds_paid: &'static str,
    period: &'static str,
    expected: &'static str,
    campaigns: &'static str,
    campaigns_lead: &'static str,
    campaigns_none: &'static str,
    campaign: &'static str,
    users: &'static str,
    treated: &'static str,
    control: &'static str,
    reported_per_10k: &'static str,
    lost_per_10k: &'static str,
    difference: &'static str,
    forest: &'static str,
    how: &'static str,
    how_items: [&'static str; 4],
    appendix: &'static str,
    appendix_lead: &'static str,
    figure: &'static str,
    query: &'static str,
    other: &'static str,
    won: &'static str,
}

const KO: Words = Words {
    lang: "ko",
    title: "금융안전 연례 보고서",
    lead: "그룹 계열사가 함께 이용자를 피싱과 사기로부터 지킨 한 해의 기록입니다. 모든 수치는 결정이 기록될 때 함께 갱신되는 일별 집계에서 나왔으며, 부록에 각 수치의 출처 질의를 실었습니다.",
    system: "세 단계 보호 체계",
    stages: [
        ("예방", "피싱 문자와 링크, 사칭 프로필, 낯선 상대를 돈이 움직이기 전에 경고합니다."),
        (
            "탐지와 차단",
            "로그인, 이체, 결제, 계정 변경, 메시지마다 실시간으로 허용·경고·보류·차단을 판단하고, 한 계열사가 확인한 지표는 모든 계열사의 이용자를 보호합니다.",
        ),
        ("대응과 회복", "24시간 신고 창구, 사건 처리와 법정 구제 절차, 모든 계열사로의 후속 조치."),
    ],
    trends: "사기 동향",
    per_month: "월별 보호 건수 (경고·보류·차단)",
    stopped_per_month: "월별 보류·차단 금액",
    typologies: "유형별 보호 건수",
    typology: "유형",
    this_year: "올해",
    last_year: "지난해",
    change: "증감",
    ages: "연령대별 보호",
    age: "연령대",
    not_given: "미상",
    none: "유형 없음",
    channels: "경로별 판단",
    channel: "경로",
    defence: "계열사별 방어",
    affiliate: "계열사",
    decisions: "판단",
    warned: "경고",
    held: "보류",
    blocked: "차단",
    stopped_amount: "보류·차단 금액",
    protected: "보호",
    waves: "올해 나타난 사기 물결",
    waves_none: "올해는 탐지된 급증이 없습니다.",
    top_rules: "가장 많이 작동한 규칙",
    rule: "규칙",
    models: "탐지 모델과 측정된 품질",
    models_lead: "판단에 쓰인 내장 모델이 무엇으로 학습되었고 어떻게 측정되었는지, 모델 파일에 기록된 그대로입니다. 한국어 사기 문자의 출처별 교차검증 결과는 BENCHMARKS.md 7장에 있습니다.",
    clusters: "올해 가장 많이 나타난 사기 지표",
    clusters_lead: "보호 판단(경고·보류·차단)과 신고에 가장 자주 나타난 지표입니다. 계좌·전화번호·프로필·기기는 그룹 키로 만든 가명(다이제스트)으로만 집계하며, 링크 도메인은 숫자만 다른 것을 한 묶음(#)으로 셉니다.",
    indicator: "지표",
    reports_col: "신고",
    affiliates_col: "계열사 수",
    national: "전국 현황",
    national_lead: "경찰과 금융감독원이 발표한 전화금융사기(보이스피싱) 통계입니다. 두 기관은 집계 기준이 다릅니다.",
    police: "경찰청 국가수사본부: 발생 건수와 피해액",
    fss: "금융감독원: 피해구제 신청 기준 피해액",
    year_col: "연도",
    national_cases: "발생 건수",
    damage: "피해액 (억원)",
    victims: "피해자 수",
    refunded: "환급액 (억원)",
    source: "출처",
    intake: "신속한 접수와 후속 조치",
    intake_lead: "피해자의 신고와 보류·차단된 거래는 사건이 되어, 피해 위험 금액과 경과 시간에 따라 우선순위가 매겨집니다.",
    cases_per_month: "월별 접수 사건",
    cases: "접수 사건",
    confirmed: "사기로 확인",
    sla_met: "기한 내 첫 조치",
    first_action: "첫 조치까지 (중앙값)",
    minutes: "분",
    money_at_risk: "피해 위험 금액 (원)",
    fanned_out: "계열사로 보낸 후속 조치",
    relief_started: "피해구제 절차 개시 (지급정지 등)",
    refunds_decided: "환급 결정",
    refunded_claimed: "환급액 / 청구액 (원)",
    refunds_paid: "환급 지급 완료",
    period: "기간",
    expected: "예상",
    campaigns: "예방 캠페인과 측정된 효과",
    campaigns_lead: "캠페인은 규칙 언어로 정한 대상(예: 이번 주 낯선 연락을 받은 60대)에게 한국어와 영어 안내를 보냅니다. 대상의 일부는 무작위로 안내를 받지 않는 대조군이 되어, 효과를 추정이 아니라 측정합니다: 가입 후 추적 기간까지 사기 피해 신고가 접수된 이용자 비율과 피해액을 1만 명당으로 비교하고 95% 신뢰구간을 함께 싣습니다.",
    campaigns_none: "올해 진행된 캠페인이 없습니다.",
    campaign: "캠페인",
    users: "이용자 (안내 / 대조)",
    treated: "안내군",
    control: "대조군",
    reported_per_10k: "피해 신고 이용자 (1만 명당)",
    lost_per_10k: "피해액 (1만 명당, 원)",
    difference: "차이 (95% 신뢰구간)",
    forest: "캠페인 효과: 1만 명당 피해 신고 이용자 차이(안내군 − 대조군)와 95% 신뢰구간. 0보다 왼쪽이면 안내군의 피해가 적습니다.",
    how: "신고 방법",
    how_items: [
        "피해가 의심되면 즉시 경찰 112 또는 금융감독원 1332에 신고하고, 송금한 금융회사에 지급정지를 요청하세요.",
        "그룹의 24시간 신고 창구(/report)는 로그인 없이 한국어와 영어로 신고를 받고 접수번호로 진행 상황을 알려 드립니다.",
        "가족이라며 새 번호로 연락해 돈이나 신분증 사진을 요구하면, 알던 번호로 직접 전화해 확인하세요.",
        "검찰·경찰·금융감독원은 전화나 문자로 송금이나 앱 설치를 요구하지 않습니다.",
    ],
    appendix: "부록: 수치의 출처",
    appendix_lead: "각 수치는 아래 질의를 일별 집계(trend_day)에 실행한 결과입니다. day는 1970-01-01부터 센 한국 시간 날짜입니다.",
    figure: "수치",
    query: "질의",
    other: "기타",
    won: "원",
};

const EN: Words = Words {
    lang: "en",
    title: "Financial safety report",
    lead: "A year of the group's affiliates protecting their users from phishing and fraud together. Every figure comes from the daily rollup kept up to date as decisions are recorded; the appendix lists the query behind each.",
    system: "Protection in three stages",
    stages: [
        ("Prevent", "Warn about phishing texts and links, impersonating profiles and strangers before money moves."),
        (
            "Detect and stop",
            "Every login, transfer, payment, account change and message is decided in real time — allow, warn, hold or block — and an indicator one affiliate confirms protects the users of all.",
        ),
        (
            "Respond and recover",
            "A 24-hour report channel, case work with the statutory relief steps, and follow-up actions at every affiliate.",
        ),
    ],
    trends: "Fraud trends",
    per_month: "Protective decisions per month (warn, hold, block)",
    stopped_per_month: "Won held or blocked per month",
    typologies: "Protective decisions by typology",
    typology: "Typology",
    this_year: "This year",
    last_year: "Last year",
    change: "Change",
    ages: "Protection by age band",
    age: "Age band",
    not_given: "not given",
    none: "no typology",
    channels: "Decisions by channel",
    channel: "Channel",
    defence: "Defence by affiliate",
    affiliate: "Affiliate",
    decisions: "Decisions",
    warned: "Warned",
    held: "Held",
    blocked: "Blocked",
    stopped_amount: "Won held or blocked",
    protected: "Protected",
    waves: "Waves of the year",
    waves_none: "No spike was detected this year.",
    top_rules: "Rules that matched most",
    rule: "Rule",
    models: "Detectors and their measured quality",
    models_lead: "What the built-in models that decided were trained on and how they measured, as each model file records it. The source-grouped cross-validation on real Korean scam texts is in BENCHMARKS.md, section 7.",
    clusters: "The year's most frequent fraud indicators",
    clusters_lead: "The indicators seen most often in protective decisions (warn, hold, block) and reports. Accounts, phones, profiles and devices are counted only as keyed pseudonyms (digests under the group key); link domains that differ only in digits count as one family (#).",
    indicator: "Indicator",
    reports_col: "Reports",
    affiliates_col: "Affiliates",
    national: "National context",
    national_lead: "Voice-phishing figures published by the police and the Financial Supervisory Service; the two count differently.",
    police: "National Police Agency (National Office of Investigation): cases and damage",
    fss: "Financial Supervisory Service: damage reported for relief",
    year_col: "Year",
    national_cases: "Cases",
    damage: "Damage (100 million won)",
    victims: "Victims",
    refunded: "Refunded (100 million won)",
    source: "Source",
    intake: "Rapid intake and follow-up",
    intake_lead: "Victims' reports and held or blocked transfers become cases, ranked by the money at risk and the time since the transfer.",
    cases_per_month: "Cases opened per month",
    cases: "Cases opened",
    confirmed: "Confirmed as fraud",
    sla_met: "First action on time",
    first_action: "Time to first action (median)",
    minutes: "min",
    money_at_risk: "Money at risk (won)",
    fanned_out: "Follow-up actions to affiliates",
    relief_started: "Statutory relief started (payment suspension, return requests)",
    refunds_decided: "Refunds decided",
    refunded_claimed: "Refunded / claimed (won)",
    refunds_paid: "Refunds paid",
    period: "Days",
    expected: "Expected",
    campaigns: "Prevention campaigns and their measured effect",
    campaigns_lead: "A campaign sends a notice in Korean and English to a segment written in the rule language (say, users in their sixties contacted by a stranger this week). A random share of the segment is held out and sent nothing, so the effect is measured, not guessed: users with a fraud report and the won lost per 10,000 users, from enrolment to the end of the follow-up, treated against control, with 95% intervals.",
    campaigns_none: "No campaign ran this year.",
    campaign: "Campaign",
    users: "Users (treated / control)",
    treated: "Treated",
    control: "Control",
    reported_per_10k: "Users with a fraud report (per 10,000)",
    lost_per_10k: "Won lost (per 10,000 users)",
    difference: "Difference (95% interval)",
    forest: "Campaign effects: users with a fraud report per 10,000, treated minus control, with 95% intervals. Left of zero: fewer frauds among the treated.",
    how: "How to report",
    how_items: [
        "If you may have been defrauded, call the police (112) or the Financial Supervisory Service (1332) at once, and ask the bank you sent from to suspend the payment.",
        "The group's 24-hour report channel (/report) takes reports without a login, in Korean and English, and tells you the status by receipt number.",
        "If 'family' writes from a new number asking for money or an ID photo, call the number you know.",
        "Prosecutors, police and the FSS never ask you to move money or install an app by phone or text.",
    ],
    appendix: "Appendix: where each figure comes from",
    appendix_lead: "Each figure is the result of the query below on the daily rollup (trend_day); day counts Korea-time days from 1970-01-01.",
    figure: "Figure",
    query: "Query",
    other: "other",
    won: "won",
};

use crate::html::{escape as esc, num};

/// A change against last year, as a signed percentage (— when last year had none).
fn change(now: i64, before: i64) -> String {
    if before == 0 {
        return "—".into();
    }
    let pct = (now - before) as f64 * 100.0 / before as f64;
    format!("{pct:+.1}%")
}

/// A vertical bar chart of labelled values, as inline SVG.
fn bars(title: &str, labels: &[String], values: &[i64], colour: &str, lang: &str) -> String {
    let (w, h, left, bottom, top) = (640.0, 240.0, 70.0, 30.0, 24.0);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(1) as f64;
    let slot = (w - left - 10.0) / n;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="100%" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = h - bottom - (h - bottom - top) * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#d0d4da"/><text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#333">{v}</text>"##,
            x2 = w - 10.0,
            tx = left - 6.0,
            ty = y + 4.0,
            v = compact(v.round() as i64, lang)
        );
    }
    for (i, (label, v)) in labels.iter().zip(values).enumerate() {
        let bh = (h - bottom - top) * (*v as f64) / max;
        let x = left + slot * i as f64 + slot * 0.15;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{colour}"><title>{l}: {v}</title></rect><text x="{lx:.1}" y="{ly}" font-size="11" text-anchor="middle" fill="#333">{l}</text>"##,
            y = h - bottom - bh,
            bw = slot * 0.7,
            l = esc(label),
            v = num(*v),
            lx = x + slot * 0.35,
            ly = h - bottom + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart of labelled values (for many categories with long names).
fn hbars(title: &str, labels: &[String], values: &[i64], colour: &str) -> String {
    let (w, row, left) = (640.0, 24.0, 200.0);
    let h = row * labels.len().max(1) as f64 + 10.0;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="100%" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for (i, (label, v)) in labels.iter().zip(values).enumerate() {
        let y = 5.0 + row * i as f64;
        let bw = (w - left - 70.0) * (*v as f64) / max;
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#333">{l}</text><rect x="{left}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{colour}"><title>{l}: {n}</title></rect><text x="{nx:.1}" y="{ty:.1}" font-size="12" fill="#333">{n}</text>"##,
            lx = left - 8.0,
            ty = y + row * 0.6,
            l = esc(label),
            bh = row * 0.7,
            n = num(*v),
            nx = left + bw + 6.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// An axis label: 1.2억 / 3,400만 in Korean, 120M / 34K in English.
fn compact(n: i64, lang: &str) -> String {
    let f = n as f64;
    match (lang, n.abs()) {
        ("ko", 100_000_000..) => format!("{:.1}억", f / 1e8),
        ("ko", 10_000..) => format!("{}만", num((f / 1e4).round() as i64)),
        (_, 1_000_000_000..) => format!("{:.1}B", f / 1e9),
        (_, 1_000_000..) => format!("{:.1}M", f / 1e6),
        (_, 10_000..) => format!("{:.0}K", f / 1e3),
        _ => num(n),
    }
}

/// One language's page.
pub fn page_in(f: &YearFigures, english: bool, other_lang_href: &str) -> String {
    page(f, if english { &EN } else { &KO }, other_lang_href)
}

fn page(f: &YearFigures, w: &Words, other_lang_href: &str) -> String {
    let mut h = String::new();
    let y = f.year;
    let _ = write!(
        h,
        r#"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} {y}</title><style>
body{{font-family:"Noto Sans CJK KR","Noto Sans KR",system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24;line-height:1.6}}
h1{{font-size:2rem;margin-bottom:.2rem}}h2{{border-bottom:2px solid #1b4f8a;padding-bottom:.2rem;margin-top:2.5rem;color:#1b4f8a}}
table{{border-collapse:collapse;width:100%;margin:1rem 0}}th,td{{border-bottom:1px solid #d0d4da;padding:.35rem .5rem;text-align:right}}th:first-child,td:first-child{{text-align:left}}
.kpis{{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:1rem}}.kpi{{border:1px solid #d0d4da;border-radius:.5rem;padding:.8rem}}.kpi b{{display:block;font-size:1.5rem}}
.stages{{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:1rem}}.stage{{background:#eef3f9;border-radius:.5rem;padding:.8rem}}
code{{font-size:.8rem;white-space:pre-wrap;word-break:break-all}}nav{{text-align:right}}
@media print{{nav{{display:none}}h2{{break-after:avoid}}svg,table{{break-inside:avoid}}}}
</style></head><body><nav><a href="{other_lang_href}">{other}</a></nav><h1>{title} {y}</h1><p>{lead}</p>"#,
        lang = w.lang,
        title = w.title,
        lead = w.lead,
        other = if w.lang == "ko" { "English" } else { "한국어" },
    );
    // Key figures.
    let t = &f.total;
    let p = &f.previous;
    let kpi = |label: &str, now: i64, before: i64| {
        format!(
            r#"<div class="kpi">{label}<b>{}</b>{} {}</div>"#,
            num(now),
            w.last_year,
            if before == 0 { "—".to_string() } else { format!("{} ({})", num(before), change(now, before)) }
        )
    };
    h.push_str(r#"<div class="kpis">"#);
    h.push_str(&kpi(w.decisions, t.decisions, p.decisions));
    h.push_str(&kpi(w.protected, t.protected(), p.protected()));
    h.push_str(&kpi(w.blocked, t.blocked, p.blocked));
    h.push_str(&kpi(&format!("{} ({})", w.stopped_amount, w.won), t.stopped_amount, p.stopped_amount));
    h.push_str("</div>");
    // The system.
    let _ = write!(h, "<h2>{}</h2><div class=\"stages\">", w.system);
    for (i, (name, what)) in w.stages.iter().enumerate() {
        let _ = write!(h, "<div class=\"stage\"><b>{}. {name}</b><br>{what}</div>", i + 1);
    }
    h.push_str("</div>");
    // Trends.
    let months: Vec<String> = (1..=12).map(|m| m.to_string()).collect();
    let _ = write!(h, "<h2>{}</h2><h3>{}</h3>", w.trends, w.per_month);
    h.push_str(&bars(
        w.per_month,
        &months,
        &f.months.iter().map(Totals::protected).collect::<Vec<_>>(),
        "#1b4f8a",
        w.lang,
    ));
    let _ = write!(h, "<h3>{}</h3>", w.stopped_per_month);
    h.push_str(&bars(
        w.stopped_per_month,
        &months,
        &f.months.iter().map(|m| m.stopped_amount).collect::<Vec<_>>(),
        "#b5452b",
        w.lang,
    ));
    let _ = write!(h, "<h3>{}</h3>", w.typologies);
    let tname = |t: &str| if t.is_empty() { w.none.to_string() } else { t.replace('_', " ") };
    let top: Vec<&(String, i64, i64)> = f.typologies.iter().take(12).collect();
    h.push_str(&hbars(
        w.typologies,
        &top.iter().map(|(t, _, _)| tname(t)).collect::<Vec<_>>(),
        &top.iter().map(|(_, n, _)| *n).collect::<Vec<_>>(),
        "#2f7d4f",
    ));
    let _ = write!(
        h,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.typology, w.this_year, w.last_year, w.change
    );
    for (typ, n, before) in &f.typologies {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&tname(typ)),
            num(*n),
            num(*before),
            change(*n, *before)
        );
    }
    h.push_str("</table>");
    let _ = write!(h, "<h3>{}</h3>", w.ages);
    let aname = |a: &str| if a.is_empty() { w.not_given.to_string() } else { a.to_string() };
    let _ = write!(
        h,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.age, w.warned, w.held, w.blocked, w.stopped_amount, w.protected
    );
    for (age, v) in &f.age_bands {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&aname(age)),
            num(v.warned),
            num(v.held),
            num(v.blocked),
            num(v.stopped_amount),
            num(v.protected())
        );
    }
    h.push_str("</table>");
    let _ = write!(h, "<h3>{}</h3>", w.channels);
    totals_table(&mut h, w, w.channel, &f.kinds);
    // Defence.
    let _ = write!(h, "<h2>{}</h2>", w.defence);
    totals_table(&mut h, w, w.affiliate, &f.affiliates);
    if !f.rules.is_empty() {
        let _ = write!(
            h,
            "<h3>{}</h3><table><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
            w.top_rules, w.rule, w.decisions, w.affiliates_col
        );
        for (rule, hits, affiliates) in &f.rules {
            let _ =
                write!(h, "<tr><td><code>{}</code></td><td>{}</td><td>{affiliates}</td></tr>", esc(rule), num(*hits));
        }
        h.push_str("</table>");
    }
    let _ = write!(h, "<h3>{}</h3><p>{}</p><ul>", w.models, w.models_lead);
    for (name, meta) in &f.models {
        let _ = write!(h, "<li><b>{name}</b>: <small>{}</small></li>", esc(meta));
    }
    h.push_str("</ul>");
    // Waves.
    let _ = write!(h, "<h2>{}</h2>", w.waves);
    if f.waves.is_empty() {
        let _ = write!(h, "<p>{}</p>", w.waves_none);
    } else {
        let _ = write!(
            h,
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            w.period, w.typology, w.decisions, w.expected
        );
        for wave in &f.waves {
            let _ = write!(
                h,
                "<tr><td>{} – {}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
                day_text(wave.first_day),
                day_text(wave.last_day),
                esc(&tname(&wave.typology)),
                esc(&wave.kind),
                num(wave.count),
                num(wave.expected.round() as i64)
            );
        }
        h.push_str("</table>");
    }
    // The year's campaigns by indicator.
    if !f.clusters.is_empty() {
        let _ = write!(
            h,
            "<h3>{}</h3><p>{}</p><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            w.clusters, w.clusters_lead, w.indicator, w.period, w.decisions, w.reports_col, w.affiliates_col
        );
        for c in &f.clusters {
            // A digest is shown by its first twelve hex digits: enough to look it up.
            let shown = if matches!(c.kind.as_str(), "domain" | "phrase") {
                esc(&c.value)
            } else {
                format!("<code>{}…</code>", esc(&c.value.chars().take(12).collect::<String>()))
            };
            let _ = write!(
                h,
                "<tr><td>{} {shown}</td><td>{} – {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.kind),
                day_text(c.first_day),
                day_text(c.last_day),
                num(c.decisions),
                num(c.reports),
                c.affiliates
            );
        }
        h.push_str("</table>");
    }
    // Intake and follow-up.
    let i = &f.intake;
    let _ = write!(h, "<h2>{}</h2><p>{}</p><div class=\"kpis\">", w.intake, w.intake_lead);
    let share =
        |n: i64, of: i64| if of == 0 { "—".to_string() } else { format!("{:.1}%", n as f64 * 100.0 / of as f64) };
    for (label, value) in [
        (w.cases, num(i.cases)),
        (w.confirmed, num(i.confirmed)),
        (w.sla_met, format!("{} / {} ({})", num(i.sla_met), num(i.acted), share(i.sla_met, i.acted))),
        (w.first_action, i.median_first_action_minutes.map_or("—".into(), |m| format!("{} {}", num(m), w.minutes))),
        (w.money_at_risk, num(i.money_at_risk)),
        (w.fanned_out, num(i.fanned_out)),
        (w.relief_started, num(i.relief_started)),
        (w.refunds_decided, num(i.refunds_decided)),
        (
            w.refunded_claimed,
            format!("{} / {} ({})", num(i.refunded), num(i.refund_claimed), share(i.refunded, i.refund_claimed)),
        ),
        (w.refunds_paid, num(i.refunds_paid)),
    ] {
        let _ = write!(h, "<div class=\"kpi\">{label}<b>{value}</b></div>");
    }
    h.push_str("</div>");
    let _ = write!(h, "<h3>{}</h3>", w.cases_per_month);
    h.push_str(&bars(w.cases_per_month, &months, &i.per_month, "#6b4f9a", w.lang));
    // Campaigns and their measured effect.
    campaigns_section(&mut h, f, w);
    // National context.
    let n = &f.national;
    if !n.police.is_empty() || !n.fss.is_empty() {
        let _ = write!(h, "<h2>{}</h2><p>{}</p>", w.national, w.national_lead);
        let link = |src: &str| {
            let url = src.split_whitespace().next().unwrap_or("");
            format!("<a href=\"{}\">{}</a>", esc(url), esc(src))
        };
        if !n.police.is_empty() {
            let _ = write!(
                h,
                "<h3>{}</h3><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                w.police, w.year_col, w.national_cases, w.damage, w.source
            );
            for p in &n.police {
                let year = match &p.partial {
                    Some(part) => format!("{} ({})", p.year, esc(part)),
                    None => p.year.to_string(),
                };
                let _ = write!(
                    h,
                    "<tr><td>{year}</td><td>{}</td><td>{}</td><td><small>{}</small></td></tr>",
                    num(p.cases),
                    num(p.damage_eok),
                    link(&p.source)
                );
            }
            h.push_str("</table>");
        }
        if !n.fss.is_empty() {
            let _ = write!(
                h,
                "<h3>{}</h3><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                w.fss, w.year_col, w.damage, w.victims, w.refunded, w.source
            );
            for x in &n.fss {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><small>{}</small></td></tr>",
                    x.year,
                    num(x.damage_eok),
                    num(x.victims),
                    x.refunded_eok.map_or("—".into(), num),
                    link(&x.source)
                );
            }
            h.push_str("</table>");
        }
    }
    // How to report.
    let _ = write!(h, "<h2>{}</h2><ul>", w.how);
    for item in w.how_items {
        let _ = write!(h, "<li>{item}</li>");
    }
    h.push_str("</ul>");
    // Appendix.
    let _ = write!(
        h,
        "<h2>{}</h2><p>{}</p><table><tr><th>{}</th><th>{}</th></tr>",
        w.appendix, w.appendix_lead, w.figure, w.query
    );
    for (figure, query) in &f.sources {
        let _ = write!(h, "<tr><td>{figure}</td><td><code>{}</code></td></tr>", esc(query));
    }
    h.push_str("</table></body></html>\n");
    h
}

/// A per-10,000 figure with one decimal: 1,288.5.
fn per10k(x: f64) -> String {
    let tenths = (x * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    format!("{sign}{}.{}", num((tenths / 10).abs()), (tenths % 10).abs())
}

/// A signed figure: +1.5 / -1,288.5 with one decimal, or whole won.
fn signed(x: f64, decimal: bool) -> String {
    let text = if decimal { per10k(x) } else { num(x.round() as i64) };
    if text.starts_with('-') { text } else { format!("+{text}") }
}

/// A difference with its interval: `-402.1 (-828.4 – -25.0)`.
fn interval(e: &app::effect::Effect, decimal: bool) -> String {
    format!("{} ({} – {})", signed(e.difference, decimal), signed(e.low, decimal), signed(e.high, decimal))
}

fn campaigns_section(h: &mut String, f: &YearFigures, w: &Words) {
    let _ = write!(h, "<h2>{}</h2><p>{}</p>", w.campaigns, w.campaigns_lead);
    if f.campaigns.is_empty() {
        let _ = write!(h, "<p>{}</p>", w.campaigns_none);
        return;
    }
    let _ = write!(
        h,
        "<table><tr><th>{}</th><th>{}</th><th>{} ({} / {})</th><th>{}</th><th>{} ({} / {})</th><th>{}</th></tr>",
        w.campaign,
        w.users,
        w.reported_per_10k,
        w.treated,
        w.control,
        w.difference,
        w.lost_per_10k,
        w.treated,
        w.control,
        w.difference
    );
    for (c, e) in &f.campaigns {
        let rate = |reported: u64, users: u64| if users == 0 { 0.0 } else { reported as f64 / users as f64 * 1e4 };
        let _ = write!(
            h,
            "<tr><td>{} <small>({} – {})</small></td><td>{} / {}</td><td>{} / {}</td><td>{}</td><td>{} / {}</td><td>{}</td></tr>",
            esc(&c.name),
            day_text(app::trends::kst_day(c.starts_ms)),
            day_text(app::trends::kst_day(c.enrolment_end() - 1)),
            num(e.treated.users as i64),
            num(e.control.users as i64),
            per10k(rate(e.treated.reported, e.treated.users)),
            per10k(rate(e.control.reported, e.control.users)),
            e.reports.as_ref().map_or("—".into(), |r| interval(r, true)),
            num(e.treated.won_per_10k().round() as i64),
            num(e.control.won_per_10k().round() as i64),
            e.losses.as_ref().map_or("—".into(), |l| interval(l, false)),
        );
    }
    h.push_str("</table>");
    let rows: Vec<(String, app::effect::Effect)> =
        f.campaigns.iter().filter_map(|(c, e)| e.reports.map(|r| (c.name.clone(), r))).collect();
    if !rows.is_empty() {
        h.push_str(&forest(w.forest, &rows));
    }
}

/// A forest plot: each row's difference as a dot on its 95 % interval, against a zero line.
fn forest(title: &str, rows: &[(String, app::effect::Effect)]) -> String {
    let (w, row, left, right) = (640.0, 28.0, 220.0, 20.0);
    let h = row * rows.len() as f64 + 30.0;
    let lo = rows.iter().map(|(_, e)| e.low).fold(0.0_f64, f64::min);
    let hi = rows.iter().map(|(_, e)| e.high).fold(0.0_f64, f64::max);
    let span = (hi - lo).max(1e-9);
    let x = |v: f64| left + (w - left - right) * (v - lo) / span;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="100%" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><line x1="{z:.1}" x2="{z:.1}" y1="4" y2="{zb:.1}" stroke="#888" stroke-dasharray="4 3"/><text x="{z:.1}" y="{zt:.1}" font-size="11" text-anchor="middle" fill="#333">0</text>"##,
        t = esc(title),
        z = x(0.0),
        zb = h - 22.0,
        zt = h - 8.0
    );
    for (i, (name, e)) in rows.iter().enumerate() {
        let y = 14.0 + row * i as f64;
        let colour = if e.high < 0.0 {
            "#1b7f4b"
        } else if e.low > 0.0 {
            "#b3261e"
        } else {
            "#555"
        };
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#333">{n}</text><line x1="{a:.1}" x2="{b:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"/><circle cx="{c:.1}" cy="{y:.1}" r="5" fill="{colour}"><title>{n}: {d}</title></circle>"##,
            lx = left - 10.0,
            ty = y + 4.0,
            n = esc(name),
            a = x(e.low),
            b = x(e.high),
            c = x(e.difference),
            d = esc(&interval(e, true))
        );
    }
    svg.push_str("</svg>");
    svg
}

fn totals_table(h: &mut String, w: &Words, first: &str, rows: &[(String, Totals)]) {
    let _ = write!(
        h,
        "<table><tr><th>{first}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.decisions, w.warned, w.held, w.blocked, w.stopped_amount
    );
    for (name, v) in rows {
        let name = if name.is_empty() { w.other } else { name.as_str() };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            num(v.decisions),
            num(v.warned),
            num(v.held),
            num(v.blocked),
            num(v.stopped_amount)
        );
    }
    h.push_str("</table>");
}

/// The two pages: Korean first, English second.
pub fn render(f: &YearFigures) -> (String, String) {
    (page(f, &KO, "index.en.html"), page(f, &EN, "index.html"))
}

/// Writes `index.html`, `index.en.html` and, when Chromium is installed, `report.pdf` into
/// `out`; says what it wrote.
pub fn write(f: &YearFigures, out: &Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let (ko, en) = render(f);
    let mut wrote = Vec::new();
    for (name, text) in [("index.html", ko), ("index.en.html", en)] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        wrote.push(path.display().to_string());
    }
    let index = std::fs::canonicalize(out.join("index.html")).map_err(|e| e.to_string())?;
    let pdf = out.join("report.pdf");
    // A profile of its own, so a browser already running (or another report) is no obstacle.
    let profile = std::env::temp_dir().join(format!("ansim-report-{}", std::process::id()));
    let browsers = std::env::var("ANSIM_CHROMIUM")
        .map(|b| vec![b])
        .unwrap_or_else(|_| ["chromium", "chromium-browser", "google-chrome"].iter().map(|b| b.to_string()).collect());
    for browser in browsers {
        let run = std::process::Command::new(browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", "--no-first-run"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(format!("file://{}", index.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if matches!(run, Ok(s) if s.success()) && pdf.is_file() {
            wrote.push(pdf.display().to_string());
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&profile);
    Ok(wrote)
}

#[cfg(test)]
mod tests {
    use super::{interval, per10k, signed};

    #[test]
    fn rates_and_intervals_read_as_numbers() {
        assert_eq!(per10k(1_288.46), "1,288.5");
        assert_eq!(per10k(-402.12), "-402.1");
        assert_eq!(per10k(-0.04), "0.0");
        assert_eq!(signed(25.0, true), "+25.0");
        let e = app::effect::Effect {
            treated: 0.0,
            control: 0.0,
            difference: -120_954_584.1,
            low: -385_377_318.3,
            high: 143_468_150.1,
        };
        assert_eq!(interval(&e, false), "-120,954,584 (-385,377,318 – +143,468,150)");
    }

    #[test]
    fn numbers_read_as_numbers() {
        assert_eq!(super::num(0), "0");
        assert_eq!(super::num(1_234_567), "1,234,567");
        assert_eq!(super::num(-1_000), "-1,000");
        assert_eq!(super::change(110, 100), "+10.0%");
        assert_eq!(super::change(5, 0), "—");
        assert_eq!(super::compact(512_745_000, "ko"), "5.1억");
        assert_eq!(super::compact(34_000_000, "ko"), "3,400만");
        assert_eq!(super::compact(512_745_000, "en"), "512.7M");
        assert_eq!(super::compact(950, "en"), "950");
    }
}
