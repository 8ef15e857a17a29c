//! The relief workflow's calendar and deadlines, against dates worked out by hand: the written
//! request after a phone request across a weekend and across Chuseok, the end of the two-month
//! objection period (with the month-end rule), the 14-day refund decision, out-of-order steps,
//! the objection path, pro-rata refunds, the mistaken-transfer path, overdue alerts, holiday-list
//! parse errors, and a year the calendar does not cover.

use app::relief::{
    Calendar, Channel, Date, Deadline, MissingYear, Relief, ReliefError, ReliefKind, ReliefRules, ReliefState, Step,
    months_period_end, objection_period_end, pro_rata, refund_decision_due, written_request_due,
};

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// `hh:mm` KST on a date, as epoch ms.
fn at(day: &str, hh: i64, mm: i64) -> i64 {
    date(day).start_ms() + hh * HOUR + mm * MINUTE
}

/// The last millisecond of a KST date.
fn end_of(day: &str) -> i64 {
    date(day).end_ms()
}

fn cal() -> &'static Calendar {
    Calendar::korea()
}

fn claims(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(v, c)| (v.to_string(), *c)).collect()
}

#[test]
fn dates_convert_to_and_from_kst() {
    // 2026-09-23T00:00:00+09:00 = 2026-09-22T15:00:00Z = 1_790_089_200_000 ms.
    assert_eq!(at("2026-09-23", 0, 0), 1_790_089_200_000);
    assert_eq!(end_of("2026-09-30"), 1_790_780_399_999); // 2026-09-30T14:59:59.999Z
    assert_eq!(Date::from_ms(1_790_089_200_000), date("2026-09-23"));
    assert_eq!(Date::from_ms(1_790_089_200_000 - 1), date("2026-09-22"));
    assert_eq!(date("2026-09-23").to_string(), "2026-09-23");
    assert_eq!(date("2026-02-28").add_days(1), date("2026-03-01"));
    assert_eq!(date("2028-02-28").add_days(1), date("2028-02-29"));
    assert_eq!(date("2026-12-31").add_months(2), date("2027-02-28"));
    assert_eq!(date("2027-12-31").add_months(2), date("2028-02-29"));
    assert!(Date::parse("2026-02-29").is_err());
    assert!(Date::parse("2026-9-23").is_err());
    assert!(Date::new(2026, 13, 1).is_err());
    // 2026-09-23 is a Wednesday (0 = Monday).
    assert_eq!(date("2026-09-23").weekday(), 2);
}

#[test]
fn calendar_knows_holidays_and_weekends() {
    let c = cal();
    for d in ["2026-09-24", "2026-09-25", "2026-10-05", "2026-05-25", "2026-06-03", "2026-07-17", "2027-02-09"] {
        assert!(!c.is_business_day(date(d)).unwrap(), "{d} is a holiday");
    }
    // Saturday 09-26 is Chuseok's last day and a weekend day; Chuseok gets no substitute for
    // a Saturday, so Monday 09-28 is a business day.
    assert!(!c.is_business_day(date("2026-09-26")).unwrap());
    assert!(c.is_business_day(date("2026-09-28")).unwrap());
    assert!(c.is_business_day(date("2026-09-23")).unwrap());
    assert!(!c.is_business_day(date("2026-03-14")).unwrap()); // a plain Saturday
    // 12-31 is a business day for banks.
    assert!(c.is_business_day(date("2026-12-31")).unwrap());
    assert_eq!(c.holiday(date("2026-09-25")).unwrap(), Some("추석 Chuseok"));
    assert_eq!(c.holiday(date("2026-09-23")).unwrap(), None);
    assert_eq!(c.add_business_days(date("2026-09-23"), 0).unwrap(), date("2026-09-23"));
    assert_eq!(c.add_business_days(date("2026-09-23"), 1).unwrap(), date("2026-09-28"));
}

#[test]
fn written_request_due_across_a_weekend() {
    // Phone request Friday 2026-03-13 10:00 KST. Sat 14 and Sun 15 do not count:
    // Mon 16 (1), Tue 17 (2), Wed 18 (3) -> due Wednesday 2026-03-18 23:59:59.999 KST.
    assert_eq!(written_request_due(at("2026-03-13", 10, 0), cal()).unwrap(), end_of("2026-03-18"));
}

