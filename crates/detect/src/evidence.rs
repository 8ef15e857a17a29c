//! Structural evidence: signs of a scam message that do not depend on how a scammer words it.
//! Sender tags (`[국제발신]`, `[Web발신]`), call-back phone numbers, amounts in foreign
//! currency and approval codes, link placeholders (`(URL)`, `링크`, masked addresses such as
//! `h***://**.am`), requests for ID or card photos and for credentials, app installs and
//! remote-control tools, and the "my phone broke, I can't call, text me" opener. And signs of a
//! *kind* of scam: a claim of gains or a promise of returns, trading-call jargon, an invitation
//! into a room or another messenger, a stranger's opener, someone abroad coming to Korea, easy
//! money, renting out accounts, gambling, a free gift to claim, an invitation card "sent", a
//! favour asked, a busy check, trouble with one's own authentication, probing for accounts, a
//! legal threat, a loan offer.
//!
//! Each sign is a fact about the message, not a verdict: an ordinary card approval carries a
//! sender tag and an amount, a real obituary a phone number. The text model weighs them (they
//! are features of [`crate::text`]), the typology detectors count a call-back number, a
//! placeholder or a request as the hook of a smishing notice and the signs of a kind as points
//! of its typology ([`crate::typology::sign_points`]), and a reason names the signs that fired.
//! Found in one Aho–Corasick pass over the compact form plus three scans of the text (phone
//! numbers, placeholders, rates); no allocation beyond the pass.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::OnceLock;

use crate::normalize::Normalized;

/// One structural sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sign {
    /// `[국제발신]`, `[국외발신]`, `[해외발신]`: sent from abroad.
    ForeignSenderTag,
    /// `[Web발신]`: sent through a web SMS gateway (genuine notices use it too).
    WebSenderTag,
    /// `(광고)`: marked as advertising.
    AdTag,
    /// A phone number (Korean landline, mobile, internet or representative number).
    PhoneNumber,
    /// A phone number offered to call back ("문의", "연락", "신고", "call").
    CallbackNumber,
    /// A link shown as a placeholder or masked: `(URL)`, `링크`, `h***://`, `****.com`.
    LinkPlaceholder,
    /// A sum of money with a currency.
    Amount,
    /// A sum in a foreign currency (or written `KRW`, as foreign billing does).
    ForeignAmount,
    /// An approval or authentication code (`승인번호`, `인증코드`, `확인코드`).
    ApprovalCode,
    /// "If this was not you, call ..." (`본인 아닐 시`).
    DisownPrompt,
    /// A request for a photo of an ID card.
    IdPhotoRequest,
    /// A request for a photo of a payment card (front and back).
    CardPhotoRequest,
    /// A request to send or tell a password, OTP, security-card or PIN number.
    CredentialAsk,
    /// A request to install or download an app.
    AppInstall,
    /// A remote-control tool (TeamViewer, AnyDesk, "원격").
    RemoteControl,
    /// "Calls don't work / I can't talk now".
    CannotCall,
    /// "My phone is broken / in repair / lost".
    BrokenPhone,
    /// "Text me back / add this number".
    TextMe,
    /// A request for money: urgent, or "send me / I need money".
    MoneyAsk,
    /// Gift cards or vouchers (the untraceable payment scammers ask for).
    GiftCard,
    /// "You are eligible / selected" (`대상자`, `선정`).
    Eligibility,
    /// Talk about scams: a warning names voice phishing or impersonation, or says what a
    /// genuine institution never asks.
    ScamTalk,
    /// A claim of gains: a percentage or a multiple next to profit or market words ("13% 상승",
    /// "2~3배 더 챙겨", "확률 100%").
    ProfitClaim,
    /// A promise of returns or that nothing can be lost ("원금보장", "손해는 전액 배상").
    GuaranteedReturn,
    /// Trading-call jargon (entry and target prices, "recommended" or "surging" stocks), or an
    /// invitation into a room next to stocks or coins.
    StockTip,
    /// An invitation into a room or another messenger: an open chat, a Telegram or LINE room,
    /// a VIP or paid members' room, "click the link in my profile".
    RoomInvite,
    /// A stranger's opener: "I have your number, who are you?", "I saw your photo, text me",
    /// "tidying my friends list I found you".
    StrangerOpener,
    /// Someone abroad who will come to Korea and wants to meet, live or marry there.
    ComingToKorea,
    /// Easy money offered: paid at once or in advance, for beginners, for a click or a hand.
    EasyMoney,
    /// Renting or buying bank accounts, cards or online accounts ("통장 대여", "계정 빌려줘요").
    AccountRent,
    /// Gambling: casinos, baccarat, sports betting, "slot" arcades.
    Gambling,
    /// A free gift or coupon to claim ("무료쿠폰 받기", "선물이 도착했습니다").
    FreeGift,
    /// An invitation or notice to open elsewhere: "your mobile wedding invitation has
    /// arrived", "I sent you the first-birthday invitation", "the obituary was sent".
    CardToOpen,
    /// "I have a favour to ask" (`부탁 하나`), the opener of a relative's or friend's plea.
    FavorOpener,
    /// "Are you busy? Can you text now?" (`바빠?`, `톡 가능해?`, `자리에 있어?`).
    BusyCheck,
    /// "My authentication does not work / I left my ID or security card at home".
    AuthTrouble,
    /// Asking which banks, accounts or cards someone has, or to use their name.
    AccountProbe,
    /// A legal threat: seizure, enforcement, "under article N of the act".
    LegalThreat,
    /// A loan offer: public funds, "recruiting borrowers", eased conditions, no collateral.
    LoanOffer,
    /// Money asked to release something held: a gift or sum stuck at customs, frozen on a
    /// laundering suspicion, caught in a check, freed once a fee or fine is paid (the romance
    /// scammer's "parcel at customs").
    ReleaseFee,
}

