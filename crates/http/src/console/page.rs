//! The console's page frame: language, the layout with its navigation (links a person's role
//! cannot use are not shown), small formatting helpers (times in Korea time, won, escaping) and
//! inline SVG charts. Every value from a request, the store or a ruleset goes through [`esc`].

use app::people::{Role, Session};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

pub use crate::html::{escape as esc, num};

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 한국어 (the default).
    Ko,
    /// English.
    En,
}

/// The text for the language.
pub fn t<'a>(lang: Lang, ko: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Ko => ko,
        Lang::En => en,
    }
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `2026-12-07 14:03` in Korea time (empty for 0).
pub fn when(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let day = app::trends::kst_day(ms);
    let in_day = (ms + 9 * 3_600_000).rem_euclid(86_400_000);
    format!("{} {:02}:{:02}", app::trends::day_text(day), in_day / 3_600_000, in_day / 60_000 % 60)
}

/// `1,234,000원` / `KRW 1,234,000`.
pub fn won(lang: Lang, n: i64) -> String {
    match lang {
        Lang::Ko => format!("{}원", num(n)),
        Lang::En => format!("KRW {}", num(n)),
    }
}

/// A page being built.
pub struct Page {
    lang: Lang,
    title: String,
    active: &'static str,
    nav: String,
    body: String,
    csrf: Option<String>,
}

/// Whether a role (in the group or not) sees a navigation entry.
type Shown = fn(Role, bool) -> bool;

/// (path, key, Korean, English, shown to) for the navigation.
const NAV: &[(&str, &str, &str, &str, Shown)] = &[
    ("/console", "dashboard", "대시보드", "Dashboard", |_, _| true),
    ("/console/cases", "cases", "사건", "Cases", |_, group| group),
    ("/console/inbox", "inbox", "신고함", "Reports", |_, group| group),
    ("/console/indicators", "indicators", "지표 조회", "Indicators", |_, _| true),
    ("/console/rules", "rules", "규칙", "Rules", |_, _| true),
    ("/console/protection", "protection", "자기보호", "Self-protection", |_, _| true),
    ("/console/trends", "trends", "추이", "Trends", |_, _| true),
    ("/console/campaigns", "campaigns", "예방 캠페인", "Campaigns", |_, _| true),
    ("/console/deliveries", "deliveries", "전달", "Deliveries", |r, _| r != Role::Analyst),
    ("/console/people", "people", "사용자·키", "People & keys", |r, _| r != Role::Analyst),
    ("/console/account", "account", "내 계정", "My account", |_, _| true),
];

impl Page {
    /// A page titled `title` (Korean, English); `active` marks the navigation entry.
    pub fn new(lang: Lang, title: (&str, &str), active: &'static str, session: Option<&Session>) -> Page {
        let title = t(lang, title.0, title.1).to_string();
        let mut nav = String::new();
        if let Some(s) = session {
            let group = s.person.affiliate.as_str() == app::GROUP;
            nav.push_str("<nav aria-label=\"");
            nav.push_str(t(lang, "주 메뉴", "Main"));
            nav.push_str("\"><ul>");
            for (path, key, ko, en, shown) in NAV {
                if !shown(s.person.role, group) {
                    continue;
                }
                let current = if *key == active { " aria-current=\"page\"" } else { "" };
                let _ = write!(nav, "<li><a href=\"{path}\"{current}>{}</a></li>", t(lang, ko, en));
            }
            nav.push_str("</ul></nav>");
        }
        Page { lang, title, active, nav, body: String::new(), csrf: session.map(|s| s.csrf.clone()) }
    }

    /// Appends HTML (already escaped where it holds data).
    pub fn push(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// The body so far, to write into.
    pub fn body(&mut self) -> &mut String {
        &mut self.body
    }

    /// The hidden CSRF field for this session's forms.
    pub fn csrf_field(&self) -> String {
        format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(self.csrf.as_deref().unwrap_or_default()))
    }

