//! What stage-1 analysis finds in a message or a stranger's contact: risk, the scam typology,
//! the phrases and links that fired, and the warnings an app shows (globe, stranger, fake).
//! The `detect` crate computes it; events carry it (derived, never sent) so rules and features
//! can read it, and decisions return it.

use crate::Confirm;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Scam typologies of messages (design brief §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Typology {
    /// Prosecutor, police, FSS or bank impersonation: "your account is in a crime", safe accounts.
    InstitutionImpersonation,
    /// Family or acquaintance messenger phishing: new number, broken phone, ID photo, gift cards.
    FamilyImpersonation,
    /// Low-interest loan offers, "repay the old loan first", upfront fees.
    LoanFraud,
    /// Delivery and customs notices with a link or APK.
    ParcelSmishing,
    /// Fake obituary notices with a link.
    ObituarySmishing,
    /// Fake mobile wedding invitations with a link.
    WeddingSmishing,
    /// Fines, taxes, refunds and court notices with a link.
    FineSmishing,
    /// Coupons, expiring points, prizes and free gifts with a link.
    CouponSmishing,
    /// Investment "leading rooms", guaranteed returns, fake trading apps.
    InvestmentLeading,
    /// Romance scams.
    Romance,
    /// Requests for OTPs, security-card numbers, passwords, card numbers, ID photos or app installs.
    CredentialRequest,
    /// Other unsolicited spam (premium-rate numbers, marketing, prize draws).
    Spam,
    /// Fake payment "approvals" (often overseas) with a call-back number to dispute them.
    PaymentApproval,
    /// Fake government support payments, subsidies and policy loans.
    GovernmentSupport,
    /// Fake health-check and public-health notices.
    HealthCheck,
    /// Fake account-security warnings: leaked data, logins elsewhere, "upgrade your security".
    AccountSecurity,
}

impl Typology {
    /// Every typology.
    pub const ALL: [Typology; 16] = [
        Typology::InstitutionImpersonation,
        Typology::FamilyImpersonation,
        Typology::LoanFraud,
        Typology::ParcelSmishing,
        Typology::ObituarySmishing,
        Typology::WeddingSmishing,
        Typology::FineSmishing,
        Typology::CouponSmishing,
        Typology::InvestmentLeading,
        Typology::Romance,
        Typology::CredentialRequest,
        Typology::Spam,
        Typology::PaymentApproval,
        Typology::GovernmentSupport,
        Typology::HealthCheck,
        Typology::AccountSecurity,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Typology::InstitutionImpersonation => "institution_impersonation",
            Typology::FamilyImpersonation => "family_impersonation",
            Typology::LoanFraud => "loan_fraud",
            Typology::ParcelSmishing => "parcel_smishing",
            Typology::ObituarySmishing => "obituary_smishing",
            Typology::WeddingSmishing => "wedding_smishing",
            Typology::FineSmishing => "fine_smishing",
            Typology::CouponSmishing => "coupon_smishing",
            Typology::InvestmentLeading => "investment_leading",
            Typology::Romance => "romance",
            Typology::CredentialRequest => "credential_request",
            Typology::Spam => "spam",
            Typology::PaymentApproval => "payment_approval",
            Typology::GovernmentSupport => "government_support",
            Typology::HealthCheck => "health_check",
            Typology::AccountSecurity => "account_security",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Typology> {
        Typology::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What to tell the user, in Korean and English.
    pub fn guidance(self) -> Confirm {
        let (ko, en) = match self {
            Typology::InstitutionImpersonation => (
                "검찰·경찰·금융감독원은 전화나 메시지로 돈을 옮기라고 하거나 앱 설치를 요구하지 않습니다.",
                "Prosecutors, police and the FSS never ask you to move money or install an app by phone or message.",
            ),
            Typology::FamilyImpersonation => (
                "가족이나 지인을 사칭한 메시지일 수 있습니다. 송금하거나 신분증·카드 정보를 보내기 전에 꼭 전화로 확인하세요.",
                "This may be someone posing as family or a friend. Call them before sending money, ID photos or card details.",
            ),
            Typology::LoanFraud => (
                "기존 대출 상환이나 수수료를 먼저 요구하는 대출 권유는 사기입니다.",
                "A loan offer that asks you to repay another loan or pay a fee first is a scam.",
            ),
            Typology::ParcelSmishing => (
                "택배·세관을 사칭한 문자일 수 있습니다. 링크를 누르거나 앱을 설치하지 마세요.",
                "This may be a fake delivery or customs notice. Do not open the link or install an app.",
            ),
            Typology::ObituarySmishing => (
                "부고를 가장한 문자일 수 있습니다. 보낸 사람에게 직접 확인하기 전에는 링크를 누르지 마세요.",
                "This may be a fake obituary notice. Do not open the link before checking with the sender.",
            ),
            Typology::WeddingSmishing => (
                "청첩장을 가장한 문자일 수 있습니다. 보낸 사람에게 직접 확인하기 전에는 링크를 누르지 마세요.",
                "This may be a fake wedding invitation. Do not open the link before checking with the sender.",
            ),
            Typology::FineSmishing => (
                "과태료·세금·환급을 사칭한 문자일 수 있습니다. 공식 앱이나 사이트에서 직접 확인하세요.",
                "This may be a fake fine, tax or refund notice. Check in the official app or website yourself.",
            ),
            Typology::CouponSmishing => (
                "쿠폰·포인트·당첨을 미끼로 한 문자일 수 있습니다. 링크를 누르지 마세요.",
                "This may be bait with coupons, points or prizes. Do not open the link.",
            ),
            Typology::InvestmentLeading => (
                "수익을 보장하는 투자 권유나 리딩방은 사기일 가능성이 높습니다.",
                "Investment offers with guaranteed returns and 'leading rooms' are very likely scams.",
            ),
            Typology::Romance => (
                "온라인에서만 만난 사람이 돈을 요구하면 로맨스 스캠일 수 있습니다.",
                "Someone you only know online asking for money may be a romance scam.",
            ),
            Typology::CredentialRequest => (
                "인증번호·비밀번호·카드번호·신분증 사진은 누구에게도 알려주지 마세요.",
                "Never share authentication codes, passwords, card numbers or ID photos with anyone.",
            ),
            Typology::Spam => (
                "스팸으로 보이는 메시지입니다. 링크나 전화번호에 응답하지 마세요.",
                "This looks like spam. Do not respond to its links or numbers.",
            ),
            Typology::PaymentApproval => (
                "결제 승인을 가장한 문자일 수 있습니다. 적힌 번호로 전화하지 말고 카드사 공식 앱이나 대표번호로 확인하세요.",
                "This may be a fake payment approval. Do not call the number in it; check in your card company's app or on its official number.",
            ),
            Typology::GovernmentSupport => (
                "정부 지원금·정책자금을 사칭한 문자일 수 있습니다. 정부24나 기관 공식 사이트에서 직접 확인하세요.",
                "This may be a fake government support or subsidy notice. Check on the official government site yourself.",
            ),
            Typology::HealthCheck => (
                "건강검진·보건 안내를 사칭한 문자일 수 있습니다. 국민건강보험공단 공식 앱이나 대표번호로 확인하세요.",
                "This may be a fake health-check notice. Check in the national health insurance app or on its official number.",
            ),
            Typology::AccountSecurity => (
                "보안 경고를 가장한 문자일 수 있습니다. 링크나 적힌 번호 대신 공식 앱에서 직접 확인하세요.",
                "This may be a fake security warning. Check in the official app, not through its link or number.",
            ),
        };
        Confirm { ko: ko.into(), en: en.into() }
    }
}

impl fmt::Display for Typology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One link found in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The link as found (de-obfuscated), normalised as a `url` indicator (`host/path`).
    pub url: String,
    /// Its registrable domain, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Risk 0..=100.
    pub risk: u8,
    /// Why: `shortener`, `raw_ip`, `punycode`, `lookalike`, `risky_tld`, `apk`, `obfuscated`,
    /// `model`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The protected brand a look-alike imitates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
}

/// Which warning an app shows about the other party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A foreign phone number or account (the globe).
    Globe,
    /// Not a friend, new account, no mutual friends.
    Stranger,
    /// A profile likely to impersonate a friend or an institution.
    Fake,
}

/// How strong a warning is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningLevel {
    /// Look twice.
    Caution,
    /// Very likely fraud.
    Danger,
}