impl Sign {
    /// Every sign, in bit order.
    pub const ALL: [Sign; 40] = [
        Sign::ForeignSenderTag,
        Sign::WebSenderTag,
        Sign::AdTag,
        Sign::PhoneNumber,
        Sign::CallbackNumber,
        Sign::LinkPlaceholder,
        Sign::Amount,
        Sign::ForeignAmount,
        Sign::ApprovalCode,
        Sign::DisownPrompt,
        Sign::IdPhotoRequest,
        Sign::CardPhotoRequest,
        Sign::CredentialAsk,
        Sign::AppInstall,
        Sign::RemoteControl,
        Sign::CannotCall,
        Sign::BrokenPhone,
        Sign::TextMe,
        Sign::MoneyAsk,
        Sign::GiftCard,
        Sign::Eligibility,
        Sign::ScamTalk,
        Sign::ProfitClaim,
        Sign::GuaranteedReturn,
        Sign::StockTip,
        Sign::RoomInvite,
        Sign::StrangerOpener,
        Sign::ComingToKorea,
        Sign::EasyMoney,
        Sign::AccountRent,
        Sign::Gambling,
        Sign::FreeGift,
        Sign::CardToOpen,
        Sign::FavorOpener,
        Sign::BusyCheck,
        Sign::AuthTrouble,
        Sign::AccountProbe,
        Sign::LegalThreat,
        Sign::LoanOffer,
        Sign::ReleaseFee,
    ];

    /// The name a reason shows and the model hashes.
    pub fn name(self) -> &'static str {
        match self {
            Sign::ForeignSenderTag => "foreign_sender_tag",
            Sign::WebSenderTag => "web_sender_tag",
            Sign::AdTag => "ad_tag",
            Sign::PhoneNumber => "phone_number",
            Sign::CallbackNumber => "callback_number",
            Sign::LinkPlaceholder => "link_placeholder",
            Sign::Amount => "amount",
            Sign::ForeignAmount => "foreign_amount",
            Sign::ApprovalCode => "approval_code",
            Sign::DisownPrompt => "disown_prompt",
            Sign::IdPhotoRequest => "id_photo_request",
            Sign::CardPhotoRequest => "card_photo_request",
            Sign::CredentialAsk => "credential_ask",
            Sign::AppInstall => "app_install",
            Sign::RemoteControl => "remote_control",
            Sign::CannotCall => "cannot_call",
            Sign::BrokenPhone => "broken_phone",
            Sign::TextMe => "text_me",
            Sign::MoneyAsk => "money_ask",
            Sign::GiftCard => "gift_card",
            Sign::Eligibility => "eligibility",
            Sign::ScamTalk => "scam_talk",
            Sign::ProfitClaim => "profit_claim",
            Sign::GuaranteedReturn => "guaranteed_return",
            Sign::StockTip => "stock_tip",
            Sign::RoomInvite => "room_invite",
            Sign::StrangerOpener => "stranger_opener",
            Sign::ComingToKorea => "coming_to_korea",
            Sign::EasyMoney => "easy_money",
            Sign::AccountRent => "account_rent",
            Sign::Gambling => "gambling",
            Sign::FreeGift => "free_gift",
            Sign::CardToOpen => "card_to_open",
            Sign::FavorOpener => "favor_opener",
            Sign::BusyCheck => "busy_check",
            Sign::AuthTrouble => "auth_trouble",
            Sign::AccountProbe => "account_probe",
            Sign::LegalThreat => "legal_threat",
            Sign::LoanOffer => "loan_offer",
            Sign::ReleaseFee => "release_fee",
        }
    }

    /// Whether a reason names this sign (plain facts such as a phone number or an amount are
    /// features, not reasons).
    pub fn reported(self) -> bool {
        !matches!(self, Sign::PhoneNumber | Sign::Amount | Sign::WebSenderTag | Sign::ScamTalk)
    }

    /// Requests the typology detectors count as the hook of a smishing notice.
    pub fn is_request(self) -> bool {
        matches!(
            self,
            Sign::IdPhotoRequest
                | Sign::CardPhotoRequest
                | Sign::CredentialAsk
                | Sign::AppInstall
                | Sign::RemoteControl
        )
    }

    fn bit(self) -> u64 {
        1 << (self as u64)
    }
}

/// The signs found in one message (a bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Evidence(u64);

impl Evidence {
    /// Whether `s` fired.
    pub fn has(self, s: Sign) -> bool {
        self.0 & s.bit() != 0
    }

    /// Adds `s`.
    pub fn insert(&mut self, s: Sign) {
        self.0 |= s.bit();
    }

