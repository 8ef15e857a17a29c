//! One affiliate's live state: its active ruleset, its feature state and the digests of every
//! event id it has stored (idempotency without a database read for new ids). All of it sits
//! behind one mutex held for the few microseconds of a decision.

use crate::Detectors;
use crate::campaigns::Enrolling;
use crate::protection::{Guard, History, Protection, Settings};
use crate::repeat::reused;
use crate::writer::{Job, Settle, Writer};
use crate::{AppConfig, AppError, Decided, Metrics};
use domain::{AffiliateId, Decision, Event, Verdict};
use engine::{DecideState, Snapshot, SnapshotCell};
use signals::{FeatureState, digest_map};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use store::Store;
use tokio::sync::oneshot;
use xxhash_rust::xxh3::xxh3_64;

type Reply = oneshot::Sender<Result<Decided, AppError>>;

/// What a decide call does next.
pub(crate) enum Step {
    /// Wait for the commit.
    Wait(oneshot::Receiver<Result<Decided, AppError>>),
    /// A repeated id whose event is already committed: read it from the store (on a blocking
    /// thread) and compare the content.
    Stored {
        /// The repeat (decided after all if the id only shares a digest with a stored one).
        event: Box<Event>,
        /// Its canonical JSON.
        event_json: String,
    },
}

struct Pending {
    /// xxh3 of the event's canonical JSON: a repeat with other content is a conflict.
    content: u64,
    waiters: Vec<Reply>,
}

struct Inner {
    state: DecideState,
    /// Whether any event was decided since start (a snapshot has something new to hold).
    decided_any: bool,
    /// xxh3 digests of every stored or pending event id: a miss proves the id is new.
    ids: HashSet<u64>,
    /// Decided but not yet committed, by event id; duplicates arriving now wait here.
    pending: HashMap<String, Pending>,
    since_snapshot: u64,
    /// When the last snapshot part was queued (none since start: one may be taken at once).
    last_snapshot: Option<std::time::Instant>,
    /// The part the next snapshot takes.
    next_part: u32,
    /// A commit failed after features had counted its events: rebuild from the store first.
    needs_rebuild: bool,
    /// Subjects' self-protection and the payee history it reads.
    guard: Guard,
}

pub(crate) struct Tenant {
    pub(crate) id: AffiliateId,
    pub(crate) rules: SnapshotCell,
    /// The stage-1 detectors, for replay.
    analyzer: Detectors,
    /// The group's registry: its key makes the digests a protective decision counts in the
    /// indicator rollup.
    registry: Arc<crate::registry::Registry>,
    /// Features are counted in a store the nodes share, not here.
    shared: bool,
    inner: Mutex<Inner>,
    /// Serialises changes of self-protection settings across their store write, so the
    /// decision lock (`inner`) is never held while the store waits for fsync.
    protecting: Mutex<()>,
    /// The prevention campaigns reaching this affiliate's users, with who is enrolled. Taken
    /// inside the decision lock, never the other way round.
    campaigns: Mutex<Vec<Enrolling>>,
}

/// Events read per page while replaying.
const PAGE: usize = 10_000;

/// Parts a feature-state snapshot is taken in. Each holds the keys (subject, payee and other
/// digests) that fall in it and is saved with the number of the last event it covers, so
/// taking one holds the affiliate's decisions for a sixteenth of the state; a restore merges the
/// parts and replays each key from its own part's number. They are the shards the state is kept
/// in, so taking one serialises a shard and visits nothing else.
pub(crate) const SNAPSHOT_PARTS: u32 = digest_map::SHARDS as u32;

/// The part a key's digest falls in.
fn part_of(key: u64) -> usize {
    digest_map::shard_of(key)
}

