//! Deterministic, seeded traffic simulator: a stream of realistic [`Event`]s for the five
//! affiliates (`messenger`, `pay`, `bank`, `securities`, `insurance`), mostly normal use with a
//! configurable share of Korean scam stories woven in, each event labelled with the scenario it
//! belongs to.
//!
//! It is pure: no IO, no wall clock, no external randomness. The same [`SimConfig`] always yields
//! the same events, on every platform (the generator is SplitMix64 and all arithmetic is
//! integer). It feeds the committed fixture `test_data/events/sample.jsonl` (see the
//! `gen_events` example) and the `ansim demo` live traffic.
//!
//! **Time.** Event times follow a day/night rhythm in KST (few events between 1 and 5 o'clock,
//! most in office hours and the evening). They never go backwards, except that about 1% of the
//! normal events are reported 1 to 5 minutes late (their `at` lies before events already
//! emitted), to exercise out-of-order handling. Scam events are never late, so each story keeps
//! its order.
//!
//! **Who does what.** Each affiliate has its own subjects (`m_00001`, `p_00001`, `b_00001`,
//! `s_00001`, `i_00001`), with no link between affiliates. The messenger reports chat messages,
//! first contacts, chat remittances (transfers, channel `chat`) and gift-shop payments; the pay
//! app reports payments and remittances; the bank reports logins, transfers (app, web, ATM),
//! loans, calls from unknown numbers (contacts, channel `phone`) and SMS seen by its
//! anti-phishing scanner (messages without a channel); securities and insurance report mostly
//! logins, own-account transfers and loans. Bank and pay transfers carry `transfer.source` (the
//! subject's own account), so money into an account can be matched with money out of it. A
//! scam story stays within one affiliate, so features keyed by `subject.id` see all of it —
//! except `mule_account`, whose inflows come from many subjects of the bank and the pay app, and
//! `smishing_messages`, one sender's blast to several messenger subjects.
//!
//! **Scenarios** ([`SCENARIOS`]): `remote_app_new_payee`, `balance_drain`, `mule_account`,
//! `night_first_transfer`, `new_device_login_then_transfer`, `stranger_contact_then_transfer`,
//! `account_change_then_loan`, `smishing_messages`, `gift_card_payment`. Every event of a story
//! carries the story's label, including the harmless-looking login that opens it. Stories start
//! in a shuffled rotation, so every scenario is started once before any is started twice (a
//! `night_first_transfer` story waits for the next night). Scam payees are never-used accounts
//! from a small pool of collection accounts, reused across victims as real ones are.
//!
//! **Feature state starts cold.** Over a short run many normal transfers go to a payee not seen
//! before in the stream (about half in the 3,000-event fixture, but few of them of 1,000,000 won
//! or more): judge "new payee" together with amount and context.
//!
//! **Scam wording.** Most scam messages quote real scam texts: rows of the sourced corpus
//! `test_data/messages/korean-real/` (compiled in; rows under a non-commercial licence are never
//! used), with an invented look-alike link put where the quoted text shows "(URL)" or appended.
//! The rest use the simulator's own templates. The choice is derived from values already drawn,
//! so the event stream is the same as with templates alone apart from the texts.
//!
//! Synthetic data otherwise: phone numbers use a middle group starting with 0 (not given to
//! subscribers); foreign IPv4 addresses come from the documentation ranges of RFC 5737 and IPv6
//! ones from `2001:db8::/32` (RFC 3849), domestic IPv4 ones from Korean carrier prefixes with
//! random hosts; names are masked surnames; the phishing domains are invented look-alikes.

use domain::{
    AccountChange, AffiliateId, ChangeKind, Channel, Contact, Counterparty, Device, DeviceScan, Event, EventBody,
    EventId, IpInfo, Krw, LoanApplication, Login, Merchant, Message, Payment, Subject, SubjectId, Timestamp, Transfer,
};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// The label of events that belong to no scam story.
pub const NORMAL: &str = "normal";

/// The labels of the scam scenarios, in a fixed order.
pub const SCENARIOS: [&str; 9] = [
    "remote_app_new_payee",
    "balance_drain",
    "mule_account",
    "night_first_transfer",
    "new_device_login_then_transfer",
    "stranger_contact_then_transfer",
    "account_change_then_loan",
    "smishing_messages",
    "gift_card_payment",
];

/// The affiliate ids the simulator uses.
pub const AFFILIATES: [&str; 5] = ["messenger", "pay", "bank", "securities", "insurance"];

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const KST: i64 = 9 * HOUR;

/// How the traffic is generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seed of the generator; the same configuration always gives the same events.
    pub seed: u64,
    /// Time of the first event.
    pub start: Timestamp,
    /// Subjects per affiliate (at least 1). Small populations repeat payees sooner; feature
    /// state starts cold either way, so early habitual payees look new.
    pub subjects: usize,
    /// Share of events that belong to scam stories, in per mille (30 = 3%).
    pub scam_share_per_mille: u32,
    /// Normal events per hour at the busiest hours of the day (fewer at night).
    pub peak_events_per_hour: u32,
}

impl Default for SimConfig {
    /// Seed 7 from Monday 2026-11-23 06:00 KST, 40 subjects per affiliate, 3% scam, 80 events
    /// per peak hour: 3,000 events span about two days and two nights.
    fn default() -> Self {
        SimConfig {
            seed: 7,
            start: Timestamp(1_795_381_200_000),
            subjects: 40,
            scam_share_per_mille: 30,
            peak_events_per_hour: 80,
        }
    }
}

impl SimConfig {
    /// The default configuration with another seed.
    pub fn with_seed(seed: u64) -> Self {
        SimConfig { seed, ..SimConfig::default() }
    }
}

/// One generated event and the scenario it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled {
    /// The event, valid: it round-trips through [`Event::to_json`] and [`Event::from_json`].
    pub event: Event,
    /// [`NORMAL`] or one of [`SCENARIOS`].
    pub scenario: &'static str,
    /// The scam story the event belongs to, numbered from 1 in start order; 0 for normal events.
    pub story: u32,
}

impl Labeled {
    /// Whether the event belongs to a scam story.
    pub fn is_scam(&self) -> bool {
        self.scenario != NORMAL
    }

    /// The label as one JSON line: `{"id":"evt_s7_0000001","scenario":"normal"}`.
    pub fn label_json(&self) -> String {
        serde_json::json!({ "id": self.event.id.as_str(), "scenario": self.scenario }).to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness: SplitMix64 and integer-only helpers (no floats, so results match on every target).

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x616E_7369_6D5F_7369)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// A uniformly chosen element; `xs` must not be empty (callers pass constant tables or
    /// lists built non-empty).
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.index(xs.len())]
    }

    /// An element chosen by weight.
    fn pick_w<T: Copy>(&mut self, xs: &[(T, u32)]) -> T {
        let total: u64 = xs.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut r = self.below(total);
        for (x, w) in xs {
            if r < u64::from(*w) {
                return *x;
            }
            r -= u64::from(*w);
        }
        xs[xs.len() - 1].0
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }

    fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        (0..n).map(|_| char::from(self.pick(CHARS))).collect()
    }

    fn hex(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"0123456789abcdef";
        (0..n).map(|_| char::from(self.pick(CHARS))).collect()
    }

    /// Roughly log-uniform in `lo..=hi`: an octave is chosen uniformly, then a point in it.
    fn spread(&mut self, lo: i64, hi: i64) -> i64 {
        let lo = lo.max(1);
        if hi <= lo {
            return lo;
        }
        let mut octaves = 0u32;
        let mut x = lo;
        while x < hi && octaves < 62 {
            x = x.saturating_mul(2);
            octaves += 1;
        }
        let o = self.below(u64::from(octaves)) as u32;
        let a = lo.saturating_mul(1i64 << o);
        let b = a.saturating_mul(2).min(hi);
        self.range(a, b)
    }

    /// An exponential-like variate with mean 1, in 32.32 fixed point: a geometric number of
    /// halvings (scaled by ln 2) plus a uniform fraction, so bursts and lulls both occur.
    fn exp_q32(&mut self) -> u128 {
        let k = u128::from(self.next_u64().trailing_zeros());
        let frac = u128::from(self.next_u64() >> 32);
        // E[k + frac] = 1.5, so scale by 2/3.
        ((k << 32) + frac) * 2 / 3
    }
}

/// Rounds a won amount as people type it: to 1,000 below 100,000, to 10,000 above.
fn round_won(v: i64) -> i64 {
    let step = if v < 100_000 { 1_000 } else { 10_000 };
    (v / step).max(1) * step
}

/// An everyday transfer amount: mostly 10,000–500,000 won, some larger.
fn everyday_amount(rng: &mut Rng) -> i64 {
    let r = rng.below(1000);
    let v = if r < 850 {
        rng.spread(10_000, 500_000)
    } else if r < 980 {
        rng.spread(500_000, 3_000_000)
    } else {
        rng.spread(3_000_000, 10_000_000)
    };
    round_won(v)
}

// ---------------------------------------------------------------------------------------------
// The world: affiliates, subjects, payees, reference tables.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aff {
    Messenger,
    Pay,
    Bank,
    Securities,
    Insurance,
}

const AFFS: [Aff; 5] = [Aff::Messenger, Aff::Pay, Aff::Bank, Aff::Securities, Aff::Insurance];

impl Aff {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        AFFILIATES[self.index()]
    }

    fn prefix(self) -> &'static str {
        ["m", "p", "b", "s", "i"][self.index()]
    }
}

/// Share of normal traffic per affiliate.
const AFF_WEIGHTS: [(Aff, u32); 5] =
    [(Aff::Messenger, 34), (Aff::Pay, 26), (Aff::Bank, 24), (Aff::Securities, 9), (Aff::Insurance, 7)];

/// Normal traffic per KST hour, per mille of the peak.
const HOUR_WEIGHT: [i64; 24] = [
    300, 180, 110, 80, 70, 110, 250, 550, 850, 950, 1000, 1000, 1000, 950, 950, 950, 950, 950, 1000, 1000, 1000, 950,
    800, 550,
];

const AGE_BANDS: [&str; 9] = ["10s", "20s", "30s", "40s", "50s", "60s", "70s", "80s", "90s"];

fn age_weights(aff: Aff) -> [u32; 9] {
    match aff {
        Aff::Messenger => [6, 18, 19, 19, 17, 12, 7, 2, 0],
        Aff::Pay => [3, 22, 24, 20, 16, 10, 5, 0, 0],
        Aff::Bank => [0, 17, 21, 20, 17, 13, 9, 2, 1],
        Aff::Securities => [0, 15, 25, 25, 20, 10, 5, 0, 0],
        Aff::Insurance => [0, 8, 18, 24, 24, 16, 8, 2, 0],
    }
}

/// Bank code, account number prefix and length (digits).
const BANKS: [(&str, &str, usize); 6] = [
    ("088", "110", 12),  // Shinhan
    ("004", "", 14),     // KB Kookmin
    ("020", "1002", 13), // Woori
    ("011", "3", 13),    // NH Nonghyup
    ("090", "3333", 13), // Kakao Bank
    ("089", "100", 12),  // K Bank
];

/// The bank affiliate's own code: its subjects' accounts are here.
const OWN_BANK: &str = "090";

const SURNAMES: [&str; 16] =
    ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황"];

const PAYEE_MEMOS: [Option<&str>; 12] = [
    None,
    None,
    None,
    Some("월세"),
    Some("용돈"),
    Some("회비"),
    Some("관리비"),
    Some("모임비"),
    Some("생활비"),
    Some("학원비"),
    Some("엄마"),
    Some("축의금"),
];

const MOBILE_PREFIXES: [(u8, u8); 8] =
    [(223, 38), (223, 62), (211, 234), (106, 101), (39, 7), (118, 235), (175, 223), (110, 70)];