#[test]
fn written_request_due_across_chuseok() {
    // Phone request on 2026-09-23 (a Wednesday, not a Friday) at 15:00 KST. Thu 24 (추석 연휴),
    // Fri 25 (추석), Sat 26 (추석 연휴 and Saturday, no substitute) and Sun 27 do not count:
    // Mon 28 (1), Tue 29 (2), Wed 30 (3) -> due 2026-09-30 23:59:59.999 KST.
    assert_eq!(written_request_due(at("2026-09-23", 15, 0), cal()).unwrap(), end_of("2026-09-30"));

    // A Friday one: phone request Friday 2026-10-02. Sat 3 (개천절), Sun 4, Mon 5 (its
    // substitute holiday) do not count: Tue 6 (1), Wed 7 (2), Thu 8 (3) -> due Thursday
    // 2026-10-08 (Friday 10-09 is Hangul Day, not reached).
    assert_eq!(written_request_due(at("2026-10-02", 17, 30), cal()).unwrap(), end_of("2026-10-08"));

    // The day is the KST day. 2026-09-22T15:30Z is 00:30 on Wednesday 09-23 in Korea -> 09-30
    // as above; 2026-09-22T14:30Z is 23:30 on Tuesday 09-22 -> Wed 23 (1), Mon 28 (2),
    // Tue 29 (3).
    assert_eq!(written_request_due(at("2026-09-23", 0, 30), cal()).unwrap(), end_of("2026-09-30"));
    assert_eq!(written_request_due(at("2026-09-22", 23, 30), cal()).unwrap(), end_of("2026-09-29"));

    // Seollal 2027 (Sat 02-06 .. Mon 02-08, substitute Tue 02-09): a phone request on Friday
    // 2027-02-05 -> Wed 10 (1), Thu 11 (2), Fri 12 (3).
    assert_eq!(written_request_due(at("2027-02-05", 9, 0), cal()).unwrap(), end_of("2027-02-12"));
}

#[test]
fn objection_period_is_two_months_counting_the_notice_day() {
    // D = 2026-03-10: D + 2 months - 1 day = 2026-05-09.
    assert_eq!(objection_period_end(at("2026-03-10", 14, 0)), end_of("2026-05-09"));
    // Month end: D = 2026-12-31. D + 2 months does not exist (Feb 31), so the period ends on
    // the last day of February, 2027-02-28 (not the clamped 02-28 minus a day).
    assert_eq!(objection_period_end(at("2026-12-31", 9, 0)), end_of("2027-02-28"));
    // In a leap year it is 02-29.
    assert_eq!(objection_period_end(at("2027-12-31", 9, 0)), end_of("2028-02-29"));
    // D = 2026-11-30: 2027-01-30 exists, so the period ends 2027-01-29.
    assert_eq!(objection_period_end(at("2026-11-30", 9, 0)), end_of("2027-01-29"));
    // D = 2026-12-28: 2027-02-28 exists, so 2027-02-27.
    assert_eq!(months_period_end(date("2026-12-28"), 2), date("2027-02-27"));
    // The notice time within its day does not matter, only its KST date.
    assert_eq!(objection_period_end(at("2026-03-10", 23, 59)), objection_period_end(at("2026-03-10", 0, 0)));
}

#[test]
fn refund_decision_is_due_14_calendar_days_after_extinguishment() {
    // Extinguished 2026-05-11 -> due 2026-05-25, a substitute holiday: calendar days, so
    // holidays neither extend nor shorten it.
    assert_eq!(refund_decision_due(at("2026-05-11", 9, 0)), end_of("2026-05-25"));
    // Across a month end: 2026-12-20 -> 2027-01-03.
    assert_eq!(refund_decision_due(at("2026-12-20", 0, 0)), end_of("2027-01-03"));
}