    /// No sign fired.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The signs that fired, in [`Sign::ALL`] order.
    pub fn signs(self) -> impl Iterator<Item = Sign> {
        Sign::ALL.into_iter().filter(move |s| self.has(*s))
    }

    /// Any request (ID or card photo, credentials, an app, remote control).
    pub fn any_request(self) -> bool {
        self.signs().any(Sign::is_request)
    }
}

/// Keyword classes matched in the compact form (letters and digits, lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Atom {
    ForeignTag,
    WebTag,
    Contact,
    Placeholder,
    ForeignCurrency,
    Code,
    Disown,
    IdDoc,
    Photo,
    Card,
    CardSides,
    Secret,
    Tell,
    Never,
    App,
    Install,
    Remote,
    NoCall,
    Phone,
    Broken,
    TextBack,
    Money,
    MoneyPlea,
    Urgent,
    Gift,
    Eligible,
    Talk,
    Gain,
    Market,
    Guarantee,
    Stock,
    Room,
    Stranger,
    ToKorea,
    Affection,
    EasyPay,
    Job,
    Rent,
    Gamble,
    Gift2,
    Claim,
    Invitation,
    Delivered,
    Favor,
    Busy,
    Auth,
    Probe,
    Legal,
    Loan,
    Held,
    Fee,
}

