//! Typology detectors: weighted phrase lists per scam typology, matched in one Aho–Corasick
//! pass over the compact form of a message (letters and digits only), so spacing, punctuation,
//! full-width and zero-width tricks do not hide a phrase. A typology's score is the sum of the
//! weights of the distinct phrases that matched; smishing typologies count in full only when
//! the message carries a hook — a link, a link placeholder such as "(URL)", an app-install or
//! other request, and for notices that want a call back (payments, fines, parcels, support
//! payments, security warnings) a call-back number — because "부고" or "택배" alone is
//! ordinary talk. Negative phrases (a genuine notice's "never share this code") lower a score.
//!
//! The tables are hand-written and explainable, not learned; the text model
//! ([`crate::text`]) carries the statistical weight, and a message is flagged when either
//! is sure.
//!
//! The phrases are the evidence a reason shows: every matched phrase is reported as written in
//! the table below.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use domain::Typology;
use std::sync::OnceLock;

use Typology::*;

/// `(typology, weight, phrase)`. Phrases are written as they read; matching uses their compact
/// form (lower case, letters and digits only). `a + b` matches when every part appears anywhere
/// in the message ("인증번호 6자리 알려주세요" has `인증번호 + 알려`). Weight 4: decisive on its
/// own; 2: strong; 1: context (counts only beside a strong phrase, at most 2 in all).
const PHRASES: &[(Typology, i32, &str)] = &[
    // Institution impersonation: prosecutors, police, FSS, banks.
    (InstitutionImpersonation, 4, "안전계좌"),
    (InstitutionImpersonation, 4, "범죄에 연루"),
    (InstitutionImpersonation, 4, "범죄 연루"),
    (InstitutionImpersonation, 4, "사건에 연루"),
    (InstitutionImpersonation, 4, "범죄에 이용"),
    (InstitutionImpersonation, 4, "자금세탁에 이용"),
    (InstitutionImpersonation, 4, "대포통장"),
    (InstitutionImpersonation, 4, "자산 보호 조치"),
    (InstitutionImpersonation, 4, "자금 추적"),
    (InstitutionImpersonation, 4, "상품권으로 보관"),
    (InstitutionImpersonation, 4, "구속영장"),
    (InstitutionImpersonation, 4, "공무집행방해"),
    (InstitutionImpersonation, 4, "출석요구서"),
    (InstitutionImpersonation, 2, "명의 도용"),
    (InstitutionImpersonation, 2, "명의가 도용"),
    (InstitutionImpersonation, 2, "명의도용 신고"),
    (InstitutionImpersonation, 2, "체포영장"),
    (InstitutionImpersonation, 2, "사건번호"),
    (InstitutionImpersonation, 2, "수사관"),
    (InstitutionImpersonation, 2, "사이버수사대"),
    (InstitutionImpersonation, 2, "수사팀"),
    (InstitutionImpersonation, 2, "수사부"),
    (InstitutionImpersonation, 2, "피의자"),
    (InstitutionImpersonation, 2, "조사에 협조"),
    (InstitutionImpersonation, 2, "수사에 협조"),
    (InstitutionImpersonation, 2, "협조하시면"),
    (InstitutionImpersonation, 2, "약식"),
    (InstitutionImpersonation, 2, "소명자료"),
    (InstitutionImpersonation, 2, "접속 기록"),
    (InstitutionImpersonation, 2, "해킹되어"),
    (InstitutionImpersonation, 2, "개인정보가 유출"),
    (InstitutionImpersonation, 2, "이상거래가 탐지"),
    (InstitutionImpersonation, 2, "출금이 정지"),
    (InstitutionImpersonation, 2, "영구정지"),
    (InstitutionImpersonation, 2, "지급정지 예정"),
    (InstitutionImpersonation, 2, "금융사기 피해 계좌"),
    (InstitutionImpersonation, 2, "원격지원"),
    (InstitutionImpersonation, 2, "원격 점검"),
    (InstitutionImpersonation, 2, "원격제어"),
    (InstitutionImpersonation, 2, "팀뷰어"),
    (InstitutionImpersonation, 2, "애니데스크"),
    (InstitutionImpersonation, 2, "통화는 녹음"),
    (InstitutionImpersonation, 2, "외부에 발설"),
    (InstitutionImpersonation, 2, "대출 3건이 신청"),
    (InstitutionImpersonation, 2, "잔액을 + 이체"),
    (InstitutionImpersonation, 2, "보유 자금"),
    (InstitutionImpersonation, 2, "전액 돌려"),
    (InstitutionImpersonation, 1, "검찰"),
    (InstitutionImpersonation, 1, "지검"),
    (InstitutionImpersonation, 1, "경찰청"),
    (InstitutionImpersonation, 1, "금융감독원"),
    (InstitutionImpersonation, 1, "금감원"),
    (InstitutionImpersonation, 1, "금융보안원"),
    (InstitutionImpersonation, 1, "은행"),
    (InstitutionImpersonation, 1, "본인확인"),
    (InstitutionImpersonation, 1, "긴급"),
    (InstitutionImpersonation, 1, "회신"),
    (InstitutionImpersonation, 4, "safe account"),
    (InstitutionImpersonation, 2, "prosecutor"),
    (InstitutionImpersonation, 2, "arrest warrant"),
    // Family and acquaintance impersonation.
    (FamilyImpersonation, 2, "액정이 깨져"),
    (FamilyImpersonation, 2, "액정 깨져"),
    (FamilyImpersonation, 2, "액정 깨졌"),
    (FamilyImpersonation, 2, "폰 깨졌"),
    (FamilyImpersonation, 2, "액정 나가"),
    (FamilyImpersonation, 2, "폰 고장"),
    (FamilyImpersonation, 2, "폰이 고장"),
    (FamilyImpersonation, 2, "임시폰"),
    (FamilyImpersonation, 2, "폰 잃어버려서"),
    (FamilyImpersonation, 2, "물에 빠져서"),
    (FamilyImpersonation, 2, "수리 맡겼"),
    (FamilyImpersonation, 2, "서비스센터 맡겼"),
    (FamilyImpersonation, 2, "친구 폰 빌려"),
    (FamilyImpersonation, 2, "번호 바뀌"),
    (FamilyImpersonation, 2, "번호가 바뀌"),
    (FamilyImpersonation, 2, "새 번호"),
    (FamilyImpersonation, 2, "이 번호로"),
    (FamilyImpersonation, 2, "이 번호 저장"),
    (FamilyImpersonation, 2, "카톡 추가"),
    (FamilyImpersonation, 2, "친추"),
    (FamilyImpersonation, 2, "pc로 카톡"),
    (FamilyImpersonation, 2, "컴퓨터로 톡"),
    (FamilyImpersonation, 2, "컴퓨터로 카톡"),
    (FamilyImpersonation, 2, "친구 폰으로"),
    (FamilyImpersonation, 2, "이걸로 톡"),
    (FamilyImpersonation, 2, "번호 저장"),
    (FamilyImpersonation, 2, "폰 인증이 안"),
    (FamilyImpersonation, 2, "이 계좌로 좀 보내"),
    (FamilyImpersonation, 2, "통화가 안"),
    (FamilyImpersonation, 2, "통화가 어렵"),
    (FamilyImpersonation, 2, "통화 가능하세요"),
    (FamilyImpersonation, 2, "신분증 사진"),
    (FamilyImpersonation, 2, "신분증 + 찍어"),
    (FamilyImpersonation, 2, "문화상품권"),
    (FamilyImpersonation, 2, "기프트카드"),
    (FamilyImpersonation, 2, "편의점 상품권"),
    (FamilyImpersonation, 2, "핀번호"),
    (FamilyImpersonation, 2, "카드 번호"),
    (FamilyImpersonation, 2, "뒤에 숫자"),
    (FamilyImpersonation, 2, "인증서 오류"),
    (FamilyImpersonation, 2, "거래처에 돈"),
    (FamilyImpersonation, 2, "이 계좌로 먼저"),
    (FamilyImpersonation, 2, "돈 좀 보내줘"),
    (FamilyImpersonation, 2, "내일 바로 갚을게"),
    (FamilyImpersonation, 2, "정산해 드리겠습니다"),
    (FamilyImpersonation, 1, "엄마"),
    (FamilyImpersonation, 1, "아빠"),
    (FamilyImpersonation, 1, "이모"),
    (FamilyImpersonation, 1, "고모부"),
    (FamilyImpersonation, 1, "과장님"),
    (FamilyImpersonation, 1, "급해"),
    (FamilyImpersonation, 1, "급하게"),
    (FamilyImpersonation, 1, "급히"),
    (FamilyImpersonation, 1, "부탁"),
    (FamilyImpersonation, -4, "번호는 그대로"),
    (FamilyImpersonation, -4, "같은 번호"),
    (FamilyImpersonation, 4, "hi mum"),
    (FamilyImpersonation, 2, "new number"),
    // Loan fraud.
    (LoanFraud, 4, "기존 대출 + 상환"),
    (LoanFraud, 4, "대환대출로 전환"),
    (LoanFraud, 4, "보증보험료"),
    (LoanFraud, 4, "선입금"),
    (LoanFraud, 4, "전산작업비"),
    (LoanFraud, 4, "보증금 + 먼저 입금"),
    (LoanFraud, 2, "저금리 대환"),
    (LoanFraud, 2, "정부지원"),
    (LoanFraud, 2, "서민대출"),
    (LoanFraud, 2, "햇살론"),
    (LoanFraud, 2, "새희망홀씨"),
    (LoanFraud, 2, "긴급자금"),
    (LoanFraud, 2, "무직자"),
    (LoanFraud, 2, "무방문"),
    (LoanFraud, 2, "비대면 대출"),
    (LoanFraud, 2, "당일 승인"),
    (LoanFraud, 2, "당일입금"),
    (LoanFraud, 2, "당일 300만원"),
    (LoanFraud, 2, "신용점수 무관"),
    (LoanFraud, 2, "신용무관"),
    (LoanFraud, 2, "신용등급 상향"),
    (LoanFraud, 2, "신용점수가 올라"),
    (LoanFraud, 2, "대출 승인 완료"),
    (LoanFraud, 2, "승인 가능합니다"),
    (LoanFraud, 2, "승인 났"),
    (LoanFraud, 2, "한도조회"),
    (LoanFraud, 2, "대상자로 선정"),
    (LoanFraud, 2, "실행 후 환급"),
    (LoanFraud, 2, "실행 후 돌려"),
    (LoanFraud, 2, "입금 확인 즉시"),
    (LoanFraud, 2, "최대 + 만원"),
    (LoanFraud, 1, "저금리"),
    (LoanFraud, 1, "금리"),
    (LoanFraud, 1, "대출"),
    (LoanFraud, 1, "상담"),
    (LoanFraud, 1, "심사"),
    (LoanFraud, 2, "loan approved"),
    // Parcel and customs smishing (counted in full with a link or an app request).
    (ParcelSmishing, 2, "주소 불명"),
    (ParcelSmishing, 2, "주소지 미확인"),
    (ParcelSmishing, 2, "주소 확인"),
    (ParcelSmishing, 2, "주소 수정"),
    (ParcelSmishing, 2, "배송지 정보 오류"),
    (ParcelSmishing, 2, "배송지 확인"),
    (ParcelSmishing, 2, "상세주소 누락"),
    (ParcelSmishing, 2, "배송이 보류"),
    (ParcelSmishing, 2, "배송 불가"),
    (ParcelSmishing, 2, "배달 실패"),
    (ParcelSmishing, 2, "반송 예정"),
    (ParcelSmishing, 2, "재배송"),
    (ParcelSmishing, 2, "수령 일정"),
    (ParcelSmishing, 2, "통관 보류"),
    (ParcelSmishing, 2, "통관이 지연"),
    (ParcelSmishing, 2, "관부가세"),
    (ParcelSmishing, 2, "통관고유부호"),
    (ParcelSmishing, 2, "파손되어 반품"),
    (ParcelSmishing, 2, "환불 접수"),
    (ParcelSmishing, 1, "택배"),
    (ParcelSmishing, 1, "배송"),
    (ParcelSmishing, 1, "운송장"),
    (ParcelSmishing, 1, "등기우편"),
    (ParcelSmishing, 1, "우체국"),
    (ParcelSmishing, 1, "대한통운"),
    (ParcelSmishing, 1, "미납"),
    (ParcelSmishing, 2, "parcel"),
    (ParcelSmishing, 2, "delivery"),
    // Obituary smishing.
    (ObituarySmishing, 2, "부고"),
    (ObituarySmishing, 2, "별세"),
    (ObituarySmishing, 2, "소천"),
    (ObituarySmishing, 2, "부친상"),
    (ObituarySmishing, 2, "모친상"),
    (ObituarySmishing, 1, "장례식장"),
    (ObituarySmishing, 1, "빈소"),
    (ObituarySmishing, 1, "발인"),
    (ObituarySmishing, 1, "명복"),
    (ObituarySmishing, 1, "조의금"),
    (ObituarySmishing, 1, "부의금"),
    // Wedding smishing.
    (WeddingSmishing, 2, "청첩장"),
    (WeddingSmishing, 2, "결혼식 초대장"),
    (WeddingSmishing, 2, "결혼식에 초대"),
    (WeddingSmishing, 2, "결혼합니다"),
    (WeddingSmishing, 2, "초대장"),
    (WeddingSmishing, 2, "돌잔치"),
    (WeddingSmishing, 1, "결혼해"),
    (WeddingSmishing, 1, "축의금"),
    (WeddingSmishing, 1, "방명록"),
    (WeddingSmishing, 1, "식장"),
    (WeddingSmishing, 1, "신랑"),
    (WeddingSmishing, 1, "초대"),
    // Fines, taxes, refunds and court notices.
    (FineSmishing, 2, "과태료"),
    (FineSmishing, 2, "범칙금"),
    (FineSmishing, 2, "신호위반"),
    (FineSmishing, 2, "속도위반"),
    (FineSmishing, 2, "주정차위반"),
    (FineSmishing, 2, "위반 + 단속"),
    (FineSmishing, 2, "환급금"),
    (FineSmishing, 2, "환급 대상"),
    (FineSmishing, 2, "미환급"),
    (FineSmishing, 2, "소장이 접수"),
    (FineSmishing, 2, "지급명령"),
    (FineSmishing, 2, "강제집행"),
    (FineSmishing, 2, "적성검사"),
    (FineSmishing, 2, "미열람 시 불이익"),
    (FineSmishing, 1, "미납"),
    (FineSmishing, 1, "고지서"),
    (FineSmishing, 1, "납부 기한"),
    (FineSmishing, 1, "국세청"),
    (FineSmishing, 1, "건강보험"),
    (FineSmishing, 1, "국민연금"),
    (FineSmishing, 1, "법원"),
    (FineSmishing, 1, "전자소송"),
    (FineSmishing, 1, "기한"),
    (FineSmishing, 2, "unpaid toll"),
    (FineSmishing, 2, "tax refund"),
    // Coupons, points and prizes.
    (CouponSmishing, 2, "소멸됩니다"),
    (CouponSmishing, 2, "소멸예정 포인트"),
    (CouponSmishing, 2, "포인트 + 적립 대상"),
    (CouponSmishing, 2, "당첨"),
    (CouponSmishing, 2, "경품"),
    (CouponSmishing, 2, "쿠폰이 도착"),
    (CouponSmishing, 2, "상품권 지급"),
    (CouponSmishing, 2, "상품권이 발송"),
    (CouponSmishing, 2, "모바일상품권"),
    (CouponSmishing, 2, "무료 증정"),
    (CouponSmishing, 2, "캐시백"),
    (CouponSmishing, 2, "감사 이벤트"),
    (CouponSmishing, 2, "쿠폰 + 지급"),
    (CouponSmishing, 2, "무료 + 쿠폰"),
    (CouponSmishing, 1, "쿠폰"),
    (CouponSmishing, 1, "포인트"),
    (CouponSmishing, 1, "이벤트"),
    (CouponSmishing, 1, "무료"),
    (CouponSmishing, 1, "선착순"),
    (CouponSmishing, 1, "수령"),
    (CouponSmishing, 1, "기프티콘"),
    (CouponSmishing, 2, "you have won"),
    (CouponSmishing, 2, "claim your"),
    // Investment leading rooms.
    (InvestmentLeading, 4, "리딩방"),
    (InvestmentLeading, 4, "수익 보장"),
    (InvestmentLeading, 4, "원금보장"),
    (InvestmentLeading, 4, "수익률 + 보장"),
    (InvestmentLeading, 4, "확정 수익"),
    (InvestmentLeading, 4, "수익 확정"),
    (InvestmentLeading, 4, "3배 보장"),
    (InvestmentLeading, 4, "세력주"),
    (InvestmentLeading, 4, "급등주"),
    (InvestmentLeading, 4, "손실 복구"),
    (InvestmentLeading, 4, "수익금 + 세금을 먼저"),
    (InvestmentLeading, 2, "vip방"),
    (InvestmentLeading, 2, "vip 회원"),
    (InvestmentLeading, 2, "리딩"),
    (InvestmentLeading, 2, "자동매매"),
    (InvestmentLeading, 2, "공모주"),
    (InvestmentLeading, 2, "상장 당일"),
    (InvestmentLeading, 2, "해외선물"),
    (InvestmentLeading, 2, "모의투자"),
    (InvestmentLeading, 2, "미공개 정보"),
    (InvestmentLeading, 2, "내부자"),
    (InvestmentLeading, 2, "상한가"),
    (InvestmentLeading, 2, "오픈채팅"),
    (InvestmentLeading, 2, "투자금 수익"),
    (InvestmentLeading, 2, "출금하시려면"),
    (InvestmentLeading, 2, "무료입장"),
    (InvestmentLeading, 2, "무료체험"),
    (InvestmentLeading, 1, "투자"),
    (InvestmentLeading, 1, "수익"),
    (InvestmentLeading, 1, "코인"),
    (InvestmentLeading, 1, "주식"),
    (InvestmentLeading, 1, "종목"),
    (InvestmentLeading, 1, "텔레그램"),
    (InvestmentLeading, 1, "상금"),
    (InvestmentLeading, 2, "guaranteed return"),
    // Romance.
    (Romance, 4, "첫눈에 반했"),
    (Romance, 4, "평화유지군"),
    (Romance, 4, "금괴"),
    (Romance, 4, "석유 플랫폼"),
    (Romance, 2, "파병"),
    (Romance, 2, "미군"),
    (Romance, 2, "외과의사"),
    (Romance, 2, "번역기로 대화"),
    (Romance, 2, "자기야"),
    (Romance, 2, "내 사랑"),
    (Romance, 2, "여보"),
    (Romance, 2, "honey"),
    (Romance, 2, "우리 미래"),
    (Romance, 2, "같이 살 집"),
    (Romance, 2, "빌려줄 수 있어"),
    (Romance, 2, "휴가비"),
    (Romance, 2, "통관비"),
    (Romance, 2, "세관비"),
    (Romance, 2, "삼촌이"),
    (Romance, 2, "당신 프로필"),
    (Romance, 2, "라인으로 대화"),
    (Romance, 2, "대화한 지"),
    (Romance, 2, "만나서 꼭 갚을게"),
    (Romance, 2, "도착해서 바로 갚을게"),
    (Romance, 2, "항공권 + 대신 결제"),
    (Romance, 1, "사랑해"),
    (Romance, 1, "비행기표"),
    (Romance, 1, "해외"),
    (Romance, 2, "my love"),
    // Requests for credentials and ID documents.
    (CredentialRequest, 4, "인증번호 + 알려"),
    (CredentialRequest, 4, "인증번호 + 보내주"),
    (CredentialRequest, 4, "인증번호 + 회신"),
    (CredentialRequest, 4, "인증 번호 + 불러"),
    (CredentialRequest, 4, "문자로 간 번호"),
    (CredentialRequest, 4, "확인코드 + 회신"),
    (CredentialRequest, 4, "코드를 알려"),
    (CredentialRequest, 4, "otp 번호 + 알려"),
    (CredentialRequest, 4, "보안카드 번호"),
    (CredentialRequest, 4, "핀번호 + 알려"),
    (CredentialRequest, 4, "cvc"),
    (CredentialRequest, 4, "비밀번호 + 입력해 주세요"),
    (CredentialRequest, 4, "비밀번호와 otp"),
    (CredentialRequest, 4, "신분증 앞면 사진"),
    (CredentialRequest, 2, "통장 사본"),
    (CredentialRequest, 2, "카드번호"),
    (CredentialRequest, 2, "유효기간"),
    (CredentialRequest, 2, "본인인증 필요"),
    (CredentialRequest, 2, "판매자 인증"),
    (CredentialRequest, 1, "안전결제"),
    (CredentialRequest, 1, "본인확인"),
    (CredentialRequest, 1, "보안"),
    (CredentialRequest, 4, "verification code"),
    (CredentialRequest, 4, "send me the code"),
    // Genuine code notices: "never tell anyone".
    (CredentialRequest, -8, "타인에게 절대"),
    (CredentialRequest, -8, "절대 알려주지"),
    (CredentialRequest, -8, "알려주지 마세요"),
    (CredentialRequest, -8, "노출하지 마세요"),
    // Payment "approvals" with a number to call if it was not you.
    (PaymentApproval, 2, "해외결제"),
    (PaymentApproval, 2, "해외 승인"),
    (PaymentApproval, 2, "해외인증"),
    (PaymentApproval, 2, "해외 일시불"),
    (PaymentApproval, 2, "해외직구"),
    (PaymentApproval, 2, "본인 아닐"),
    (PaymentApproval, 2, "본인이 아닐"),
    (PaymentApproval, 2, "본인 아닌"),
    (PaymentApproval, 2, "본인구매 아닐"),
    (PaymentApproval, 2, "소비자원"),
    (PaymentApproval, 2, "소비자보호"),
    (PaymentApproval, 2, "소비자센터"),
    (PaymentApproval, 2, "사고예방"),
    (PaymentApproval, 1, "결제완료"),
    (PaymentApproval, 1, "결제가 완료"),
    (PaymentApproval, 1, "정상처리"),
    (PaymentApproval, 1, "처리 완료"),
    (PaymentApproval, 1, "승인"),
    (PaymentApproval, 1, "국제발신"),
    (PaymentApproval, 1, "국외발신"),
    (PaymentApproval, 1, "승인번호"),
    (PaymentApproval, 1, "인증코드"),
    // A genuine card approval shows the month's running total.
    (PaymentApproval, -2, "누적"),
    (PaymentApproval, 2, "if this was not you"),
    // Government support payments, subsidies and policy funds.
    (GovernmentSupport, 2, "지원금"),
    (GovernmentSupport, 2, "손실보상"),
    (GovernmentSupport, 2, "손실보전"),
    (GovernmentSupport, 2, "민생회복"),
    (GovernmentSupport, 2, "소비쿠폰"),
    (GovernmentSupport, 2, "장려금"),
    (GovernmentSupport, 2, "신속지급"),
    (GovernmentSupport, 2, "정책자금"),
    (GovernmentSupport, 2, "지급 대상"),
    (GovernmentSupport, 2, "신청 대상"),
    (GovernmentSupport, 2, "지급 확정"),
    (GovernmentSupport, 2, "수급자격"),
    (GovernmentSupport, 2, "특례보증"),
    (GovernmentSupport, 1, "대상자"),
    (GovernmentSupport, 1, "미신청"),
    (GovernmentSupport, 1, "재안내"),
    (GovernmentSupport, 1, "신청"),
    (GovernmentSupport, 1, "정부"),
    (GovernmentSupport, 1, "국민연금"),
    (GovernmentSupport, 1, "보상금"),
    // Health-check and public-health notices.
    (HealthCheck, 2, "건강검진"),
    (HealthCheck, 2, "검진 통지"),
    (HealthCheck, 2, "건강검사"),
    (HealthCheck, 2, "암검진"),
    (HealthCheck, 2, "검진 결과"),
    (HealthCheck, 2, "예방접종증명서"),
    (HealthCheck, 2, "백신 예약"),
    (HealthCheck, 1, "국민건강"),
    (HealthCheck, 1, "건강보험"),
    (HealthCheck, 1, "통지서"),
    (HealthCheck, 1, "보고서"),
    (HealthCheck, 1, "질병관리청"),
    (HealthCheck, 1, "무료"),
    // Account-security warnings.
    (AccountSecurity, 2, "개인정보가 유출"),
    (AccountSecurity, 2, "개인정보 유출"),
    (AccountSecurity, 2, "정보유출"),
    (AccountSecurity, 2, "보안승급"),
    (AccountSecurity, 2, "보안강화"),
    (AccountSecurity, 2, "계정 정지"),
    (AccountSecurity, 2, "계정이 정지"),
    (AccountSecurity, 2, "다른 지역에서 로그인"),
    (AccountSecurity, 2, "타지역에서 로그인"),
    (AccountSecurity, 2, "해외 로그인"),
    (AccountSecurity, 2, "해외 접속"),
    (AccountSecurity, 2, "비정상 로그인"),
    (AccountSecurity, 2, "신고접수 상태"),
    (AccountSecurity, 2, "이용pc지정"),
    (AccountSecurity, 2, "유출정보"),
    (AccountSecurity, 1, "보안"),
    (AccountSecurity, 1, "계정"),
    (AccountSecurity, 1, "로그인"),
    (AccountSecurity, 1, "유출"),
    (AccountSecurity, 1, "본인확인"),
    (AccountSecurity, 2, "account suspended"),
    (AccountSecurity, 2, "unusual sign-in"),
    // Generic spam.
    (Spam, 2, "수신거부"),
    (Spam, 2, "무료거부"),
    (Spam, 2, "카지노"),
    (Spam, 2, "바카라"),
];