const HOME_PREFIXES: [(u8, u8); 6] = [(121, 134), (59, 10), (1, 234), (220, 76), (112, 169), (14, 52)];
const TEST_NETS: [(u8, u8, u8); 3] = [(192, 0, 2), (198, 51, 100), (203, 0, 113)];
const SCAM_COUNTRIES: [&str; 6] = ["CN", "KH", "PH", "VN", "HK", "TH"];
const TRAVEL_COUNTRIES: [&str; 5] = ["JP", "US", "VN", "TH", "FR"];

const REMOTE_APPS: [&str; 3] =
    ["com.teamviewer.quicksupport.market", "com.anydesk.anydeskandroid", "com.rsupport.mvagent"];
const FAKE_APPS: [&str; 3] = ["kr.go.spo.security", "kr.or.fss.protect", "com.kakao.secure.cert"];

fn masked_name(rng: &mut Rng) -> String {
    format!("{}**", rng.pick(&SURNAMES))
}

fn domestic_phone(rng: &mut Rng) -> String {
    format!("010-0{}-{}", rng.digits(3), rng.digits(4))
}

fn account_number(rng: &mut Rng, bank: &str) -> String {
    let (_, prefix, len) = BANKS.iter().copied().find(|(b, _, _)| *b == bank).unwrap_or(BANKS[0]);
    format!("{prefix}{}", rng.digits(len - prefix.len()))
}

fn account_cp(bank: &str, account: String, name: Option<String>) -> Counterparty {
    Counterparty {
        account_key: Some(format!("{bank}:{account}")),
        bank: Some(bank.to_string()),
        account: Some(account),
        name,
        ..Counterparty::default()
    }
}

fn fresh_account_cp(rng: &mut Rng) -> Counterparty {
    let bank = rng.pick(&BANKS).0;
    let account = account_number(rng, bank);
    account_cp(bank, account, Some(masked_name(rng)))
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> String {
    Ipv4Addr::new(a, b, c, d).to_string()
}

fn octet(rng: &mut Rng) -> u8 {
    rng.range(1, 254) as u8
}

fn mobile_ip(rng: &mut Rng) -> String {
    if rng.chance(150) {
        let w = |rng: &mut Rng| rng.below(0x1_0000) as u16;
        let (a, b, c) = (w(rng), w(rng), w(rng));
        return Ipv6Addr::new(0x2001, 0x0db8, a, b, 0, 0, 0, c).to_string();
    }
    let (a, b) = rng.pick(&MOBILE_PREFIXES);
    let c = rng.below(256) as u8;
    v4(a, b, c, octet(rng))
}

fn home_ip(rng: &mut Rng) -> String {
    let (a, b) = rng.pick(&HOME_PREFIXES);
    let c = rng.below(256) as u8;
    v4(a, b, c, octet(rng))
}

fn foreign_ip(rng: &mut Rng) -> String {
    let (a, b, c) = rng.pick(&TEST_NETS);
    v4(a, b, c, octet(rng))
}

fn ip(addr: String, country: &str, proxy: bool) -> IpInfo {
    IpInfo { addr, country: Some(country.to_string()), proxy }
}

fn new_device_id(rng: &mut Rng) -> String {
    format!("d_{}", rng.hex(12))
}

/// A device the subject has never used.
fn fresh_device(rng: &mut Rng) -> Device {
    Device { id: new_device_id(rng), new_for_subject: true, ..Device::default() }
}

fn band_at_least(p: &Person, band: u32) -> bool {
    p.age_band.trim_end_matches('s').parse::<u32>().is_ok_and(|b| b >= band)
}

fn band_in(p: &Person, bands: &[&str]) -> bool {
    bands.contains(&p.age_band)
}

/// Someone the subject sends money to regularly.
#[derive(Debug, Clone)]
struct Payee {
    cp: Counterparty,
    typical: i64,
    memo: Option<&'static str>,
}

/// A subject at one affiliate.
#[derive(Debug, Clone)]
struct Person {
    aff: Aff,
    id: String,
    name: String,
    age_band: &'static str,
    account_age_days: i64,
    device: String,
    pc: String,
    home_ip: String,
    mobile_ip: String,
    bank: &'static str,
    account: String,
    /// The subject's own account elsewhere (own-account transfers go there).
    other_account: Counterparty,
    balance: i64,
    payees: Vec<Payee>,
    friends: Vec<Counterparty>,
    remote_app: bool,
    rooted: bool,
    /// No normal traffic before this time (the subject is inside a scam story).
    busy_until: i64,
    /// Already used in a scam story (preferably not chosen again).
    victim: bool,
    /// Indices of fraud accounts this subject has sent to.
    used_pool: Vec<usize>,
}

impl Person {
    fn new(rng: &mut Rng, aff: Aff, n: usize) -> Person {
        let weights = age_weights(aff);
        let bands: Vec<(&'static str, u32)> = AGE_BANDS.iter().copied().zip(weights).collect();
        let age_band = rng.pick_w(&bands);
        let account_age_days = if rng.chance(20) { rng.range(1, 30) } else { rng.range(60, 4000) };
        let bank = if aff == Aff::Bank { OWN_BANK } else { rng.pick(&BANKS).0 };
        let account = account_number(rng, bank);
        let name = masked_name(rng);
        let other_banks: Vec<&str> = BANKS.iter().map(|b| b.0).filter(|b| *b != bank).collect();
        let other_bank = rng.pick(&other_banks);
        let other_account = account_cp(other_bank, account_number(rng, other_bank), Some(name.clone()));
        let balance = match aff {
            Aff::Messenger => rng.spread(10_000, 1_000_000),
            Aff::Pay => rng.spread(20_000, 3_000_000),
            Aff::Bank => rng.spread(300_000, 30_000_000),
            Aff::Securities => rng.spread(1_000_000, 100_000_000),
            Aff::Insurance => rng.spread(100_000, 5_000_000),
        };
        let payees = (0..rng.range(2, 6))
            .map(|_| {
                let name = Some(masked_name(rng));
                let cp = if aff == Aff::Pay && rng.chance(400) {
                    Counterparty { phone: Some(domestic_phone(rng)), name, ..Counterparty::default() }
                } else {
                    let bank = rng.pick(&BANKS).0;
                    account_cp(bank, account_number(rng, bank), name)
                };
                Payee { cp, typical: everyday_amount(rng), memo: rng.pick(&PAYEE_MEMOS) }
            })
            .collect();
        let friends = (0..rng.range(3, 8))
            .map(|_| Counterparty {
                phone: Some(domestic_phone(rng)),
                profile: Some(format!("kp_{}", rng.hex(8))),
                name: Some(masked_name(rng)),
                is_friend: Some(true),
                foreign: Some(false),
                account_age_days: Some(rng.range(300, 4500)),
                ..Counterparty::default()
            })
            .collect();
        Person {
            aff,
            id: format!("{}_{n:05}", aff.prefix()),
            name,
            age_band,
            account_age_days,
            device: new_device_id(rng),
            pc: format!("pc_{}", rng.hex(10)),
            home_ip: home_ip(rng),
            mobile_ip: mobile_ip(rng),
            bank,
            account,
            other_account,
            balance,
            payees,
            friends,
            remote_app: rng.chance(10),
            rooted: rng.chance(10),
            busy_until: i64::MIN,
            victim: false,
            used_pool: Vec::new(),
        }
    }

    fn subject(&self) -> Subject {
        Subject {
            id: SubjectId(self.id.clone()),
            age_band: Some(self.age_band.to_string()),
            account_age_days: Some(self.account_age_days),
        }
    }

    fn own_device(&self) -> Device {
        Device {
            id: self.device.clone(),
            remote_control_app: self.remote_app,
            rooted: self.rooted,
            ..Device::default()
        }
    }

    fn own_account_cp(&self) -> Counterparty {
        account_cp(self.bank, self.account.clone(), Some(self.name.clone()))
    }

    /// The account money leaves from, as `transfer.source`: known to the bank (its own
    /// account) and the pay app (the linked account); the messenger wallet, securities and
    /// insurance report none.
    fn source(&self) -> Option<Counterparty> {
        matches!(self.aff, Aff::Bank | Aff::Pay).then(|| account_cp(self.bank, self.account.clone(), None))
    }

    /// Makes sure the balance covers `amount` with some margin (a salary or a matured deposit
    /// arrives), then returns the balance before the debit and debits it.
    fn debit(&mut self, rng: &mut Rng, amount: i64, margin_per_mille: i64) -> i64 {
        let need = amount * margin_per_mille / 1000;
        if self.balance < need {
            self.balance = round_won(need + rng.spread(200_000, 5_000_000));
        }
        let before = self.balance;
        self.balance -= amount;
        before
    }
}

/// An event without id (assigned when emitted).
fn ev(
    aff: Aff,
    p: &Person,
    at: i64,
    channel: Option<Channel>,
    device: Option<Device>,
    ip: Option<IpInfo>,
    body: EventBody,
) -> Event {
    Event {
        id: EventId(String::new()),
        affiliate: AffiliateId(aff.name().to_string()),
        at: Timestamp(at),
        subject: p.subject(),
        device,
        ip,
        channel,
        body,
        analysis: None,
    }
}

fn transfer(
    amount: i64,
    counterparty: Counterparty,
    source: Option<Counterparty>,
    balance_before: i64,
    own_account: bool,
    memo: Option<&str>,
) -> EventBody {
    EventBody::Transfer(Transfer {
        amount: Krw(amount),
        currency: "KRW".to_string(),
        counterparty,
        source,
        balance_before: Some(Krw(balance_before)),
        balance_after: None,
        payee_balance_before: None,
        payee_balance_after: None,
        own_account,
        memo: memo.map(str::to_string),
    })
}

fn message(sender: Counterparty, text: String, has_attachment: bool) -> EventBody {
    EventBody::Message(Message { sender, text, has_attachment, friend_names: Vec::new() })
}

fn login(method: &str, success: bool, failed_attempts: i64) -> EventBody {
    EventBody::Login(Login { method: Some(method.to_string()), success, failed_attempts })
}

// ---------------------------------------------------------------------------------------------
// Texts and links.

const FRIEND_TEXTS: [&str; 26] = [
    "오늘 저녁 몇 시에 볼까?",
    "사진 잘 받았어 고마워!",
    "내일 회의 10시로 변경됐습니다.",
    "주말에 등산 갈래? 날씨 좋대",
    "생일 축하해 🎉 맛있는 거 먹어",
    "엄마 오늘 좀 늦어요. 저녁 먼저 드세요",
    "택배 잘 받았어요~ 감사합니다",
    "점심 뭐 먹을까? 김치찌개 어때",
    "회비 보냈어 확인해줘",
    "ㅋㅋㅋ 그거 진짜 웃기다",
    "아빠 저녁 먹고 들어갈게요",
    "네 알겠습니다 확인했습니다",
    "이번 주 토요일 결혼식 장소 어디였지?",
    "어제 잘 들어갔어?",
    "다음 주에 부모님 댁 가는 거 잊지 마",
    "회의 자료 메일로 보냈습니다",
    "오늘 비 온대 우산 챙겨",
    "고생 많았어 푹 쉬어",
    "더치페이 1인당 23,500원이야 보내줘~",
    "엄마 용돈 보냈어요 확인해보세요",
    "김장 언제 해? 도와주러 갈게",
    "손주 사진 보내요 😊",
    "병원 예약 오후 3시로 했어요",
    "퇴근하고 전화할게",
    "애들 학원 끝나고 데리러 갈게",
    "모임 장소 예약했어 7시 반이야",
];

const OPEN_CHAT_TEXTS: [&str; 4] = [
    "오늘 모임 장소 강남역 11번 출구로 변경됐습니다",
    "다음 정모는 토요일 오후 2시입니다. 참석하실 분 댓글 부탁드려요",
    "자료 공유드립니다. 확인 부탁드려요",
    "러닝 크루 이번 주 코스는 한강 반포지구입니다",
];

const STRANGER_TEXTS: [&str; 4] = [
    "안녕하세요, 중고거래 글 보고 연락드렸어요. 아직 판매 중인가요?",
    "안녕하세요 이번에 새로 입사한 박** 입니다. 잘 부탁드립니다",
    "안녕하세요 학부모 모임 총무입니다. 단톡방 초대드릴게요",
    "[알림] 주문하신 상품이 발송되었습니다. 배송 조회는 앱에서 확인하세요.",
];

const BANK_SMS_TEXTS: [&str; 4] = [
    "[Web발신] 고객님의 택배가 오늘 14~16시 사이 배송 예정입니다.",
    "[Web발신] 내일 오전 10시 치과 예약이 있습니다. 변경은 회신 바랍니다.",
    "[Web발신] 11월 관리비 고지서가 발행되었습니다. 납부기한 25일",
    "[Web발신] 고객님의 카드 결제일은 매월 14일입니다.",
];

const FAMILY_SMS_TEXTS: [&str; 3] =
    ["엄마 이번 주말에 내려갈게요", "아버지 약 챙겨 드셨어요?", "김장김치 택배로 보냈다 받으면 연락해라"];

/// The scam texts of the sourced corpus, compiled in.
const CORPUS: [&str; 4] = [
    include_str!("../../../test_data/messages/korean-real/scam-smishing.tsv"),
    include_str!("../../../test_data/messages/korean-real/scam-impersonation.tsv"),
    include_str!("../../../test_data/messages/korean-real/scam-extra.tsv"),
    include_str!("../../../test_data/messages/korean-real/scam-more.tsv"),
];

/// Whether a corpus row's licence is non-commercial: such rows are for evaluation only and
/// never appear in simulated traffic.
fn evaluation_only(licence: &str) -> bool {
    let l = licence.trim().to_ascii_lowercase();
    l.split(['-', '_', ' ']).any(|part| part == "nc") || l.contains("noncommercial") || l.contains("non-commercial")
}

/// The corpus's scam texts by typology (`Label`, `SMS`, `typology`, `source`, `licence`),
/// shippable rows only.
fn corpus() -> &'static BTreeMap<&'static str, Vec<&'static str>> {
    static C: OnceLock<BTreeMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    C.get_or_init(|| {
        let mut out: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
        for file in CORPUS {
            for line in file.lines().skip(1) {
                let f: Vec<&'static str> = line.split('\t').collect();
                if f.len() >= 5 && f[0] == "spam" && !evaluation_only(f[4]) && !f[1].trim().is_empty() {
                    out.entry(f[2]).or_default().push(f[1]);
                }
            }
        }
        out
    })
}

/// FNV-1a of `s`: picks a corpus row from a value already drawn, so the event stream does not
/// change.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A corpus text of `typology` chosen by `salt` two times in three, else `None` (use the
/// template).
fn quoted(typology: &str, salt: &str) -> Option<&'static str> {
    let rows = corpus().get(typology)?;
    let h = fnv(salt);
    (!h.is_multiple_of(3) && !rows.is_empty()).then(|| rows[((h / 3) % rows.len() as u64) as usize])
}

