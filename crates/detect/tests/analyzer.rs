//! The whole analysis on arbitrary input: never panics, always in range, and the same text
//! always gives the same answer (normalisation, detectors, models and links together).

use detect::Analyzer;
use domain::Counterparty;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_analyse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let a = Analyzer::builtin();
        let text = String::from_utf8_lossy(&bytes);
        let x = a.message(&text, None, &[]);
        prop_assert!(x.risk <= 100 && x.model_score <= 100);
        prop_assert!(x.links.len() <= detect::links::MAX_LINKS);
        prop_assert_eq!(&x, &a.message(&text, None, &[]));
    }

    #[test]
    fn any_text_and_sender_analyse_without_panic(
        text in "\\PC{0,200}",
        name in "\\PC{0,30}",
        phone in "[+0-9 ()-]{0,20}",
        friend in proptest::option::of(any::<bool>()),
        friends in proptest::collection::vec("\\PC{0,12}", 0..5),
    ) {
        let a = Analyzer::builtin();
        let sender = Counterparty { name: Some(name), phone: Some(phone), is_friend: friend, ..Counterparty::default() };
        let x = a.message(&text, Some(&sender), &friends);
        prop_assert!(x.risk <= 100);
    }
}