/// Requests that make any scam worse (install an app, open a link to act): they add to every
/// typology that already has a strong phrase, and alone they are a credential request.
const ACCELERANTS: &[(i32, &str)] = &[
    (2, "앱을 설치"),
    (2, "앱 설치"),
    (2, "앱설치"),
    (2, "어플 설치"),
    (2, "앱 다운"),
    (2, "깔아야"),
    (1, "입금해 주세요"),
    (1, "입금하셔야"),
];

/// Talk *about* scams (warnings between people): lowers every typology.
const TALK: &[&str] = &[
    "사칭 문자",
    "사기라더라",
    "사기래",
    "사기니까",
    "사기 조심",
    "조심해",
    "조심하세요",
    "속지 마",
    "절대 보내지 마",
    "절대 들어가지 마",
    "그런 문자",
    "이런 문자",
    "뉴스 봤",
    "보이스피싱 많",
    "보이스피싱 조심",
    "요구하지 않습니다",
    "요구하지 않아",
];

/// What counts as the hook of a smishing typology, the thing the victim is made to act on;
/// without one a notice counts only with many strong phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    /// Not a smishing typology: counts in full without a hook.
    None,
    /// A link, a link placeholder or a request (invitations and obituaries: a genuine notice
    /// gives a phone number, a fake one a link).
    Link,
    /// A link, a placeholder, a request or a call-back number.
    LinkOrCall,
}