/// A quoted scam text with `link` where it shows a placeholder ("(URL)", "URL"), else after it.
fn with_link(text: &str, link: &str) -> String {
    for placeholder in ["(URL)", "URL"] {
        if text.contains(placeholder) {
            return text
                .replacen(placeholder, &format!(" {link} "), 1)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    format!("{text} {link}")
}

/// The lure of a smishing message.
#[derive(Debug, Clone, Copy)]
enum Lure {
    Parcel,
    Obituary,
    Wedding,
    Fine,
    Health,
}

const LURES: [Lure; 5] = [Lure::Parcel, Lure::Obituary, Lure::Wedding, Lure::Fine, Lure::Health];

const SHORTENERS: [&str; 5] = ["bit.ly", "han.gl", "vo.la", "me2.do", "t.ly"];

fn short_link(rng: &mut Rng) -> String {
    let host = rng.pick(&SHORTENERS);
    format!("https://{host}/{}", rng.alnum(7))
}

fn lookalike_link(rng: &mut Rng, host: &str, dir: &str) -> String {
    format!("http://{host}/{dir}/{}", rng.alnum(6))
}

fn smishing_text(rng: &mut Rng, lure: Lure) -> String {
    let template = smishing_template(rng, lure);
    let typology = match lure {
        Lure::Parcel => "parcel_smishing",
        Lure::Obituary => "obituary_smishing",
        Lure::Wedding => "wedding_smishing",
        Lure::Fine => "fine_smishing",
        Lure::Health => "health_check",
    };
    // The template's link, on the quoted wording.
    let link = template.split_whitespace().rev().find(|w| w.contains("://")).unwrap_or("").to_string();
    match quoted(typology, &link) {
        Some(text) if !link.is_empty() => with_link(text, &link),
        _ => template,
    }
}

fn smishing_template(rng: &mut Rng, lure: Lure) -> String {
    let link = |rng: &mut Rng, host: &str, dir: &str| {
        if rng.chance(400) { short_link(rng) } else { lookalike_link(rng, host, dir) }
    };
    match lure {
        Lure::Parcel => {
            if rng.chance(500) {
                let l = link(rng, "cjlogistcs.top", "addr");
                format!("[CJ대한통운] 고객님 택배가 주소 불명으로 보관 중입니다. 주소 확인 바랍니다 {l}")
            } else {
                let l = link(rng, "epost-kr.info", "m");
                format!("[우체국] 도로명 주소 불일치로 배송이 보류되었습니다. 주소지 수정: {l}")
            }
        }
        Lure::Obituary => {
            let l = link(rng, "bugo-notice.xyz", "m");
            format!("[부고] 부친께서 별세하셨기에 삼가 알려드립니다. 장례식장 안내: {l}")
        }
        Lure::Wedding => {
            let l = link(rng, "m-wedding-card.site", "invite");
            format!("저희 결혼합니다 💍 바쁘시더라도 꼭 와주세요. 모바일 청첩장: {l}")
        }
        Lure::Fine => {
            let l = link(rng, "efine-police.xyz", "pay");
            format!("[경찰청] 교통법규 위반 과태료 고지서가 발송되었습니다. 미납 시 가산금이 부과됩니다. 조회: {l}")
        }
        Lure::Health => {
            let l = link(rng, "nhis-kr.site", "result");
            format!("[국민건강보험] 건강검진 결과 통보서가 도착했습니다. 확인: {l}")
        }
    }
}

fn impersonation_text(rng: &mut Rng) -> String {
    let template = impersonation_template(rng);
    let link = template.split_whitespace().rev().find(|w| w.contains("://")).unwrap_or("").to_string();
    match quoted("institution_impersonation", &link) {
        Some(text) if !link.is_empty() => with_link(text, &link),
        _ => template,
    }
}

fn impersonation_template(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => {
            let l = lookalike_link(rng, "spo-go-kr.com", "case");
            format!(
                "[서울중앙지검] 서울중앙지검 수사관입니다. 귀하 명의 계좌가 금융범죄 사건에 연루되어 확인이 필요합니다. 사건조회: {l}"
            )
        }
        1 => {
            let l = format!("http://fss-or-kr.net/app/{}.apk", rng.alnum(5));
            format!(
                "[금융감독원] 고객님 계좌가 불법 자금세탁에 이용된 정황이 확인되었습니다. 자산 보호를 위해 안전계좌로 이체하셔야 합니다. 보안앱 설치: {l}"
            )
        }
        _ => {
            let l = short_link(rng);
            format!(
                "서울중앙지검 수사관입니다. 명의도용 피해 조사 중이니 원격 보안점검 앱을 설치하시고 통화 안내에 따라주세요. {l}"
            )
        }
    }
}

const FAMILY_OPENERS: [&str; 4] = [
    "엄마 나 폰 액정 깨졌어 ㅠㅠ 수리 맡겨서 지금 임시폰으로 연락하는 거야",
    "엄마 나 폰 액정 깨져서 AS 맡겼어 당분간 이 번호로 연락해",
    "아빠 나야 폰이 고장나서 컴퓨터로 톡하는 중이야 번호 저장해줘",
    "엄마 나 폰 잃어버려서 친구 폰으로 연락해 이걸로 톡해줘",
];

fn family_ask(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => "엄마 급하게 결제할 게 있는데 폰 인증이 안 돼서 그래 이 계좌로 좀 보내줄 수 있어? 이따 바로 줄게"
            .to_string(),
        1 => {
            let l = lookalike_link(rng, "kakao-secure.xyz", "install");
            format!("폰 수리비 보험 청구해야 되는데 이 앱 설치하고 신분증 사진 좀 보내줘 {l}")
        }
        _ => {
            let l = lookalike_link(rng, "kakao-secure.xyz", "cert");
            format!("지금 통화가 안 돼서 그러는데 이 링크 눌러서 앱 하나만 깔아줘 {l}")
        }
    }
}

fn gift_card_ask(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => "엄마 편의점 가서 구글 기프트카드 10만원짜리 5장만 사서 핀번호 사진 찍어 보내줘 급해 ㅠ"
            .to_string(),
        1 => {
            let l = lookalike_link(rng, "kakao-secure.xyz", "verify");
            format!(
                "[카카오 고객센터] 고객님 계정에 해외 접속 시도가 확인되었습니다. 본인 인증을 위해 문화상품권 핀번호 등록이 필요합니다 {l}"
            )
        }
        _ => "서울중앙지검 수사관입니다. 자금 추적 조사를 위해 자산을 상품권으로 보관하셔야 합니다. 구매 후 핀번호를 알려주세요"
            .to_string(),
    }
}

/// Merchants: id, category, name, amount range.
const MERCHANTS: [(&str, &str, &str, i64, i64); 18] = [
    ("mch_grocery_01", "grocery", "행복마트 역삼점", 3_000, 150_000),
    ("mch_grocery_02", "grocery", "신선마켓", 5_000, 120_000),
    ("mch_grocery_03", "grocery", "동네슈퍼 24", 2_000, 40_000),
    ("mch_cafe_01", "cafe", "카페 온도", 3_000, 15_000),
    ("mch_cafe_02", "cafe", "커피한잔 강남", 3_000, 12_000),
    ("mch_cafe_03", "cafe", "빵굽는 오후", 4_000, 30_000),
    ("mch_online_01", "online_shopping", "모두의쇼핑", 10_000, 300_000),
    ("mch_online_02", "online_shopping", "하루배송몰", 8_000, 200_000),
    ("mch_online_03", "online_shopping", "리빙스토어", 15_000, 400_000),
    ("mch_food_01", "restaurant", "든든도시락", 6_000, 30_000),
    ("mch_food_02", "restaurant", "한우마을 식당", 30_000, 200_000),
    ("mch_transport_01", "transport", "시티택시", 4_800, 60_000),
    ("mch_transport_02", "transport", "고속버스 예매", 10_000, 50_000),
    ("mch_gift_01", "gift_card", "구글플레이 기프트코드", 10_000, 50_000),
    ("mch_gift_02", "gift_card", "문화상품권 모바일", 10_000, 50_000),
    ("mch_gift_03", "gift_card", "편의점 모바일상품권", 5_000, 30_000),
    ("mch_game_01", "game", "픽셀게임즈", 1_100, 55_000),
    ("mch_game_02", "game", "모바일RPG 충전", 3_300, 99_000),
];

