//! The three warnings a messenger shows about the other party of a message or a first contact:
//! **globe** (a foreign number or account), **stranger** (not a friend; brand-new account, no
//! mutual friends) and **fake** (a display name that copies one of the user's friends, a family
//! word, or an institution, from someone who is not a friend; a freshly changed profile).

use crate::normalize::normalize;
use domain::{Counterparty, Warning, WarningKind, WarningLevel};

/// Words in a display name that claim an institution.
const INSTITUTION_WORDS: &[&str] = &[
    "검찰",
    "검사",
    "경찰",
    "수사",
    "금융감독원",
    "금감원",
    "금융위",
    "법원",
    "국세청",
    "은행",
    "뱅크",
    "카드사",
    "고객센터",
    "상담센터",
    "보안팀",
    "관리자",
    "운영자",
    "공식",
    "카카오",
    "kakao",
    "naver",
    "네이버",
    "토스",
    "toss",
    "prosecutor",
    "police",
    "support",
    "official",
];

/// Words in a display name that claim family.
const FAMILY_WORDS: &[&str] =
    &["엄마", "아빠", "어머니", "아버지", "딸", "아들", "언니", "오빠", "누나", "형", "mom", "dad"];

/// Whether a phone number looks foreign: an international prefix other than Korea's.
fn foreign_phone(phone: &str) -> bool {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
    if let Some(rest) = digits.strip_prefix('+') {
        return !rest.starts_with("82");
    }
    if let Some(rest) = digits.strip_prefix("00") {
        // 001, 002, 00700, ... then the country code: Korea's 82 comes within a few digits.
        return rest.len() > 6 && !rest.get(..5).unwrap_or(rest).contains("82");
    }
    false
}

/// Edit distance of two short strings (by character), capped at 3.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()].min(3)
}

/// Whether `name` copies `friend`: the same letters, one edit away, or the friend's name plus
/// decoration ("김민수(새폰)").
fn copies(name: &str, friend: &str) -> bool {
    if name.is_empty() || friend.chars().count() < 2 {
        return false;
    }
    name == friend
        || (name.chars().count() >= 3 && distance(name, friend) <= 1)
        || (name.contains(friend) && name.chars().count() <= friend.chars().count() + 6)
}

fn warning(kind: WarningKind, level: WarningLevel, ko: &str, en: &str) -> Warning {
    Warning { kind, level, ko: ko.into(), en: en.into() }
}