    /// The whole page with the console's headers.
    pub fn finish(self) -> Response {
        let lang = self.lang;
        let here = match self.active {
            "" => "/console".to_string(),
            "dashboard" => "/console".to_string(),
            a => format!("/console/{a}"),
        };
        let (other, other_label) = match lang {
            Lang::Ko => ("en", "English"),
            Lang::En => ("ko", "한국어"),
        };
        let session_tools = match &self.csrf {
            Some(c) => format!(
                "<form method=\"post\" action=\"/console/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{c}\"><button type=\"submit\" class=\"link\">{}</button></form>\
                 <form method=\"post\" action=\"/console/logout-everywhere\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{c}\"><button type=\"submit\" class=\"link\">{}</button></form>",
                t(lang, "로그아웃", "Log out"),
                t(lang, "모든 기기에서 로그아웃", "Log out everywhere"),
                c = esc(c),
            ),
            None => String::new(),
        };
        let html = format!(
            "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · ansim</title><link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
             <script src=\"/console/assets/console.js\" defer></script></head><body>\
             <a class=\"skip\" href=\"#main\">{skip}</a>\
             <header><a class=\"brand\" href=\"/console\">ansim 안심</a>{nav}\
             <div class=\"tools\"><a href=\"/console/lang/{other}?next={next}\" lang=\"{other}\">{other_label}</a>{session_tools}</div></header>\
             <main id=\"main\">{body}</main></body></html>",
            code = if lang == Lang::Ko { "ko" } else { "en" },
            title = esc(&self.title),
            skip = t(lang, "본문으로 건너뛰기", "Skip to content"),
            nav = self.nav,
            next = url_encode(&here),
            body = self.body,
        );
        page_response(StatusCode::OK, html)
    }
}

/// An HTML response with the console's security headers.
pub fn page_response(status: StatusCode, html: String) -> Response {
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    res
}

/// An error page: a heading and what happened.
pub fn render_error(lang: Lang, status: StatusCode, title: &str, detail: &str) -> Response {
    let mut p = Page::new(lang, (title, title), "", None);
    p.push(&format!(
        "<h1>{}</h1><p role=\"alert\">{}</p><p><a href=\"/console\">{}</a></p>",
        esc(title),
        esc(detail),
        t(lang, "콘솔로 돌아가기", "Back to the console")
    ));
    let mut res = p.finish();
    *res.status_mut() = status;
    res
}

/// A table: header cells and rows of already-escaped cells; `caption` describes it.
pub fn table(caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("<table><caption>{}</caption><thead><tr>", esc(caption));
    for h in head {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{c}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// A bar chart as inline SVG: one labelled bar per value, with a text alternative.
pub fn bars(title: &str, items: &[(String, i64)]) -> String {
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let (w, bar_h, gap, label_w) = (640.0, 18.0, 6.0, 250.0);
    let h = items.len() as f64 * (bar_h + gap) + gap;
    let mut s = format!(
        "<figure><svg role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\">",
        t = esc(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = gap + i as f64 * (bar_h + gap);
        let len = (*v as f64 / max as f64) * (w - label_w - 90.0);
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{ty}\" font-size=\"13\">{l}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{len:.1}\" height=\"{bar_h}\" fill=\"#1f5fa8\"></rect>\
             <text x=\"{vx:.1}\" y=\"{ty}\" font-size=\"13\">{v}</text>",
            ty = y + 14.0,
            l = esc(label),
            vx = label_w + len + 6.0,
            v = num(*v),
        );
    }
    let _ = write!(s, "</svg><figcaption>{}</figcaption></figure>", esc(title));
    s
}

/// A line of daily values as inline SVG with labelled first and last days.
pub fn sparkline(title: &str, points: &[(String, i64)]) -> String {
    let max = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let (w, h) = (560.0, 120.0);
    let step = if points.len() > 1 { (w - 20.0) / (points.len() - 1) as f64 } else { 0.0 };
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", 10.0 + i as f64 * step, h - 25.0 - (*v as f64 / max) * (h - 40.0)))
        .collect();
    let mut s = format!(
        "<figure><svg role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {h}\" width=\"100%\"><polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"{p}\"></polyline>",
        t = esc(title),
        p = path.join(" ")
    );
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            s,
            "<text x=\"10\" y=\"{y}\" font-size=\"12\">{}</text><text x=\"{x}\" y=\"{y}\" font-size=\"12\" text-anchor=\"end\">{} ({})</text>",
            esc(&first.0),
            esc(&last.0),
            num(last.1),
            y = h - 5.0,
            x = w - 10.0,
        );
    }
    let _ = write!(s, "</svg><figcaption>{}</figcaption></figure>", esc(title));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_korea_time() {
        // 2026-12-07T00:30:00Z is 09:30 in Seoul.
        assert_eq!(when(1_796_603_400_000), "2026-12-07 09:30");
        assert_eq!(when(0), "");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(url_encode("/console/cases?x=1&y=한"), "/console/cases%3Fx%3D1%26y%3D%ED%95%9C");
    }

    #[test]
    fn charts_escape_their_labels() {
        let svg = bars("t<", &[("<b>".into(), 3)]);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
    }
}