/// The state a snapshot's parts hold, and the last event each part covers.
///
/// A part saved by an earlier version in coarser parts (`n` parts, `n` dividing
/// [`SNAPSHOT_PARTS`]; a whole-state snapshot is one part of one) stands in for the fine parts
/// it covers that are not saved yet: fine part `j` is covered by coarse part `j % n`, since a
/// key's digest modulo `n` is its fine part modulo `n`. Where several cover it, the latest.
fn assemble(parts: Vec<store::SnapshotPart>) -> ([i64; SNAPSHOT_PARTS as usize], FeatureState, History) {
    const N: usize = SNAPSHOT_PARTS as usize;
    let (mut seqs, mut features, mut history) = ([0i64; N], FeatureState::default(), History::default());
    let mut have = [false; N];
    // Coarser parts: (parts in that partitioning, part, its number, state).
    let mut coarse: Vec<(usize, usize, i64, FeatureState, History)> = Vec::new();
    for p in parts {
        match p.part {
            None => {
                if let Ok((f, h)) = postcard::from_bytes::<(FeatureState, History)>(&p.state) {
                    coarse.push((1, 0, p.seq, f, h));
                }
            }
            Some(i) => {
                // A part of a partitioning that does not divide this one, or unreadable: its
                // keys are replayed from the first event (a longer replay, never a wrong state).
                let i = i as usize;
                let Ok((n, f, h)) = postcard::from_bytes::<(u32, FeatureState, History)>(&p.state) else { continue };
                let n = n as usize;
                if n == N && i < N {
                    features.merge(f);
                    history.merge(h);
                    seqs[i] = p.seq;
                    have[i] = true;
                } else if n > 0 && N.is_multiple_of(n) && i < n {
                    coarse.push((n, i, p.seq, f, h));
                }
            }
        }
    }
    // Each part not saved takes the latest coarser part that covers it; each coarser part's
    // keys are then walked once for all the parts it stands in for.
    let mut from = [None; N];
    for j in (0..N).filter(|&j| !have[j]) {
        from[j] = (0..coarse.len()).filter(|&x| j % coarse[x].0 == coarse[x].1).max_by_key(|&x| coarse[x].2);
        if let Some(x) = from[j] {
            seqs[j] = coarse[x].2;
        }
    }
    for (x, (_, _, _, f, h)) in coarse.iter().enumerate().filter(|(x, _)| from.contains(&Some(*x))) {
        let mine = |k: u64| from[part_of(k)] == Some(x);
        features.merge(f.part(mine));
        history.merge(h.part(mine));
    }
    (seqs, features, history)
}

/// Rebuilds feature state, protection history and the id set from the store: the latest
/// snapshot, then every later event replayed through the features of `snap` (the rules are not
/// evaluated; the stored verdict stands) and the protection history, then the user's cancels.
/// With `shared`, features, payee history and event ids live in the stores the nodes share:
/// only the subjects' protection settings are read, and no event is replayed.
fn restore(
    a: &AffiliateId,
    snap: &Snapshot,
    store: &dyn Store,
    analyzer: &Detectors,
    shared: bool,
) -> Result<Inner, AppError> {
    let mut guard = Guard::load(store.protections(a)?).map_err(AppError::Unavailable)?;
    let live = |state, ids, guard| Inner {
        state,
        decided_any: false,
        ids,
        pending: HashMap::new(),
        since_snapshot: 0,
        last_snapshot: None,
        next_part: 0,
        needs_rebuild: false,
        guard,
    };
    if shared {
        return Ok(live(DecideState::new(), HashSet::new(), guard));
    }
    let analyzer = crate::current(analyzer);
    let (seqs, features, history) = assemble(store.load_snapshot(a)?);
    let mut after = seqs.iter().copied().min().unwrap_or(0);
    guard.history = history;
    let mut state = DecideState::from_features(features);
    let mut slots = vec![None; snap.features.len()];
    loop {
        let page = store.events_after(a, after, PAGE)?;
        for r in &page {
            match Event::from_json(&r.event_json, None) {
                Ok(mut e) => {
                    // Features may read the analysis of messages: run it again (with the
                    // models loaded now).
                    analyzer.enrich(&mut e);
                    // Each key only with the events its part does not hold yet.
                    let new = |k: u64| r.seq > seqs[part_of(k)];
                    state.features.observe_where(&snap.features, &e, &mut slots, new);
                    guard.observe_where(&e, Verdict::parse(&r.verdict).unwrap_or(Verdict::Allow), new);
                }
                Err(e) => return Err(AppError::Unavailable(format!("stored event {} is unreadable: {e}", r.event_id))),
            }
            after = r.seq;
        }
        if page.len() < PAGE {
            break;
        }
    }
    for (seq, _) in store.cancelled_holds(a)? {
        if let Some(r) = store.event_by_seq(a, seq)?
            && let Ok(e) = Event::from_json(&r.event_json, None)
        {
            guard.cancel(&e);
        }
    }
    let mut ids = HashSet::new();
    let mut from = 0;
    loop {
        let page = store.event_ids(a, from, 100_000)?;
        for (seq, id) in &page {
            ids.insert(xxh3_64(id.as_bytes()));
            from = *seq;
        }
        if page.len() < 100_000 {
            break;
        }
    }
    Ok(live(state, ids, guard))
}

