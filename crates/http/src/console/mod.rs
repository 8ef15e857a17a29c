//! The analyst console at `/console`: server-rendered HTML pages in Korean and English for the
//! people of the safety table and the affiliates — login, dashboard, case queue and case work,
//! report inbox, indicator lookup, rules (edit, check, backtest, publish, roll back), self-
//! protection lookup, deliveries and dead letters, people and keys, trends and campaigns.
//!
//! Security: a login draws a new session token (no fixation) set as an `HttpOnly; Secure;
//! SameSite=Strict` cookie scoped to `/console`; every form carries the session's CSRF token
//! and a request without the right one is refused with 403 before anything changes (the login
//! form uses a double-submit token of its own). Pages are sent with a strict content security
//! policy (scripts and styles from `/console/assets` only), no caching and no framing. Every
//! action goes through the same use cases as the API with the person as the principal, so
//! authorisation is decided in one place and the audit log names the person.
//!
//! Progressive enhancement: every page works without script; the one script (rule checking
//! as you type, confirm prompts) only adds to it.

mod admin;
mod cases;
mod page;
mod rules;

use crate::Server;
use crate::extract::S;
use app::people::{LoginError, Session};
use app::{App, AppError};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use page::{Lang, Page, t};
use std::sync::Arc;

pub use page::render_error;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ansim_session";
/// The login form's double-submit cookie.
const LOGIN_COOKIE: &str = "ansim_login";
/// The language cookie (`ko` or `en`).
const LANG_COOKIE: &str = "ansim_lang";

/// The console's routes (merged into the API's router).
pub fn router() -> Router<Arc<Server>> {
    Router::new()
        .route("/console", get(cases::dashboard))
        .route("/console/", get(cases::dashboard))
        .route("/console/login", get(login_form).post(login_submit))
        .route("/console/logout", post(logout))
        .route("/console/logout-everywhere", post(logout_everywhere))
        .route("/console/lang/{lang}", get(set_lang))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .route("/console/cases", get(cases::queue))
        .route("/console/cases/bulk", post(cases::bulk))
        .route("/console/cases/{id}", get(cases::detail).post(cases::change))
        .route("/console/inbox", get(cases::inbox))
        .route("/console/indicators", get(cases::indicators).post(cases::indicator_change))
        .route("/console/protection", get(cases::protection))
        .route("/console/trends", get(cases::trends))
        .route("/console/campaigns", get(cases::campaigns))
        .route("/console/rules", get(rules::page))
        .route("/console/rules/check", post(rules::check))
        .route("/console/rules/draft", post(rules::save))
        .route("/console/rules/backtest", post(rules::backtest))
        .route("/console/rules/publish", post(rules::publish))
        .route("/console/rules/rollback", post(rules::rollback))
        .route("/console/deliveries", get(admin::deliveries))
        .route("/console/deliveries/redeliver", post(admin::redeliver))
        .route("/console/people", get(admin::people))
        .route("/console/people/add", post(admin::add_person))
        .route("/console/people/state", post(admin::person_state))
        .route("/console/keys/revoke", post(admin::revoke_key))
        .route("/console/account", get(admin::account))
        .route("/console/account/totp", post(admin::enable_totp))
        .route("/console/people/totp-reset", post(admin::reset_totp))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The page language: the cookie's, else Korean.
pub(crate) fn lang(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Ko,
    }
}

/// A `next` target that stays in the console (an open redirect otherwise).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.contains("//") && !n.contains('\\') && n.len() < 512 => n.into(),
        _ => "/console".into(),
    }
}

/// A logged-in person, with the page language and the session's token.
pub(crate) struct Authed {
    pub session: Session,
    pub lang: Lang,
}

impl Authed {
    /// The principal every use case is called with.
    pub fn principal(&self) -> app::Principal {
        self.session.principal()
    }

    /// A page for this person.
    pub fn page(&self, title: (&str, &str), active: &'static str) -> Page {
        Page::new(self.lang, title, active, Some(&self.session))
    }

    /// Refuses a form without this session's CSRF token (403, nothing changed).
    pub fn check_csrf(&self, form: &Form) -> Result<()> {
        match form.get("csrf") {
            Some(t) if app::people::same_token(t, &self.session.csrf) => Ok(()),
            _ => Err(Failure(ConsoleError::Csrf, self.lang)),
        }
    }
}

/// Why a console request did not get its page.
#[derive(Debug)]
pub(crate) enum ConsoleError {
    /// Not logged in: to the login form, then back.
    Login(String),
    /// A form without the session's CSRF token.
    Csrf,
    /// A use case refused or failed.
    App(AppError),
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        ConsoleError::App(e)
    }
}