fn hook(t: Typology) -> Hook {
    match t {
        ObituarySmishing | WeddingSmishing => Hook::Link,
        ParcelSmishing | FineSmishing | CouponSmishing | PaymentApproval | GovernmentSupport | HealthCheck
        | AccountSecurity => Hook::LinkOrCall,
        _ => Hook::None,
    }
}

/// Letters and digits of a phrase, lower case (the form it is matched in).
fn compact(s: &str) -> String {
    crate::normalize::normalize(s).compact
}

/// What a pattern belongs to.
#[derive(Clone, Copy)]
enum Source {
    /// Part of a phrase of `PHRASES` (all its parts must match).
    Phrase,
    /// An accelerant of `ACCELERANTS`.
    Accelerant(i32),
    /// Talk about scams.
    Talk,
    /// A keyword of the structural evidence (the bits of its classes).
    Atoms(u64),
}

struct Table {
    /// Per pattern: the phrases of `PHRASES` it is part of.
    phrases_of: Vec<Vec<usize>>,
    matcher: AhoCorasick,
    /// Per pattern: where it comes from.
    sources: Vec<Source>,
    /// Per phrase of `PHRASES`: the patterns that must all match.
    parts: Vec<Vec<usize>>,
    /// Per accelerant of `ACCELERANTS`: its pattern.
    accelerants: Vec<usize>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut patterns: Vec<String> = Vec::new();
        let mut sources: Vec<Source> = Vec::new();
        let add = |text: &str, source: Source, patterns: &mut Vec<String>, sources: &mut Vec<Source>| {
            let c = compact(text);
            match patterns.iter().position(|x| *x == c) {
                Some(k) if matches!((sources[k], source), (Source::Phrase, Source::Phrase)) => k,
                _ => {
                    patterns.push(c);
                    sources.push(source);
                    patterns.len() - 1
                }
            }
        };
        let mut parts: Vec<Vec<usize>> = Vec::with_capacity(PHRASES.len());
        for (_, _, p) in PHRASES {
            parts.push(p.split('+').map(|part| add(part, Source::Phrase, &mut patterns, &mut sources)).collect());
        }
        let accelerants =
            ACCELERANTS.iter().map(|(w, p)| add(p, Source::Accelerant(*w), &mut patterns, &mut sources)).collect();
        for p in TALK {
            add(p, Source::Talk, &mut patterns, &mut sources);
        }
        // The evidence's keywords ride on the same pass (written in compact form already).
        for (atom, words) in crate::evidence::ATOMS {
            for w in *words {
                patterns.push(w.to_string());
                sources.push(Source::Atoms(1 << (*atom as u64)));
            }
        }
        // Overlapping matches: "검찰청" counts both "검찰" and "검찰청".
        // A DFA: the fastest search, and the table is small enough for its memory.
        let matcher = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("the phrase table builds");
        let mut phrases_of: Vec<Vec<usize>> = vec![Vec::new(); patterns.len()];
        for (ph, ps) in parts.iter().enumerate() {
            for &k in ps {
                if !phrases_of[k].contains(&ph) {
                    phrases_of[k].push(ph);
                }
            }
        }
        Table { phrases_of, matcher, sources, parts, accelerants }
    })
}

