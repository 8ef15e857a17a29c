//! Link analysis: extraction of obfuscated and ordinary links (and leaving ordinary text
//! alone), inspection flags and risk, brand look-alikes, the built-in URL model, a
//! never-panics property, and the URL model's cross-validated accuracy on the shared
//! web-phishing-urls data when it is present.

use detect::linear::{LinearModel, TrainConfig};
use detect::links::{self, Brands, RawLink};
use proptest::prelude::*;

fn found(text: &str) -> Vec<(String, bool)> {
    links::extract(text).into_iter().map(|l| (l.text, l.obfuscated)).collect()
}

#[test]
fn extracts_links_plain_and_obfuscated() {
    let cases: &[(&str, &[(&str, bool)])] = &[
        ("지금 확인하세요 hxxp://kakao-event[.]xyz/abc", &[("http://kakao-event.xyz/abc", true)]),
        ("hXXps://bit[.]ly/3xYz 클릭", &[("https://bit.ly/3xYz", true)]),
        ("hxxps[:]//naver(.)me/x", &[("https://naver.me/x", true)]),
        ("접속: kakao(.)com", &[("kakao.com", true)]),
        ("kakao{.}com/a", &[("kakao.com/a", true)]),
        ("kakao[dot]com/login", &[("kakao.com/login", true)]),
        ("kakao (dot) com/login", &[("kakao.com/login", true)]),
        ("kakao . com 접속", &[("kakao.com", true)]),
        ("kakao .com", &[("kakao.com", true)]),
        ("ｈｔｔｐｓ：／／ｋａｋａｏ．ｃｏｍ／ｘ", &[("https://kakao.com/x", true)]),
        ("kakao．com", &[("kakao.com", true)]),
        ("kakao。com/a", &[("kakao.com/a", true)]),
        ("ka\u{200B}kao.com/a", &[("kakao.com/a", true)]),
        ("ttps://evil.xyz/a", &[("https://evil.xyz/a", true)]),
        ("kakao-event.xyz/abc 에서 확인", &[("kakao-event.xyz/abc", false)]),
        ("bit.ly/3xYz", &[("bit.ly/3xYz", false)]),
        ("https://www.kbstar.com/quics?page=1.", &[("https://www.kbstar.com/quics?page=1", false)]),
        ("(https://naver.me/abc)", &[("https://naver.me/abc", false)]),
        ("https://ko.wikipedia.org/wiki/Foo_(bar)", &[("https://ko.wikipedia.org/wiki/Foo_(bar)", false)]),
        ("https://kakao.com입니다", &[("https://kakao.com", false)]),
        ("kakao.com에서 확인", &[("kakao.com", false)]),
        ("주소는kakao.com/a입니다", &[("kakao.com/a", false)]),
        ("www.toss.im", &[("www.toss.im", false)]),
        ("toss.im 에서", &[("toss.im", false)]),
        ("me2.do 보세요 me2.do/abc", &[("me2.do", false), ("me2.do/abc", false)]),
        ("http://192.168.0.1:8080/admin", &[("http://192.168.0.1:8080/admin", false)]),
        ("1.2.3.4/login", &[("1.2.3.4/login", false)]),
        ("hxxp://1.2.3[.]4/x", &[("http://1.2.3.4/x", true)]),
        ("kakao.com@evil.xyz/login", &[("kakao.com@evil.xyz/login", false)]),
        ("http://kakao.com@evil.xyz/login", &[("http://kakao.com@evil.xyz/login", false)]),
        ("https://카카오.com/이벤트", &[("https://카카오.com/", false)]),
        ("kakа0pay.com 로그인", &[("kakа0pay.com", false)]),
        ("example.com:8080/x", &[("example.com:8080/x", false)]),
        ("wait...kakao.com", &[("kakao.com", false)]),
        ("See kakao.com.", &[("kakao.com", false)]),
        ("KAKAO.COM", &[("KAKAO.COM", false)]),
        ("a: bit.ly/x, b: kakao.com, c: bit.ly/x", &[("bit.ly/x", false), ("kakao.com", false)]),
        ("evil.xyz/app.apk를 설치", &[("evil.xyz/app.apk", false)]),
        ("kakao.com?event=1", &[("kakao.com?event=1", false)]),
        ("\"https://t.co/abc\"", &[("https://t.co/abc", false)]),
        ("주소=http://evil.xyz/a", &[("http://evil.xyz/a", false)]),
        ("링크 → kakaobank·com", &[("kakaobank.com", true)]),
    ];
    for (text, want) in cases {
        let want: Vec<(String, bool)> = want.iter().map(|(t, o)| (t.to_string(), *o)).collect();
        assert_eq!(found(text), want, "in {text:?}");
    }
}