/// A console error with the language to render it in.
pub(crate) struct Failure(pub ConsoleError, pub Lang);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let Failure(e, lang) = self;
        match e {
            ConsoleError::Login(next) => {
                Redirect::to(&format!("/console/login?next={}", page::url_encode(&next))).into_response()
            }
            ConsoleError::Csrf => render_error(
                lang,
                StatusCode::FORBIDDEN,
                t(lang, "요청을 확인할 수 없습니다", "Request not verified"),
                t(
                    lang,
                    "양식의 보안 토큰이 없거나 맞지 않습니다. 아무것도 바뀌지 않았습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
                    "The form's security token was missing or wrong. Nothing was changed. Reload the page and try again.",
                ),
            ),
            ConsoleError::App(e) => {
                let (status, title) = match &e {
                    AppError::Forbidden(_) | AppError::Unauthorized => {
                        (StatusCode::FORBIDDEN, t(lang, "권한이 없습니다", "Not allowed"))
                    }
                    AppError::NotFound(_) => (StatusCode::NOT_FOUND, t(lang, "찾을 수 없습니다", "Not found")),
                    AppError::Invalid { .. } | AppError::Rules(_) => {
                        (StatusCode::BAD_REQUEST, t(lang, "입력을 확인하세요", "Check the input"))
                    }
                    AppError::Conflict(_) => (StatusCode::CONFLICT, t(lang, "충돌", "Conflict")),
                    AppError::Unavailable(_) | AppError::Overloaded(_) => {
                        (StatusCode::SERVICE_UNAVAILABLE, t(lang, "잠시 후 다시 시도하세요", "Try again shortly"))
                    }
                };
                let detail = match &e {
                    AppError::Forbidden(what) => format!(
                        "{} ({what})",
                        t(
                            lang,
                            "이 페이지나 작업에 필요한 역할이 없습니다",
                            "Your role does not allow this page or action"
                        )
                    ),
                    e => e.to_string(),
                };
                render_error(lang, status, title, &detail)
            }
        }
    }
}

/// Bad input in a form or query, refused by field name.
pub(crate) fn invalid(lang: Lang, field: &str, message: &str) -> Failure {
    Failure(ConsoleError::App(AppError::Invalid { field: field.into(), message: message.into() }), lang)
}

/// The console's result type.
pub(crate) type Result<T> = std::result::Result<T, Failure>;

/// Resolves the session cookie to a live session, or sends the person to the login form.
pub(crate) async fn authed(s: &S, headers: &HeaderMap, here: &str) -> Result<Authed> {
    let lang = lang(headers);
    let Some(token) = cookie(headers, SESSION_COOKIE).map(str::to_string) else {
        return Err(Failure(ConsoleError::Login(here.into()), lang));
    };
    let session = run(s, lang, move |app| app.console_session(&token, app::now_ms())).await?;
    match session {
        Some(session) => Ok(Authed { session, lang }),
        None => Err(Failure(ConsoleError::Login(here.into()), lang)),
    }
}

/// A form posted by a logged-in person with this session's CSRF token: the one way a console
/// handler reads a form, so none can forget the check (403 and nothing changed without it).
pub(crate) async fn posted(s: &S, headers: &HeaderMap, here: &str, body: &[u8]) -> Result<(Authed, Form)> {
    let me = authed(s, headers, here).await?;
    let form = Form::parse(body);
    me.check_csrf(&form)?;
    Ok((me, form))
}

/// Runs a use case on a blocking thread; its error becomes the console's.
pub(crate) async fn run<T: Send + 'static>(
    s: &S,
    lang: Lang,
    f: impl FnOnce(&App) -> std::result::Result<T, AppError> + Send + 'static,
) -> Result<T> {
    let app = Arc::clone(&s.app);
    match tokio::task::spawn_blocking(move || f(&app)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure(ConsoleError::App(e), lang)),
        Err(e) => Err(Failure(ConsoleError::App(AppError::Unavailable(e.to_string())), lang)),
    }
}