#[test]
fn a_fraud_case_runs_to_payout() {
    let c = cal();
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Phone);
    assert_eq!(r.state(), ReliefState::Suspended);
    assert_eq!(
        r.deadlines(c).unwrap(),
        vec![
            // Holder notice: one business day -> Monday 03-16.
            Deadline { step: Step::HolderNotice, due_ms: end_of("2026-03-16") },
            Deadline { step: Step::WrittenRequest, due_ms: end_of("2026-03-18") },
        ]
    );
    r.record_holder_notice(at("2026-03-13", 16, 0)).unwrap();
    r.record_written_request(at("2026-03-16", 11, 0)).unwrap();
    assert_eq!(r.deadlines(c).unwrap(), vec![]);

    r.record_notice(at("2026-03-20", 10, 0)).unwrap();
    assert_eq!(r.state(), ReliefState::NoticePublished);
    // 2026-03-20 + 2 months - 1 day = 2026-05-19.
    assert_eq!(r.deadlines(c).unwrap(), vec![Deadline { step: Step::ObjectionPeriod, due_ms: end_of("2026-05-19") }]);

    r.record_extinguished(at("2026-05-20", 0, 0)).unwrap();
    assert_eq!(r.state(), ReliefState::Extinguished);
    // 2026-05-20 + 14 days = 2026-06-03.
    assert_eq!(r.deadlines(c).unwrap(), vec![Deadline { step: Step::RefundDecision, due_ms: end_of("2026-06-03") }]);

    let shares = r
        .record_refund_decision(at("2026-05-27", 10, 0), 1_000_000, &claims(&[("kim", 900_000), ("lee", 600_000)]))
        .unwrap()
        .to_vec();
    // 1,000,000 over 1,500,000 claimed: 600,000 and 400,000 exactly.
    assert_eq!((shares[0].victim.as_str(), shares[0].refund_won), ("kim", 600_000));
    assert_eq!((shares[1].victim.as_str(), shares[1].refund_won), ("lee", 400_000));
    assert_eq!(r.state(), ReliefState::RefundDecided);
    assert_eq!(r.deadlines(c).unwrap(), vec![]);

    r.record_payout(at("2026-05-28", 10, 0)).unwrap();
    assert_eq!(r.state(), ReliefState::Paid);
    assert!(r.state().is_final());
    assert_eq!(r.refund().unwrap().available_won, 1_000_000);
    assert_eq!(r.recorded().paid_ms, Some(at("2026-05-28", 10, 0)));
}

#[test]
fn a_written_request_has_no_written_request_deadline() {
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Writing);
    assert_eq!(r.deadlines(cal()).unwrap(), vec![Deadline { step: Step::HolderNotice, due_ms: end_of("2026-03-16") }]);
    // Already in writing: a second written request is out of order.
    assert!(matches!(r.record_written_request(at("2026-03-14", 0, 0)), Err(ReliefError::OutOfOrder { .. })));
    // The notice may follow at once.
    r.record_notice(at("2026-03-13", 15, 0)).unwrap();
}