/// Messenger gift shop (coffee coupons, gift boxes, small gift cards).
const GIFT_SHOP: [(&str, &str, &str, i64, i64); 4] = [
    ("mch_giftshop_coffee", "cafe", "선물하기 커피 쿠폰", 4_500, 30_000),
    ("mch_giftshop_cake", "cafe", "선물하기 케이크", 20_000, 45_000),
    ("mch_giftshop_box", "online_shopping", "선물하기 과일 선물세트", 30_000, 150_000),
    ("mch_giftshop_card", "gift_card", "선물하기 모바일상품권", 10_000, 50_000),
];

const INSURANCE_PREMIUM: (&str, &str, &str, i64, i64) = ("mch_premium", "insurance", "보험료 납부", 30_000, 300_000);

/// Normal actions and their weights per affiliate.
#[derive(Debug, Clone, Copy)]
enum Act {
    Login,
    Transfer,
    Payment,
    Loan,
    Change,
    Message,
    Contact,
    Scan,
}

fn mix(aff: Aff) -> &'static [(Act, u32)] {
    match aff {
        Aff::Messenger => &[
            (Act::Message, 66),
            (Act::Contact, 6),
            (Act::Login, 6),
            (Act::Transfer, 9),
            (Act::Payment, 6),
            (Act::Change, 2),
            (Act::Scan, 3),
        ],
        Aff::Pay => &[(Act::Payment, 55), (Act::Transfer, 22), (Act::Login, 15), (Act::Scan, 4), (Act::Change, 3)],
        Aff::Bank => &[
            (Act::Transfer, 40),
            (Act::Login, 38),
            (Act::Scan, 6),
            (Act::Change, 5),
            (Act::Contact, 4),
            (Act::Message, 4),
            (Act::Loan, 3),
        ],
        Aff::Securities => &[(Act::Login, 70), (Act::Transfer, 18), (Act::Scan, 5), (Act::Change, 5), (Act::Loan, 2)],
        Aff::Insurance => &[(Act::Login, 62), (Act::Loan, 10), (Act::Change, 12), (Act::Payment, 10), (Act::Scan, 6)],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    RemoteApp,
    BalanceDrain,
    Mule,
    Night,
    NewDevice,
    Stranger,
    ChangeLoan,
    Smishing,
    GiftCard,
}

const ALL_SCENARIOS: [Scenario; 9] = [
    Scenario::RemoteApp,
    Scenario::BalanceDrain,
    Scenario::Mule,
    Scenario::Night,
    Scenario::NewDevice,
    Scenario::Stranger,
    Scenario::ChangeLoan,
    Scenario::Smishing,
    Scenario::GiftCard,
];

impl Scenario {
    fn name(self) -> &'static str {
        SCENARIOS[self as usize]
    }
}

/// A scheduled story event; the heap pops the earliest (then the first scheduled).
#[derive(Debug)]
struct Pending {
    at: i64,
    seq: u64,
    event: Event,
    scenario: &'static str,
    story: u32,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

/// A story's events with their times, in story order.
type Story = Vec<(i64, Event)>;

/// The traffic generator. Also an endless [`Iterator`] of [`Labeled`] events.
#[derive(Debug)]
pub struct Simulator {
    cfg: SimConfig,
    rng: Rng,
    people: Vec<Vec<Person>>,
    /// Accounts that collect scam money (reused across stories, as real ones are).
    pool: Vec<Counterparty>,
    /// Scam callers and senders: phone and whether it is foreign.
    scam_phones: Vec<(String, bool)>,
    queue: BinaryHeap<Pending>,
    next_bg: i64,
    emitted: u64,
    scam_emitted: u64,
    scam_pending: u64,
    seq: u64,
    stories: u32,
    order: Vec<Scenario>,
    order_pos: usize,
    /// Events and scam events emitted when the scam share last changed: the share is kept
    /// from there on, not over the whole run.
    share_from: (u64, u64),
    /// Stories of this scenario only, while set.
    focus: Option<Scenario>,
}

impl Simulator {
    /// A simulator whose first event is at or just after `cfg.start`.
    pub fn new(cfg: SimConfig) -> Simulator {
        let mut rng = Rng::new(cfg.seed);
        let n = cfg.subjects.max(1);
        let people = AFFS.iter().map(|&aff| (1..=n).map(|i| Person::new(&mut rng, aff, i)).collect()).collect();
        let pool = (0..16).map(|_| fresh_account_cp(&mut rng)).collect();
        let scam_phones = (0..12)
            .map(|i| match i % 4 {
                0 => (format!("070-0{}-{}", rng.digits(3), rng.digits(4)), false),
                1 => (format!("02-0{}-{}", rng.digits(3), rng.digits(4)), false),
                2 => (domestic_phone(&mut rng), false),
                _ => {
                    let cc = rng.pick(&["+86", "+855", "+63", "+84"]);
                    (format!("{cc}-0{}-{}", rng.digits(3), rng.digits(4)), true)
                }
            })
            .collect();
        let start = cfg.start.0;
        Simulator {
            cfg,
            rng,
            people,
            pool,
            scam_phones,
            queue: BinaryHeap::new(),
            next_bg: start,
            emitted: 0,
            scam_emitted: 0,
            scam_pending: 0,
            seq: 0,
            stories: 0,
            order: Vec::new(),
            order_pos: 0,
            share_from: (0, 0),
            focus: None,
        }
    }

    /// From now on, this share of events (per mille) belongs to scam stories: a season or a
    /// wave in a simulated year.
    pub fn set_scam_share(&mut self, per_mille: u32) {
        self.cfg.scam_share_per_mille = per_mille;
        self.share_from = (self.emitted, self.scam_emitted + self.scam_pending);
    }