pub(crate) const ATOMS: &[(Atom, &[&str])] = &[
    (Atom::ForeignTag, &["국제발신", "국외발신", "해외발신"]),
    (Atom::WebTag, &["web발신"]),
    (
        Atom::Contact,
        &[
            "문의",
            "연락",
            "전화",
            "신고",
            "상담",
            "고객센터",
            "콜센터",
            "소비자센터",
            "직통",
            "call",
            "contact",
            "helpline",
        ],
    ),
    (Atom::Placeholder, &["링크", "url"]),
    (Atom::ForeignCurrency, &["usd", "krw", "달러", "us$"]),
    (Atom::Code, &["승인번호", "인증코드", "확인코드", "인증번호"]),
    (
        Atom::Disown,
        &[
            "본인아닐",
            "본인이아닐",
            "본인아닌",
            "본인이아닌",
            "본인구매아닐",
            "본인구매가아닐",
            "본인사용이아닐",
            "신청이아닌",
            "ifthiswasntyou",
            "ifyoudidnot",
        ],
    ),
    (Atom::IdDoc, &["신분증", "민증", "주민등록증", "주민증", "운전면허증", "idcard"]),
    (Atom::Photo, &["사진", "찍어", "앞뒤", "앞면", "뒷면", "앞뒷면", "photo", "picture"]),
    (Atom::Card, &["카드"]),
    (Atom::CardSides, &["앞뒤", "앞뒷면", "앞면", "뒷면", "사진", "찍어"]),
    (Atom::Secret, &["비밀번호", "비번", "otp", "보안카드", "핀번호", "cvc", "password", "pin"]),
    (Atom::Tell, &["보내", "알려", "불러", "회신", "입력해", "send", "tellme"]),
    (Atom::Never, &["알려주지", "노출하지", "요구하지", "절대", "never"]),
    (Atom::App, &["앱", "어플", "애플리케이션", "apk", "app"]),
    (Atom::Install, &["설치", "다운", "깔아", "깔고", "install", "download"]),
    (
        Atom::Remote,
        &["팀뷰어", "애니데스크", "원격제어", "원격지원", "원격조종", "원격으로", "퀵서포트", "teamviewer", "anydesk"],
    ),
    (
        Atom::NoCall,
        &[
            "통화안",
            "통화가안",
            "통화는안",
            "통화하면안",
            "통화가어렵",
            "통화못",
            "통화를할수없",
            "통화할수없",
            "통화불가",
            "전화안되",
            "전화가안",
            "전화못",
            "전화할사정",
            "전화를못",
            "전화는안",
            "cantcall",
            "cannotcall",
            "canttalk",
        ],
    ),
    (Atom::Phone, &["폰", "핸드폰", "휴대폰", "휴대전화", "스마트폰", "액정", "phone"]),
    (
        Atom::Broken,
        &[
            "고장",
            "깨져",
            "깨졌",
            "나갔",
            "수리",
            "as맡",
            "as센터",
            "as점",
            "맡겼",
            "맡기고",
            "떨어뜨",
            "물에빠",
            "침수",
            "분실",
            "잃어버",
            "broke",
            "lost",
            "repair",
        ],
    ),
    (
        Atom::TextBack,
        &[
            "문자줘",
            "문자주",
            "답장줘",
            "답장주",
            "답장좀",
            "답장꼭",
            "문자보면",
            "문자확인하면",
            "문자남겨",
            "카톡추가",
            "번호추가",
            "친추",
            "톡보내줘",
            "톡해줘",
            "문자로하는",
            "문자해줘",
            "textme",
            "textback",
        ],
    ),
    (Atom::Money, &["송금", "입금", "이체", "보내줘", "보내주", "빌려", "돈좀", "결제할", "sendmoney"]),
    (
        Atom::MoneyPlea,
        &[
            "돈을보내",
            "돈보내",
            "돈이필요",
            "돈좀보내",
            "송금해주",
            "송금해줘",
            "입금해주",
            "입금해줘",
            "보내달라",
            "보내주면",
            "빌려줄수",
            "빌려줘",
            "발급비가없",
            "비용을보내",
            "sendmethemoney",
            "needmoney",
        ],
    ),
    (Atom::Urgent, &["급해", "급하게", "급한", "부탁", "당장", "빨리", "urgent", "asap"]),
    (
        Atom::Gift,
        &["상품권", "기프트카드", "문상", "구글기프트", "편의점캐시", "giftcard", "itunescard", "googleplaycard"],
    ),
    (
        Atom::Eligible,
        &[
            "대상자",
            "대상입니다",
            "대상이오니",
            "대상으로",
            "지급대상",
            "승인대상",
            "선정되",
            "youvebeenselected",
            "youhavebeenselected",
            "eligible",
        ],
    ),
    (
        Atom::Talk,
        &[
            "보이스피싱",
            "스미싱",
            "사칭",
            "사기",
            "요구하지않",
            "요구하지도않",
            "어떠한경우에도",
            "속지마",
            "조심하",
            "유의하시",
            "scam",
            "fraud",
        ],
    ),
    (
        Atom::Gain,
        &["수익", "이익", "상승", "올라", "오른", "돈벌", "돈법", "급등", "챙겨드", "성과", "확률", "적중", "profit"],
    ),
    (Atom::Market, &["주식", "코인", "투자", "비트코인", "선물", "종목", "매수"]),
    (
        Atom::Guarantee,
        &[
            "수익보장",
            "원금보장",
            "손실보장",
            "전액배상",
            "손해는전액",
            "확정수익",
            "무조건수익",
            "반드시좋은결과",
            "수익을보장",
            "고수익",
            "손실없",
            "손해없",
            "guaranteedreturn",
            "guaranteedprofit",
        ],
    ),
    (
        Atom::Stock,
        &[
            "매수",
            "진입가",
            "손절가",
            "매도가",
            "수혜주",
            "추천주",
            "대박주",
            "급등주",
            "세력주",
            "테마주",
            "작전주",
            "종목",
            "매집",
            "수급",
            "상한가종목",
            "지난추천",
        ],
    ),
    (
        Atom::Room,
        &[
            "오픈채팅",
            "오픈톡",
            "투자방",
            "리딩방",
            "vip방",
            "텔레그램",
            "라인으로",
            "커뮤니티그룹",
            "그룹에가입",
            "방이개설",
            "방에초대",
            "프로필링크",
            "프로필의링크",
            "카톡을통해",
            "카톡으로상담",
            "참여하실분",
            "유료회원",
            "무료입장",
            "telegram",
            "whatsapp",
        ],
    ),
    (
        Atom::Stranger,
        &[
            "누군지궁금",
            "누구시죠",
            "누구신지",
            "연락처가있어서",
            "번호가있어서",
            "번호가저장",
            "친구정리",
            "친구로되어",
            "사진보고",
            "잘못보냈",
            "문자주실래요",
            "답장꼭",
            "답장기다",
            "연락기다",
            "소통하고싶",
            "wrongnumber",
        ],
    ),
    (
        Atom::ToKorea,
        &[
            "한국에가",
            "한국에갈",
            "한국으로가",
            "한국에오",
            "한국으로오",
            "한국에돌아",
            "한국에정착",
            "한국에서살",
            "한국에서같이",
            "한국에출장",
            "한국으로출장",
            "한국을방문",
            "한국방문",
            "어머니의나라",
            "cometokorea",
        ],
    ),
    (
        Atom::Affection,
        &[
            "보고싶",
            "같이살",
            "결혼",
            "사랑",
            "만나",
            "만납",
            "놀아",
            "행복해",
            "아름다운",
            "가르쳐",
            "시간이되면",
            "정착",
        ],
    ),
    (
        Atom::EasyPay,
        &[
            "원지급",
            "즉시지급",
            "선지급",
            "추가지급",
            "당일지급",
            "돈드려",
            "돈드립",
            "일급여",
            "월급여",
            "초보자도",
            "누구나가능",
            "어렵지않은",
        ],
    ),
    (Atom::Job, &["알바", "일거리", "업무", "부업", "재택", "교육", "가입", "참여", "클릭", "대여", "초보"]),
    (
        Atom::Rent,
        &[
            "통장대여",
            "계좌대여",
            "계정대여",
            "카드대여",
            "명의대여",
            "계정빌려",
            "계정을빌려",
            "아이디빌려",
            "통장매입",
            "통장삽니다",
            "차명계좌",
            "대포통장",
            "체크카드나",
            "카드만보내",
            "통장1개",
            "통장한개",
            "아이디주세요",
            "아이디좀",
            "계정한번만",
            "계좌를대여",
            "대여받",
            "통장모집",
            "계좌모집",
        ],
    ),
    (
        Atom::Gamble,
        &[
            "카지노",
            "바카라",
            "토토사이트",
            "사설토토",
            "슬롯",
            "배팅",
            "베팅",
            "적중",
            "경마",
            "경륜",
            "홀덤",
            "오락실",
            "릴게임",
            "파워볼",
            "casino",
        ],
    ),
    (
        Atom::Gift2,
        &[
            "무료쿠폰",
            "교환쿠폰",
            "할인쿠폰",
            "무료시식",
            "시식권",
            "증정권",
            "교환권",
            "무료증정",
            "선물이도착",
            "선물함",
            "쿠폰이발급",
            "쿠폰증정",
            "무료제공",
            "골드카드",
            "당첨금",
            "당첨되셨",
            "당첨자",
            "경품",
            "증정합니다",
            "무료체험권",
            "freegift",
            "freevoucher",
        ],
    ),
    (Atom::Claim, &["받기", "받으세요", "받아가세요", "받아보세요", "다운받", "클릭", "확인하세요", "이동", "claim"]),
    (Atom::Invitation, &["청첩장", "초대장", "부고장", "돌잔치", "부고", "모바일초대", "모바일카드"]),
    (
        Atom::Delivered,
        &[
            "도착했",
            "도착하였",
            "발송되",
            "발송하였",
            "보내드렸",
            "보내드립니다",
            "확인하세요",
            "확인바랍",
            "확인부탁",
            "열어보",
        ],
    ),
    (Atom::Favor, &["부탁하나", "부탁이있", "부탁할거", "부탁좀하", "부탁하려"]),
    (Atom::Busy, &["바뻐", "바빠요", "톡가능", "통화가능해", "자리에있어"]),
    (
        Atom::Auth,
        &[
            "인증이안",
            "인증이잘안",
            "인증안되",
            "인증이안되",
            "인증서가안",
            "인증서오류",
            "인증서가만료",
            "보안카드두고",
            "보안카트",
            "otp두고",
            "민증두고",
            "신분증두고",
            "신분증을두고",
        ],
    ),
    (
        Atom::Probe,
        &["어느은행", "무슨은행", "카드뭐뭐", "카드뭐있", "명의로해도", "명의로좀", "계좌있어", "계좌하나만"],
    ),
    (
        Atom::Legal,
        &[
            "압류",
            "강제집행",
            "법적조치",
            "규정에의거",
            "규정에따라",
            "고발조치",
            "위반통보",
            "출석요구",
            "legalaction",
        ],
    ),
    (
        Atom::Loan,
        &[
            "서민대출",
            "정책자금",
            "생활자금",
            "긴급지원",
            "서민지원",
            "대출가능",
            "추가모집",
            "조건완화",
            "조건대폭",
            "한도조회",
            "무담보",
            "무보증",
            "loanapproved",
        ],
    ),
    (Atom::Held, &["세관", "통관", "적발", "동결", "묶였", "묶여", "압수", "돈세탁", "자금세탁", "보류"]),
    (Atom::Fee, &["수수료", "벌금", "발급비", "보증금", "통관비", "비용"]),
];