#[test]
fn out_of_order_steps_are_rejected_and_change_nothing() {
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Phone);
    let before = r.clone();
    let out_of_order = |e: Result<(), ReliefError>| matches!(e, Err(ReliefError::OutOfOrder { .. }));

    // A refund before the claim is extinguished.
    let e = r.record_refund_decision(at("2026-03-14", 0, 0), 100, &claims(&[("kim", 100)]));
    assert!(matches!(e, Err(ReliefError::OutOfOrder { state: ReliefState::Suspended, .. })), "{e:?}");
    assert!(out_of_order(r.record_extinguished(at("2026-06-01", 0, 0))));
    assert!(out_of_order(r.record_payout(at("2026-06-01", 0, 0))));
    // The FSS notice needs the written request first when the request came by phone.
    assert!(out_of_order(r.record_notice(at("2026-03-14", 0, 0))));
    // Mistaken-transfer steps on a fraud case.
    assert!(out_of_order(r.record_refusal(at("2026-03-14", 0, 0))));
    assert!(out_of_order(r.record_escalation(at("2026-03-14", 0, 0), cal())));
    // A written request before the phone request it follows.
    assert!(matches!(r.record_written_request(at("2026-03-12", 0, 0)), Err(ReliefError::BeforePrevious { .. })));
    assert_eq!(r, before);

    r.record_written_request(at("2026-03-16", 9, 0)).unwrap();
    // Twice is out of order.
    assert!(out_of_order(r.record_written_request(at("2026-03-16", 10, 0))));
    // A notice before the written request it needs.
    assert!(matches!(r.record_notice(at("2026-03-15", 0, 0)), Err(ReliefError::BeforePrevious { .. })));
    r.record_notice(at("2026-03-20", 10, 0)).unwrap();
    // Extinguishment inside the objection period (ends 2026-05-19 23:59:59.999 KST).
    let e = r.record_extinguished(end_of("2026-05-19"));
    assert!(matches!(e, Err(ReliefError::OutsideWindow { .. })), "{e:?}");
    assert_eq!(r.state(), ReliefState::NoticePublished);
    r.record_extinguished(end_of("2026-05-19") + 1).unwrap();
    // A refund decision dated before the extinguishment.
    let e = r.record_refund_decision(at("2026-05-19", 0, 0), 100, &claims(&[("kim", 100)]));
    assert!(matches!(e, Err(ReliefError::BeforePrevious { .. })), "{e:?}");
    // Bad inputs.
    let e = r.record_refund_decision(at("2026-05-21", 0, 0), -1, &claims(&[("kim", 100)]));
    assert!(matches!(e, Err(ReliefError::Invalid(_))));
    let e = r.record_refund_decision(at("2026-05-21", 0, 0), 100, &[]);
    assert!(matches!(e, Err(ReliefError::Invalid(_))));
    let e = r.record_refund_decision(at("2026-05-21", 0, 0), 100, &claims(&[("kim", 0)]));
    assert!(matches!(e, Err(ReliefError::Invalid(_))));
    assert_eq!(r.state(), ReliefState::Extinguished);
    // After extinguishment there is nothing to object to or withdraw.
    assert!(out_of_order(r.record_objection(at("2026-05-21", 0, 0))));
    assert!(out_of_order(r.record_withdrawal(at("2026-05-21", 0, 0))));
    assert!(out_of_order(r.record_holder_notice(at("2026-05-21", 0, 0))));
}

#[test]
fn an_objection_in_the_period_stops_the_process() {
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Writing);
    r.record_notice(at("2026-03-20", 10, 0)).unwrap();
    assert_eq!(r.objection_period_end_ms(), Some(end_of("2026-05-19")));

    // One millisecond after the period: too late, nothing changes.
    let mut late = r.clone();
    let e = late.record_objection(end_of("2026-05-19") + 1);
    assert!(matches!(e, Err(ReliefError::OutsideWindow { .. })), "{e:?}");
    assert_eq!(late, r);

    // The period's last millisecond is still in time.
    r.record_objection(end_of("2026-05-19")).unwrap();
    assert_eq!(r.state(), ReliefState::Objected);
    assert!(r.state().is_final());
    assert_eq!(r.deadlines(cal()).unwrap(), vec![]);
    assert!(matches!(r.record_extinguished(at("2026-05-20", 0, 0)), Err(ReliefError::OutOfOrder { .. })));
    assert!(matches!(r.record_objection(at("2026-05-19", 0, 0)), Err(ReliefError::OutOfOrder { .. })));

    // An objection before the notice starts (after the bank's notice to the holder) also stops it.
    let mut early = Relief::fraud(at("2026-03-13", 10, 0), Channel::Phone);
    early.record_holder_notice(at("2026-03-13", 12, 0)).unwrap();
    early.record_objection(at("2026-03-16", 9, 0)).unwrap();
    assert_eq!(early.state(), ReliefState::Objected);
    assert_eq!(early.deadlines(cal()).unwrap(), vec![]);
}

#[test]
fn a_withdrawal_closes_the_case_before_extinguishment() {
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Phone);
    r.record_withdrawal(at("2026-03-19", 9, 0)).unwrap();
    assert_eq!(r.state(), ReliefState::Withdrawn);
    assert_eq!(r.deadlines(cal()).unwrap(), vec![]);
    assert_eq!(r.overdue(at("2027-01-01", 0, 0), cal()).unwrap(), vec![]);
}

