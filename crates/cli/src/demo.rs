//! `ansim demo`: five affiliates with the sample ruleset, one all-scopes key each (written to
//! `demo-keys.json`), console users with their passwords (`demo-users.json`), self-protection for some bank customers, and a traffic generator that sends simulated normal traffic and Korean
//! scam stories through the application at a steady rate, re-timed to the wall clock so the
//! live page shows "now".

use ansim_http::Server;
use app::{App, AppError, Scope};
use domain::{AffiliateId, Timestamp};
use sim::{SimConfig, Simulator};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

/// The sample ruleset every demo affiliate starts with.
pub const SAMPLE_RULESET: &str = include_str!("../../../test_data/rulesets/sample.toml");

/// The demo affiliates: id and display name (the simulator's five).
pub const AFFILIATES: [(&str, &str); 5] = [
    ("messenger", "Messenger"),
    ("pay", "Pay"),
    ("bank", "Bank"),
    ("securities", "Securities"),
    ("insurance", "Insurance"),
];

/// The sample ruleset named after `affiliate`, so decisions say `pay@v1`.
pub fn ruleset_for(affiliate: &str) -> String {
    SAMPLE_RULESET.replacen("name = \"group\"", &format!("name = \"{affiliate}\""), 1)
}

/// Ensures the five affiliates with the sample ruleset, issues one key per affiliate with every
/// scope, and writes them to `dir/demo-keys.json` (`{"pay": "ak_...", ...}`).
pub fn setup(app: &App, dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut keys = BTreeMap::new();
    for (id, name) in AFFILIATES {
        let a = AffiliateId(id.into());
        app.ensure_affiliate(&a, name, &ruleset_for(id)).map_err(|e| format!("affiliate {id}: {e}"))?;
        let key = app.create_key(&a, &Scope::ALL).map_err(|e| format!("key for {id}: {e}"))?;
        keys.insert(id.to_string(), key);
    }
    protect_some_bank_users(app).map_err(|e| format!("protection: {e}"))?;
    // The safety table: its analysts' key works the cases and reads registry totals.
    let group = AffiliateId(app::GROUP.into());
    app.ensure_affiliate(&group, "Safety table", &ruleset_for(app::GROUP)).map_err(|e| format!("group: {e}"))?;
    let key = app.create_key(&group, &[Scope::Cases, Scope::Admin]).map_err(|e| format!("key for group: {e}"))?;
    keys.insert(app::GROUP.to_string(), key);
    let path = dir.join("demo-keys.json");
    let json = serde_json::to_string_pretty(&keys).unwrap_or_default();
    std::fs::write(&path, json + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    setup_people(app, dir)?;
    Ok(keys)
}

/// The demo's console users: (user name, affiliate, role).
pub const PEOPLE: [(&str, &str, app::people::Role); 5] = [
    ("analyst", app::GROUP, app::people::Role::Analyst),
    ("admin", app::GROUP, app::people::Role::GroupAdmin),
    ("bank.admin", "bank", app::people::Role::AffiliateAdmin),
    ("bank.analyst", "bank", app::people::Role::Analyst),
    ("pay.analyst", "pay", app::people::Role::Analyst),
];

/// Adds the demo's console users (or gives existing ones a new password) and writes
/// `dir/demo-users.json`: `{"analyst": {"password", "affiliate", "role"}, ...}`.
fn setup_people(app: &App, dir: &Path) -> Result<(), String> {
    use app::people::Actor;
    let mut users = serde_json::Map::new();
    for (name, affiliate, role) in PEOPLE {
        let password = app::people::new_password();
        let a = AffiliateId(affiliate.into());
        let done = match app.add_person(Actor::Operator, name, &a, role, &password) {
            Err(AppError::Conflict(_)) => app.set_password(Actor::Operator, name, &password),
            other => other.map(|_| ()),
        };
        done.map_err(|e| format!("console user {name}: {e}"))?;
        users.insert(
            name.into(),
            serde_json::json!({"password": password, "affiliate": affiliate, "role": role.as_str()}),
        );
    }
    let path = dir.join("demo-users.json");
    let json = serde_json::to_string_pretty(&users).unwrap_or_default();
    std::fs::write(&path, json + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Every this many bank customers of the simulation turned on self-protection.
const PROTECTED_EVERY: usize = 20;

/// Turns on delayed transfer (1,000,000 won or more to a new payee held 3 hours) and the loan
/// lock for every 20th simulated bank customer, so the demo's traffic shows protection holds.
fn protect_some_bank_users(app: &App) -> Result<(), AppError> {
    use app::protection::{DelayedTransfer, Settings};
    let bank = AffiliateId("bank".into());
    let settings = Settings {
        delayed_transfer: Some(DelayedTransfer { threshold: domain::Krw(1_000_000), hours: 3 }),
        designated_accounts: None,
        loan_lock: true,
    };
    for n in (0..SUBJECTS).step_by(PROTECTED_EVERY) {
        let subject = format!("b_{n:05}");
        if app.protection(&bank, &subject)?.updated_ms == 0 {
            app.set_protection(&bank, &subject, settings.clone())?;
        }
    }
    Ok(())
}

/// Most decisions waiting for their commit at once.
const IN_FLIGHT: usize = 256;
/// How often the generator wakes up.
const TICK: Duration = Duration::from_millis(20);

/// Subjects per affiliate. Every event is re-timed to now, so the simulated hours collapse
/// into seconds; a large population keeps each subject's velocity plausible. With 2,000 about
/// 1% of normal events are held (40 subjects, the fixture's size, hold 8%), while the scam
/// stories are mostly warned, held or blocked.
const SUBJECTS: usize = 2_000;

/// Sends `rate` events per second through `server` until `stop` turns true, then waits for the
/// decisions in flight. Returns the number of events sent.
pub async fn traffic(server: Arc<Server>, rate: f64, seed: u64, mut stop: watch::Receiver<bool>) -> u64 {
    if rate <= 0.0 {
        // No traffic (load tests bring their own): just wait to be stopped.
        let _ = stop.wait_for(|s| *s).await;
        return 0;
    }
    let cfg = SimConfig {
        seed,
        start: Timestamp(app::now_ms()),
        subjects: SUBJECTS,
        scam_share_per_mille: 40,
        ..SimConfig::default()
    };
    // Building the population takes a moment: not on the async workers.
    let Ok(mut sim) = tokio::task::spawn_blocking(move || Simulator::new(cfg)).await else { return 0 };
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = Instant::now();
    let mut sent: u64 = 0;
    // The latest simulated time seen: a deliberately late event keeps its lateness.
    let mut latest_sim = i64::MIN;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        // Fell behind (slow disk): skip ahead rather than burst.
        if due > sent + rate as u64 * 2 {
            sent = due - rate as u64;
        }
        while sent < due {
            let mut labeled = sim.next_event();
            let late = latest_sim.saturating_sub(labeled.event.at.0).max(0);
            latest_sim = latest_sim.max(labeled.event.at.0);
            labeled.event.at = Timestamp(app::now_ms() - late);
            let affiliate = labeled.event.affiliate.clone();
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { break };
            let server = Arc::clone(&server);
            let accounts = MuleAccounts::of(&labeled.event);
            let victim = Victim::of(&labeled);
            tokio::spawn(async move {
                match server.decide(&affiliate, labeled.event).await {
                    Ok(d) => {
                        if let Some(v) = victim.filter(|_| d.decision.verdict < domain::Verdict::Hold) {
                            v.missed();
                        }
                        accounts.report(&server, &affiliate, &d).await
                    }
                    Err(e) => log_failure(&e),
                }
                drop(permit);
            });
            sent += 1;
        }
    }
    // Every permit back: every decision sent has committed or failed.
    let _ = permits.acquire_many(IN_FLIGHT as u32).await;
    sent
}

/// A scam-story transfer that went through: its victim will report it on the 24-hour channel.
#[derive(Debug, Clone)]
struct Victim {
    account: String,
    amount: i64,
    age: Option<u8>,
    at_ms: i64,
}

/// Transfers the rules let through, waiting for their victims to notice (demo only).
static MISSED: std::sync::Mutex<std::collections::VecDeque<Victim>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

impl Victim {
    /// The victim's report of the transfer: by the public channel (`subject` none) or filed by
    /// their affiliate for its user `subject`.
    fn report(self, subject: Option<String>) -> app::cases::ReportForm {
        app::cases::ReportForm {
            kind: app::cases::ReportKind::VoicePhishing,
            description: "기관을 사칭한 연락을 받고 안내받은 계좌로 송금했습니다.".into(),
            amount: Some(domain::Krw(self.amount)),
            transferred_at: Some(Timestamp(self.at_ms).to_kst_rfc3339()),
            contact_ongoing: false,
            age: self.age,
            indicators: vec![app::cases::ReportedIndicator { kind: "account".into(), value: self.account }],
            contact: None,
            subject,
        }
    }

    fn of(l: &sim::Labeled) -> Option<Victim> {
        let domain::EventBody::Transfer(t) = &l.event.body else { return None };
        if !l.is_scam() {
            return None;
        }
        let age = l.event.subject.age_band.as_deref().and_then(|b| b.trim_end_matches('s').parse::<u8>().ok());
        Some(Victim {
            account: t.counterparty.account_key.clone()?,
            amount: t.amount.won(),
            age: age.map(|a| a + 5),
            at_ms: l.event.at.millis(),
        })
    }

    fn missed(self) {
        let mut q = MISSED.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() < 1_000 {
            q.push_back(self);
        }
    }
}

/// The demo's report channel and safety table at work, while `stop` is false: every few
/// seconds a victim of a scam transfer the rules let through reports it (no key, like the
/// public form), and the group's analyst works the queue: urgent cases are confirmed (the
/// shield turns red everywhere, the holding affiliate's webhook gets a hold action), the rest
/// are triaged.
pub async fn casework(server: Arc<Server>, rate: f64, mut stop: watch::Receiver<bool>) {
    if rate <= 0.0 {
        let _ = stop.wait_for(|s| *s).await;
        return;
    }
    let analyst = app::Principal {
        affiliate: AffiliateId(app::GROUP.into()),
        scopes: vec![Scope::Cases],
        name: "demo-analyst".into(),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    while ansim_http::next_tick(&mut tick, &mut stop).await {
        let victim = MISSED.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let app = Arc::clone(&server.app);
        let analyst = analyst.clone();
        let done = tokio::task::spawn_blocking(move || -> Result<(), AppError> {
            if let Some(v) = victim {
                app.file_report(&app::cases::Reporter::Public { ip: "127.0.0.1".into() }, v.report(None))?;
            }
            // Urgent cases (a victim's report: money, minutes, age) are confirmed, whatever
            // their state; new ones below that are triaged.
            for c in app.case_queue(&analyst, 50)? {
                let change = if c.priority >= 55 && c.outcome.is_none() {
                    app::cases::Change { outcome: Some("confirmed_fraud".into()), ..Default::default() }
                } else if c.state == domain::CaseState::New {
                    app::cases::Change { state: Some("triaged".into()), ..Default::default() }
                } else {
                    continue;
                };
                app.change_case(&analyst, c.id, change)?;
            }
            Ok(())
        })
        .await;
        if let Ok(Err(e)) = done {
            log_failure(&e);
        }
    }
}

/// Points every demo affiliate's webhook at the demo receiver on this server and declares
/// what each holds (the bank: Kakao Bank and K Bank accounts; the messenger: profiles and
/// phones), so confirmed cases send actions that arrive at `/demo/webhooks`.
pub fn webhooks(app: &App, base: &str) -> Result<ansim_http::webhook::Receiver, String> {
    let ids: Vec<&str> = AFFILIATES.iter().map(|a| a.0).collect();
    let receiver = ansim_http::webhook::demo_setup(app, base, &ids)?;
    // The first delivery to the bank fails on purpose: the retry shows on the receiver page.
    receiver.fail_next(1);
    for (a, holds) in [("bank", vec!["bank:090", "bank:089"]), ("messenger", vec!["profile", "phone"])] {
        let holds: Vec<String> = holds.into_iter().map(str::to_string).collect();
        app.store().set_holdings(&AffiliateId(a.into()), &holds).map_err(|e| format!("holdings of {a}: {e}"))?;
    }
    Ok(receiver)
}

/// The accounts a transfer touches, kept so the demo's "analyst" can report them.
struct MuleAccounts {
    payee: Option<String>,
    source: Option<String>,
}

impl MuleAccounts {
    fn of(e: &domain::Event) -> MuleAccounts {
        match &e.body {
            domain::EventBody::Transfer(t) => MuleAccounts {
                payee: t.counterparty.account_key.clone(),
                source: t.source.as_ref().and_then(|s| s.account_key.clone()),
            },
            _ => MuleAccounts { payee: None, source: None },
        }
    }

    /// Plays the affiliate's analyst: a held or blocked mule pattern is reported to the group's
    /// registry (the collecting payee, or the account cashing out), so the other affiliates'
    /// next transfers to it light the shield — propagation visible on the live page.
    async fn report(self, server: &Arc<Server>, affiliate: &domain::AffiliateId, d: &app::Decided) {
        if d.decision.verdict < domain::Verdict::Hold {
            return;
        }
        let rule = |id: &str| d.decision.reasons.iter().any(|r| &*r.rule == id);
        let account = if rule("payee-collects-from-many") {
            self.payee
        } else if rule("mule-cash-out") || rule("fast-cash-out") {
            self.source
        } else {
            None
        };
        let Some(account) = account else { return };
        let (app, affiliate) = (Arc::clone(&server.app), affiliate.clone());
        let reported = tokio::task::spawn_blocking(move || {
            app.report_indicator(
                &affiliate,
                indicators::IndicatorKind::Account,
                &account,
                "mule",
                app::registry::Status::Reported,
            )
        })
        .await;
        if let Ok(Err(e)) = reported {
            log_failure(&e);
        }
    }
}

fn log_failure(e: &AppError) {
    tracing::warn!(error = %e, "demo traffic: decision failed");
}

/// A seed from the clock, so each demo run sends new event ids.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(7, |d| d.as_nanos() as u64)
}

/// Seollal and Chuseok (the day itself) 2024–2027, as in the relief calendar's holiday data
/// (`crates/app/data/kr_holidays.toml`): the weeks before them bring holiday lures (parcel,
/// greeting and gift texts).
const HOLIDAYS: [&str; 8] =
    ["2024-02-10", "2024-09-17", "2025-01-29", "2025-10-06", "2026-02-17", "2026-09-25", "2027-02-07", "2027-09-15"];

/// The scam stories the seeded year's waves are made of, in the order they come.
const WAVES: [&str; 6] = [
    "mule_account",
    "stranger_contact_then_transfer",
    "remote_app_new_payee",
    "gift_card_payment",
    "account_change_then_loan",
    "smishing_messages",
];

/// What a seeded day looks like: the share of scam events (per mille) and the one scenario
/// its stories are about, if any.
fn season(day: i64, first: i64) -> (u32, Option<&'static str>) {
    let holiday = HOLIDAYS.iter().filter_map(|h| app::trends::parse_day(h)).any(|h| (h - 10..=h + 1).contains(&day));
    if holiday {
        return (60, Some("smishing_messages"));
    }
    // A wave of six days every eight weeks, from the twelfth week on.
    let since = day - first - 77;
    if since >= 0 && since % 56 < 6 {
        return (90, Some(WAVES[(since / 56) as usize % WAVES.len()]));
    }
    (30, None)
}

/// The prevention campaigns of the seeded year: id, name, English name, segment, first day
/// (days after the seeded year's first), length in days, hold-out per mille.
const CAMPAIGNS: [(&str, &str, &str, &str, i64, i64, u32); 2] = [
    (
        "seniors-before-you-send",
        "60대 이상 송금 전 확인 안내",
        "Seniors: check before you send",
        "(subject.age_band == '60s' || subject.age_band == '70s' || subject.age_band == '80s') && event.kind == 'transfer'",
        90,
        90,
        300,
    ),
    (
        "stranger-contact-warning",
        "낯선 연락 뒤 송금 주의",
        "A stranger's contact, then a transfer",
        "features.stranger_contacts_30m >= 1",
        200,
        100,
        200,
    ),
];

/// The share of treated campaign members' frauds the seeded year lets a notice avert (per
/// mille): the injected effect its report should recover within its interval.
const INJECTED_EFFECT_PER_MILLE: u32 = 500;

/// Creates the seeded year's campaigns (kept if a previous seeding made them).
fn seed_campaigns(app: &App, first: i64) -> Result<Vec<app::campaigns::Campaign>, String> {
    let group = app::Principal {
        affiliate: AffiliateId(app::GROUP.into()),
        scopes: vec![Scope::RulesWrite],
        name: "demo-seed".into(),
    };
    let mut out = Vec::new();
    for (id, ko, en, segment, from, days, holdout) in CAMPAIGNS {
        let day = |d: i64| format!("{}T00:00:00+09:00", app::trends::day_text(first + d));
        let form = app::campaigns::CampaignForm {
            id: id.into(),
            name: ko.into(),
            segment: segment.into(),
            affiliates: Vec::new(),
            ko: app::campaigns::Notice {
                title: ko.into(),
                body: "검찰·경찰·금융기관은 전화나 문자로 송금이나 앱 설치를 요구하지 않습니다. 보내기 전에 아는 번호로 직접 확인하세요.".into(),
            },
            en: app::campaigns::Notice {
                title: en.into(),
                body: "No prosecutor, police officer or bank asks you to move money or install an app by phone or text. Call a number you know before you send.".into(),
            },
            starts_at: day(from),
            ends_at: day(from + days),
            holdout_per_mille: holdout,
            follow_up_days: 30,
        };
        match app.create_campaign(&group, form) {
            Ok(v) => out.push(v.campaign),
            Err(AppError::Conflict(_)) => out.push(app.campaign(&group, id).map_err(|e| e.to_string())?.campaign),
            Err(e) => return Err(format!("campaign {id}: {e}")),
        }
    }
    Ok(out)
}

/// Seeds the 365 days before today with simulated traffic decided through `server` as it
/// would have been — normal use, scam stories, holiday lures before Seollal and Chuseok and a
/// wave of one kind of scam about every eight weeks — so trends, alerts and the yearly report
/// have a year to show. Two prevention campaigns with a hold-out control run during it; the
/// victims of scam transfers the rules let through report them two hours later through their
/// affiliate, except that a notice averts half of the frauds of the campaigns' treated members
/// (the injected effect). Returns the events decided and the reports filed.
pub async fn seed_year(server: Arc<Server>, seed: u64) -> Result<(u64, u64), String> {
    let now = app::now_ms();
    let today = app::trends::kst_day(now);
    let first = today - 365;
    let campaigns = {
        let app = Arc::clone(&server.app);
        tokio::task::spawn_blocking(move || seed_campaigns(&app, first)).await.map_err(|e| e.to_string())??
    };
    let cfg = SimConfig {
        seed,
        // Midnight in Korea of the first day.
        start: Timestamp(first * 86_400_000 - 9 * 3_600_000),
        subjects: SUBJECTS,
        scam_share_per_mille: 30,
        peak_events_per_hour: 90,
    };
    let mut sim = tokio::task::spawn_blocking(move || Simulator::new(cfg)).await.map_err(|e| e.to_string())?;
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let victims: Arc<std::sync::Mutex<Vec<(AffiliateId, String, Victim)>>> = Arc::default();
    let (mut sent, mut day) = (0u64, first - 1);
    loop {
        let labeled = sim.next_event();
        // Stop an hour ago: the present belongs to the live traffic.
        if labeled.event.at.0 >= now - 3_600_000 {
            break;
        }
        let d = app::trends::kst_day(labeled.event.at.0);
        if d != day {
            day = d;
            let (share, focus) = season(day, first);
            sim.set_scam_share(share);
            sim.focus(focus)?;
        }
        let affiliate = labeled.event.affiliate.clone();
        let victim = Victim::of(&labeled).map(|v| (affiliate.clone(), labeled.event.subject.id.to_string(), v));
        let permit = Arc::clone(&permits).acquire_owned().await.map_err(|e| e.to_string())?;
        let (server, failed, victims) = (Arc::clone(&server), Arc::clone(&failed), Arc::clone(&victims));
        tokio::spawn(async move {
            match server.decide(&affiliate, labeled.event).await {
                // The money left: its victim will report it.
                Ok(d) if d.decision.verdict < domain::Verdict::Hold => {
                    if let Some(v) = victim {
                        victims.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    log_failure(&e);
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            drop(permit);
        });
        sent += 1;
    }
    let _ = permits.acquire_many(IN_FLIGHT as u32).await;
    if let n @ 1.. = failed.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(format!("{n} of {sent} seeded events were not decided (see the log)"));
    }
    let victims = std::mem::take(&mut *victims.lock().unwrap_or_else(|p| p.into_inner()));
    let app = Arc::clone(&server.app);
    let reported = tokio::task::spawn_blocking(move || seed_reports(&app, &campaigns, victims))
        .await
        .map_err(|e| e.to_string())??;
    Ok((sent, reported))
}

/// Enrols the seeded year's campaign members (the outbox), then files the victims' reports,
/// each through its affiliate and dated two hours after its transfer — but for a treated
/// member of a campaign running then, a deterministic half of the frauds were averted and are
/// not reported. Returns the reports filed.
fn seed_reports(
    app: &App,
    campaigns: &[app::campaigns::Campaign],
    mut victims: Vec<(AffiliateId, String, Victim)>,
) -> Result<u64, String> {
    while app.process_outbox(10_000).map_err(|e| e.to_string())? > 0 {}
    let mut members = std::collections::HashSet::new();
    for c in campaigns {
        for a in &c.affiliates {
            for s in app.store().campaign_subjects(&c.id, a).map_err(|e| e.to_string())? {
                members.insert((c.id.clone(), a.clone(), s));
            }
        }
    }
    victims.sort_by_key(|(_, _, v)| v.at_ms);
    let mut filed = 0;
    for (a, subject, v) in victims {
        let averted = campaigns.iter().any(|c| {
            (c.starts_ms..c.outcome_end()).contains(&v.at_ms)
                && members.contains(&(c.id.clone(), a.clone(), subject.clone()))
                && !app::effect::in_control(&c.id, &format!("{a}\0{subject}"), c.holdout_per_mille)
                // A keyed draw: the same fraud is averted on every seeding.
                && app::effect::in_control("averted", &format!("{subject}\0{}", v.at_ms), INJECTED_EFFECT_PER_MILLE)
        });
        if averted {
            continue;
        }
        let at = v.at_ms + 2 * 3_600_000;
        app.file_report_at(&app::cases::Reporter::Affiliate(a), v.report(Some(subject)), at)
            .map_err(|e| format!("seeded report: {e}"))?;
        filed += 1;
    }
    Ok(filed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_seeded_year_has_holiday_lures_and_waves() {
        let first = app::trends::parse_day("2025-12-07").unwrap();
        let day = |d: &str| super::season(app::trends::parse_day(d).unwrap(), first);
        assert_eq!(day("2026-01-05"), (30, None), "an ordinary day");
        assert_eq!(day("2026-02-10"), (60, Some("smishing_messages")), "a week before Seollal");
        assert_eq!(day("2026-09-26"), (60, Some("smishing_messages")), "the day after Chuseok");
        // The first wave starts on the 78th day, the second eight weeks later.
        assert_eq!(day("2026-02-22"), (90, Some("mule_account")));
        assert_eq!(day("2026-02-27"), (90, Some("mule_account")));
        assert_eq!(day("2026-02-28"), (30, None));
        assert_eq!(day("2026-04-19"), (90, Some("stranger_contact_then_transfer")));
    }
}