/// What the detectors found in one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    /// The strongest typology, when its score reaches [`MIN_SCORE`].
    pub typology: Option<Typology>,
    /// The typology with the most phrase weight, hooked or not, when any phrase of weight 2 or
    /// more matched: what a message flagged by the model is most like.
    pub leaning: Option<Typology>,
    /// Its score.
    pub score: i32,
    /// Phrases that matched for it (positive weights, accelerants included), in table order.
    pub phrases: Vec<&'static str>,
}

/// Score from which a typology is reported.
pub const MIN_SCORE: i32 = 4;

/// What a message offers to act on, as the detectors need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hooks {
    /// At least one link that is not a protected brand's own domain.
    pub suspicious: bool,
    /// A link to an Android app package (an accelerant, like "install this app").
    pub apk: bool,
    /// A link shown as a placeholder or masked (`(URL)`, `링크`, `h***://`).
    pub placeholder: bool,
    /// A phone number offered to call back.
    pub callback: bool,
    /// A request for an ID or card photo, credentials, an app install or remote control.
    pub request: bool,
    /// The structural evidence of the message (its signs add to the typologies they belong
    /// to; see [`sign_points`]).
    pub evidence: crate::evidence::Evidence,
}

impl Hooks {
    /// From the links' risk and the structural evidence of a message.
    pub fn new(suspicious: bool, apk: bool, e: crate::evidence::Evidence) -> Hooks {
        use crate::evidence::Sign;
        Hooks {
            suspicious,
            apk,
            placeholder: e.has(Sign::LinkPlaceholder),
            callback: e.has(Sign::CallbackNumber),
            request: e.any_request(),
            evidence: e,
        }
    }
}