struct Table {
    matcher: AhoCorasick,
    /// Per pattern: the atoms it belongs to (a pattern can serve several).
    atoms: Vec<u64>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut patterns: Vec<&str> = Vec::new();
        let mut atoms: Vec<u64> = Vec::new();
        for (atom, words) in ATOMS {
            for w in *words {
                match patterns.iter().position(|p| p == w) {
                    Some(k) => atoms[k] |= 1 << (*atom as u64),
                    None => {
                        patterns.push(w);
                        atoms.push(1 << (*atom as u64));
                    }
                }
            }
        }
        // A DFA: the fastest search, and the table is small enough for its memory.
        let matcher = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("the evidence table builds");
        Table { matcher, atoms }
    })
}

/// The signs of a normalised message.
pub fn scan(n: &Normalized) -> Evidence {
    let t = table();
    let mut atoms = 0u64;
    for m in t.matcher.find_overlapping_iter(&n.compact) {
        atoms |= t.atoms[m.pattern().as_usize()];
    }
    from_atoms(n, atoms)
}

/// The signs of a normalised message whose keyword classes (bit `Atom as u32` of `atoms`) were
/// found by another pass over its compact form (the typology detectors' pass shares the work).
pub(crate) fn from_atoms(n: &Normalized, atoms: u64) -> Evidence {
    let has = |a: Atom| atoms & (1 << (a as u64)) != 0;
    let mut e = Evidence::default();
    let text = n.text.as_str();
    if has(Atom::ForeignTag) {
        e.insert(Sign::ForeignSenderTag);
    }
    if has(Atom::WebTag) {
        e.insert(Sign::WebSenderTag);
    }
    if has_bytes(text, "(광고)") || has_bytes(text, "[광고]") {
        e.insert(Sign::AdTag);
    }
    if has_phone_number(text) {
        e.insert(Sign::PhoneNumber);
        if has(Atom::Contact) {
            e.insert(Sign::CallbackNumber);
        }
    }
    if has_placeholder(text, has(Atom::Placeholder)) {
        e.insert(Sign::LinkPlaceholder);
    }
    let (amount, foreign) = amounts(text);
    if amount {
        e.insert(Sign::Amount);
    }
    if foreign || (amount && has(Atom::ForeignCurrency)) {
        e.insert(Sign::ForeignAmount);
    }
    if has(Atom::Code) {
        e.insert(Sign::ApprovalCode);
    }
    if has(Atom::Disown) {
        e.insert(Sign::DisownPrompt);
    }
    if has(Atom::IdDoc) && has(Atom::Photo) {
        e.insert(Sign::IdPhotoRequest);
    }
    if has(Atom::Card) && has(Atom::CardSides) {
        e.insert(Sign::CardPhotoRequest);
    }
    if has(Atom::Secret) && has(Atom::Tell) && !has(Atom::Never) {
        e.insert(Sign::CredentialAsk);
    }
    if has(Atom::App) && has(Atom::Install) {
        e.insert(Sign::AppInstall);
    }
    if has(Atom::Remote) {
        e.insert(Sign::RemoteControl);
    }
    if has(Atom::NoCall) {
        e.insert(Sign::CannotCall);
    }
    if has(Atom::Phone) && has(Atom::Broken) {
        e.insert(Sign::BrokenPhone);
    }
    if has(Atom::TextBack) {
        e.insert(Sign::TextMe);
    }
    if (has(Atom::Money) && has(Atom::Urgent)) || has(Atom::MoneyPlea) {
        e.insert(Sign::MoneyAsk);
    }
    if has(Atom::Gift) {
        e.insert(Sign::GiftCard);
    }
    if has(Atom::Eligible) {
        e.insert(Sign::Eligibility);
    }
    if has(Atom::Talk) {
        e.insert(Sign::ScamTalk);
    }
    if (has(Atom::Gain) || has(Atom::Market)) && has_rate(text) {
        e.insert(Sign::ProfitClaim);
    }
    if has(Atom::Guarantee) {
        e.insert(Sign::GuaranteedReturn);
    }
    if has(Atom::Stock) || (has(Atom::Room) && has(Atom::Market)) {
        e.insert(Sign::StockTip);
    }
    if has(Atom::Room) {
        e.insert(Sign::RoomInvite);
    }
    if has(Atom::Stranger) {
        e.insert(Sign::StrangerOpener);
    }
    if has(Atom::ToKorea) && has(Atom::Affection) {
        e.insert(Sign::ComingToKorea);
    }
    if has(Atom::EasyPay) && (amount || has(Atom::Job)) {
        e.insert(Sign::EasyMoney);
    }
    if has(Atom::Rent) {
        e.insert(Sign::AccountRent);
    }
    if has(Atom::Gamble) {
        e.insert(Sign::Gambling);
    }
    if has(Atom::Gift2) || (has(Atom::Gift) && has(Atom::Claim)) {
        e.insert(Sign::FreeGift);
    }
    if has(Atom::Invitation) && has(Atom::Delivered) {
        e.insert(Sign::CardToOpen);
    }
    for (atom, sign) in [
        (Atom::Favor, Sign::FavorOpener),
        (Atom::Busy, Sign::BusyCheck),
        (Atom::Auth, Sign::AuthTrouble),
        (Atom::Probe, Sign::AccountProbe),
        (Atom::Legal, Sign::LegalThreat),
        (Atom::Loan, Sign::LoanOffer),
    ] {
        if has(atom) {
            e.insert(sign);
        }
    }
    if has(Atom::Held) && has(Atom::Fee) && (has(Atom::Money) || e.has(Sign::MoneyAsk)) {
        e.insert(Sign::ReleaseFee);
    }
    e
}