#[test]
fn leaves_ordinary_text_alone() {
    let texts = [
        "금리 3.5% 확정",
        "버전 1.2.3 업데이트",
        "v2.10.4 released",
        "e.g. this one",
        "i.e. that",
        "Mr.Kim 안녕하세요",
        "Dr.Lee, Ms.Park",
        "10.30에 만나요",
        "회의는 10.30 입니다",
        "2024.05.01 기준",
        "가격 $3.99",
        "감사합니다.Thanks",
        "확인했습니다.Kakao 드림",
        "감사합니다.Me too",
        "hello.it works",
        "ok.so what",
        "Thanks.Co",
        "Samsung Co.Ltd",
        "문의 help@kakao.com",
        "a@b.com",
        "kim.minsu@kakao.com 으로 보내주세요",
        "report.pdf 첨부",
        "main.rs and lib.py",
        "Thanks!I'll check.lol",
        "카톡 아이디는 abc.def 입니다",
        "No.1 브랜드",
        "U.S.A. 여행",
        "a.m. 9시",
        "http:// 만",
        "잠깐만요...",
        "192.168.0.1",
        "",
        ".",
        "...",
    ];
    for t in texts {
        assert_eq!(found(t), Vec::<(String, bool)>::new(), "in {t:?}");
    }
}