impl Tenant {
    pub(crate) fn recover(
        id: AffiliateId,
        snap: Snapshot,
        store: &dyn Store,
        analyzer: Detectors,
        registry: Arc<crate::registry::Registry>,
        shared: bool,
    ) -> Result<Tenant, AppError> {
        let inner = restore(&id, &snap, store, &analyzer, shared)?;
        Ok(Tenant {
            id,
            rules: SnapshotCell::new(snap),
            analyzer,
            registry,
            shared,
            inner: Mutex::new(inner),
            protecting: Mutex::new(()),
            campaigns: Mutex::new(Vec::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides `event` and queues its write. `checked` says the caller already found that its
    /// id, though its digest is known, is not stored (two ids sharing a digest).
    pub(crate) fn decide(
        self: &Arc<Self>,
        event: Event,
        counting: Counting<'_>,
        writer: &Writer,
        config: &AppConfig,
        metrics: &Metrics,
    ) -> Result<Step, AppError> {
        let event_json = event.to_json();
        let digest = xxh3_64(event.id.as_str().as_bytes());
        writer.has_room()?;
        let mut g = self.lock();
        if g.needs_rebuild {
            // The writer rebuilds the state from the store on its own thread; until then this
            // affiliate's decisions are refused rather than decided on features that counted
            // events which were never stored.
            return Err(AppError::Overloaded("recovering from a failed commit"));
        }
        let content = xxh3_64(event_json.as_bytes());
        let unchecked = matches!(counting, Counting::Here { checked: false });
        if let Some(step) = join(&mut g, event.id.as_str(), content, metrics) {
            return step;
        }
        if unchecked && g.ids.contains(&digest) {
            // Committed: the store has it (read off the executor, without this lock), unless
            // two different ids share a digest, which the caller then decides normally.
            return Ok(Step::Stored { event: Box::new(event), event_json });
        }
        let snap = match counting {
            // Decided by the ruleset the features were counted for, even if another was
            // published since.
            Counting::Given(planned, ..) => Arc::clone(planned),
            _ => self.rules.load(),
        };
        let mut decision = match counting {
            Counting::Here { .. } => engine::decide(&snap, &mut g.state, &event),
            Counting::Given(_, features, _) => engine::decide_with(&snap, &mut g.state, &event, features),
            Counting::Degraded(why) => {
                let mut d = engine::decide_with(&snap, &mut g.state, &event, &[]);
                degrade(&event, &mut d, why);
                d
            }
        };
        match &counting {
            // The shared history answered for this transfer and recorded it already.
            Counting::Given(_, _, Some(seen)) => {
                g.guard.enforce_on(&event, &mut decision, &crate::protection::SharedSeen(*seen))
            }
            // Unknown past: a new payee, nothing spent (money is held in this mode anyway).
            Counting::Degraded(_) => g.guard.enforce_on(
                &event,
                &mut decision,
                &crate::protection::SharedSeen(signals_redis::Seen { first_ms: None, spent: 0 }),
            ),
            _ => {
                g.guard.enforce(&event, &mut decision);
                g.guard.observe(&event, decision.verdict);
            }
        }
        g.decided_any = true;
        // The store numbers the event when it commits; the tag, a digest of affiliate and
        // event id, is the decision id's second half.
        let tag = crate::xxh3_pair(self.id.as_str(), event.id.as_str());
        let decision_json = serde_json::to_string(&decision).unwrap_or_default();
        let trend = crate::trends::key(&event, &decision);
        let clusters = crate::clusters::of_decision(&event, &decision, &self.registry);
        let rules_hit: Vec<String> = decision.reasons.iter().map(|r| r.rule.to_string()).collect();
        metrics.record(&self.id, &decision);
        let record = store::EventRecord {
            seq: 0,
            event_id: event.id.0.clone(),
            decision_id: String::new(),
            at_ms: event.at.millis(),
            kind: event.kind().as_str().to_string(),
            verdict: decision.verdict.as_str().to_string(),
            score: i64::from(decision.score),
            ruleset: decision.ruleset.to_string(),
            event_json,
            decision_json,
            decided_ms: crate::now_ms(),
        };
        let mut outbox = if decision.verdict >= domain::Verdict::Hold {
            // By event id: the decision id exists only once the store has numbered the event.
            let id = serde_json::to_string(event.id.as_str()).unwrap_or_default();
            vec![("case.open".to_string(), format!("{{\"event_id\":{id},\"verdict\":\"{}\"}}", decision.verdict))]
        } else {
            Vec::new()
        };
        self.segment(&snap, &g.state, &event, &mut outbox);
        let decided = Decided { decision_id: String::new(), decision: Arc::new(decision), duplicate: false };
        if !self.shared {
            // With several nodes the store and the claims decide whether an id is new.
            g.ids.insert(digest);
        }
        g.pending.insert(event.id.0.clone(), Pending { content, waiters: Vec::new() });
        let (tx, rx) = oneshot::channel();
        // Sent under the lock, so the writer receives this affiliate's events in seq order.
        writer.send(Job::Write {
            write: store::Write {
                affiliate: self.id.clone(),
                tag,
                record,
                outbox,
                trend: Some(trend),
                clusters,
                rules: rules_hit,
            },
            decided,
            tenant: Arc::clone(self) as Arc<dyn Settle>,
            reply: tx,
        })?;
        g.since_snapshot += 1;
        // One part every `1 / SNAPSHOT_PARTS` of `snapshot_every` decisions and of the minimum
        // interval: the whole state as often as in one piece, in pauses that much shorter.
        if g.since_snapshot >= (config.snapshot_every / u64::from(SNAPSHOT_PARTS)).max(1)
            && !self.shared
            && g.last_snapshot.is_none_or(|t| t.elapsed() >= config.snapshot_min_interval / SNAPSHOT_PARTS)
        {
            g.since_snapshot = 0;
            g.last_snapshot = Some(std::time::Instant::now());
            let part = g.next_part;
            g.next_part = (part + 1) % SNAPSHOT_PARTS;
            if let Some(job) = self.snapshot_job(&g, part) {
                writer.send(job)?;
            }
        }
        Ok(Step::Wait(rx))
    }
}

/// Joins a decision of the same event id still waiting for its commit in this process: the
/// same content waits for its answer, other content is a conflict.
fn join(g: &mut Inner, event_id: &str, content: u64, metrics: &Metrics) -> Option<Result<Step, AppError>> {
    let p = g.pending.get_mut(event_id)?;
    if p.content != content {
        return Some(Err(reused(event_id, "not yet committed")));
    }
    let (tx, rx) = oneshot::channel();
    p.waiters.push(tx);
    metrics.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(Ok(Step::Wait(rx)))
}

/// How a decision gets its feature values.
pub(crate) enum Counting<'a> {
    /// This process counts them (the embedded mode). `checked`: the caller found the id, though
    /// its digest is known, not stored (two ids sharing a digest).
    Here {
        /// See above.
        checked: bool,
    },
    /// Counted already in the store shared by the nodes for this snapshot, one value per
    /// feature; the caller holds the event id's claim and found it not stored.
    Given(&'a Arc<Snapshot>, &'a [Option<i64>], Option<signals_redis::Seen>),
    /// The shared feature store cannot be reached (the reason): decided without features.
    Degraded(&'a str),
}

/// The degraded mode of a node whose shared feature store is unreachable: velocity is unknown,
/// so money leaving an account is held for review rather than let through on rules that
/// would read every count as absent; other events are decided on what is known, and every
/// such decision says so.
fn degrade(event: &Event, d: &mut Decision, why: &str) {
    use domain::EventBody as B;
    let money = matches!(event.body, B::Transfer(_) | B::Payment(_) | B::LoanApplication(_));
    let verdict = if money { Verdict::Hold } else { d.verdict };
    let (ko, en) = if money {
        (
            "실시간 이상거래 집계를 잠시 확인할 수 없어, 안전을 위해 이 거래를 보류합니다.",
            "Velocity checks are briefly unavailable, so this transaction is held for safety.",
        )
    } else {
        (
            "실시간 이상거래 집계를 잠시 확인할 수 없어, 다른 신호만으로 판단했습니다.",
            "Velocity checks are briefly unavailable; this was decided on the other signals.",
        )
    };
    d.impose(
        domain::MatchedRule {
            rule: "degraded.shared_features".into(),
            verdict,
            score: 0,
            ko: ko.into(),
            en: format!("{en} ({why})").into(),
            tags: Arc::from(vec![Arc::<str>::from("degraded")]),
        },
        money.then_some(30),
    );
}

impl Tenant {
    /// What `event` would record in the shared payee history (a transfer's payee and spending).
    pub(crate) fn shared_history(&self, event: &Event) -> Option<signals_redis::History> {
        self.lock().guard.shared_history(event)
    }

    /// Joins a decision of this event id still waiting for its commit here, if there is one.
    pub(crate) fn join_pending(
        &self,
        event_id: &str,
        content: u64,
        metrics: &Metrics,
    ) -> Option<Result<Step, AppError>> {
        join(&mut self.lock(), event_id, content, metrics)
    }

    /// The snapshot feature definitions are counted against (for a shared feature store).
    pub(crate) fn rules(&self) -> Arc<Snapshot> {
        self.rules.load()
    }
}

impl Settle for Tenant {
    /// Rebuilds the state from the store after a failed commit (on the writer's thread).
    fn rebuild(&self, store: &dyn Store) {
        let snap = self.rules.load();
        let mut g = self.lock();
        if !g.needs_rebuild {
            return;
        }
        if let Ok(fresh) = restore(&self.id, &snap, store, &self.analyzer, self.shared) {
            *g = fresh;
            // Users seen in a segment by events that were never stored are not enrolled:
            // remember only those the store holds (pending ones are enrolled again, harmlessly).
            let mut campaigns = self.campaigns.lock().unwrap_or_else(|p| p.into_inner());
            for e in campaigns.iter_mut() {
                if let Ok(subjects) = store.campaign_subjects(&e.campaign.id, &self.id) {
                    e.members = subjects.iter().map(|s| crate::campaigns::subject_digest(s)).collect();
                }
            }
        }
    }

    /// Called by the writer once a write is committed or failed.
    fn settled(&self, event_id: &str, outcome: &Result<Decided, AppError>) {
        let mut g = self.lock();
        let Some(p) = g.pending.remove(event_id) else { return };
        for w in p.waiters {
            let _ = w.send(match outcome {
                Ok(d) => Ok(Decided { duplicate: true, ..d.clone() }),
                Err(e) => Err(e.clone()),
            });
        }
        if outcome.is_err() {
            g.ids.remove(&xxh3_64(event_id.as_bytes()));
            g.needs_rebuild = true;
        }
    }
}

impl Tenant {
    /// Enrols into a campaign from the next decision (replacing an older version of it).
    pub(crate) fn adopt_campaign(&self, e: Enrolling) {
        let mut campaigns = self.campaigns.lock().unwrap_or_else(|p| p.into_inner());
        campaigns.retain(|x| x.campaign.id != e.campaign.id);
        campaigns.push(e);
    }

    /// Adds an enrolment to `outbox` for each running campaign whose segment holds for
    /// `event`, decided on the values in `state`, and whose user is new to it.
    fn segment(&self, snap: &Snapshot, state: &DecideState, event: &Event, outbox: &mut Vec<(String, String)>) {
        let mut campaigns = self.campaigns.lock().unwrap_or_else(|p| p.into_inner());
        if campaigns.is_empty() {
            return;
        }
        let at = event.at.millis();
        let subject = event.subject.id.as_str();
        let digest = crate::campaigns::subject_digest(subject);
        for e in campaigns.iter_mut() {
            if !e.campaign.enrols_at(at) || e.members.contains(&digest) {
                continue;
            }
            let Some(segment) = e.segment(snap) else { continue };
            if segment.eval(&rules::Ctx::new(event, state.slots())) {
                e.members.insert(digest);
                outbox.push((
                    crate::campaigns::ENROL_TOPIC.to_string(),
                    crate::campaigns::enrol_payload(&e.campaign.id, subject, at),
                ));
            }
        }
    }

    /// Queues a snapshot of the current feature state.
    pub(crate) fn snapshot_now(&self, writer: &Writer) {
        let g = self.lock();
        if !g.decided_any || self.shared {
            return;
        }
        for part in 0..SNAPSHOT_PARTS {
            if let Some(job) = self.snapshot_job(&g, part) {
                let _ = writer.send(job);
            }
        }
    }

    /// One part of the feature state as it stands after the last event queued, as a snapshot
    /// write (the writer knows that event's number once it is committed). The part is
    /// serialised here, under the lock, straight from its shard: one pass over its keys into
    /// one buffer (no copy of the keys for the writer to serialise).
    fn snapshot_job(&self, g: &Inner, part: u32) -> Option<Job> {
        let i = part as usize;
        let state =
            postcard::to_stdvec(&(SNAPSHOT_PARTS, g.state.features.shard_ref(i), g.guard.history.shard_ref(i))).ok()?;
        Some(Job::Snapshot { affiliate: self.id.clone(), part, state })
    }

    /// Feature values as they stand for `event`, without updating (tests, explanations).
    pub(crate) fn peek(&self, event: &Event) -> Vec<Option<i64>> {
        let snap = self.rules.load();
        let g = self.lock();
        let mut out = vec![None; snap.features.len()];
        g.state.features.peek(&snap.features, event, &mut out);
        out
    }
}

impl Tenant {
    /// The subject's protection (all off when never set).
    pub(crate) fn protection(&self, subject: &str) -> Protection {
        self.lock().guard.settings.get(subject).cloned().unwrap_or_default()
    }

    /// Changes the subject's protection durably, then applies it to the next decision.
    pub(crate) fn set_protection(
        &self,
        subject: &str,
        new: Settings,
        store: &dyn Store,
        now_ms: i64,
        cooling_off_ms: i64,
    ) -> Result<Protection, AppError> {
        let _one = self.protecting.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.lock().guard.settings.get(subject).cloned().unwrap_or_default();
        let p = current.change(new, now_ms, cooling_off_ms);
        let json = serde_json::to_string(&p).map_err(|e| AppError::Unavailable(e.to_string()))?;
        store.put_protection(&self.id, subject, &json, now_ms)?;
        // Durable first, then in force for the next decision.
        self.lock().guard.settings.insert(subject.to_string(), p.clone());
        Ok(p)
    }

    /// Takes in a subject's protection another node stored.
    pub(crate) fn adopt_protection(&self, subject: &str, p: Protection) {
        let _one = self.protecting.lock().unwrap_or_else(|p| p.into_inner());
        self.lock().guard.settings.insert(subject.to_string(), p);
    }

    /// Forgets what a cancelled held transfer taught the protection history.
    pub(crate) fn cancelled(&self, event: &Event) {
        self.lock().guard.cancel(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signals::features::{FeatureTable, Table, WindowKey};

    /// A state of one count feature holding `keys` (each key's newest bucket is the key).
    fn state(keys: &[u64]) -> FeatureState {
        let mut m = digest_map::DigestMap::default();
        for &k in keys {
            m.insert(k, WindowKey { newest: k as u32, buckets: Vec::new() });
        }
        FeatureState {
            tables: vec![FeatureTable { fingerprint: 7, watermark: 0, since_sweep: 0, table: Table::Window(m) }],
        }
    }

    fn keys(f: &FeatureState) -> Vec<u64> {
        let Table::Window(m) = &f.tables[0].table else { unreachable!() };
        let mut k: Vec<u64> = m.iter().map(|(k, _)| *k).collect();
        k.sort_unstable();
        k
    }

    /// An earlier version's whole-state snapshot, and parts of an earlier, coarser
    /// partitioning, stand in for the parts not saved yet, each with its own number (the
    /// latest that covers a part); a saved part replaces its keys; a part of a partitioning
    /// that does not divide this one is ignored, so its keys replay from the first event.
    #[test]
    fn parts_and_earlier_coarser_snapshots_assemble_into_one_state() {
        const N: u64 = SNAPSHOT_PARTS as u64;
        let snapshot = |part: Option<u32>, seq, n: Option<u32>, keys: &[u64]| store::SnapshotPart {
            part,
            seq,
            state: match n {
                None => postcard::to_stdvec(&(state(keys), History::default())).unwrap(),
                Some(n) => postcard::to_stdvec(&(n, state(keys), History::default())).unwrap(),
            },
        };
        let whole = snapshot(None, 50, None, &[1, 2, 3, N + 1, N + 2, N + 3]);
        // Part 1 of this partitioning (keys 1 and N + 1) saved later, without N + 1 any more.
        let one = snapshot(Some(1), 80, Some(SNAPSHOT_PARTS), &[1]);
        // Part 2 of a partitioning in half as many parts covers parts 2 and N / 2 + 2.
        let half = snapshot(Some(2), 60, Some(SNAPSHOT_PARTS / 2), &[2, N / 2 + 2]);
        // Part 3 of a partitioning that does not divide this one.
        let foreign = snapshot(Some(3), 90, Some(SNAPSHOT_PARTS - 1), &[3, 99]);
        let (seqs, f, _) = assemble(vec![whole, one, half, foreign]);
        assert_eq!(
            keys(&f),
            vec![1, 2, 3, N / 2 + 2, N + 3],
            "1 from its part; 2 and N / 2 + 2 from the coarser part, which is later than the whole and \
             does not hold N + 2 (in part 2); 3 and N + 3 from the whole"
        );
        let n = N as usize;
        assert_eq!((seqs[1], seqs[2], seqs[n / 2 + 2], seqs[3], seqs[0]), (80, 60, 60, 50, 50));
        assert_eq!(seqs.iter().filter(|&&s| s == 60).count(), 2, "the coarser part covers two parts");
        assert!(seqs.iter().all(|&s| s == 50 || s == 60 || s == 80));
    }
}
