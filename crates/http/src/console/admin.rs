//! Console pages for administrators: deliveries (the affiliate's webhook and, for the group's
//! admins, dead letters with redelivery) and people and keys (add a person, disable or enable
//! one, list and revoke the affiliate's API keys).

use super::page::{esc, num, t, table, when};
use super::{Result, authed, invalid, posted, run};
use crate::extract::S;
use app::people::{Actor, Role};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use domain::AffiliateId;
use std::fmt::Write;

/// `GET /console/deliveries`.
pub async fn deliveries(State(s): State<S>, headers: HeaderMap) -> Result<Response> {
    let me = authed(&s, &headers, "/console/deliveries").await?;
    let lang = me.lang;
    let p = me.principal();
    let (hook, dead) = run(&s, lang, move |app| {
        app::access::authorize(&p, app::access::Action::ManageWebhook)?;
        let hook = app.webhook(&p.affiliate)?.map(|(url, _)| url);
        let dead = app.dead_actions(&p).ok();
        Ok((hook, dead))
    })
    .await?;
    let mut page = me.page(("전달", "Deliveries"), "deliveries");
    let csrf = page.csrf_field();
    let _ = write!(
        page.body(),
        "<h1>{}</h1><p>{}: <code>{}</code></p>",
        t(lang, "후속 조치 전달", "Follow-up deliveries"),
        t(lang, "웹훅", "Webhook"),
        esc(hook.as_deref().unwrap_or(t(lang, "등록 안 됨", "not registered"))),
    );
    if let Some(dead) = dead {
        let rows: Vec<Vec<String>> = dead
            .iter()
            .map(|a| {
                vec![
                    esc(&a.id),
                    esc(a.affiliate.as_str()),
                    esc(&a.kind),
                    num(a.attempts),
                    esc(&when(a.dead_ms.unwrap_or(0))),
                    esc(a.last_error.as_deref().unwrap_or("")),
                    format!(
                        "<form method=\"post\" action=\"/console/deliveries/redeliver\" class=\"inline\">{}<input type=\"hidden\" name=\"id\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                        csrf,
                        esc(&a.id),
                        t(lang, "다시 보내기", "Redeliver")
                    ),
                ]
            })
            .collect();
        page.push(&table(
            t(lang, "전달 실패 (데드 레터)", "Dead letters"),
            &[
                "id",
                t(lang, "계열사", "Affiliate"),
                t(lang, "조치", "Action"),
                t(lang, "시도", "Attempts"),
                t(lang, "포기", "Given up"),
                t(lang, "오류", "Error"),
                "",
            ],
            &rows,
        ));
    }
    Ok(page.finish())
}

/// `POST /console/deliveries/redeliver`.
pub async fn redeliver(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/deliveries", &body).await?;
    let id = form.text("id").ok_or_else(|| invalid(me.lang, "id", "required"))?.to_string();
    let p = me.principal();
    run(&s, me.lang, move |app| app.redeliver(&p, &id)).await?;
    Ok(Redirect::to("/console/deliveries").into_response())
}