/// Runs every detector over `compact` (the compact form of the message).
pub fn detect(compact: &str, links: Hooks) -> Detection {
    detect_hits(&hits(compact), links)
}

/// The patterns found in one pass over a compact form: a membership set, the list, and the
/// evidence keyword classes among them.
struct Hits {
    set: Vec<u64>,
    list: Vec<usize>,
    atoms: u64,
}

impl Hits {
    fn has(&self, k: usize) -> bool {
        self.set[k / 64] & (1 << (k % 64)) != 0
    }
}

/// The patterns found in `compact` (one overlapping pass).
fn hits(compact: &str) -> Hits {
    let t = table();
    let mut h = Hits { set: vec![0; t.matcher.patterns_len().div_ceil(64)], list: Vec::new(), atoms: 0 };
    for m in t.matcher.find_overlapping_iter(compact) {
        let k = m.pattern().as_usize();
        if !h.has(k) {
            h.set[k / 64] |= 1 << (k % 64);
            h.list.push(k);
            if let Source::Atoms(bits) = t.sources[k] {
                h.atoms |= bits;
            }
        }
    }
    h
}

/// The structural evidence of a normalised message and what the detectors find in it, with
/// one pass over its compact form: `suspicious` and `apk` describe its links.
pub fn analyse(
    n: &crate::normalize::Normalized,
    suspicious: bool,
    apk: bool,
) -> (crate::evidence::Evidence, Detection) {
    let h = hits(&n.compact);
    let evidence = crate::evidence::from_atoms(n, h.atoms);
    (evidence, detect_hits(&h, Hooks::new(suspicious, apk, evidence)))
}

