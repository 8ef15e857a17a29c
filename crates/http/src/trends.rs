//! Trends over HTTP: `GET /v1/trends` reads the daily decision rollup the store keeps as
//! decisions commit, cut by day, week or month and split by the dimensions asked for. An
//! affiliate's keys see their own decisions; the group's administrators see every affiliate's
//! and may split by affiliate.

use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller, S, blocking};
use crate::wire::Problem;
use app::AppError;
use app::trends::{Dim, Period, day_text, kst_day, parse_day};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Query of `GET /v1/trends`.
#[derive(Debug, Deserialize)]
pub(crate) struct TrendQuery {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    group: Option<String>,
}

/// Decisions over time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrendBody {
    /// First Korea-time day, `YYYY-MM-DD`.
    pub from: String,
    /// Last Korea-time day, `YYYY-MM-DD`.
    pub to: String,
    /// `day`, `week` (from Monday) or `month`.
    pub by: String,
    /// The dimensions each point is split by, in order.
    pub group: Vec<String>,
    /// One point per period and combination of values, in period order; periods without
    /// decisions are left out.
    pub points: Vec<TrendPoint>,
}

/// One period's totals for one combination of the dimensions' values.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrendPoint {
    /// The period's first day, `YYYY-MM-DD`.
    pub period: String,
    /// The dimensions' values, named (an empty value: not given, such as no age band).
    pub values: std::collections::BTreeMap<String, String>,
    /// Decisions.
    pub decisions: i64,
    /// Won the decisions moved or would have (held and blocked amounts included).
    pub amount: i64,
    /// Decisions that held or blocked.
    pub stopped: i64,
    /// Won held or blocked.
    pub stopped_amount: i64,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::App(AppError::Invalid { field: field.into(), message: message.into() })
}

/// The Korea-time day a `YYYY-MM-DD` parameter names, if given; a bad one is refused by name.
fn day(field: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    v.as_deref()
        .map(|t| parse_day(t).ok_or_else(|| invalid(field, format!("{t:?} is not a date (YYYY-MM-DD)"))))
        .transpose()
}

/// Decisions by period and dimension, from the daily rollup (no event is read).
#[utoipa::path(
    get, path = "/v1/trends", tag = "trends",
    params(
        ("from" = Option<String>, Query, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", description = "First Korea-time day, YYYY-MM-DD (default: 29 days before `to`); at most ten years before `to`."),
        ("to" = Option<String>, Query, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", description = "Last Korea-time day, YYYY-MM-DD (default: today in Korea); not before `from`."),
        ("by" = Option<String>, Query, pattern = "^(day|week|month)$", description = "`day` (default), `week` or `month`."),
        ("group" = Option<String>, Query, pattern = "^(none|(kind|verdict|typology|age_band|amount_band|affiliate)(,(kind|verdict|typology|age_band|amount_band|affiliate))*)$", description = "Comma-separated dimensions: `kind`, `verdict` (default), `typology`, `age_band`, `amount_band`, and `affiliate` for the group's administrators; `none` for totals."),
    ),
    responses(
        (status = 200, description = "The trend.", body = TrendBody),
        (status = 400, description = "A bad parameter, named.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not read trends (or not by affiliate).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_trends(
    State(s): State<S>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<TrendQuery>,
) -> Result<Json<TrendBody>, ApiError> {
    let to = day("to", &q.to)?.unwrap_or_else(|| kst_day(app::now_ms()));
    let from = day("from", &q.from)?.unwrap_or(to - 29);
    let by = q.by.as_deref().unwrap_or("day");
    let period = Period::parse(by).ok_or_else(|| invalid("by", format!("{by:?} is not day, week or month")))?;
    let dims: Vec<Dim> = match q.group.as_deref().unwrap_or("verdict") {
        "none" => Vec::new(),
        g => g
            .split(',')
            .map(|d| Dim::parse(d).ok_or_else(|| invalid("group", format!("{d:?} is not a dimension (or give none)"))))
            .collect::<Result<_, _>>()?,
    };
    let points = blocking(&s, {
        let dims = dims.clone();
        move |app| app.trends(&p, from, to, period, &dims)
    })
    .await?;
    Ok(Json(TrendBody {
        from: day_text(from),
        to: day_text(to),
        by: by.to_string(),
        group: dims.iter().map(|d| d.as_str().to_string()).collect(),
        points: points
            .into_iter()
            .map(|pt| TrendPoint {
                period: day_text(pt.period_start),
                values: dims.iter().map(|d| d.as_str().to_string()).zip(pt.values).collect(),
                decisions: pt.totals.decisions,
                amount: pt.totals.amount,
                stopped: pt.totals.stopped(),
                stopped_amount: pt.totals.stopped_amount,
            })
            .collect(),
    }))
}

/// Query of `GET /v1/trends/alerts`.
#[derive(Debug, Deserialize)]
pub(crate) struct AlertQuery {
    to: Option<String>,
    days: Option<i64>,
}

/// Spikes in the decisions of an event kind and typology.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrendAlertList {
    /// Most recent first.
    pub alerts: Vec<TrendAlertBody>,
}

/// One spike: consecutive days far above what the eight weeks before and the day of the week
/// lead one to expect.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrendAlertBody {
    /// Event kind (`message`, `transfer`, ...).
    pub kind: String,
    /// Scam typology.
    pub typology: String,
    /// First alerting Korea-time day (when it was detected), `YYYY-MM-DD`.
    pub first_seen: String,
    /// Last alerting day, `YYYY-MM-DD`.
    pub last_seen: String,
    /// Decisions on the alerting days.
    pub count: i64,
    /// Decisions expected on them.
    pub expected: f64,
    /// The highest day's standard deviations above expectation.
    pub peak_z: f64,
    /// Decisions on the alerting days per affiliate, most first.
    pub affiliates: Vec<AlertAffiliate>,
}

/// An affiliate's share of a spike.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertAffiliate {
    /// The affiliate.
    pub affiliate: String,
    /// Its decisions on the alerting days.
    pub count: i64,
}