/// The warnings about `c`. `mutual_friends` is known for contacts; `friend_names` are the
/// user's friends whose names the messenger found close to the sender's.
pub fn warnings(c: &Counterparty, mutual_friends: Option<i64>, friend_names: &[String]) -> Vec<Warning> {
    let mut out = Vec::new();
    let not_friend = c.is_friend == Some(false);
    let foreign = c.foreign == Some(true)
        || c.country.as_deref().is_some_and(|k| !k.eq_ignore_ascii_case("KR"))
        || c.phone.as_deref().is_some_and(foreign_phone);
    let new_account = c.account_age_days.is_some_and(|d| d <= 30);
    let changed = c.profile_changed_days.is_some_and(|d| d <= 7);

    if foreign {
        let country = c.country.as_deref().map(|k| k.to_ascii_uppercase());
        let (ko, en) = match &country {
            Some(k) => (
                format!("해외({k}) 번호입니다. 가족·지인·기관을 사칭할 수 있으니 주의하세요."),
                format!("A foreign ({k}) number. It may be posing as family, a friend or an institution."),
            ),
            None => (
                "해외 번호입니다. 가족·지인·기관을 사칭할 수 있으니 주의하세요.".to_string(),
                "A foreign number. It may be posing as family, a friend or an institution.".to_string(),
            ),
        };
        let level = if not_friend && new_account { WarningLevel::Danger } else { WarningLevel::Caution };
        out.push(Warning { kind: WarningKind::Globe, level, ko, en });
    }

    if not_friend {
        let lonely = mutual_friends == Some(0);
        let level = if new_account || (lonely && changed) { WarningLevel::Danger } else { WarningLevel::Caution };
        let (ko, en) = if new_account {
            (
                "친구가 아닌, 만든 지 얼마 안 된 계정입니다. 돈이나 개인정보를 요구하면 응하지 마세요.",
                "Not a friend, and a brand-new account. Do not send money or personal details if asked.",
            )
        } else {
            (
                "친구로 등록되지 않은 사람입니다. 돈이나 개인정보를 요구하면 응하지 마세요.",
                "Not in your friends. Do not send money or personal details if asked.",
            )
        };
        out.push(warning(WarningKind::Stranger, level, ko, en));
    }

    if let Some(name) = c.name.as_deref() {
        let n = normalize(name).compact;
        let copies_friend = not_friend && friend_names.iter().any(|f| copies(&n, &normalize(f).compact));
        let family = not_friend && FAMILY_WORDS.iter().any(|w| n.contains(w));
        let institution = c.is_friend != Some(true) && INSTITUTION_WORDS.iter().any(|w| n.contains(w));
        if copies_friend || family {
            out.push(warning(
                WarningKind::Fake,
                WarningLevel::Danger,
                "친구나 가족의 이름을 흉내 낸 프로필입니다. 본인인지 전화로 꼭 확인하세요.",
                "This profile copies the name of a friend or family member. Call them to check it is really them.",
            ));
        } else if institution {
            out.push(warning(
                WarningKind::Fake,
                if not_friend || new_account { WarningLevel::Danger } else { WarningLevel::Caution },
                "기관이나 회사를 사칭한 프로필일 수 있습니다. 기관은 메신저로 돈이나 앱 설치를 요구하지 않습니다.",
                "This profile may be posing as an institution or company. Institutions never ask for money or app installs by messenger.",
            ));
        } else if changed && not_friend {
            out.push(warning(
                WarningKind::Fake,
                WarningLevel::Caution,
                "최근 이름이나 사진을 바꾼 프로필입니다.",
                "This profile recently changed its name or photo.",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(name: &str, friend: bool) -> Counterparty {
        Counterparty { name: Some(name.into()), is_friend: Some(friend), ..Counterparty::default() }
    }

    fn levels(w: &[Warning]) -> Vec<(WarningKind, WarningLevel)> {
        w.iter().map(|w| (w.kind, w.level)).collect()
    }

    #[test]
    fn friends_get_no_warning() {
        assert!(warnings(&cp("김민수", true), None, &["김민수".into()]).is_empty());
    }

    #[test]
    fn a_copied_friend_name_is_fake() {
        let w = warnings(&cp("김민수(새폰)", false), Some(0), &["김민수".into()]);
        assert_eq!(
            levels(&w),
            [(WarningKind::Stranger, WarningLevel::Caution), (WarningKind::Fake, WarningLevel::Danger)]
        );
        let w = warnings(&cp("엄마", false), None, &[]);
        assert!(levels(&w).contains(&(WarningKind::Fake, WarningLevel::Danger)));
    }

    #[test]
    fn foreign_new_strangers_and_institutions() {
        let c = Counterparty {
            phone: Some("+63 912 345 6789".into()),
            is_friend: Some(false),
            account_age_days: Some(2),
            name: Some("서울중앙지검 수사관".into()),
            ..Counterparty::default()
        };
        let w = warnings(&c, None, &[]);
        assert_eq!(
            levels(&w),
            [
                (WarningKind::Globe, WarningLevel::Danger),
                (WarningKind::Stranger, WarningLevel::Danger),
                (WarningKind::Fake, WarningLevel::Danger)
            ]
        );
        assert!(
            !foreign_phone("010-1234-5678") && !foreign_phone("+82 10 1234 5678") && foreign_phone("+1 415 555 0100")
        );
    }
}