/// `GET /console/people`: people and keys.
pub async fn people(State(s): State<S>, headers: HeaderMap) -> Result<Response> {
    let me = authed(&s, &headers, "/console/people").await?;
    let lang = me.lang;
    let p = me.principal();
    let (people, keys) = run(&s, lang, move |app| Ok((app.people(&p)?, app.list_keys(&p)?))).await?;
    let mut page = me.page(("사용자와 키", "People and keys"), "people");
    let csrf = page.csrf_field();
    let _ = write!(page.body(), "<h1>{}</h1>", t(lang, "사용자와 키", "People and keys"));
    let rows: Vec<Vec<String>> = people
        .iter()
        .map(|x| {
            let (ko, en) = x.role.labels();
            let state = if x.disabled {
                t(lang, "사용 중지", "disabled")
            } else if x.locked_until_ms > app::now_ms() {
                t(lang, "잠김", "locked")
            } else {
                t(lang, "사용 중", "active")
            };
            let toggle = format!(
                "<form method=\"post\" action=\"/console/people/state\" class=\"inline\">{}<input type=\"hidden\" name=\"username\" value=\"{}\">\
                 <input type=\"hidden\" name=\"disabled\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                csrf,
                esc(&x.username),
                if x.disabled { "0" } else { "1" },
                if x.disabled { t(lang, "다시 사용", "Enable") } else { t(lang, "사용 중지", "Disable") },
            );
            let reset = if x.totp {
                format!(
                    " <form method=\"post\" action=\"/console/people/totp-reset\" class=\"inline\">{csrf}<input type=\"hidden\" name=\"username\" value=\"{}\">\
                     <button type=\"submit\" data-confirm=\"{}\">{}</button></form>",
                    esc(&x.username),
                    t(lang, "2단계 인증을 초기화할까요?", "Reset the second factor?"),
                    t(lang, "2단계 인증 초기화", "Reset second factor"),
                )
            } else {
                String::new()
            };
            vec![
                esc(&x.username),
                esc(x.affiliate.as_str()),
                t(lang, ko, en).into(),
                state.into(),
                if x.totp { "TOTP".into() } else { String::new() },
                esc(&when(x.created_ms)),
                toggle + &reset,
            ]
        })
        .collect();
    page.push(&table(
        t(lang, "사용자", "People"),
        &[
            t(lang, "사용자 이름", "User name"),
            t(lang, "계열사", "Affiliate"),
            t(lang, "역할", "Role"),
            t(lang, "상태", "State"),
            t(lang, "추가", "Added"),
            "",
        ],
        &rows,
    ));
    let _ = write!(
        page.body(),
        "<section aria-labelledby=\"add\"><h2 id=\"add\">{}</h2><form method=\"post\" action=\"/console/people/add\">{}\
         <label for=\"u-name\">{}</label><input id=\"u-name\" name=\"username\" required pattern=\"[a-z0-9._\\-]{{3,64}}\">\
         <label for=\"u-aff\">{}</label><input id=\"u-aff\" name=\"affiliate\" value=\"{}\" required>\
         <label for=\"u-role\">{}</label><select id=\"u-role\" name=\"role\">",
        t(lang, "사용자 추가", "Add a person"),
        csrf,
        t(lang, "사용자 이름", "User name"),
        t(lang, "계열사", "Affiliate"),
        esc(me.session.person.affiliate.as_str()),
        t(lang, "역할", "Role"),
    );
    for r in Role::ALL {
        let (ko, en) = r.labels();
        let _ = write!(page.body(), "<option value=\"{}\">{}</option>", r.as_str(), t(lang, ko, en));
    }
    let _ = write!(
        page.body(),
        "</select><label for=\"u-pass\">{}</label><input id=\"u-pass\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"{}\" required>\
         <button type=\"submit\">{}</button></form></section>",
        t(lang, "처음 비밀번호", "Initial password"),
        app::people::MIN_PASSWORD,
        t(lang, "추가", "Add"),
    );
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
            let revoke = if k.revoked {
                t(lang, "폐기됨", "revoked").to_string()
            } else {
                format!(
                    "<form method=\"post\" action=\"/console/keys/revoke\" class=\"inline\">{}<input type=\"hidden\" name=\"prefix\" value=\"{}\">\
                     <button type=\"submit\" data-confirm=\"{}\">{}</button></form>",
                    csrf,
                    esc(&k.prefix),
                    t(lang, "이 키를 폐기할까요?", "Revoke this key?"),
                    t(lang, "폐기", "Revoke")
                )
            };
            vec![format!("<code>{}…</code>", esc(&k.prefix)), esc(&scopes.join(", ")), revoke]
        })
        .collect();
    page.push(&table(
        &format!("{} · {}", t(lang, "API 키", "API keys"), esc(me.session.person.affiliate.as_str())),
        &[t(lang, "접두어", "Prefix"), t(lang, "범위", "Scopes"), ""],
        &rows,
    ));
    Ok(page.finish())
}

/// `POST /console/people/add`.
pub async fn add_person(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/people", &body).await?;
    let lang = me.lang;
    let username = form.text("username").unwrap_or_default().to_string();
    let affiliate = AffiliateId(form.text("affiliate").unwrap_or_default().to_string());
    let role = Role::parse(form.get("role").unwrap_or_default())
        .ok_or_else(|| invalid(lang, "role", "analyst, affiliate_admin or group_admin"))?;
    let password = form.get("password").unwrap_or_default().to_string();
    let p = me.principal();
    run(&s, lang, move |app| app.add_person(Actor::Principal(&p), &username, &affiliate, role, &password)).await?;
    Ok(Redirect::to("/console/people").into_response())
}

