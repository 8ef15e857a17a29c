//! The PostgreSQL backend passes the same conformance suite as the embedded one, each run in a
//! schema of its own. Needs a server: `ANSIM_TEST_POSTGRES` (for example
//! `postgres://postgres@127.0.0.1:5432/test`, which `.ci/run` sets); skipped with a printed
//! reason without it.

use store::Store;
use store_postgres::PgStore;

/// A fresh, empty schema on the test server, or `None` (with the reason printed) without one.
fn fresh(test: &str) -> Option<(PgStore, postgres::Config, String)> {
    let Ok(url) = std::env::var("ANSIM_TEST_POSTGRES") else {
        eprintln!(
            "skipping {test}: ANSIM_TEST_POSTGRES is not set (a PostgreSQL address such as postgres://postgres@127.0.0.1:5432/test)"
        );
        return None;
    };
    let base: postgres::Config = url.parse().expect("ANSIM_TEST_POSTGRES is a PostgreSQL address");
    let schema = format!(
        "ansim_{test}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000
    );
    let mut admin = base.connect(postgres::NoTls).expect("the test server answers");
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let mut config = base.clone();
    config.options(&format!("-c search_path={schema}"));
    Some((PgStore::with_config(config.clone()).expect("migrates"), config, schema))
}

fn drop_schema(config: &postgres::Config, schema: &str) {
    let mut c = config.connect(postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
}

#[test]
fn postgres_passes_the_conformance_suite() {
    let Some((s, config, schema)) = fresh("conformance") else { return };
    store::conformance::run_all(&s);
    drop(s);
    drop_schema(&config, &schema);
}

/// Two stores on one database are two nodes: the same event id committed by both is stored
/// once (the unique index decides, not a node's memory), and what one commits the other reads.
#[test]
fn two_nodes_share_one_record() {
    let Some((a, config, schema)) = fresh("two_nodes") else { return };
    let b = PgStore::with_config(config.clone()).expect("a second node finds the schema migrated");
    let pay = domain::AffiliateId("pay".into());
    let w = |seq, id: &str| store::Write {
        affiliate: pay.clone(),
        record: store::conformance::record(seq, id),
        outbox: vec![],
    };
    a.commit(&[w(1, "e1")]).unwrap();
    assert!(matches!(b.commit(&[w(2, "e1")]), Err(store::StoreError::Conflict(_))), "same id on the other node");
    assert_eq!(b.event_by_id(&pay, "e1").unwrap().unwrap().seq, 1);
    assert_eq!(b.event_count(&pay).unwrap(), 1);
    drop((a, b));
    drop_schema(&config, &schema);
}

#[test]
fn an_unreachable_server_is_named() {
    let Err(e) = PgStore::open("postgres://nobody@127.0.0.1:1/none?connect_timeout=2") else {
        panic!("port 1 has no PostgreSQL");
    };
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
}