/// A rate or a multiple: a number followed by `%`, `퍼센트`, `프로` or `배` ("30%", "2~3배",
/// "+30퍼센트").
fn has_rate(text: &str) -> bool {
    text.char_indices().any(|(i, c)| {
        let rest = &text[i..];
        let unit = match c {
            '%' | '％' => true,
            '퍼' => rest.starts_with("퍼센트"),
            '프' => rest.starts_with("프로"),
            // "3배", "2~3배 더", "수백배": a multiple (not "3배송").
            '배' => rest[3..]
                .chars()
                .next()
                .is_none_or(|n| !('\u{AC00}'..='\u{D7A3}').contains(&n) || "더이의까로는".contains(n)),
            _ => false,
        };
        unit && text[..i].trim_end().chars().next_back().is_some_and(|d| d.is_ascii_digit() || matches!(d, '십' | '백'))
    })
}

/// A digit, or a character that masks one in quoted texts (`010-XXXX-****`).
fn digitish(c: char) -> Option<bool> {
    if c.is_ascii_digit() {
        Some(true)
    } else if matches!(c, 'x' | '*') {
        Some(false)
    } else {
        None
    }
}

/// A run of digits (or masks): its length, whether it starts with a digit, whether any
/// character is a mask, its first two characters.
#[derive(Clone, Copy)]
struct Run {
    len: usize,
    digit: bool,
    masked: bool,
    first: [char; 2],
}

/// Whether consecutive runs `g` spell a phone number.
fn phone_shape(g: &[Run]) -> bool {
    let starts = |r: &Run, a: char| r.digit && r.first[0] == a;
    match g {
        [r] => starts(r, '0') && !r.masked && (10..=11).contains(&r.len) && r.first[1].is_ascii_digit(),
        [a, b] => {
            (a.len == 4 && starts(a, '1') && matches!(a.first[1], '5' | '6' | '8') && b.len == 4)
                || (starts(a, '0') && (2..=3).contains(&a.len) && (7..=8).contains(&b.len))
        }
        [a, b, c] => starts(a, '0') && (2..=4).contains(&a.len) && (3..=4).contains(&b.len) && c.len == 4,
        _ => false,
    }
}