#[test]
fn pro_rata_pays_exactly_what_is_available_and_never_over_a_claim() {
    // 1,000 won over three equal claims of 500: 333.33 each; the one won left goes to the
    // first (ties by order).
    assert_eq!(pro_rata(1_000, &[("a", 500), ("b", 500), ("c", 500)]), vec![("a", 334), ("b", 333), ("c", 333)]);
    // 100 over 10/20/30/40 (total 100) is exact. Largest remainder first: 5 over 1/2/4
    // (total 7): exact 0.714, 1.429, 2.857 -> floors 0, 1, 2 (sum 3), remainders 5, 3, 6
    // (of 7) -> c then a get the two won left: 1, 1, 3.
    assert_eq!(
        pro_rata(100, &[("a", 10), ("b", 20), ("c", 30), ("d", 40)]),
        vec![("a", 10), ("b", 20), ("c", 30), ("d", 40)]
    );
    assert_eq!(pro_rata(5, &[("a", 1), ("b", 2), ("c", 4)]), vec![("a", 1), ("b", 1), ("c", 3)]);
    // More available than claimed: everyone in full, the rest stays.
    assert_eq!(pro_rata(10_000, &[("a", 300), ("b", 700)]), vec![("a", 300), ("b", 700)]);
    // Nothing available, or no claims.
    assert_eq!(pro_rata(0, &[("a", 300)]), vec![("a", 0)]);
    assert_eq!(pro_rata::<&str>(500, &[]), vec![]);
    // Large amounts do not overflow.
    let big = pro_rata(i64::MAX, &[("a", i64::MAX), ("b", i64::MAX)]);
    assert_eq!(big, vec![("a", i64::MAX / 2 + 1), ("b", i64::MAX / 2)]);

    // Many generated cases (a fixed linear congruential generator, so the run is repeatable).
    let mut seed: u64 = 0x5eed;
    let mut next = |m: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    for _ in 0..2_000 {
        let n = 1 + next(8) as usize;
        let list: Vec<(usize, i64)> = (0..n).map(|i| (i, 1 + next(5_000_000) as i64)).collect();
        let total: i64 = list.iter().map(|(_, c)| c).sum();
        let available = next(total as u64 * 2) as i64;
        let out = pro_rata(available, &list);
        let paid: i64 = out.iter().map(|(_, r)| r).sum();
        assert_eq!(paid, available.min(total), "{list:?} {available}");
        for ((v, r), (w, c)) in out.iter().zip(&list) {
            assert_eq!(v, w);
            assert!(*r >= 0 && r <= c, "{r} over claim {c}");
        }
        assert_eq!(out, pro_rata(available, &list), "deterministic");
    }
}

#[test]
fn refund_decision_splits_pro_rata() {
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Writing);
    r.record_notice(at("2026-03-20", 10, 0)).unwrap();
    r.record_extinguished(at("2026-05-20", 0, 0)).unwrap();
    // 1,000,001 won over 3 equal claims of 1,000,000: 333,333.67 each -> 333,334 / 333,334 /
    // 333,333 (the two won left go to the first two).
    let shares = r
        .record_refund_decision(
            at("2026-05-21", 0, 0),
            1_000_001,
            &claims(&[("a", 1_000_000), ("b", 1_000_000), ("c", 1_000_000)]),
        )
        .unwrap();
    let got: Vec<(&str, i64, i64)> = shares.iter().map(|s| (s.victim.as_str(), s.claimed_won, s.refund_won)).collect();
    assert_eq!(got, vec![("a", 1_000_000, 333_334), ("b", 1_000_000, 333_334), ("c", 1_000_000, 333_333)]);
}