/// `POST /console/people/state`: disable or enable a person.
pub async fn person_state(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/people", &body).await?;
    let username = form.text("username").ok_or_else(|| invalid(me.lang, "username", "required"))?.to_string();
    let disabled = form.get("disabled") == Some("1");
    let p = me.principal();
    run(&s, me.lang, move |app| app.set_disabled(Actor::Principal(&p), &username, disabled)).await?;
    Ok(Redirect::to("/console/people").into_response())
}

/// `POST /console/keys/revoke`.
pub async fn revoke_key(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/people", &body).await?;
    let prefix = form.text("prefix").ok_or_else(|| invalid(me.lang, "prefix", "required"))?.to_string();
    let p = me.principal();
    run(&s, me.lang, move |app| {
        app.revoke_key(&p, &prefix)?;
        app.audit(&p, "key.revoked", serde_json::json!({"prefix": prefix}).to_string())
    })
    .await?;
    Ok(Redirect::to("/console/people").into_response())
}

/// `GET /console/account`: the person's own account: role, sessions, and the second factor
/// (a new secret to add to an authenticator app and confirm with one of its codes).
pub async fn account(State(s): State<S>, headers: HeaderMap) -> Result<Response> {
    let me = authed(&s, &headers, "/console/account").await?;
    let lang = me.lang;
    let mut page = me.page(("내 계정", "My account"), "account");
    let csrf = page.csrf_field();
    let who = &me.session.person;
    let (ko, en) = who.role.labels();
    let _ = write!(
        page.body(),
        "<h1>{}</h1><dl class=\"facts\"><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div></dl>",
        t(lang, "내 계정", "My account"),
        t(lang, "사용자 이름", "User name"),
        esc(&who.username),
        t(lang, "계열사", "Affiliate"),
        esc(who.affiliate.as_str()),
        t(lang, "역할", "Role"),
        t(lang, ko, en),
    );
    if who.totp {
        let _ = write!(
            page.body(),
            "<p id=\"totp-state\">{}</p>",
            t(
                lang,
                "2단계 인증이 켜져 있습니다. 휴대전화를 잃어버렸다면 관리자에게 초기화를 요청하세요.",
                "The second factor is on. If you lost your phone, ask an administrator to reset it."
            )
        );
    } else {
        let offer = s.app.offer_totp(&me.session);
        let _ = write!(
            page.body(),
            "<section aria-labelledby=\"totp\"><h2 id=\"totp\">{}</h2><p id=\"totp-state\">{}</p>\
             <p>{}: <code id=\"totp-secret\">{}</code></p><p><code>{}</code></p>\
             <form method=\"post\" action=\"/console/account/totp\">{csrf}<input type=\"hidden\" name=\"secret\" value=\"{}\">\
             <label for=\"totp-code\">{}</label><input id=\"totp-code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"8\" required>\
             <button type=\"submit\">{}</button></form></section>",
            t(lang, "2단계 인증 (TOTP)", "Second factor (TOTP)"),
            t(
                lang,
                "꺼져 있습니다. 인증 앱에 아래 비밀키를 추가한 뒤 앱이 보여 주는 코드를 입력하세요.",
                "Off. Add the secret below to an authenticator app, then enter the code it shows."
            ),
            t(lang, "비밀키", "Secret"),
            esc(&offer.secret),
            esc(&offer.uri),
            esc(&offer.secret),
            t(lang, "앱의 6자리 코드", "The app's six-digit code"),
            t(lang, "켜기", "Turn on"),
        );
    }
    Ok(page.finish())
}

/// `POST /console/account/totp`: turn the second factor on with a confirmed code.
pub async fn enable_totp(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/account", &body).await?;
    let secret = form.text("secret").ok_or_else(|| invalid(me.lang, "secret", "required"))?.to_string();
    let code = form.text("code").ok_or_else(|| invalid(me.lang, "code", "required"))?.to_string();
    let session = me.session.clone();
    run(&s, me.lang, move |app| app.enable_totp(&session, &secret, &code, app::now_ms())).await?;
    Ok(Redirect::to("/console/account").into_response())
}

/// `POST /console/people/totp-reset`: turn a person's second factor off (a lost phone).
pub async fn reset_totp(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/people", &body).await?;
    let username = form.text("username").ok_or_else(|| invalid(me.lang, "username", "required"))?.to_string();
    let p = me.principal();
    run(&s, me.lang, move |app| app.reset_totp(Actor::Principal(&p), &username)).await?;
    Ok(Redirect::to("/console/people").into_response())
}