fn detect_hits(hit: &Hits, links: Hooks) -> Detection {
    use crate::evidence::Sign;
    let t = table();
    // The phrases whose every part was found, in table order.
    let mut seen: Vec<usize> = Vec::new();
    for &k in &hit.list {
        for &ph in &t.phrases_of[k] {
            if !seen.contains(&ph) && t.parts[ph].iter().all(|&p| hit.has(p)) {
                seen.push(ph);
            }
        }
    }
    seen.sort_unstable();
    let (mut accelerant, mut talk) = (0, false);
    for &k in &hit.list {
        match t.sources[k] {
            Source::Accelerant(w) => accelerant += w,
            Source::Talk => talk = true,
            _ => {}
        }
    }
    let n = Typology::ALL.len();
    let (mut strong, mut context) = (vec![0i32; n], vec![0i32; n]);
    for &ph in &seen {
        let (ty, w, _) = PHRASES[ph];
        if w == 1 {
            context[ty as usize] += 1;
        } else {
            strong[ty as usize] += w;
        }
    }
    for (ty, w) in sign_points(links.evidence) {
        strong[ty as usize] += w;
    }
    if links.apk {
        accelerant += 2;
    }
    let accelerant = accelerant.min(3);
    let mut scores = vec![0i32; n];
    let placeholder = links.placeholder || links.request;
    // An invitation or obituary "sent" to be opened elsewhere is the link of the lure, even
    // where the link itself was left out; a free gift to claim, without the `(광고)` tag
    // that lawful advertising carries, is the lure of a coupon scam.
    let card_to_open = links.evidence.has(Sign::CardToOpen);
    let gift = links.evidence.has(Sign::FreeGift) && !links.evidence.has(Sign::AdTag);
    // A threat of seizure or enforcement is what a fine notice wants acted on.
    let threat = links.evidence.has(Sign::LegalThreat);
    for ty in Typology::ALL {
        let i = ty as usize;
        let base = strong[i];
        let mut s = base;
        if base >= 2 {
            s += context[i].min(2) + accelerant;
            if links.suspicious {
                s += 2;
            }
        }
        let hooked = match hook(ty) {
            Hook::None => true,
            Hook::Link => links.suspicious || placeholder || accelerant > 0 || card_to_open,
            Hook::LinkOrCall => {
                links.suspicious
                    || placeholder
                    || links.callback
                    || accelerant > 0
                    || (ty == CouponSmishing && gift)
                    || (ty == FineSmishing && threat)
            }
        };
        if hooked && !links.suspicious && accelerant == 0 && hook(ty) != Hook::None && base >= 2 {
            // A placeholder, a request or a call-back number hooks as a link does.
            s += 1;
        }
        if !hooked {
            // A notice without a link, a number or a request to act on is talk: it reaches the
            // threshold only with many strong phrases.
            s = s * 2 / 5;
        }
        if talk {
            s -= 4;
        }
        scores[i] = s;
    }
    let leaning = Typology::ALL
        .iter()
        .filter(|t| strong[**t as usize] >= 2)
        .max_by_key(|&&t| (strong[t as usize] + context[t as usize].min(2), -(t as i32)))
        .copied();
    // An app or link request with nothing else is a credential request.
    let cr = CredentialRequest as usize;
    if scores.iter().all(|&s| s < MIN_SCORE) && accelerant >= 2 && !talk {
        scores[cr] = scores[cr].max(strong[cr] + accelerant + i32::from(links.suspicious) * 2);
    }
    let (best, score) = Typology::ALL
        .iter()
        .map(|&t| (t, scores[t as usize]))
        .max_by_key(|&(t, s)| (s, -(t as i32)))
        .unwrap_or((Spam, 0));
    if score < MIN_SCORE {
        return Detection { leaning, ..Detection::default() };
    }
    let mut phrases: Vec<&'static str> =
        seen.iter().map(|&ph| PHRASES[ph]).filter(|(ty, w, _)| *ty == best && *w > 0).map(|(_, _, p)| p).collect();
    phrases.extend(ACCELERANTS.iter().zip(&t.accelerants).filter(|(_, k)| hit.has(**k)).map(|((_, p), _)| *p));
    Detection { typology: Some(best), leaning, score, phrases }
}