#[test]
fn a_mistaken_transfer_is_returned_or_escalated() {
    let c = cal();
    // Sent Friday 2026-09-11 20:00 KST; return requested Monday 2026-09-14 10:00.
    let sent = at("2026-09-11", 20, 0);
    let asked = at("2026-09-14", 10, 0);
    let r = Relief::mistaken_transfer(sent, 3_000_000, asked).unwrap();
    assert_eq!(r.state(), ReliefState::ReturnRequested);
    // The recipient's 10 business days: Tue 15 (1), Wed 16 (2), Thu 17 (3), Fri 18 (4),
    // Mon 21 (5), Tue 22 (6), Wed 23 (7), [Thu 24 - Sun 27 Chuseok and weekend], Mon 28 (8),
    // Tue 29 (9), Wed 30 (10) -> 2026-09-30. Applications: 2026-09-11 + 12 months - 1 day =
    // 2027-09-10.
    assert_eq!(
        r.deadlines(c).unwrap(),
        vec![
            Deadline { step: Step::RecipientResponse, due_ms: end_of("2026-09-30") },
            Deadline { step: Step::ReturnSupportApplication, due_ms: end_of("2027-09-10") },
        ]
    );

    // Returned by the recipient.
    let mut returned = r.clone();
    returned.record_returned(at("2026-09-16", 10, 0)).unwrap();
    assert_eq!(returned.state(), ReliefState::Returned);
    assert_eq!(returned.deadlines(c).unwrap(), vec![]);

    // Escalating while the recipient can still answer is too early.
    let mut waiting = r.clone();
    let e = waiting.record_escalation(end_of("2026-09-30"), c);
    assert!(matches!(e, Err(ReliefError::OutsideWindow { .. })), "{e:?}");
    // No answer in the window: escalation is allowed the next day.
    waiting.record_escalation(at("2026-10-01", 9, 0), c).unwrap();
    assert_eq!(waiting.state(), ReliefState::Escalated);
    assert_eq!(waiting.deadlines(c).unwrap(), vec![]);
    waiting.record_unrecovered(at("2027-03-02", 9, 0)).unwrap();
    assert_eq!(waiting.state(), ReliefState::Unrecovered);

    // Refused: the recipient's deadline closes; the application deadline stays.
    let mut refused = r.clone();
    refused.record_refusal(at("2026-09-15", 10, 0)).unwrap();
    assert_eq!(refused.state(), ReliefState::Refused);
    assert_eq!(
        refused.deadlines(c).unwrap(),
        vec![Deadline { step: Step::ReturnSupportApplication, due_ms: end_of("2027-09-10") }]
    );
    // Applying after the last day is refused; on it, accepted.
    let mut too_late = refused.clone();
    assert!(matches!(too_late.record_escalation(end_of("2027-09-10") + 1, c), Err(ReliefError::OutsideWindow { .. })));
    refused.record_escalation(end_of("2027-09-10"), c).unwrap();
    // The programme recovers it.
    refused.record_returned(at("2027-11-01", 9, 0)).unwrap();
    assert_eq!(refused.state(), ReliefState::Returned);
    // Fraud steps on a mistaken transfer are out of order.
    assert!(matches!(r.clone().record_notice(asked), Err(ReliefError::OutOfOrder { .. })));
    assert!(matches!(r.kind(), ReliefKind::MistakenTransfer { amount_won: 3_000_000, .. }));
}

#[test]
fn small_or_large_mistaken_transfers_are_outside_the_programme() {
    let c = cal();
    // 30,000 won: below the programme's 50,000 won floor. No application deadline, and no
    // escalation.
    let mut small = Relief::mistaken_transfer(at("2026-09-11", 20, 0), 30_000, at("2026-09-14", 10, 0)).unwrap();
    assert_eq!(small.deadlines(c).unwrap().iter().map(|d| d.step).collect::<Vec<_>>(), vec![Step::RecipientResponse]);
    small.record_refusal(at("2026-09-15", 10, 0)).unwrap();
    assert_eq!(small.deadlines(c).unwrap(), vec![]);
    assert!(matches!(small.record_escalation(at("2026-09-16", 10, 0), c), Err(ReliefError::OutsideWindow { .. })));
    // The limits are rules of the case.
    let rules = ReliefRules { return_support_max_won: 100_000_000, ..ReliefRules::default() };
    let mut big = Relief::mistaken_transfer(at("2026-09-11", 20, 0), 80_000_000, at("2026-09-14", 10, 0))
        .unwrap()
        .with_rules(rules);
    big.record_refusal(at("2026-09-15", 10, 0)).unwrap();
    big.record_escalation(at("2026-09-16", 10, 0), c).unwrap();
    // Bad inputs.
    assert!(Relief::mistaken_transfer(at("2026-09-11", 20, 0), 0, at("2026-09-14", 10, 0)).is_err());
    assert!(matches!(
        Relief::mistaken_transfer(at("2026-09-11", 20, 0), 10_000, at("2026-09-10", 10, 0)),
        Err(ReliefError::BeforePrevious { .. })
    ));
}