/// Emerging waves: spikes in the daily decisions of each event kind and typology, judged
/// against the eight weeks before with the weekday's pattern.
#[utoipa::path(
    get, path = "/v1/trends/alerts", tag = "trends",
    params(
        ("to" = Option<String>, Query, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", description = "Last Korea-time day, YYYY-MM-DD (default: today in Korea)."),
        ("days" = Option<i64>, Query, minimum = 1, maximum = 366, description = "Spikes first seen in this many days up to `to` (default 14)."),
    ),
    responses(
        (status = 200, description = "Spikes, most recent first.", body = TrendAlertList),
        (status = 400, description = "A bad parameter, named.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not read trends.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_trend_alerts(
    State(s): State<S>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<TrendAlertList>, ApiError> {
    let to = day("to", &q.to)?.unwrap_or_else(|| kst_day(app::now_ms()));
    let days = q.days.unwrap_or(14);
    let list = blocking(&s, move |app| app.trend_alerts(&p, to, days)).await?;
    Ok(Json(TrendAlertList {
        alerts: list
            .into_iter()
            .map(|a| TrendAlertBody {
                kind: a.kind,
                typology: a.typology,
                first_seen: day_text(a.first_day),
                last_seen: day_text(a.last_day),
                count: a.count,
                expected: (a.expected * 10.0).round() / 10.0,
                peak_z: (a.peak_z * 10.0).round() / 10.0,
                affiliates: a
                    .affiliates
                    .into_iter()
                    .map(|(affiliate, count)| AlertAffiliate { affiliate, count })
                    .collect(),
            })
            .collect(),
    }))
}

/// Query of `GET /v1/trends/clusters`.
#[derive(Debug, Deserialize)]
pub(crate) struct ClusterQuery {
    to: Option<String>,
    days: Option<i64>,
}

/// Emerging campaigns by indicator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterList {
    /// Most sightings first.
    pub clusters: Vec<ClusterBody>,
}

/// One indicator seen far more in the last days than in the four weeks before.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterBody {
    /// `account`, `phone`, `profile`, `device`, `domain` (a family of link domains, digits as
    /// `#`) or `phrase`.
    pub kind: String,
    /// An account's, phone's, profile's or device's HMAC digest under the group key (hex, as
    /// the shield and the registry know it); a domain family's or phrase's text.
    pub value: String,
    /// First Korea-time day it was seen (in the window or the four weeks before), `YYYY-MM-DD`.
    pub first_seen: String,
    /// Last day seen, `YYYY-MM-DD`.
    pub last_seen: String,
    /// Protective decisions (warn, hold, block, or a flagged message) carrying it in the window.
    pub decisions: i64,
    /// Reports naming it in the window.
    pub reports: i64,
    /// Sightings in the four weeks before the window.
    pub before: i64,
    /// Sightings per affiliate in the window, most first.
    pub affiliates: Vec<AlertAffiliate>,
}

/// Emerging campaigns by indicator: a mule account, a phone, a device, a family of link
/// domains or a phrase seen in protective decisions and reports of the last days far more
/// than in the four weeks before.
#[utoipa::path(
    get, path = "/v1/trends/clusters", tag = "trends",
    params(
        ("to" = Option<String>, Query, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", description = "Last Korea-time day, YYYY-MM-DD (default: today in Korea)."),
        ("days" = Option<i64>, Query, minimum = 1, maximum = 31, description = "The window: this many days up to `to` (default 7)."),
    ),
    responses(
        (status = 200, description = "Emerging campaigns, most sightings first.", body = ClusterList),
        (status = 400, description = "A bad parameter, named.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not read trends.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_clusters(
    State(s): State<S>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<ClusterQuery>,
) -> Result<Json<ClusterList>, ApiError> {
    let to = day("to", &q.to)?.unwrap_or_else(|| kst_day(app::now_ms()));
    let days = q.days.unwrap_or(7);
    if !(1..=31).contains(&days) {
        return Err(invalid("days", format!("{days} is not between 1 and 31")));
    }
    let list = blocking(&s, move |app| app.cluster_alerts(&p, to, days)).await?;
    Ok(Json(ClusterList {
        clusters: list
            .into_iter()
            .map(|c| ClusterBody {
                kind: c.kind,
                value: c.value,
                first_seen: day_text(c.first_day),
                last_seen: day_text(c.last_day),
                decisions: c.decisions,
                reports: c.reports,
                before: c.before,
                affiliates: c
                    .affiliates
                    .into_iter()
                    .map(|(affiliate, count)| AlertAffiliate { affiliate, count })
                    .collect(),
            })
            .collect(),
    }))
}