/// What the structural signs add to the typologies' strong weight: patterns of a kind of
/// scam, whatever its wording.
///
/// - Spam: renting out or buying accounts and cards (4); easy money offered (2, 4 with a sum);
///   gambling (2, 4 with a sum or a rate).
/// - Investment leading rooms: a promise of returns (4), a claim of gains (2), trading-call
///   jargon (2), an invitation into a room next to either (2).
/// - Romance: someone abroad who will come to Korea to meet or live (4); money asked to release
///   a gift or sum held at customs or frozen (4); a stranger's opener (2), asking for a reply
///   (2 more).
/// - Coupons: a free gift to claim (3). Wedding and obituary notices: a card to open (2).
/// - Family impersonation: a favour asked (2), a busy check (2), trouble with one's own
///   authentication (2), probing for accounts or cards (2).
/// - Fines: a legal threat (2). Loans: a loan offer (2).
pub fn sign_points(e: crate::evidence::Evidence) -> impl Iterator<Item = (Typology, i32)> {
    use crate::evidence::Sign as S;
    let sum = e.has(S::Amount);
    let invest = e.has(S::ProfitClaim) || e.has(S::StockTip) || e.has(S::GuaranteedReturn);
    [
        (Spam, if e.has(S::AccountRent) { 4 } else { 0 }),
        (Spam, if e.has(S::EasyMoney) { 2 + 2 * i32::from(sum) } else { 0 }),
        (Spam, if e.has(S::Gambling) { 2 + 2 * i32::from(sum || e.has(S::ProfitClaim)) } else { 0 }),
        (InvestmentLeading, 4 * i32::from(e.has(S::GuaranteedReturn))),
        (InvestmentLeading, 2 * i32::from(e.has(S::ProfitClaim))),
        (InvestmentLeading, 2 * i32::from(e.has(S::StockTip))),
        (InvestmentLeading, 2 * i32::from(invest && e.has(S::RoomInvite))),
        (Romance, 4 * i32::from(e.has(S::ComingToKorea))),
        (Romance, 4 * i32::from(e.has(S::ReleaseFee))),
        (Romance, if e.has(S::StrangerOpener) { 2 + 2 * i32::from(e.has(S::TextMe)) } else { 0 }),
        (CouponSmishing, 3 * i32::from(e.has(S::FreeGift))),
        (WeddingSmishing, 2 * i32::from(e.has(S::CardToOpen))),
        (ObituarySmishing, 2 * i32::from(e.has(S::CardToOpen))),
        (FamilyImpersonation, 2 * i32::from(e.has(S::FavorOpener))),
        (FamilyImpersonation, 2 * i32::from(e.has(S::BusyCheck))),
        (FamilyImpersonation, 2 * i32::from(e.has(S::AuthTrouble))),
        (FamilyImpersonation, 2 * i32::from(e.has(S::AccountProbe))),
        (FineSmishing, 2 * i32::from(e.has(S::LegalThreat))),
        (LoanFraud, 2 * i32::from(e.has(S::LoanOffer))),
    ]
    .into_iter()
    .filter(|&(_, w)| w > 0)
}