#[test]
fn overdue_lists_the_passed_deadlines_for_alerts() {
    let c = cal();
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Phone);
    // Due at the last millisecond is not yet overdue.
    assert_eq!(r.overdue(end_of("2026-03-16"), c).unwrap(), vec![]);
    assert_eq!(
        r.overdue(at("2026-03-17", 0, 0), c).unwrap(),
        vec![Deadline { step: Step::HolderNotice, due_ms: end_of("2026-03-16") }]
    );
    assert_eq!(
        r.overdue(at("2026-03-19", 0, 0), c).unwrap().iter().map(|d| d.step).collect::<Vec<_>>(),
        vec![Step::HolderNotice, Step::WrittenRequest]
    );
    // Recorded late, the steps close and the alerts stop.
    r.record_holder_notice(at("2026-03-19", 9, 0)).unwrap();
    r.record_written_request(at("2026-03-19", 10, 0)).unwrap();
    assert_eq!(r.overdue(at("2026-03-19", 11, 0), c).unwrap(), vec![]);

    // Objection period over and the extinguishment not recorded.
    r.record_notice(at("2026-03-20", 10, 0)).unwrap();
    assert_eq!(r.overdue(at("2026-05-19", 23, 0), c).unwrap(), vec![]);
    assert_eq!(
        r.overdue(at("2026-05-20", 9, 0), c).unwrap(),
        vec![Deadline { step: Step::ObjectionPeriod, due_ms: end_of("2026-05-19") }]
    );
    // Refund decision late: due 2026-05-20 + 14 = 2026-06-03.
    r.record_extinguished(at("2026-05-20", 9, 0)).unwrap();
    assert_eq!(r.overdue(end_of("2026-06-03"), c).unwrap(), vec![]);
    assert_eq!(
        r.overdue(at("2026-06-04", 0, 0), c).unwrap(),
        vec![Deadline { step: Step::RefundDecision, due_ms: end_of("2026-06-03") }]
    );
    // A late decision is still recorded and clears the alert.
    r.record_refund_decision(at("2026-06-05", 9, 0), 500, &claims(&[("kim", 1_000)])).unwrap();
    assert_eq!(r.overdue(at("2026-06-05", 10, 0), c).unwrap(), vec![]);
}

#[test]
fn holiday_list_parse_errors_name_the_line() {
    let ok = Calendar::parse("# list\n[2028]\n01-01 = \"신정\" # New Year\n\n01-26 = \"설날 연휴 # not a comment\"\n")
        .unwrap();
    assert_eq!(ok.years().collect::<Vec<_>>(), vec![2028]);
    assert_eq!(ok.holiday(date("2028-01-26")).unwrap(), Some("설날 연휴 # not a comment"));

    let cases = [
        ("01-01 = \"x\"\n", "line 1:", "before any"),
        ("[2028]\n01-01 \"x\"\n", "line 2:", "MM-DD"),
        ("[2028]\n1-1 = \"x\"\n", "line 2:", "MM-DD"),
        ("[2027]\n02-29 = \"x\"\n", "line 2:", "no day 29"),
        ("[2028]\n13-01 = \"x\"\n", "line 2:", "month 13"),
        ("[2028]\n01-01 = x\n", "line 2:", "double-quoted"),
        ("[2028]\n01-01 = \"\"\n", "line 2:", "double-quoted"),
        ("[2028]\n01-01 = \"x\" y\n", "line 2:", "double-quoted"),
        ("[2028]\n01-01 = \"a\"\n\n01-01 = \"b\"\n", "line 4:", "duplicate key"),
        ("[2028]\n[2028]\n", "line 2:", "duplicate key"),
        ("[28]\n", "line 1:", "[YYYY]"),
        ("[2028\n", "line 1:", "[YYYY]"),
    ];
    for (text, line, what) in cases {
        let e = Calendar::parse(text).unwrap_err();
        assert!(e.starts_with(line) && e.contains(what), "{text:?} gave {e:?}");
    }
    let e = Calendar::parse("# nothing\n").unwrap_err();
    assert!(e.contains("covers no year"), "{e}");
}

