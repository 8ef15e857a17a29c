//! Prevention campaigns over HTTP: create one (a segment in the rule language, a notice in
//! Korean and English, a schedule, a hold-out control), list them, read one with its measured
//! effect, and stop one. An affiliate's keys run campaigns for its own users; the group's
//! keys for any affiliate's.

use crate::error::{ApiError, parse_json};
use crate::extract::{ApiPath, Caller, S, blocking};
use crate::wire::Problem;
use app::campaigns::{ArmOutcome, CampaignForm, CampaignView, Notice};
use app::effect::Effect;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A campaign, where it stands and its effect so far.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignBody {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The segment's condition in the rule language.
    pub segment: String,
    /// The affiliates whose users it reaches.
    pub affiliates: Vec<String>,
    /// The notice in Korean.
    pub ko: Notice,
    /// The notice in English.
    pub en: Notice,
    /// Enrolment starts, RFC 3339 KST.
    pub starts_at: String,
    /// Enrolment ends (exclusive), RFC 3339 KST.
    pub ends_at: String,
    /// The hold-out control's share, per mille.
    pub holdout_per_mille: u32,
    /// Days after the end during which members' reports still count.
    pub follow_up_days: u32,
    /// Who created it.
    pub created_by: String,
    /// When it was stopped early, RFC 3339 KST.
    pub stopped_at: Option<String>,
    /// `scheduled`, `running`, `following_up`, `stopped` or `finished`.
    pub status: String,
    /// Affiliates where the segment does not compile against the active ruleset now (nobody is
    /// enrolled there until it does), with why.
    pub problems: Vec<SegmentProblem>,
    /// Treated against control.
    pub effect: EffectBody,
}

/// A serving affiliate whose active ruleset the segment does not compile against.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentProblem {
    /// The affiliate.
    pub affiliate: String,
    /// The diagnostic.
    pub problem: String,
}

/// What one arm saw.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArmBody {
    /// Users enrolled.
    pub users: u64,
    /// Users with a fraud report their affiliate filed for them in the window.
    pub reported: u64,
    /// Won those reports lost.
    pub won: i64,
    /// Reported users per 10,000.
    pub reported_per_10k: f64,
    /// Won lost per 10,000 users.
    pub won_per_10k: f64,
}

/// A difference, treated minus control, per 10,000 users, with its 95 % interval.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DifferenceBody {
    /// Treated minus control (negative: fewer among the treated).
    pub difference: f64,
    /// Lower end of the 95 % interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// Treated against control.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EffectBody {
    /// Sent the notice.
    pub treated: ArmBody,
    /// The hold-out control, sent nothing.
    pub control: ArmBody,
    /// Reported users per 10,000 (Newcombe's interval); absent while an arm is empty.
    pub reports: Option<DifferenceBody>,
    /// Won lost per 10,000 users (normal interval, Welch's standard error); absent while an
    /// arm has fewer than two users.
    pub losses: Option<DifferenceBody>,
    /// Per affiliate: users in each arm.
    pub by_affiliate: Vec<AffiliateArms>,
}

/// One affiliate's arms.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AffiliateArms {
    /// The affiliate.
    pub affiliate: String,
    /// Treated users.
    pub treated: u64,
    /// Control users.
    pub control: u64,
}

/// Campaigns the key may see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignList {
    /// By id.
    pub campaigns: Vec<CampaignBody>,
}

fn time(ms: i64) -> String {
    Timestamp(ms).to_kst_rfc3339()
}

fn arm(a: &ArmOutcome) -> ArmBody {
    let per = |n: f64| if a.users == 0 { 0.0 } else { n / a.users as f64 * 1e4 };
    ArmBody {
        users: a.users,
        reported: a.reported,
        won: a.won,
        reported_per_10k: per(a.reported as f64),
        won_per_10k: a.won_per_10k(),
    }
}

fn difference(e: &Effect) -> DifferenceBody {
    DifferenceBody { difference: e.difference, low: e.low, high: e.high }
}

/// The wire form of a campaign view.
pub fn campaign_body(v: &CampaignView) -> CampaignBody {
    let c = &v.campaign;
    CampaignBody {
        id: c.id.clone(),
        name: c.name.clone(),
        segment: c.segment.clone(),
        affiliates: c.affiliates.iter().map(|a| a.to_string()).collect(),
        ko: c.ko.clone(),
        en: c.en.clone(),
        starts_at: time(c.starts_ms),
        ends_at: time(c.ends_ms),
        holdout_per_mille: c.holdout_per_mille,
        follow_up_days: c.follow_up_days,
        created_by: c.created_by.clone(),
        stopped_at: c.stopped_ms.map(time),
        status: v.status.to_string(),
        problems: v
            .problems
            .iter()
            .map(|(a, p)| SegmentProblem { affiliate: a.to_string(), problem: p.clone() })
            .collect(),
        effect: EffectBody {
            treated: arm(&v.effect.treated),
            control: arm(&v.effect.control),
            reports: v.effect.reports.as_ref().map(difference),
            losses: v.effect.losses.as_ref().map(difference),
            by_affiliate: v
                .effect
                .by_affiliate
                .iter()
                .map(|(a, t, c)| AffiliateArms { affiliate: a.to_string(), treated: *t, control: *c })
                .collect(),
        },
    }
}

/// Creates a prevention campaign. Its segment must compile against the active ruleset of every
/// affiliate it reaches; users are enrolled from their next decision in it.
#[utoipa::path(
    post, path = "/v1/campaigns", tag = "campaigns",
    request_body(content = CampaignForm),
    responses(
        (status = 201, description = "The campaign.", body = CampaignBody),
        (status = 400, description = "A bad field, named (the segment's diagnostic with line and column).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `rules:write`.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id is taken.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn post_campaign(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<(StatusCode, Json<CampaignBody>), ApiError> {
    let form: CampaignForm = parse_json(&body)?;
    let v = blocking(&s, move |app| app.create_campaign(&p, form)).await?;
    Ok((StatusCode::CREATED, Json(campaign_body(&v))))
}

/// The campaigns the key may see (the group's: all; an affiliate's: those reaching its users),
/// each with its effect so far.
#[utoipa::path(
    get, path = "/v1/campaigns", tag = "campaigns",
    responses(
        (status = 200, description = "The campaigns.", body = CampaignList),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not read rules.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_campaigns(State(s): State<S>, Caller(p): Caller) -> Result<Json<CampaignList>, ApiError> {
    let all = blocking(&s, move |app| app.campaigns(&p)).await?;
    Ok(Json(CampaignList { campaigns: all.iter().map(campaign_body).collect() }))
}

/// One campaign with its measured effect: reported users and won lost per 10,000, treated
/// against the hold-out control, with 95 % intervals.
#[utoipa::path(
    get, path = "/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The campaign.", body = CampaignBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not read rules.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign for this key.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_campaign(
    State(s): State<S>,
    Caller(p): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CampaignBody>, ApiError> {
    let v = blocking(&s, move |app| app.campaign(&p, &id)).await?;
    Ok(Json(campaign_body(&v)))
}

/// Stops a campaign's enrolment now; its members' outcomes keep counting through the
/// follow-up window.
#[utoipa::path(
    post, path = "/v1/campaigns/{id}/stop", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The stopped campaign.", body = CampaignBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `rules:write`, or the campaign reaches other affiliates' users.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign for this key.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn stop_campaign(
    State(s): State<S>,
    Caller(p): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CampaignBody>, ApiError> {
    let v = blocking(&s, move |app| app.stop_campaign(&p, &id)).await?;
    Ok(Json(campaign_body(&v)))
}