/// Risk 0..=100 of a detection's score: 4 → 60, 5 → 70, 6 → 80, 7 → 90, 8 or more → 95.
pub fn risk(score: i32) -> u8 {
    match score {
        i32::MIN..=3 => 0,
        4 => 60,
        5 => 70,
        6 => 80,
        7 => 90,
        _ => 95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn d(text: &str, link: bool) -> Detection {
        detect(&normalize(text).compact, Hooks { suspicious: link, ..Hooks::default() })
    }

    fn hooked(text: &str, hooks: Hooks) -> Detection {
        detect(&normalize(text).compact, hooks)
    }

    #[test]
    fn finds_typologies_through_spacing_tricks() {
        let x = d("서울중앙지검 수사관입니다. 고객님 명의가 도용되어 안 전 계 좌로 옮기셔야 합니다", false);
        assert_eq!(x.typology, Some(InstitutionImpersonation), "{x:?}");
        assert!(x.phrases.contains(&"안전계좌") && x.phrases.contains(&"수사관"), "{x:?}");
        let x = d("엄마 나 폰 액정 깨져서 수리 맡겼어 이 번호로 문자줘", false);
        assert_eq!(x.typology, Some(FamilyImpersonation));
    }

    #[test]
    fn smishing_needs_a_link() {
        let text = "[부고] 삼가 고인의 명복을 빕니다. 장례식장 안내";
        assert_eq!(d(text, true).typology, Some(ObituarySmishing));
        assert_eq!(d(text, false).typology, None);
    }

    #[test]
    fn a_call_back_number_or_a_placeholder_hooks_a_notice() {
        let approval = "[국제발신] 해외결제 1,480,000원 결제완료 본인 아닐 시 문의";
        assert_eq!(hooked(approval, Hooks::default()).typology, None);
        let call = Hooks { callback: true, ..Hooks::default() };
        assert_eq!(hooked(approval, call).typology, Some(PaymentApproval));
        let obituary = "부친께서 별세하셨기에 삼가 알려드립니다. 장례식장 안내";
        assert_eq!(hooked(obituary, Hooks { placeholder: true, ..Hooks::default() }).typology, Some(ObituarySmishing));
        // A real obituary gives a number to call: that is no hook for an obituary.
        assert_eq!(hooked(obituary, call).typology, None);
        assert_eq!(hooked(obituary, call).leaning, Some(ObituarySmishing));
    }

    #[test]
    fn genuine_code_notices_are_not_requests() {
        let x = d("[KB국민은행] 인증번호 [482913]를 입력해주세요. 타인에게 절대 알려주지 마세요.", false);
        assert_eq!(x.typology, None, "{x:?}");
        assert_eq!(d("인증번호 6자리 알려주세요 빨리요", false).typology, Some(CredentialRequest));
    }

    #[test]
    fn ordinary_talk_is_quiet() {
        for text in [
            "오늘 저녁에 뭐 먹을까?",
            "엄마 이번 주말에 집에 갈게",
            "택배 왔어 문 앞에 뒀대",
            "주식 얘기 그만하자 ㅋㅋ",
        ] {
            assert_eq!(d(text, false).typology, None, "{text}");
        }
    }
}