#[test]
fn a_year_without_a_holiday_list_is_an_error() {
    let c = cal();
    // Even a weekday in 2028 is not assumed to be a business day.
    assert_eq!(c.is_business_day(date("2028-01-04")), Err(MissingYear(2028)));
    assert_eq!(c.holiday(date("2023-12-25")), Err(MissingYear(2023)));
    // Thursday 2027-12-30 + 3 business days: Fri 12-31 (1), then 2028 is not covered.
    assert_eq!(c.add_business_days(date("2027-12-30"), 3), Err(MissingYear(2028)));
    assert!(MissingYear(2028).to_string().contains("2028"));
    let r = Relief::fraud(at("2027-12-30", 10, 0), Channel::Phone);
    assert_eq!(r.deadlines(c), Err(ReliefError::MissingYear(2028)));
    assert_eq!(r.overdue(at("2028-01-10", 0, 0), c), Err(ReliefError::MissingYear(2028)));
    assert!(ReliefError::MissingYear(2028).to_string().contains("2028"));

    // An operator supplies 2028 (신정 only here, for the test) and the deadline resolves:
    // Fri 12-31 (1), [Sat 01-01 신정, Sun 01-02], Mon 01-03 (2), Tue 01-04 (3).
    let mut extended = c.clone();
    extended.overlay(Calendar::parse("[2028]\n01-01 = \"신정\"\n").unwrap());
    assert_eq!(extended.years().collect::<Vec<_>>(), vec![2024, 2025, 2026, 2027, 2028]);
    assert_eq!(written_request_due(at("2027-12-30", 10, 0), &extended).unwrap(), end_of("2028-01-04"));
    // An overlay replaces a year whole: a temporary holiday on 2026-09-28 moves the deadline.
    let mut temp = c.clone();
    let mut y2026: String = "[2026]\n".into();
    for (d, name) in c.holidays(2026).unwrap() {
        y2026.push_str(&format!("{:02}-{:02} = \"{name}\"\n", d.month(), d.day()));
    }
    y2026.push_str("09-28 = \"임시공휴일\"\n");
    temp.overlay(Calendar::parse(&y2026).unwrap());
    assert_eq!(written_request_due(at("2026-09-23", 15, 0), &temp).unwrap(), end_of("2026-10-01"));
}

#[test]
fn cases_round_trip_through_json() {
    let mut r = Relief::fraud(at("2026-03-13", 10, 0), Channel::Phone);
    r.record_written_request(at("2026-03-16", 9, 0)).unwrap();
    r.record_notice(at("2026-03-20", 10, 0)).unwrap();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["kind"], "fraud");
    assert_eq!(json["channel"], "phone");
    assert_eq!(json["state"], "notice_published");
    let back: Relief = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);

    let m = Relief::mistaken_transfer(at("2026-09-11", 20, 0), 3_000_000, at("2026-09-14", 10, 0)).unwrap();
    let text = serde_json::to_string(&m).unwrap();
    assert!(text.contains("\"kind\":\"mistaken_transfer\""), "{text}");
    assert_eq!(serde_json::from_str::<Relief>(&text).unwrap(), m);

    let d: Deadline = serde_json::from_str(r#"{"step":"written_request","due_ms":5}"#).unwrap();
    assert_eq!(d.step, Step::WrittenRequest);
    assert_eq!(serde_json::to_string(&date("2026-09-23")).unwrap(), "\"2026-09-23\"");
    assert_eq!(serde_json::from_str::<Date>("\"2026-09-23\"").unwrap(), date("2026-09-23"));
    assert!(serde_json::from_str::<Date>("\"2026-02-30\"").is_err());
}