    /// From now on, start only stories of `scenario` (one of [`SCENARIOS`]), or of every
    /// scenario again with `None`. An unknown name is an error naming it.
    pub fn focus(&mut self, scenario: Option<&str>) -> Result<(), String> {
        self.focus = match scenario {
            None => None,
            Some(name) => Some(
                SCENARIOS
                    .iter()
                    .position(|s| *s == name)
                    .map(|i| ALL_SCENARIOS[i])
                    .ok_or_else(|| format!("scenario: {name:?} is not one of {}", SCENARIOS.join(", ")))?,
            ),
        };
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The next event. Times never go backwards except for the occasional deliberately late
    /// normal event, at most 5 minutes before the latest time emitted so far.
    pub fn next_event(&mut self) -> Labeled {
        loop {
            let due = self.queue.peek().is_some_and(|p| p.at <= self.next_bg);
            if let Some(p) = if due { self.queue.pop() } else { None } {
                self.scam_pending -= 1;
                self.scam_emitted += 1;
                return self.emit(p.at, p.event, p.scenario, p.story);
            }
            let t = self.next_bg;
            self.next_bg = t + self.gap(t);
            if self.should_start_story() {
                self.start_story(t);
                continue;
            }
            let (at, event) = self.normal_event(t);
            return self.emit(at, event, NORMAL, 0);
        }
    }

    fn emit(&mut self, at: i64, mut event: Event, scenario: &'static str, story: u32) -> Labeled {
        self.emitted += 1;
        event.id = EventId(format!("evt_s{}_{:07}", self.cfg.seed, self.emitted));
        event.at = Timestamp(at);
        Labeled { event, scenario, story }
    }

    /// Time to the next normal event: exponential-like, slower at night (KST).
    fn gap(&mut self, t: i64) -> i64 {
        let w = HOUR_WEIGHT[Timestamp(t).kst_hour() as usize];
        let per_hour = (i64::from(self.cfg.peak_events_per_hour.max(1)) * w / 1000).max(1);
        let mean = (HOUR / per_hour) as u128;
        ((mean * self.rng.exp_q32()) >> 32).max(1) as i64
    }

    fn should_start_story(&mut self) -> bool {
        let share = u64::from(self.cfg.scam_share_per_mille.min(1000));
        let (e0, s0) = self.share_from;
        share > 0
            && self.emitted >= 40
            && (self.scam_emitted + self.scam_pending).saturating_sub(s0) * 1000 < share * (self.emitted - e0 + 1)
            && self.rng.chance(250)
    }

    fn pick_active(&mut self, aff: Aff, t: i64) -> usize {
        let list = &self.people[aff.index()];
        let n = list.len() as u64;
        let mut i = 0;
        for _ in 0..8 {
            // A draw below a draw: low numbers are the busier subjects (about log(n/i)/n).
            let bound = self.rng.below(n) + 1;
            i = self.rng.below(bound) as usize;
            if list[i].busy_until <= t {
                break;
            }
        }
        i
    }

    /// A subject for a story: free, not yet a victim and matching `pred` if possible.
    fn pick_victim(&mut self, aff: Aff, t: i64, pred: impl Fn(&Person) -> bool) -> usize {
        let list = &self.people[aff.index()];
        let n = list.len();
        let start = self.rng.index(n);
        for pass in 0..3 {
            for k in 0..n {
                let i = (start + k) % n;
                let p = &list[i];
                let ok = p.busy_until <= t
                    && match pass {
                        0 => !p.victim && pred(p),
                        1 => pred(p),
                        _ => true,
                    };
                if ok {
                    return i;
                }
            }
        }
        start
    }

    /// Keeps normal traffic away from a story's subject until the story is over.
    fn occupy(&mut self, aff: Aff, i: usize, until: i64) {
        let p = &mut self.people[aff.index()][i];
        p.busy_until = p.busy_until.max(until + 5 * MIN);
    }

    /// [`Simulator::occupy`], and marks the subject as a story's main victim.
    fn victimise(&mut self, aff: Aff, i: usize, until: i64) {
        self.occupy(aff, i, until);
        self.people[aff.index()][i].victim = true;
    }

    /// A fraud account `aff`'s subject `i` has not sent to yet.
    fn fraud_account(&mut self, aff: Aff, i: usize) -> Counterparty {
        let start = self.rng.index(self.pool.len());
        let p = &mut self.people[aff.index()][i];
        for k in 0..self.pool.len() {
            let j = (start + k) % self.pool.len();
            if !p.used_pool.contains(&j) {
                p.used_pool.push(j);
                return self.pool[j].clone();
            }
        }
        fresh_account_cp(&mut self.rng)
    }

    fn scam_phone(&mut self) -> (String, bool) {
        let i = self.rng.index(self.scam_phones.len());
        self.scam_phones[i].clone()
    }

    /// A network origin a fraudster uses: abroad, a proxy, or an ordinary Korean mobile address.
    fn scam_ip(&mut self, foreign_pm: u32, proxy_pm: u32) -> IpInfo {
        let r = self.rng.below(1000) as u32;
        if r < foreign_pm {
            let country = self.rng.pick(&SCAM_COUNTRIES);
            ip(foreign_ip(&mut self.rng), country, self.rng.chance(300))
        } else if r < foreign_pm + proxy_pm {
            ip(home_ip(&mut self.rng), "KR", true)
        } else {
            ip(mobile_ip(&mut self.rng), "KR", false)
        }
    }

    /// An impersonator's messenger identity: not a friend, a new account, often abroad.
    fn impersonator(&mut self) -> Counterparty {
        let foreign = self.rng.chance(500);
        let phone = if foreign {
            let cc = self.rng.pick(&["+86", "+855", "+63", "+84"]);
            format!("{cc}-0{}-{}", self.rng.digits(3), self.rng.digits(4))
        } else {
            domestic_phone(&mut self.rng)
        };
        Counterparty {
            phone: Some(phone),
            profile: Some(format!("kp_{}", self.rng.hex(8))),
            name: Some(masked_name(&mut self.rng)),
            is_friend: Some(false),
            foreign: Some(foreign),
            account_age_days: Some(self.rng.range(0, 10)),
            ..Counterparty::default()
        }
    }

    /// A time between 00:30 and 04:30 KST at least an hour from `now`.
    fn night_slot(&mut self, now: i64) -> i64 {
        let midnight = (now + KST).div_euclid(DAY) * DAY - KST;
        let earliest = now + 61 * MIN;
        let (mut lo, mut hi) = (midnight + 30 * MIN, midnight + 4 * HOUR + 30 * MIN);
        if earliest > hi - 10 * MIN {
            lo += DAY;
            hi += DAY;
        }
        self.rng.range(lo.max(earliest), hi)
    }

    fn start_story(&mut self, t: i64) {
        if self.order_pos >= self.order.len() {
            self.order = ALL_SCENARIOS.to_vec();
            for i in (1..self.order.len()).rev() {
                let j = self.rng.index(i + 1);
                self.order.swap(i, j);
            }
            self.order_pos = 0;
        }
        let scenario = match self.focus {
            Some(f) => f,
            None => {
                self.order_pos += 1;
                self.order[self.order_pos - 1]
            }
        };
        let t = t + self.rng.range(0, 2 * MIN);
        let events = match scenario {
            Scenario::RemoteApp => self.story_remote_app(t),
            Scenario::BalanceDrain => self.story_balance_drain(t),
            Scenario::Mule => self.story_mule(t),
            Scenario::Night => self.story_night(t),
            Scenario::NewDevice => self.story_new_device(t),
            Scenario::Stranger => self.story_stranger(t),
            Scenario::ChangeLoan => self.story_change_loan(t),
            Scenario::Smishing => self.story_smishing(t),
            Scenario::GiftCard => self.story_gift_card(t),
        };
        self.stories += 1;
        for (at, event) in events {
            self.seq += 1;
            self.scam_pending += 1;
            let p = Pending { at, seq: self.seq, event, scenario: scenario.name(), story: self.stories };
            self.queue.push(p);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Scam stories. Each returns its events in order, all at or after `t`.

    /// Impersonation call and SMS at the bank, a remote-control app found, then a large
    /// transfer to a never-used account from the controlled phone.
    fn story_remote_app(&mut self, t: i64) -> Story {
        let aff = Aff::Bank;
        let vi = self.pick_victim(aff, t, |p| band_at_least(p, 40));
        let mut out = Vec::new();
        let mut at = t;
        let (caller, foreign) = self.scam_phone();
        let scammer = Counterparty {
            phone: Some(caller),
            is_friend: Some(false),
            foreign: Some(foreign),
            ..Counterparty::default()
        };
        let v = self.people[aff.index()][vi].clone();
        if self.rng.chance(700) {
            let body = EventBody::Contact(Contact {
                counterparty: scammer.clone(),
                mutual_friends: 0,
                friend_names: Vec::new(),
            });
            out.push((at, ev(aff, &v, at, Some(Channel::Phone), Some(v.own_device()), None, body)));
            at += self.rng.range(2 * MIN, 10 * MIN);
        }
        if self.rng.chance(600) {
            let text = impersonation_text(&mut self.rng);
            let body = message(scammer, text, false);
            out.push((at, ev(aff, &v, at, None, Some(v.own_device()), None, body)));
            at += self.rng.range(3 * MIN, 15 * MIN);
        }
        let malicious = self.rng.chance(400);
        let mut apps = vec![self.rng.pick(&REMOTE_APPS).to_string()];
        if malicious {
            apps.push(self.rng.pick(&FAKE_APPS).to_string());
        }
        let device = Device { remote_control_app: true, malicious_app: malicious, ..v.own_device() };
        let net = ip(v.mobile_ip.clone(), "KR", false);
        let scan = EventBody::DeviceScan(DeviceScan { apps, remote_control_app: true, malicious_app: malicious });
        out.push((at, ev(aff, &v, at, Some(Channel::App), Some(device.clone()), Some(net.clone()), scan)));
        at += self.rng.range(MIN, 5 * MIN);
        let method = self.rng.pick(&["biometric", "pin", "certificate"]);
        let body = login(method, true, 0);
        out.push((at, ev(aff, &v, at, Some(Channel::App), Some(device.clone()), Some(net.clone()), body)));
        let transfers = if self.rng.chance(300) { 2 } else { 1 };
        for _ in 0..transfers {
            at += self.rng.range(3 * MIN, 12 * MIN);
            let amount = (self.rng.spread(1_000_000, 30_000_000) / 100_000) * 100_000;
            let cp = self.fraud_account(aff, vi);
            let p = &mut self.people[aff.index()][vi];
            let before = p.debit(&mut self.rng, amount, 1_250);
            let body = transfer(amount, cp, p.source(), before, false, None);
            let p = &self.people[aff.index()][vi];
            out.push((at, ev(aff, p, at, Some(Channel::App), Some(device.clone()), Some(net.clone()), body)));
        }
        self.victimise(aff, vi, at);
        out
    }

    /// Login, then 90–100% of the balance to a new account.
    fn story_balance_drain(&mut self, t: i64) -> Story {
        let aff = if self.rng.chance(700) { Aff::Bank } else { Aff::Pay };
        let vi = self.pick_victim(aff, t, |_| true);
        let mut out = Vec::new();
        let mut at = t;
        let v = self.people[aff.index()][vi].clone();
        let web = aff == Aff::Bank && self.rng.chance(200);
        let (channel, device, net) = if self.rng.chance(300) {
            let channel = if web { Channel::Web } else { Channel::App };
            (channel, fresh_device(&mut self.rng), self.scam_ip(300, 300))
        } else if web {
            let device = Device { id: v.pc.clone(), ..Device::default() };
            (Channel::Web, device, ip(v.home_ip.clone(), "KR", false))
        } else {
            (Channel::App, v.own_device(), ip(v.mobile_ip.clone(), "KR", false))
        };
        let method = if web { "certificate" } else { self.rng.pick(&["biometric", "pin", "password"]) };
        let body = login(method, true, 0);
        out.push((at, ev(aff, &v, at, Some(channel), Some(device.clone()), Some(net.clone()), body)));
        at += self.rng.range(2 * MIN, 15 * MIN);
        let cp = self.fraud_account(aff, vi);
        let p = &mut self.people[aff.index()][vi];
        if p.balance < 1_000_000 {
            p.balance = round_won(self.rng.spread(1_000_000, 30_000_000));
        }
        let before = p.balance;
        let per_mille = self.rng.range(905, 1000);
        let mut amount = round_won(before * per_mille / 1000);
        if amount * 10 < before * 9 {
            amount = before;
        }
        p.balance -= amount;
        let body = transfer(amount, cp, p.source(), before, false, None);
        let p = &self.people[aff.index()][vi];
        out.push((at, ev(aff, p, at, Some(channel), Some(device), Some(net), body)));
        self.victimise(aff, vi, at);
        out
    }

    /// Many subjects send small amounts to one bank subject's account within an hour; that
    /// subject, from a new device, cashes out fast to other accounts.
    fn story_mule(&mut self, t: i64) -> Story {
        let mi = self.pick_victim(Aff::Bank, t, |p| band_in(p, &["20s", "30s"]));
        self.victimise(Aff::Bank, mi, t + 2 * HOUR);
        let mule = self.people[Aff::Bank.index()][mi].clone();
        let mule_cp = mule.own_account_cp();
        let mut senders = Vec::new();
        for (aff, lo, hi) in [(Aff::Bank, 6, 10), (Aff::Pay, 2, 4)] {
            for _ in 0..self.rng.range(lo, hi) {
                let i = self.pick_victim(aff, t, |_| true);
                if self.people[aff.index()][i].busy_until > t {
                    break; // everyone is busy: fewer senders
                }
                self.victimise(aff, i, t + HOUR);
                senders.push((aff, i));
            }
        }
        // Shuffle so bank and pay senders interleave.
        for i in (1..senders.len()).rev() {
            let j = self.rng.index(i + 1);
            senders.swap(i, j);
        }
        let span = self.rng.range(15 * MIN, 50 * MIN);
        let mut times: Vec<i64> = senders.iter().map(|_| t + self.rng.range(0, span)).collect();
        times.sort_unstable();
        // (time, inflow amount or 0 for a cash-out, sender index)
        let mut plan: Vec<(i64, i64, usize)> = Vec::new();
        for (k, &at) in times.iter().enumerate() {
            let amount = round_won(self.rng.spread(30_000, 900_000));
            plan.push((at, amount, k));
        }
        let cashouts = self.rng.range(2, 4) as usize;
        for j in 0..cashouts {
            let k = (times.len() * (j + 1)).div_ceil(cashouts).saturating_sub(1);
            let at = times.get(k).copied().unwrap_or(t) + self.rng.range(MIN, 6 * MIN);
            plan.push((at, 0, usize::MAX));
        }
        plan.sort_by_key(|&(at, amount, _)| (at, amount == 0));
        let mule_device = fresh_device(&mut self.rng);
        let mule_ip = self.scam_ip(400, 400);
        let mut balance = self.rng.range(5_000, 80_000);
        let mut logged_in = false;
        let mut out = Vec::new();
        for (at, amount, k) in plan {
            if amount > 0 {
                let (aff, i) = senders[k];
                let memo = self.rng.pick(&[None, None, Some("투자금"), Some("수수료"), Some("보증금"), Some("입금")]);
                let p = &mut self.people[aff.index()][i];
                let before = p.debit(&mut self.rng, amount, 1_100);
                let p = &self.people[aff.index()][i];
                let (channel, net) = if aff == Aff::Bank && self.rng.chance(200) {
                    (Channel::Web, ip(p.home_ip.clone(), "KR", false))
                } else {
                    (Channel::App, ip(p.mobile_ip.clone(), "KR", false))
                };
                let body = transfer(amount, mule_cp.clone(), p.source(), before, false, memo);
                out.push((at, ev(aff, p, at, Some(channel), Some(p.own_device()), Some(net), body)));
                balance += amount;
                continue;
            }
            if balance < 30_000 {
                continue;
            }
            if !logged_in {
                let la = (at - self.rng.range(MIN / 2, 2 * MIN)).max(t);
                let body = login("password", true, 0);
                let e = ev(
                    Aff::Bank,
                    &mule,
                    la,
                    Some(Channel::App),
                    Some(mule_device.clone()),
                    Some(mule_ip.clone()),
                    body,
                );
                out.push((la, e));
                logged_in = true;
            }
            let amount = round_won(balance - self.rng.range(0, 10_000)).min(balance);
            let cp = self.fraud_account(Aff::Bank, mi);
            let e = if self.rng.chance(300) {
                ev(
                    Aff::Bank,
                    &mule,
                    at,
                    Some(Channel::Atm),
                    None,
                    None,
                    transfer(amount, cp, mule.source(), balance, false, None),
                )
            } else {
                let body = transfer(amount, cp, mule.source(), balance, false, None);
                ev(Aff::Bank, &mule, at, Some(Channel::App), Some(mule_device.clone()), Some(mule_ip.clone()), body)
            };
            out.push((at, e));
            balance -= amount;
        }
        // The login was put in at its own time; keep the story in time order.
        out.sort_by_key(|(at, _)| *at);
        let end = out.last().map_or(t, |(at, _)| *at);
        self.people[Aff::Bank.index()][mi].balance = balance;
        self.victimise(Aff::Bank, mi, end);
        out
    }

    /// An elderly subject's first transfer to a new account, large, between 0 and 5 KST,
    /// sometimes after a call from an unknown number.
    fn story_night(&mut self, t: i64) -> Story {
        let aff = Aff::Bank;
        let vi = self.pick_victim(aff, t, |p| band_in(p, &["60s", "70s"]));
        let night = self.night_slot(t);
        self.victimise(aff, vi, night + HOUR);
        let v = self.people[aff.index()][vi].clone();
        let mut out = Vec::new();
        if self.rng.chance(500) {
            let (caller, foreign) = self.scam_phone();
            let cp = Counterparty {
                phone: Some(caller),
                is_friend: Some(false),
                foreign: Some(foreign),
                ..Counterparty::default()
            };
            let at = night - self.rng.range(20 * MIN, 60 * MIN);
            let body = EventBody::Contact(Contact { counterparty: cp, mutual_friends: 0, friend_names: Vec::new() });
            out.push((at, ev(aff, &v, at, Some(Channel::Phone), Some(v.own_device()), None, body)));
        }
        let net = ip(v.mobile_ip.clone(), "KR", false);
        let method = self.rng.pick(&["biometric", "pin", "certificate"]);
        let body = login(method, true, self.rng.range(0, 1));
        out.push((night, ev(aff, &v, night, Some(Channel::App), Some(v.own_device()), Some(net.clone()), body)));
        let at = night + self.rng.range(2 * MIN, 8 * MIN);
        let amount = (self.rng.spread(2_000_000, 20_000_000) / 100_000) * 100_000;
        let cp = self.fraud_account(aff, vi);
        let p = &mut self.people[aff.index()][vi];
        let before = p.debit(&mut self.rng, amount, 1_100);
        let body = transfer(amount, cp, p.source(), before, false, None);
        let p = &self.people[aff.index()][vi];
        out.push((at, ev(aff, p, at, Some(Channel::App), Some(p.own_device()), Some(net), body)));
        out
    }

    /// Login from a new device (SIM swapped, abroad or behind a proxy), then a transfer to a
    /// new account within minutes.
    fn story_new_device(&mut self, t: i64) -> Story {
        let aff = if self.rng.chance(600) { Aff::Bank } else { Aff::Pay };
        let vi = self.pick_victim(aff, t, |_| true);
        let v = self.people[aff.index()][vi].clone();
        let usim = self.rng.chance(700).then(|| self.rng.range(0, 3));
        let device = Device {
            id: new_device_id(&mut self.rng),
            new_for_subject: true,
            usim_changed_days: usim,
            ..Device::default()
        };
        let net = self.scam_ip(450, 300);
        let mut out = Vec::new();
        let mut at = t;
        let mut failed = 0;
        if self.rng.chance(350) {
            failed = self.rng.range(1, 3);
            let body = login("password", false, failed - 1);
            out.push((at, ev(aff, &v, at, Some(Channel::App), Some(device.clone()), Some(net.clone()), body)));
            at += self.rng.range(MIN / 2, 3 * MIN);
        }
        let method = self.rng.pick(&["password", "sms_otp"]);
        let body = login(method, true, failed);
        out.push((at, ev(aff, &v, at, Some(Channel::App), Some(device.clone()), Some(net.clone()), body)));
        at += self.rng.range(2 * MIN, 10 * MIN);
        let amount = round_won(self.rng.spread(500_000, 5_000_000));
        let cp = self.fraud_account(aff, vi);
        let p = &mut self.people[aff.index()][vi];
        let before = p.debit(&mut self.rng, amount, 1_200);
        let body = transfer(amount, cp, p.source(), before, false, None);
        let p = &self.people[aff.index()][vi];
        out.push((at, ev(aff, p, at, Some(Channel::App), Some(device), Some(net), body)));
        self.victimise(aff, vi, at);
        out
    }

    /// Messenger: a stranger's first contact posing as the subject's child, a message or two,
    /// then a chat remittance to a new account within 30 minutes of the contact.
    fn story_stranger(&mut self, t: i64) -> Story {
        let aff = Aff::Messenger;
        let vi = self.pick_victim(aff, t, |p| band_at_least(p, 50));
        let v = self.people[aff.index()][vi].clone();
        let scammer = self.impersonator();
        let device = v.own_device();
        let net = ip(v.mobile_ip.clone(), "KR", false);
        let mut out = Vec::new();
        let body =
            EventBody::Contact(Contact { counterparty: scammer.clone(), mutual_friends: 0, friend_names: Vec::new() });
        out.push((t, ev(aff, &v, t, Some(Channel::Chat), Some(device.clone()), None, body)));
        let mut at = t + self.rng.range(MIN, 3 * MIN);
        let opener = self.rng.pick(&FAMILY_OPENERS);
        let salt = format!("{opener}{:?}{:?}", scammer.phone, scammer.profile);
        let opener = quoted("family_impersonation", &salt).unwrap_or(opener).to_string();
        out.push((
            at,
            ev(aff, &v, at, Some(Channel::Chat), Some(device.clone()), None, message(scammer.clone(), opener, false)),
        ));
        at += self.rng.range(2 * MIN, 6 * MIN);
        let ask = family_ask(&mut self.rng);
        out.push((at, ev(aff, &v, at, Some(Channel::Chat), Some(device.clone()), None, message(scammer, ask, false))));
        let at = (at + self.rng.range(3 * MIN, 15 * MIN)).min(t + 29 * MIN);
        let amount = round_won(self.rng.spread(300_000, 3_000_000));
        let cp = self.fraud_account(aff, vi);
        let p = &mut self.people[aff.index()][vi];
        let before = p.debit(&mut self.rng, amount, 1_100);
        let body = transfer(amount, cp, p.source(), before, false, None);
        let p = &self.people[aff.index()][vi];
        out.push((at, ev(aff, p, at, Some(Channel::Chat), Some(device), Some(net), body)));
        self.victimise(aff, vi, at);
        out
    }

    /// Account takeover: login from a new device, phone number / device registration / OTP
    /// changed, then a remote loan application within the hour.
    fn story_change_loan(&mut self, t: i64) -> Story {
        let aff = if self.rng.chance(600) { Aff::Bank } else { Aff::Insurance };
        let vi = self.pick_victim(aff, t, |p| band_at_least(p, 30));
        let v = self.people[aff.index()][vi].clone();
        let usim = self.rng.chance(800).then(|| self.rng.range(0, 2));
        let device = Device {
            id: new_device_id(&mut self.rng),
            new_for_subject: true,
            usim_changed_days: usim,
            ..Device::default()
        };
        let net = self.scam_ip(250, 250);
        let mut out = Vec::new();
        let method = self.rng.pick(&["sms_otp", "password"]);
        out.push((
            t,
            ev(aff, &v, t, Some(Channel::App), Some(device.clone()), Some(net.clone()), login(method, true, 0)),
        ));
        let mut at = t + self.rng.range(2 * MIN, 8 * MIN);
        let first_change = at;
        let kinds = [ChangeKind::PhoneNumber, ChangeKind::DeviceRegistration, ChangeKind::OtpReissue];
        let first = self.rng.index(kinds.len());
        let mut changes = vec![kinds[first]];
        if self.rng.chance(500) {
            changes.push(kinds[(first + 1 + self.rng.index(2)) % kinds.len()]);
        }
        for (k, change) in changes.into_iter().enumerate() {
            if k > 0 {
                at += self.rng.range(MIN, 5 * MIN);
            }
            let body = EventBody::AccountChange(AccountChange { change });
            out.push((at, ev(aff, &v, at, Some(Channel::App), Some(device.clone()), Some(net.clone()), body)));
        }
        let at = (at + self.rng.range(10 * MIN, 45 * MIN)).min(first_change + 55 * MIN);
        let (amount, product) = if aff == Aff::Bank {
            (self.rng.range(10, 50) * 1_000_000, "credit")
        } else {
            (self.rng.range(30, 200) * 100_000, "policy_loan")
        };
        let body = EventBody::LoanApplication(LoanApplication {
            amount: Krw(amount),
            product: Some(product.to_string()),
            remote: true,
        });
        out.push((at, ev(aff, &v, at, Some(Channel::App), Some(device), Some(net), body)));
        self.victimise(aff, vi, at);
        out
    }

    /// One sender blasts the same lure (parcel, obituary, wedding, fine, health check) with a
    /// look-alike or shortened link to a few messenger subjects.
    fn story_smishing(&mut self, t: i64) -> Story {
        let aff = Aff::Messenger;
        let (phone, foreign) = self.scam_phone();
        let sender = Counterparty {
            phone: Some(phone),
            profile: Some(format!("kp_{}", self.rng.hex(8))),
            is_friend: Some(false),
            foreign: Some(foreign),
            account_age_days: Some(self.rng.range(0, 3)),
            ..Counterparty::default()
        };
        let lure = self.rng.pick(&LURES);
        let text = smishing_text(&mut self.rng, lure);
        let attachment = matches!(lure, Lure::Obituary | Lure::Wedding) && self.rng.chance(300);
        let mut out = Vec::new();
        let mut at = t;
        for k in 0..self.rng.range(2, 4) {
            if k > 0 {
                at += self.rng.range(MIN / 2, 4 * MIN);
            }
            let vi = self.pick_victim(aff, at, |_| true);
            self.occupy(aff, vi, at);
            let v = &self.people[aff.index()][vi];
            let body = message(sender.clone(), text.clone(), attachment);
            out.push((at, ev(aff, v, at, Some(Channel::Chat), Some(v.own_device()), None, body)));
        }
        out
    }

    /// Messenger: an impersonation message, then several large gift-card purchases.
    fn story_gift_card(&mut self, t: i64) -> Story {
        let aff = Aff::Messenger;
        let vi = self.pick_victim(aff, t, |p| band_at_least(p, 40));
        let v = self.people[aff.index()][vi].clone();
        let scammer = self.impersonator();
        let device = v.own_device();
        let net = ip(v.mobile_ip.clone(), "KR", false);
        let text = gift_card_ask(&mut self.rng);
        let mut out =
            vec![(t, ev(aff, &v, t, Some(Channel::Chat), Some(device.clone()), None, message(scammer, text, false)))];
        let mut at = t + self.rng.range(5 * MIN, 25 * MIN);
        let cards = [
            ("mch_giftshop_card", "선물하기 모바일상품권"),
            ("mch_gift_01", "구글플레이 기프트코드"),
            ("mch_gift_02", "문화상품권 모바일"),
            ("mch_gift_03", "편의점 모바일상품권"),
        ];
        let (id, name) = self.rng.pick(&cards);
        for k in 0..self.rng.range(2, 4) {
            if k > 0 {
                at += self.rng.range(MIN, 8 * MIN);
            }
            let amount = self.rng.pick(&[100_000, 100_000, 200_000, 300_000, 500_000]);
            let by_account = self.rng.chance(500);
            let balance_before = if by_account {
                let p = &mut self.people[aff.index()][vi];
                Some(Krw(p.debit(&mut self.rng, amount, 1_100)))
            } else {
                None
            };
            let body = EventBody::Payment(Payment {
                amount: Krw(amount),
                currency: "KRW".to_string(),
                merchant: Merchant {
                    id: id.to_string(),
                    category: Some("gift_card".to_string()),
                    name: Some(name.to_string()),
                },
                method: Some(if by_account { "account" } else { "card" }.to_string()),
                balance_before,
            });
            let p = &self.people[aff.index()][vi];
            out.push((at, ev(aff, p, at, Some(Channel::App), Some(device.clone()), Some(net.clone()), body)));
        }
        self.victimise(aff, vi, at);
        out
    }

    // -----------------------------------------------------------------------------------------
    // Normal traffic.

    /// A normal event at `t`; about 1% are reported 1–5 minutes late.
    fn normal_event(&mut self, t: i64) -> (i64, Event) {
        let aff = self.rng.pick_w(&AFF_WEIGHTS);
        let i = self.pick_active(aff, t);
        let act = self.rng.pick_w(mix(aff));
        let at = if self.rng.chance(10) { t - self.rng.range(MIN, 5 * MIN) } else { t };
        let Simulator { rng, people, .. } = self;
        let p = &mut people[aff.index()][i];
        let event = match act {
            Act::Login => normal_login(rng, aff, p, at),
            Act::Transfer => normal_transfer(rng, aff, p, at),
            Act::Payment => normal_payment(rng, aff, p, at),
            Act::Loan => normal_loan(rng, aff, p, at),
            Act::Change => normal_change(rng, aff, p, at),
            Act::Message => normal_message(rng, aff, p, at),
            Act::Contact => normal_contact(rng, aff, p, at),
            Act::Scan => normal_scan(rng, aff, p, at),
        };
        (at, event)
    }
}

impl Iterator for Simulator {
    type Item = Labeled;

    /// Never ends.
    fn next(&mut self) -> Option<Labeled> {
        Some(self.next_event())
    }
}

/// Where a normal app event comes from: mostly the subject's phone on a mobile network.
fn app_origin(rng: &mut Rng, p: &Person) -> (Option<Channel>, Option<Device>, Option<IpInfo>) {
    let addr = if rng.chance(600) { p.mobile_ip.clone() } else { mobile_ip(rng) };
    (Some(Channel::App), Some(p.own_device()), Some(ip(addr, "KR", false)))
}

fn web_origin(p: &Person) -> (Option<Channel>, Option<Device>, Option<IpInfo>) {
    let device = Device { id: p.pc.clone(), ..Device::default() };
    (Some(Channel::Web), Some(device), Some(ip(p.home_ip.clone(), "KR", false)))
}

fn origin(rng: &mut Rng, p: &Person, web_pm: u32) -> (Option<Channel>, Option<Device>, Option<IpInfo>) {
    if rng.chance(web_pm) { web_origin(p) } else { app_origin(rng, p) }
}

fn normal_login(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    let web_pm = if aff == Aff::Messenger { 250 } else { 150 };
    let (channel, mut device, mut net) = origin(rng, p, web_pm);
    let web = channel == Some(Channel::Web);
    let method = if web {
        rng.pick_w(&[("password", 50), ("certificate", 30), ("sms_otp", 20)])
    } else {
        rng.pick_w(&[("biometric", 50), ("pin", 35), ("password", 10), ("certificate", 5)])
    };
    let (mut success, mut failed) = (true, 0);
    let r = rng.below(1000);
    if r < 40 {
        success = false;
        failed = rng.range(0, 2);
    } else if r < 70 {
        failed = rng.range(1, 2);
    } else if r < 95 && !web {
        // A new phone: legitimate, sometimes with a new USIM too.
        p.device = new_device_id(rng);
        let usim = rng.chance(500).then(|| rng.range(0, 14));
        device = Some(Device { new_for_subject: true, usim_changed_days: usim, ..p.own_device() });
    } else if r < 105 {
        // Travelling.
        let country = rng.pick(&TRAVEL_COUNTRIES);
        net = Some(ip(foreign_ip(rng), country, false));
    } else if r < 115 {
        // A VPN user at home.
        net = Some(ip(p.home_ip.clone(), "KR", true));
    }
    ev(aff, p, at, channel, device, net, login(method, success, failed))
}

fn normal_transfer(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    if aff == Aff::Messenger {
        // Chat remittance to a friend: splitting a bill, a small gift.
        let friend = p.friends[rng.index(p.friends.len())].clone();
        let amount =
            if rng.chance(300) { rng.range(5, 60) * 500 + 5_000 } else { round_won(rng.spread(5_000, 150_000)) };
        let before = p.debit(rng, amount, 1_200);
        let (_, device, net) = app_origin(rng, p);
        return ev(
            aff,
            p,
            at,
            Some(Channel::Chat),
            device,
            net,
            transfer(amount, friend, p.source(), before, false, None),
        );
    }
    let r = rng.below(1000);
    let own_pm = if aff == Aff::Securities { 850 } else { 50 };
    // (payee, amount, own account, memo, balance margin in per mille before a top-up)
    let (cp, amount, own, memo, margin) = if r < own_pm {
        // To the subject's own account elsewhere; sometimes nearly all of it.
        let cp = p.other_account.clone();
        let share = if rng.chance(200) { 1000 } else { rng.range(50, 800) };
        (cp, round_won((p.balance * share / 1000).max(10_000)), true, None, 1000)
    } else if r < own_pm + 100 {
        // A one-off payee: a second-hand purchase; rarely a house deposit that empties the
        // account (a legitimate look-alike of a balance drain).
        let cp = if aff == Aff::Pay && rng.chance(500) {
            Counterparty { phone: Some(domestic_phone(rng)), name: Some(masked_name(rng)), ..Counterparty::default() }
        } else {
            fresh_account_cp(rng)
        };
        if aff == Aff::Bank && p.balance >= 5_000_000 && rng.chance(50) {
            let amount = round_won(p.balance * rng.range(930, 1000) / 1000);
            (cp, amount, false, Some(rng.pick(&["잔금", "전세보증금", "계약금"])), 1000)
        } else {
            (cp, round_won(rng.spread(10_000, 300_000)), false, None, 1_250)
        }
    } else {
        // A habitual payee, the first ones most often.
        let n = p.payees.len();
        let k = rng.index(n).min(rng.index(n)).min(rng.index(n));
        let payee = &p.payees[k];
        let amount = round_won(payee.typical * rng.range(500, 1500) / 1000);
        (payee.cp.clone(), amount, false, payee.memo, 1_250)
    };
    let before = p.debit(rng, amount, margin);
    let body = transfer(amount, cp, p.source(), before, own, memo);
    if aff == Aff::Bank && rng.chance(60) {
        return ev(aff, p, at, Some(Channel::Atm), None, None, body);
    }
    let (channel, device, net) = match aff {
        Aff::Pay if rng.chance(300) => {
            let (_, d, n) = app_origin(rng, p);
            (Some(Channel::Chat), d, n)
        }
        Aff::Bank | Aff::Securities => origin(rng, p, 150),
        _ => app_origin(rng, p),
    };
    ev(aff, p, at, channel, device, net, body)
}

fn normal_payment(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    let (id, category, name, lo, hi) = match aff {
        Aff::Messenger => rng.pick_w(&[
            (GIFT_SHOP[0], 55),
            (GIFT_SHOP[1], 15),
            (GIFT_SHOP[2], 20),
            (GIFT_SHOP[3], 6),
            (MERCHANTS[13], 2),
            (MERCHANTS[14], 1),
            (MERCHANTS[15], 1),
        ]),
        Aff::Insurance => INSURANCE_PREMIUM,
        _ => {
            let weights: [u32; 18] = [10, 9, 6, 9, 8, 5, 8, 7, 5, 8, 3, 5, 3, 1, 2, 1, 3, 3];
            let table: Vec<_> = MERCHANTS.iter().copied().zip(weights).collect();
            rng.pick_w(&table)
        }
    };
    // Prices, not typed amounts: to the 100 won.
    let amount = (rng.spread(lo, hi) / 100).max(1) * 100;
    let method =
        if aff == Aff::Insurance { "account" } else { rng.pick_w(&[("card", 60), ("account", 28), ("points", 12)]) };
    let balance_before = (method == "account").then(|| Krw(p.debit(rng, amount, 1_100)));
    let body = EventBody::Payment(Payment {
        amount: Krw(amount),
        currency: "KRW".to_string(),
        merchant: Merchant { id: id.to_string(), category: Some(category.to_string()), name: Some(name.to_string()) },
        method: Some(method.to_string()),
        balance_before,
    });
    let web_pm = if aff == Aff::Pay { 100 } else { 200 };
    let (channel, device, net) = origin(rng, p, web_pm);
    ev(aff, p, at, channel, device, net, body)
}

fn normal_loan(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    let (amount, product) = match aff {
        Aff::Insurance => (rng.range(10, 100) * 100_000, "policy_loan"),
        Aff::Securities => (rng.range(5, 30) * 1_000_000, "stock_backed"),
        _ if rng.chance(100) => (rng.range(10, 40) * 10_000_000, "mortgage"),
        _ => (rng.range(5, 50) * 1_000_000, "credit"),
    };
    let branch = aff == Aff::Bank && rng.chance(150);
    let (channel, device, net) = if branch { (Some(Channel::Branch), None, None) } else { origin(rng, p, 200) };
    let body = EventBody::LoanApplication(LoanApplication {
        amount: Krw(amount),
        product: Some(product.to_string()),
        remote: !branch,
    });
    ev(aff, p, at, channel, device, net, body)
}

fn normal_change(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    let change = rng.pick_w(&[
        (ChangeKind::Password, 50),
        (ChangeKind::Address, 15),
        (ChangeKind::Email, 15),
        (ChangeKind::LimitIncrease, 8),
        (ChangeKind::DesignatedAccount, 4),
        (ChangeKind::PhoneNumber, 4),
        (ChangeKind::DeviceRegistration, 3),
        (ChangeKind::OtpReissue, 1),
    ]);
    let (channel, device, net) = origin(rng, p, 250);
    ev(aff, p, at, channel, device, net, EventBody::AccountChange(AccountChange { change }))
}

fn normal_message(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    let device = Some(p.own_device());
    if aff == Aff::Bank {
        // SMS seen by the bank app's anti-phishing scanner (no channel).
        let (sender, text) = if rng.chance(600) {
            let sender = Counterparty {
                phone: Some(format!("1588-0{}", rng.digits(3))),
                is_friend: Some(false),
                foreign: Some(false),
                ..Counterparty::default()
            };
            (sender, rng.pick(&BANK_SMS_TEXTS).to_string())
        } else {
            (p.friends[rng.index(p.friends.len())].clone(), rng.pick(&FAMILY_SMS_TEXTS).to_string())
        };
        return ev(aff, p, at, None, device, None, message(sender, text, false));
    }
    let r = rng.below(1000);
    let (channel, sender, text, attachment) = if r < 60 {
        let sender = Counterparty {
            profile: Some(format!("kp_{}", rng.hex(8))),
            name: Some(masked_name(rng)),
            is_friend: Some(false),
            foreign: Some(false),
            account_age_days: Some(rng.range(200, 4000)),
            ..Counterparty::default()
        };
        (Channel::OpenChat, sender, rng.pick(&OPEN_CHAT_TEXTS).to_string(), false)
    } else if r < 110 {
        let sender = Counterparty {
            profile: Some(format!("kp_{}", rng.hex(8))),
            name: Some(masked_name(rng)),
            is_friend: Some(false),
            foreign: Some(false),
            account_age_days: Some(rng.range(100, 3000)),
            phone: rng.chance(500).then(|| domestic_phone(rng)),
            ..Counterparty::default()
        };
        (Channel::Chat, sender, rng.pick(&STRANGER_TEXTS).to_string(), false)
    } else if r < 160 {
        let friend = p.friends[rng.index(p.friends.len())].clone();
        let text = match rng.below(3) {
            0 => format!("이거 봐봐 https://naver.me/{}", rng.alnum(8)),
            1 => format!("영상 재밌더라 https://youtu.be/{}", rng.alnum(11)),
            _ => format!("맛집 여기야 https://map.naver.com/p/entry/place/{}", rng.digits(10)),
        };
        (Channel::Chat, friend, text, false)
    } else {
        let friend = p.friends[rng.index(p.friends.len())].clone();
        let attachment = rng.chance(80);
        (Channel::Chat, friend, rng.pick(&FRIEND_TEXTS).to_string(), attachment)
    };
    ev(aff, p, at, Some(channel), device, None, message(sender, text, attachment))
}

fn normal_contact(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    let device = Some(p.own_device());
    if aff == Aff::Bank {
        // A call from a number not in the contacts: a courier, a clinic, a colleague.
        let phone =
            if rng.chance(500) { format!("02-0{}-{}", rng.digits(3), rng.digits(4)) } else { domestic_phone(rng) };
        let cp = Counterparty {
            phone: Some(phone),
            is_friend: Some(false),
            foreign: Some(false),
            ..Counterparty::default()
        };
        return ev(
            aff,
            p,
            at,
            Some(Channel::Phone),
            device,
            None,
            EventBody::Contact(Contact { counterparty: cp, mutual_friends: 0, friend_names: Vec::new() }),
        );
    }
    let foreign = rng.chance(50);
    let cp = Counterparty {
        phone: rng.chance(500).then(|| domestic_phone(rng)),
        profile: Some(format!("kp_{}", rng.hex(8))),
        name: Some(masked_name(rng)),
        is_friend: Some(false),
        foreign: Some(foreign),
        account_age_days: Some(if rng.chance(50) { rng.range(0, 30) } else { rng.range(30, 4000) }),
        ..Counterparty::default()
    };
    let mutual_friends = if rng.chance(200) { 0 } else { rng.range(1, 12) };
    ev(
        aff,
        p,
        at,
        Some(Channel::Chat),
        device,
        None,
        EventBody::Contact(Contact { counterparty: cp, mutual_friends, friend_names: Vec::new() }),
    )
}

fn normal_scan(rng: &mut Rng, aff: Aff, p: &mut Person, at: i64) -> Event {
    let apps = if p.remote_app { vec![rng.pick(&REMOTE_APPS).to_string()] } else { Vec::new() };
    let body = EventBody::DeviceScan(DeviceScan { apps, remote_control_app: p.remote_app, malicious_app: false });
    let (_, device, net) = app_origin(rng, p);
    ev(aff, p, at, Some(Channel::App), device, net, body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_wave_changes_the_share_and_the_kind_of_scam_from_then_on() {
        let mut sim = super::Simulator::new(super::SimConfig::with_seed(11));
        for _ in 0..3_000 {
            sim.next_event();
        }
        sim.set_scam_share(150);
        sim.focus(Some("mule_account")).unwrap();
        // Stories already begun finish first; count from a little later.
        for _ in 0..300 {
            sim.next_event();
        }
        let wave: Vec<_> = (0..4_000).map(|_| sim.next_event()).collect();
        let scams: Vec<_> = wave.iter().filter(|e| e.scenario != super::NORMAL).collect();
        let share = scams.len() as f64 / wave.len() as f64;
        assert!((0.10..0.20).contains(&share), "share {share}");
        assert!(scams.iter().all(|e| e.scenario == "mule_account"), "only the wave's scenario");
        sim.set_scam_share(0);
        sim.focus(None).unwrap();
        for _ in 0..300 {
            sim.next_event();
        }
        assert!((0..2_000).all(|_| sim.next_event().scenario == super::NORMAL), "no scams at share 0");
        assert!(sim.focus(Some("pony")).unwrap_err().contains("pony"));
    }

    use super::*;
    use std::collections::HashSet;

    fn sample(n: usize) -> Vec<Labeled> {
        Simulator::new(SimConfig::default()).take(n).collect()
    }

    #[test]
    fn default_start_is_monday_morning_kst() {
        let t = Timestamp::parse_rfc3339("2026-11-23T06:00:00+09:00").unwrap();
        assert_eq!(SimConfig::default().start, t);
        assert_eq!(t.kst_weekday(), 0);
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let a = sample(1500);
        assert_eq!(a, sample(1500));
        let c: Vec<Labeled> = Simulator::new(SimConfig::with_seed(8)).take(1500).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn every_event_round_trips_through_json() {
        for l in sample(3000) {
            let json = l.event.to_json();
            let back = Event::from_json(&json, None).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, l.event, "{json}");
            assert_eq!(back.to_json(), json);
        }
    }

    #[test]
    fn every_scenario_appears_in_3000_events_with_seed_7() {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for l in sample(3000) {
            *counts.entry(l.scenario).or_default() += 1;
        }
        for s in SCENARIOS {
            assert!(counts.get(s).copied().unwrap_or(0) > 0, "{s} missing: {counts:?}");
        }
        let scam: usize = SCENARIOS.iter().filter_map(|s| counts.get(s)).sum();
        assert!((40..=200).contains(&scam), "scam share off: {counts:?}");
        for (i, s) in ALL_SCENARIOS.iter().enumerate() {
            assert_eq!(s.name(), SCENARIOS[i]);
        }
    }

    #[test]
    fn time_moves_forward_except_a_few_late_events() {
        for seed in [7, 1, 2, 3, 4] {
            let events: Vec<Labeled> = Simulator::new(SimConfig::with_seed(seed)).take(3000).collect();
            let mut newest = i64::MIN;
            let mut late = 0;
            for l in &events {
                let at = l.event.at.0;
                if at < newest {
                    late += 1;
                    assert!(newest - at <= 5 * MIN, "{} is {} ms late", l.event.id, newest - at);
                    assert_eq!(l.scenario, NORMAL, "only normal events are late: {}", l.event.id);
                }
                newest = newest.max(at);
            }
            assert!((5..=90).contains(&late), "seed {seed}: {late} late events");
            let ids: HashSet<&str> = events.iter().map(|l| l.event.id.as_str()).collect();
            assert_eq!(ids.len(), events.len(), "ids are unique");
        }
    }

    #[test]
    fn tiny_population_and_heavy_scam_share_stay_valid() {
        for subjects in [1, 3] {
            let cfg =
                SimConfig { subjects, scam_share_per_mille: 600, peak_events_per_hour: 0, ..SimConfig::default() };
            let events: Vec<Labeled> = Simulator::new(cfg).take(2000).collect();
            let scam = events.iter().filter(|l| l.is_scam()).count();
            assert!(scam > 600, "{scam} scam events");
            let mut newest = events[0].event.at.0;
            for l in &events {
                let json = l.event.to_json();
                assert_eq!(Event::from_json(&json, None).as_ref(), Ok(&l.event), "{json}");
                assert!(newest - l.event.at.0 <= 5 * MIN);
                newest = newest.max(l.event.at.0);
            }
        }
    }

    #[test]
    fn committed_fixture_is_up_to_date() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data/events");
        let events = std::fs::read_to_string(dir.join("sample.jsonl")).unwrap();
        let labels = std::fs::read_to_string(dir.join("sample.labels.jsonl")).unwrap();
        let want = sample(3000);
        assert_eq!(events.lines().count(), want.len());
        assert_eq!(labels.lines().count(), want.len());
        let regenerate = "stale fixture: regenerate it with the command in test_data/events/README.md";
        for ((line, label), l) in events.lines().zip(labels.lines()).zip(&want) {
            assert_eq!(Event::from_json(line, None).as_ref(), Ok(&l.event), "{regenerate}");
            assert_eq!(label, l.label_json(), "{regenerate}");
        }
    }

    #[test]
    fn scam_messages_quote_the_corpus_and_never_its_evaluation_only_rows() {
        let c = corpus();
        for t in ["parcel_smishing", "obituary_smishing", "wedding_smishing", "fine_smishing", "health_check"] {
            assert!(c.get(t).is_some_and(|v| !v.is_empty()), "{t}");
        }
        // Every evaluation-only text of the corpus (all files, ordinary messages included).
        let mut banned = HashSet::new();
        let ham = [
            include_str!("../../../test_data/messages/korean-real/ham.tsv"),
            include_str!("../../../test_data/messages/korean-real/ham-more.tsv"),
        ];
        for file in CORPUS.iter().chain(&ham) {
            for line in file.lines().skip(1) {
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() >= 5 && evaluation_only(f[4]) {
                    banned.insert(f[1]);
                }
            }
        }
        assert!(
            evaluation_only("cc-by-nc-4.0") && evaluation_only("cc-by-nc-sa-2.0-kr") && !evaluation_only("news-quote")
        );
        let quoted_rows: HashSet<&str> = c.values().flatten().copied().collect();
        let (mut scam_messages, mut from_corpus) = (0, 0);
        for l in Simulator::new(SimConfig { scam_share_per_mille: 300, ..SimConfig::with_seed(3) }).take(20_000) {
            let EventBody::Message(m) = &l.event.body else { continue };
            assert!(!banned.iter().any(|b| m.text.contains(b)), "{}", m.text);
            if l.scenario != NORMAL {
                scam_messages += 1;
                from_corpus += usize::from(
                    quoted_rows.iter().any(|q| m.text.starts_with(q.split("(URL)").next().unwrap_or(q).trim())),
                );
            }
        }
        assert!(scam_messages > 50, "{scam_messages}");
        assert!(from_corpus * 4 >= scam_messages, "{from_corpus} of {scam_messages} scam messages quote the corpus");
    }

    #[test]
    fn nights_are_quieter_than_days() {
        let mut by_hour = [0usize; 24];
        for l in sample(3000) {
            by_hour[l.event.at.kst_hour() as usize] += 1;
        }
        let night: usize = by_hour[1..5].iter().sum();
        let day: usize = by_hour[10..14].iter().sum();
        assert!(night * 4 < day, "{by_hour:?}");
    }

    fn stories(events: &[Labeled], scenario: &str) -> BTreeMap<u32, Vec<Event>> {
        let mut out: BTreeMap<u32, Vec<Event>> = BTreeMap::new();
        for l in events.iter().filter(|l| l.scenario == scenario) {
            out.entry(l.story).or_default().push(l.event.clone());
        }
        out
    }

    fn transfers(evs: &[Event]) -> Vec<&Transfer> {
        evs.iter()
            .filter_map(|e| match &e.body {
                EventBody::Transfer(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn scenarios_have_their_signature() {
        // Stories that start in the first 3,000 events, followed to their end.
        let mut events = sample(4000);
        let started: HashSet<u32> = events[..3000].iter().map(|l| l.story).collect();
        events.retain(|l| started.contains(&l.story));
        for evs in stories(&events, "remote_app_new_payee").values() {
            let t = transfers(evs);
            assert!(!t.is_empty());
            assert!(t.iter().all(|t| t.amount.0 >= 1_000_000));
            assert!(evs.iter().any(|e| matches!(&e.body, EventBody::DeviceScan(s) if s.remote_control_app)));
        }
        for evs in stories(&events, "balance_drain").values() {
            let t = transfers(evs);
            assert!(t.iter().all(|t| t.amount.0 * 10 >= t.balance_before.map_or(i64::MAX, |b| b.0) * 9));
        }
        for evs in stories(&events, "mule_account").values() {
            let mut senders: BTreeMap<String, HashSet<String>> = BTreeMap::new();
            for e in evs {
                let account_key = match &e.body {
                    EventBody::Transfer(t) => t.counterparty.account_key.clone(),
                    _ => None,
                };
                if let Some(key) = account_key {
                    senders.entry(key).or_default().insert(e.subject.id.0.clone());
                }
            }
            let most = senders.values().map(HashSet::len).max().unwrap_or(0);
            assert!(most >= 8, "mule fan-in {most}");
        }
        for evs in stories(&events, "night_first_transfer").values() {
            for e in evs.iter().filter(|e| matches!(e.body, EventBody::Transfer(_))) {
                assert!(e.at.kst_hour() < 5, "{}", e.at);
                assert!(matches!(e.subject.age_band.as_deref(), Some("60s" | "70s")), "{:?}", e.subject);
            }
        }
        for evs in stories(&events, "stranger_contact_then_transfer").values() {
            let contact = evs.iter().find(|e| matches!(e.body, EventBody::Contact(_))).map(|e| e.at.0);
            let paid = evs.iter().find(|e| matches!(e.body, EventBody::Transfer(_))).map(|e| e.at.0);
            let (Some(c), Some(p)) = (contact, paid) else { panic!("incomplete story {evs:?}") };
            assert!(p > c && p - c < 30 * MIN);
        }
        for evs in stories(&events, "account_change_then_loan").values() {
            let change = evs.iter().find(|e| matches!(e.body, EventBody::AccountChange(_))).map(|e| e.at.0);
            let loan = evs.iter().find(|e| matches!(e.body, EventBody::LoanApplication(_))).map(|e| e.at.0);
            let (Some(c), Some(l)) = (change, loan) else { panic!("incomplete story {evs:?}") };
            assert!(l > c && l - c < HOUR);
        }
    }
}