/// A warning about the other party of a message or contact, with the text the app shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// Globe, stranger or fake.
    pub kind: WarningKind,
    /// Caution or danger.
    pub level: WarningLevel,
    /// Korean text.
    pub ko: String,
    /// English text.
    pub en: String,
}

/// Stage-1 analysis of a message or contact.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Analysis {
    /// Combined risk 0..=100 of the text, its links and its sender.
    pub risk: u8,
    /// The text classifier's probability of a scam, 0..=100.
    pub model_score: u8,
    /// The most likely typology, when one fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typology: Option<Typology>,
    /// The phrases that fired, as they read after normalisation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phrases: Vec<String>,
    /// Structural evidence that fired, independent of wording (`foreign_sender_tag`,
    /// `callback_number`, `link_placeholder`, `id_photo_request`, `app_install`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Links found, with their own risk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Warnings about the other party.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// What to tell the user when the risk is high, in Korean and English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<Confirm>,
}

impl Analysis {
    /// The level of one warning kind: 0 none, 1 caution, 2 danger (what rules read).
    pub fn warning_level(&self, kind: WarningKind) -> i64 {
        self.warnings
            .iter()
            .filter(|w| w.kind == kind)
            .map(|w| match w.level {
                WarningLevel::Caution => 1,
                WarningLevel::Danger => 2,
            })
            .max()
            .unwrap_or(0)
    }

    /// The riskiest link's risk (0 without links).
    pub fn link_risk(&self) -> u8 {
        self.links.iter().map(|l| l.risk).max().unwrap_or(0)
    }

    /// Whether any link carries `flag`.
    pub fn has_link_flag(&self, flag: &str) -> bool {
        self.links.iter().any(|l| l.flags.iter().any(|f| f == flag))
    }
}