/// A phone number: `0AA-BBBB-CCCC` (a prefix of 2–4 characters starting with 0, then 3–4
/// and 4), `(02)1234-5678`, a representative number `15xx/16xx/18xx-xxxx`, or ten or eleven
/// digits in a row starting with 0. Masked digits count; dates, times and amounts (whose parts
/// are joined by `/`, `:` or `,`, or do not have these lengths) do not.
pub fn has_phone_number(text: &str) -> bool {
    // Fast path: a phone number has at least seven digits (or masks) and one digit.
    if text.bytes().filter(|&c| c.is_ascii_digit() || c == b'x' || c == b'*').count() < 7
        || !text.bytes().any(|c| c.is_ascii_digit())
    {
        return false;
    }
    // Runs joined by `-`, `)`, `.`, `~` or a space into one candidate; a window of one to
    // three consecutive runs of a candidate is checked as each run ends (the last three runs
    // are kept).
    let mut runs: [Option<Run>; 3] = [None; 3];
    let mut cur: Option<Run> = None;
    let mut chars = text.chars().peekable();
    loop {
        let c = chars.next();
        if let Some(d) = c.and_then(digitish) {
            let c = c.unwrap_or(' ');
            match cur.as_mut() {
                None => cur = Some(Run { len: 1, digit: d, masked: !d, first: [c, ' '] }),
                Some(r) => {
                    if r.len == 1 {
                        r.first[1] = c;
                    }
                    r.len += 1;
                    r.masked |= !d;
                }
            }
            continue;
        }
        if let Some(r) = cur.take() {
            runs = [runs[1], runs[2], Some(r)];
            // Every window ending with this run.
            let window = |n: usize| -> Option<[Run; 3]> {
                let mut w = [r; 3];
                for k in 0..n {
                    w[3 - n + k] = runs[3 - n + k]?;
                }
                Some(w)
            };
            for n in 1..=3 {
                if let Some(w) = window(n)
                    && phone_shape(&w[3 - n..])
                {
                    // A longer candidate (more runs joined after) is still a phone number.
                    return true;
                }
            }
        }
        let joins = c.is_some_and(|c| matches!(c, '-' | ')' | '.' | '~' | ' '))
            && chars.peek().is_some_and(|&d| digitish(d).is_some())
            && runs[2].is_some();
        if !joins {
            runs = [None; 3];
        }
        if c.is_none() {
            return false;
        }
    }
}

/// Whether `needle` occurs in `text`: every needle here starts with a byte rare in messages, so
/// a vectorised search for that byte, then a comparison, is cheaper than setting up a substring
/// searcher on every message.
fn has_bytes(text: &str, needle: &str) -> bool {
    let (h, n) = (text.as_bytes(), needle.as_bytes());
    memchr::memchr_iter(n[0], h).any(|i| h[i..].starts_with(n))
}

/// A link shown as a placeholder or masked: the word `url` or `링크` on its own or glued to
/// Hangul or brackets (`(URL)`, `URL주소`, `링크(URL)`), or an address with masked characters
/// (`h***://**.am/**`, `****.com`, `http://xxx.xx`).
fn has_placeholder(text: &str, keyword: bool) -> bool {
    if !keyword && !has_bytes(text, "**") && !has_bytes(text, "xxx") && !has_bytes(text, "＊＊") {
        return false;
    }
    for token in text.split_whitespace() {
        let b = token.as_bytes();
        if keyword {
            if token.contains("링크") {
                return true;
            }
            // `url` not inside a longer Latin word ("curl", "urls" are not placeholders).
            for (i, _) in token.match_indices("url") {
                let before = i.checked_sub(1).map(|j| b[j]);
                let after = b.get(i + 3).copied();
                if !before.is_some_and(|c| c.is_ascii_alphabetic()) && !after.is_some_and(|c| c.is_ascii_alphabetic()) {
                    return true;
                }
            }
        }
        let addressy = token.contains("://") || token.contains('/') || has_address_dot(token);
        if addressy && token.bytes().any(|c| c.is_ascii_alphabetic()) {
            let masked = token.contains("**") || token.contains("xxx") || token.contains("＊＊");
            if masked {
                return true;
            }
        }
    }
    false
}

/// A dot between two characters of an address (`xxx.xx`, `****.com`), not one that ends a
/// sentence after a masked word (`XXX.`).
fn has_address_dot(token: &str) -> bool {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '＊' | '-'));
    token
        .char_indices()
        .any(|(i, c)| c == '.' && part(token[..i].chars().next_back()) && part(token[i + 1..].chars().next()))
}

/// `(an amount with a currency, an amount in a foreign currency)`: a number next to `원`,
/// `만원`, `KRW`, `USD`, `$`, `달러`.
fn amounts(text: &str) -> (bool, bool) {
    let (mut amount, mut foreign) = (false, false);
    let b = text.as_bytes();
    for (i, c) in text.char_indices() {
        let next_digit = || text[i + c.len_utf8()..].trim_start().bytes().next().is_some_and(|d| d.is_ascii_digit());
        let prev_digit = || text[..i].trim_end().bytes().next_back().is_some_and(|d| d.is_ascii_digit());
        match c {
            '원' | '억' if prev_digit() || text[..i].trim_end().ends_with(['만', '천']) => amount = true,
            '₩' | '￦' if next_digit() => amount = true,
            '$' | '€' | '£' | '¥' if next_digit() || prev_digit() => {
                amount = true;
                foreign |= c != '¥';
            }
            '달' if text[i..].starts_with("달러") && prev_digit() => {
                amount = true;
                foreign = true;
            }
            'k' | 'u'
                if (b.get(i + 1..i + 3) == Some(b"rw") || b.get(i + 1..i + 3) == Some(b"sd"))
                    && (next_after(text, i + 3) || prev_digit()) =>
            {
                amount = true;
                foreign = true;
            }
            _ => {}
        }
    }
    (amount, foreign)
}

