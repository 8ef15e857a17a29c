//! Rulesets: validate, save a draft, backtest it against stored events, publish it as the next
//! version (assigned in the publishing transaction) and swap it in atomically, roll back.

use crate::{App, AppError, RulesetInfo, load_analyzer, load_tx_model, now_ms, with_version};
use domain::{AffiliateId, Event};
use engine::Snapshot;
use rules::Diagnostic;
use std::sync::Arc;

impl App {
    /// Checks a ruleset without publishing it.
    pub fn validate(&self, source: &str) -> Vec<Diagnostic> {
        match Snapshot::compile_with(source, self.providers.clone()) {
            Ok(_) => Vec::new(),
            Err(d) => d,
        }
    }

    fn info(v: &store::RulesetVersion) -> RulesetInfo {
        let (label, rules, features) = match Snapshot::compile_with(&v.source, Vec::new()) {
            Ok(s) => (s.label.to_string(), s.rules.len(), s.features.len()),
            Err(_) => (format!("v{}", v.version), 0, 0),
        };
        RulesetInfo {
            version: v.version,
            label,
            source: v.source.clone(),
            rules,
            features,
            published_ms: v.published_ms,
            active: v.active,
        }
    }

    /// The active ruleset.
    pub fn active_ruleset(&self, a: &AffiliateId) -> Result<RulesetInfo, AppError> {
        let v = self.store.active_ruleset(a)?.ok_or_else(|| AppError::NotFound("an active ruleset".into()))?;
        Ok(App::info(&v))
    }

    /// Every published version, newest first.
    pub fn ruleset_history(&self, a: &AffiliateId) -> Result<Vec<RulesetInfo>, AppError> {
        Ok(self.store.ruleset_history(a)?.iter().map(App::info).collect())
    }

    /// Saves a draft (any text; it is checked on validate and publish).
    pub fn put_draft(&self, a: &AffiliateId, source: &str) -> Result<(), AppError> {
        Ok(self.store.put_draft(a, source, now_ms())?)
    }

    /// The saved draft.
    pub fn draft(&self, a: &AffiliateId) -> Result<Option<String>, AppError> {
        Ok(self.store.draft(a)?)
    }

    /// Compiles and publishes `source` (or the saved draft when `None`) as the next version,
    /// then swaps it in atomically. A ruleset that does not compile is returned as
    /// [`AppError::Rules`] and changes nothing. The version number in the file is replaced by
    /// the next number in this affiliate's history.
    pub fn publish(&self, a: &AffiliateId, source: Option<&str>) -> Result<RulesetInfo, AppError> {
        let source = match source {
            Some(s) => s.to_string(),
            None => self.store.draft(a)?.ok_or_else(|| AppError::NotFound("a draft to publish".into()))?,
        };
        // Models are (re)loaded on publish too: a retrained model goes live with the rules
        // written for it, or the publish fails and nothing changes.
        let analyzer = load_analyzer(&self.config)?;
        let tx = load_tx_model(&self.config)?;
        // One publish at a time here; across processes the transaction below is the arbiter:
        // it reads the latest version and inserts the next one atomically, and a version that
        // another node took meanwhile is a conflict, never a second ruleset under one number.
        let _one = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let next = self.store.ruleset_history(a)?.first().map_or(1, |v| v.version + 1);
        let source = with_version(&source, next);
        let snap = self.compile_with_model(&source, tx.clone())?;
        self.unit_of_work(|t| {
            let latest = t.latest_version(a)?;
            if latest + 1 != next {
                return Err(AppError::Conflict(format!(
                    "version {next} was published meanwhile (latest is {latest}); publish again"
                )));
            }
            Ok(t.publish(a, next, &source, now_ms())?)
        })?;
        *self.analyzer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(analyzer);
        *self.tx_model.write().unwrap_or_else(|p| p.into_inner()) = tx;
        self.install(a, snap)?;
        self.emit(crate::changes::Change::Ruleset { affiliate: a.clone() });
        self.active_ruleset(a)
    }

    /// Makes an earlier version active again.
    pub fn rollback(&self, a: &AffiliateId, version: i64) -> Result<RulesetInfo, AppError> {
        let hist = self.store.ruleset_history(a)?;
        let v = hist
            .iter()
            .find(|v| v.version == version)
            .ok_or_else(|| AppError::NotFound(format!("ruleset version {version}")))?;
        let snap = self.compile(&v.source)?;
        self.store.activate(a, version)?;
        self.install(a, snap)?;
        self.emit(crate::changes::Change::Ruleset { affiliate: a.clone() });
        self.active_ruleset(a)
    }

    pub(crate) fn install(&self, a: &AffiliateId, snap: Snapshot) -> Result<(), AppError> {
        let existing = self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(a).cloned();
        match existing {
            Some(t) => t.rules.swap(Arc::new(snap)),
            None => {
                let t = self.recover_tenant(a, snap)?;
                self.tenants.write().unwrap_or_else(|p| p.into_inner()).insert(a.clone(), t);
            }
        }
        Ok(())
    }

    /// Replays the last `limit` stored events of `a` through the active ruleset and the saved
    /// draft, each with fresh feature state, and reports what the draft would change.
    pub fn backtest_draft(&self, a: &AffiliateId, limit: usize) -> Result<engine::backtest::BacktestReport, AppError> {
        let draft_src = self.store.draft(a)?.ok_or_else(|| AppError::NotFound("a draft to backtest".into()))?;
        let draft = self.compile(&draft_src)?;
        let active_src =
            self.store.active_ruleset(a)?.ok_or_else(|| AppError::NotFound("an active ruleset".into()))?.source;
        let active = self.compile(&active_src)?;
        let analyzer = self.analyzer();
        let mut bt = engine::backtest::Backtest::new();
        let mut after = (self.store.last_seq(a)? - limit.min(1_000_000) as i64).max(0);
        loop {
            let page = self.store.events_after(a, after, 10_000)?;
            for r in &page {
                if let Ok(mut e) = Event::from_json(&r.event_json, None) {
                    analyzer.enrich(&mut e);
                    bt.step(&active, &draft, &e, None);
                }
                after = r.seq;
            }
            if page.len() < 10_000 {
                break;
            }
        }
        Ok(bt.report)
    }

    pub(crate) fn compile(&self, source: &str) -> Result<Snapshot, AppError> {
        let m = self.tx_model.read().unwrap_or_else(|p| p.into_inner()).clone();
        self.compile_with_model(source, m)
    }

    /// Compiles `source` and attaches `m` when the ruleset declares `[model]` inputs.
    fn compile_with_model(&self, source: &str, m: Option<Arc<model::Gbdt>>) -> Result<Snapshot, AppError> {
        let mut snap = Snapshot::compile_with(source, self.providers.clone()).map_err(AppError::Rules)?;
        if let (Some(m), Some(_)) = (m, &snap.model_inputs) {
            snap.attach_model(m).map_err(|message| AppError::Invalid { field: "model".into(), message })?;
        }
        Ok(snap)
    }
}