#[test]
fn hostile_inputs_stay_linear() {
    let started = std::time::Instant::now();
    let n = 20_000;
    let inputs = [
        "http://a@".repeat(n),
        "http://x/".repeat(n),
        format!("{}.com", " ".repeat(10 * n)),
        format!("https://a.com/{}", ")".repeat(10 * n)),
        "a.".repeat(5 * n),
        "[.]".repeat(5 * n),
        "kakao . ".repeat(n),
        "a@b.".repeat(n),
        format!("http://{}", "a".repeat(10 * n)),
    ];
    for text in &inputs {
        let found = links::extract(text);
        assert!(found.len() <= links::MAX_LINKS);
        for l in &found {
            assert!(l.text.len() <= links::MAX_LINK_BYTES);
            links::inspect(l, links::builtin_brands_ref(), links::builtin_ref());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(secs < 10.0, "{secs:.1}s for hostile inputs");
}

#[test]
fn caps_links_per_message() {
    let text: String = (0..40).map(|i| format!("site{i}.com/x ")).collect();
    let got = links::extract(&text);
    assert_eq!(got.len(), links::MAX_LINKS);
    assert_eq!(got[0].text, "site0.com/x");
}

fn check(text: &str, obfuscated: bool) -> domain::Link {
    links::inspect(&RawLink { text: text.to_string(), obfuscated }, &Brands::builtin(), links::builtin_ref())
}

fn has(l: &domain::Link, flag: &str) -> bool {
    l.flags.iter().any(|f| f == flag)
}

#[test]
fn inspect_raises_each_flag() {
    let cases: &[(&str, bool, &str)] = &[
        ("bit.ly/3xYz", false, "shortener"),
        ("https://han.gl/abc", false, "shortener"),
        ("http://192.168.0.1/login", false, "raw_ip"),
        ("http://[2001:db8::1]/x", false, "raw_ip"),
        ("https://xn--80ak6aa92e.com/", false, "punycode"),
        ("kakao-bank.xyz", false, "lookalike"),
        ("kakao-bank.xyz", false, "risky_tld"),
        ("evil.site/app.apk", false, "apk"),
        ("example.com/download?file=apk", false, "apk"),
        ("http://kakao-event.xyz/a", true, "obfuscated"),
        ("example.com:8080/x", false, "port"),
        ("a.b.c.d.example.com/x", false, "deep_subdomains"),
        ("kakao.com@evil.xyz/login", false, "at_sign"),
        ("http://secure-login.paypal.com.verify-account.info/webscr/cmd=_login-run", false, "model"),
        ("ftp://example.com/x", false, "unparsable"),
    ];
    for (text, obf, flag) in cases {
        let l = check(text, *obf);
        assert!(has(&l, flag), "{text}: want {flag}, got {l:?}");
    }
}

#[test]
fn inspect_fills_url_and_domain() {
    let l = check("HTTPS://WWW.KakaoBank.com/event?id=1#x", false);
    assert_eq!(l.url, "www.kakaobank.com/event");
    assert_eq!(l.domain.as_deref(), Some("kakaobank.com"));
    let l = check("kakao.com@evil.xyz/login", false);
    assert_eq!(l.domain.as_deref(), Some("evil.xyz"));
    assert!(l.risk >= 70, "{l:?}");
    let l = check("ftp://example.com/x", false);
    assert_eq!(l.url, "ftp://example.com/x");
    assert_eq!(l.domain, None);
}

#[test]
fn genuine_brand_domains_are_low_risk() {
    for url in [
        "https://www.kakaobank.com/",
        "kakao.com",
        "https://accounts.kakao.com/login",
        "https://www.naver.com",
        "https://nid.naver.com/nidlogin.login",
        "toss.im",
        "https://www.kbstar.com/quics?page=C016",
        "https://www.police.go.kr",
        "https://www.hometax.go.kr/websquare/websquare.html",
        "https://www.gov.kr/portal/main",
        "https://www.epost.go.kr",
        "https://www.cjlogistics.com/ko/tool/parcel/tracking",
        "https://www.coupang.com/vp/products/123",
        "https://www.samsungcard.com",
    ] {
        let l = check(url, false);
        assert!(l.risk <= 10, "{url}: {l:?}");
        assert!(!has(&l, "lookalike") && l.brand.is_none(), "{url}: {l:?}");
    }
    // The genuine Naver shortener is still a shortener.
    let l = check("https://naver.me/abc", false);
    assert!(has(&l, "shortener") && l.brand.is_none(), "{l:?}");
    assert!((20..=45).contains(&l.risk), "{l:?}");
}

#[test]
fn lookalikes_name_the_brand() {
    let cases = [
        ("kakao-bank.xyz", "kakaobank"),
        ("kakaobank-event.com", "kakaobank"),
        ("kakа0pay.com", "kakaopay"),
        ("https://www.kakao.com.secure-login.top/", "kakao"),
        ("kakao-talk.site/login", "kakao"),
        ("navver.com", "naver"),
        ("coupnag.com/order", "coupang"),
        ("samsung-card.xyz", "samsung"),
        ("kb-card.top", "kb"),
        ("toss-bank.net", "toss"),
        ("shinhan-event.com", "shinhan"),
        ("hometax.go.kr.tax-refund.top/login", "nts"),
        ("police-go-kr.xyz", "police"),
        ("nonghyup-loan.com", "nh"),
        ("epost.kr-delivery.com", "koreapost"),
        ("cjlogistlcs.com", "cj"),
        ("https://xn--kakopay-2fg.com/", "kakaopay"),
    ];
    for (url, brand) in cases {
        let l = check(url, false);
        assert!(has(&l, "lookalike"), "{url}: {l:?}");
        assert_eq!(l.brand.as_deref(), Some(brand), "{url}: {l:?}");
        assert!(l.risk >= 85, "{url}: {l:?}");
    }
}

#[test]
fn ordinary_domains_are_not_lookalikes() {
    for url in [
        "google.com",
        "github.com/rust-lang/rust",
        "ko.wikipedia.org/wiki/Foo",
        "www.youtube.com/watch",
        "www.11st.co.kr",
        "www.gmarket.co.kr",
        "www.musinsa.com",
        "www.yes24.com",
        "world.example.com",
        "plus.example.com",
        "ibank.example.com",
        "court.example.org",
        "post.example.com",
        "policy.example.com",
        "never.example.com/x",
        "lottery.com",
        "tax-free.example.com",
    ] {
        let l = check(url, false);
        assert!(!has(&l, "lookalike"), "{url}: {l:?}");
    }
}

#[test]
fn risk_combines_findings() {
    // A shortener alone is medium; a look-alike, an APK or a raw IP is high.
    let short = check("bit.ly/3xYz", false);
    assert!((30..=75).contains(&short.risk), "{short:?}");
    for url in ["kakao-bank.xyz", "evil.site/app.apk", "http://192.168.0.1/login"] {
        assert!(check(url, false).risk >= 70, "{url}");
    }
    // More evidence never lowers the risk; an ordinary shop stays below the suspicious level.
    assert!(check("kakao-bank.xyz", false).risk >= check("kakao-bank.com", false).risk);
    assert!(check("http://kakao-bank.xyz/app.apk", true).risk >= check("kakao-bank.xyz", false).risk);
    assert!(check("https://www.musinsa.com", false).risk < 25);
}

#[test]
fn builtin_model_loads_and_ranks() {
    let m = links::builtin();
    assert_eq!(m.feature_set, links::FEATURE_SET);
    assert!(m.meta.contains("web-phishing-urls"), "{}", m.meta);
    assert_eq!(LinearModel::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    let p = |u: &str| links::url_probability(&m, u).unwrap();
    let bad = p("http://secure-update.apple.com.verify-account.duilawyeryork.com/ap/88b142e778d73f7?cmd=_update");
    let good = p("https://www.merriam-webster.com/dictionary/tabloid");
    assert!(bad > 0.8 && good < 0.2 && bad > good, "bad {bad} good {good}");
    // A model for something else is ignored rather than misread.
    let other = LinearModel { kind: detect::linear::ModelKind::Messages, ..m.clone() };
    assert_eq!(links::url_probability(&other, "http://x.com"), None);
}

#[test]
fn brand_list_parses_and_reports_bad_lines() {
    let b = Brands::parse(links::BRANDS_TXT).expect("built-in list parses");
    assert!(b.len() >= 20);
    assert!(b.names().any(|n| n == "kakaobank"));
    assert_eq!(b.genuine_brand("www.kakaobank.com"), Some("kakaobank"));
    assert_eq!(b.genuine_brand("kakaobank.com.evil.xyz"), None);

    let custom = Brands::parse("# mine\nacme acme.co.kr acmepay  # words\n\n").unwrap();
    assert_eq!(custom.lookalike("acme-pay.xyz", "xyz"), Some("acme"));
    assert_eq!(custom.lookalike("www.acme.co.kr", "co.kr"), None);
    assert_eq!(custom.lookalike("acmepey.xyz", "xyz"), Some("acme"));
    let exact = Brands::parse("=acme acme.com\n").unwrap();
    assert_eq!(exact.lookalike("acme.xyz", "xyz"), Some("acme"));
    assert_eq!(exact.lookalike("acmee.xyz", "xyz"), None);
    assert_eq!(exact.lookalike("acme-login.xyz", "xyz"), Some("acme"));

    for (text, needle) in [
        ("acme acme.com\nBad! x.com\n", "line 2"),
        ("acme\n", "line 1"),
        ("acme acme.com\nacme acme.net\n", "line 2"),
        ("acme acme.com\nother acme.com\n", "line 2"),
        ("acme -bad-.com..x\n", "line 1"),
        ("acme acme.com Word\n", "line 1"),
    ] {
        let err = Brands::parse(text).unwrap_err();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn csv_samples_handle_quotes_and_labels() {
    let csv = "url,length,status\nhttp://a.com/x,3,legitimate\n\"http://b.com/a,b\",4,phishing\r\n";
    let s = links::samples_from_csv(csv).unwrap();
    assert_eq!(s, vec![("http://a.com/x".to_string(), false), ("http://b.com/a,b".to_string(), true)]);
    assert!(links::samples_from_csv("url,status\nhttp://a.com,maybe\n").unwrap_err().contains("line 2"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn extract_and_inspect_never_panic(text in any::<String>()) {
        let brands = links::builtin_brands_ref();
        let found = links::extract(&text);
        prop_assert!(found.len() <= links::MAX_LINKS);
        for l in &found {
            let r = links::inspect(l, brands, links::builtin_ref());
            prop_assert!(r.risk <= 100);
        }
        let r = links::inspect(&RawLink { text: text.clone(), obfuscated: false }, brands, links::builtin_ref());
        prop_assert!(r.risk <= 100);
    }

    #[test]
    fn url_like_text_never_panics(text in "[a-zA-Z0-9.:/@\\[\\]()%?#=&\\- ．。ｈｔｐｓ：／а-я]{0,80}") {
        let brands = links::builtin_brands_ref();
        for l in links::extract(&text) {
            let _ = links::inspect(&l, brands, links::builtin_ref());
        }
        let _ = links::url_features(&text, 12);
        let _ = links::punycode_decode(&text);
    }
}

const SHARED_CSV: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/web-phishing-urls/web-phishing-urls.train.csv");

#[test]
fn url_model_cross_validates_on_shared_data() {
    let Ok(text) = std::fs::read_to_string(SHARED_CSV) else {
        eprintln!("skipping: {SHARED_CSV} is not present (the shared web-phishing-urls data)");
        return;
    };
    let samples = links::samples_from_csv(&text).expect("the CSV parses");
    assert!(samples.len() > 1000, "{} samples", samples.len());
    let cfg = TrainConfig { bits: 18, epochs: 6, learning_rate: 0.3, ..TrainConfig::default() };
    let cv = links::cross_validate(&samples, &cfg, 5, 42);
    let mean = cv.mean_accuracy();
    eprintln!("5-fold accuracy {mean:.4} per fold {:?}", cv.fold_accuracy);
    assert!(mean >= 0.94, "5-fold accuracy {mean:.4} per fold {:?}", cv.fold_accuracy);
}