/// A digit follows position `at` (after spaces and `$`).
fn next_after(text: &str, at: usize) -> bool {
    text.get(at..)
        .map(|s| s.trim_start_matches([' ', '$']))
        .is_some_and(|s| s.bytes().next().is_some_and(|d| d.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn signs(text: &str) -> Vec<&'static str> {
        scan(&normalize(text)).signs().map(Sign::name).collect()
    }

    #[test]
    fn phone_numbers_and_not_dates_or_amounts() {
        for t in [
            "문의 031-858-8866",
            "(1544-0000)문의",
            "070-8098-9403",
            "010-XXXX-XXXX 이 번호",
            "1660-****",
            "02-6012-XXXX",
            "(02)1234-5678",
            "call 09061743806 now",
            "연락처 010 1234 5678",
        ] {
            assert!(has_phone_number(&normalize(t).text), "{t}");
        }
        for t in [
            "10/25 11:37 해외 일시불 868,540원",
            "2024.05.01 기준",
            "1599-011 누적 1,430,104원",
            "승인번호 850,000원",
            "078501**554 체크카드출금 13,000",
            "3월 14일 14시",
            "규모4.3 지진",
        ] {
            assert!(!has_phone_number(&normalize(t).text), "{t}");
        }
    }

    #[test]
    fn signs_of_real_patterns() {
        let s = signs("[국제발신] 해외결제 USD 615$ 결제완료 본인 아닐 시 즉시 소비자센터 신고 : 032-952-0973");
        for want in ["foreign_sender_tag", "callback_number", "foreign_amount", "disown_prompt"] {
            assert!(s.contains(&want), "{want} in {s:?}");
        }
        let s = signs("엄마 나 폰 액정 깨져서 수리 맡겼어 통화 안되니까 문자 확인하면 답장 줘");
        for want in ["broken_phone", "cannot_call", "text_me"] {
            assert!(s.contains(&want), "{want} in {s:?}");
        }
        let s = signs("엄마 주민등록증 앞면 사진하고 카드 앞뒤면 사진 찍어서 보내줘");
        assert!(s.contains(&"id_photo_request") && s.contains(&"card_photo_request"), "{s:?}");
        assert!(signs("장례식장 링크(URL)").contains(&"link_placeholder"));
        assert!(signs("[개인정보보호] MY주민번호로 안전하게 보호 h***://**.am/**").contains(&"link_placeholder"));
        assert!(signs("팀뷰어 있어? 링크 보내줄게").contains(&"remote_control"));
        assert!(signs("이 앱 설치하고 기다려").contains(&"app_install"));
        assert!(!signs("curl the urls from the docs").contains(&"link_placeholder"));
    }

    /// A masked word at the end of a sentence ("XXX.", "***.") is not a masked address: the
    /// dot of an address stands between two of its characters.
    #[test]
    fn masked_words_before_a_full_stop_are_not_masked_addresses() {
        for t in
            ["저 XXX. 자기가 존버하자 해놓고 혼자 빼네. X같은 XX야.", "그 ***. 다시는 안 본다", "xxx, 정말 너무하네."]
        {
            assert!(!signs(t).contains(&"link_placeholder"), "{t}");
        }
        for t in [
            "미결제 요금 발생. 즉시 납부 필요 http://xxx.xx",
            "확인 ****.com",
            "접속 www.xxx.kr 에서 확인",
            "xxx.xx/a 확인",
        ] {
            assert!(signs(t).contains(&"link_placeholder"), "{t}");
        }
    }

    #[test]
    fn rates_and_multiples() {
        for t in ["13% 상승", "+30퍼센트", "2~3배 더", "수백배 이익", "연 20프로"] {
            assert!(has_rate(t), "{t}");
        }
        for t in ["3배송 완료", "퍼센트가 뭐야", "배가 고파", "프로필 사진"] {
            assert!(!has_rate(t), "{t}");
        }
        assert!(signs("추천 종목 매수가 대비 21% 상승").contains(&"profit_claim"));
        assert!(!signs("비가 와서 우울해").contains(&"profit_claim"));
    }

    #[test]
    fn genuine_code_notices_do_not_ask_for_credentials() {
        assert!(!signs("인증번호 [482913]를 입력해주세요. 타인에게 절대 알려주지 마세요.").contains(&"credential_ask"));
        assert!(signs("보안카드 번호 전부 불러주세요").contains(&"credential_ask"));
    }

    #[test]
    fn ordinary_chat_has_no_signs() {
        for t in ["오늘 저녁에 뭐 먹을까?", "내일 회의 10시로 변경됐습니다.", "See you at 7, love you"]
        {
            assert!(signs(t).is_empty(), "{t}: {:?}", signs(t));
        }
    }
}