/// A submitted form's fields, in order (a field may repeat: the case queue's check boxes).
#[derive(Debug, Default)]
pub(crate) struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The trimmed, non-empty value of `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// A cookie header value with the console's flags.
fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/console; HttpOnly; Secure; SameSite=Strict{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(serde::Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

async fn login_form(headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let lang = lang(&headers);
    let token = app::people::new_password() + &app::people::new_password();
    login_page(lang, &token, &safe_next(q.next.as_deref()), None, StatusCode::OK)
}

fn login_page(lang: Lang, token: &str, next: &str, problem: Option<&str>, status: StatusCode) -> Response {
    let mut p = Page::new(lang, ("로그인", "Log in"), "", None);
    p.push(&format!("<h1>{}</h1>", t(lang, "안심 콘솔 로그인", "Log in to the ansim console")));
    if let Some(problem) = problem {
        p.push(&format!("<p class=\"problem\" role=\"alert\">{}</p>", page::esc(problem)));
    }
    p.push(&format!(
        "<form method=\"post\" action=\"/console/login\" class=\"narrow\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label for=\"username\">{user}</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">{pass}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"code\">{code}</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"8\" aria-describedby=\"code-help\"><small id=\"code-help\">{code_help}</small>\
         <button type=\"submit\">{go}</button></form>",
        next = page::esc(next),
        user = t(lang, "사용자 이름", "User name"),
        pass = t(lang, "비밀번호", "Password"),
        code = t(lang, "일회용 코드", "One-time code"),
        code_help = t(lang, "2단계 인증을 켠 경우에만", "Only if you turned on the second factor"),
        go = t(lang, "로그인", "Log in"),
    ));
    let mut res = (status, p.finish()).into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, token, Some(3600)));
    res
}

async fn login_submit(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let lang = lang(&headers);
    let form = Form::parse(&body);
    let next = safe_next(form.get("next"));
    // The double-submit check: the form's token must equal the cookie the form page set.
    let ok = match (cookie(&headers, LOGIN_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) => c.len() >= 32 && app::people::same_token(c, f),
        _ => false,
    };
    if !ok {
        return Failure(ConsoleError::Csrf, lang).into_response();
    }
    let username = form.get("username").unwrap_or_default().trim().to_string();
    let password = form.get("password").unwrap_or_default().to_string();
    let app = Arc::clone(&s.app);
    let code = form.text("code").map(str::to_string);
    let outcome =
        tokio::task::spawn_blocking(move || app.login(&username, &password, code.as_deref(), app::now_ms())).await;
    let fresh = app::people::new_password() + &app::people::new_password();
    match outcome {
        Ok(Ok(logged_in)) => {
            let mut res = Redirect::to(&next).into_response();
            let h = res.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &logged_in.token, None));
            h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", Some(0)));
            res
        }
        Ok(Err(LoginError::Wrong)) => login_page(
            lang,
            &fresh,
            &next,
            Some(t(lang, "사용자 이름이나 비밀번호가 맞지 않습니다.", "Wrong user name or password.")),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(Err(LoginError::Locked { until_ms })) => {
            let secs = ((until_ms - app::now_ms()) / 1000).max(1);
            let text = match lang {
                Lang::Ko => format!("로그인 실패가 반복되어 잠겼습니다. {secs}초 뒤에 다시 시도하세요."),
                Lang::En => format!("Locked after repeated failures. Try again in {secs} s."),
            };
            let mut res = login_page(lang, &fresh, &next, Some(&text), StatusCode::TOO_MANY_REQUESTS);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Ok(Err(LoginError::App(e))) => Failure(ConsoleError::App(e), lang).into_response(),
        Err(e) => Failure(ConsoleError::App(AppError::Unavailable(e.to_string())), lang).into_response(),
    }
}

async fn logout(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, _) = posted(&s, &headers, "/console", &body).await?;
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default().to_string();
    run(&s, me.lang, move |app| app.logout(&token)).await?;
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0)));
    Ok(res)
}

async fn logout_everywhere(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, _) = posted(&s, &headers, "/console", &body).await?;
    let session = me.session.clone();
    run(&s, me.lang, move |app| app.logout_everywhere(&session)).await?;
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0)));
    Ok(res)
}

async fn set_lang(axum::extract::Path(to): axum::extract::Path<String>, Query(q): Query<NextQuery>) -> Response {
    let to = if to == "en" { "en" } else { "ko" };
    let mut res = Redirect::to(&safe_next(q.next.as_deref())).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("{LANG_COOKIE}={to}; Path=/console; Secure; SameSite=Lax; Max-Age=31536000"))
            .unwrap_or_else(|_| HeaderValue::from_static("")),
    );
    res
}

async fn css() -> Response {
    static_asset("text/css; charset=utf-8", include_str!("console.css"))
}

async fn js() -> Response {
    static_asset("text/javascript; charset=utf-8", include_str!("console.js"))
}

fn static_asset(kind: &'static str, text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=300")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_percent_and_repeats() {
        let f = Form::parse(b"a=1+2&b=%ED%95%9C&c=x%2&id=1&id=2&empty=");
        assert_eq!(f.get("a"), Some("1 2"));
        assert_eq!(f.get("b"), Some("한"));
        assert_eq!(f.get("c"), Some("x%2"), "a broken escape is kept as it is");
        assert_eq!(f.all("id"), ["1", "2"]);
        assert_eq!(f.text("empty"), None);
    }

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(safe_next(Some("/console/cases/3")), "/console/cases/3");
        for bad in ["https://evil.example", "//evil.example", "/console//evil", "/v1/events", "/console\\x"] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad}");
        }
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; ansim_session=cs_x; ansim_lang=en"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("cs_x"));
        assert_eq!(lang(&h), Lang::En);
        assert_eq!(cookie(&h, "b"), None);
    }
}
