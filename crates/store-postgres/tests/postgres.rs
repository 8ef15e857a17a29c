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
    let w = |id: &str| store::conformance::write(&pay, id);
    assert_eq!(a.commit(&[w("e1")]).unwrap(), vec![store::conformance::stored(1, "e1")]);
    assert_eq!(
        b.commit(&[w("e1"), w("e2")]).unwrap(),
        vec![
            store::Committed::Duplicate(Box::new(store::conformance::record(1, "e1"))),
            store::conformance::stored(2, "e2")
        ],
        "same id on the other node"
    );
    assert_eq!(b.event_by_id(&pay, "e1").unwrap().unwrap().seq, 1);
    assert_eq!(a.event_count(&pay).unwrap(), 2);
    drop((a, b));
    drop_schema(&config, &schema);
}

/// Two nodes committing one affiliate's events at once, with overlapping ids: every id is
/// stored once, the numbers are 1..=n with no gap or repeat, and each node's outcomes say
/// which of its writes it stored.
#[test]
fn concurrent_nodes_number_one_affiliate_without_collisions() {
    let Some((a, config, schema)) = fresh("concurrent") else { return };
    let b = PgStore::with_config(config.clone()).unwrap();
    let pay = domain::AffiliateId("pay".into());
    let node = |s: &PgStore, offset: usize| {
        let mut mine = Vec::new();
        for batch in 0..40 {
            // Ids 0..600 in batches of 15; the other node sends the same ids shifted by 300.
            let writes: Vec<store::Write> = (0..15)
                .map(|k| store::conformance::write(&pay, &format!("e{}", (offset + batch * 15 + k) % 600)))
                .collect();
            for (w, o) in writes.iter().zip(s.commit(&writes).unwrap()) {
                if let store::Committed::Stored { seq, .. } = o {
                    mine.push((seq, w.record.event_id.clone()));
                }
            }
        }
        mine
    };
    // Shifted by 300, then in step: the second round races on the same ids in the same
    // order, so an id is often stored by the other node between a commit's lookup and its
    // insert (the commit then runs again with the lookup under the counter lock).
    let (ma, mb) = std::thread::scope(|t| {
        let ha = t.spawn(|| node(&a, 0));
        let hb = t.spawn(|| node(&b, 300));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    let pay2 = domain::AffiliateId("pay2".into());
    let racing = |s: &PgStore| {
        let mut mine = Vec::new();
        for batch in 0..40 {
            let writes: Vec<store::Write> =
                (0..15).map(|k| store::conformance::write(&pay2, &format!("r{}", batch * 15 + k))).collect();
            for (w, o) in writes.iter().zip(s.commit(&writes).unwrap()) {
                if let store::Committed::Stored { seq, .. } = o {
                    mine.push((seq, w.record.event_id.clone()));
                }
            }
        }
        mine
    };
    let (ra, rb) = std::thread::scope(|t| {
        let ha = t.spawn(|| racing(&a));
        let hb = t.spawn(|| racing(&b));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    let mut raced: Vec<(i64, String)> = ra.into_iter().chain(rb).collect();
    raced.sort();
    assert_eq!(raced.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (1..=600).collect::<Vec<_>>(), "racing nodes");
    assert_eq!(a.event_ids(&pay2, 0, 1000).unwrap(), raced, "what the racing nodes were told is what is stored");
    let mut all: Vec<(i64, String)> = ma.into_iter().chain(mb).collect();
    all.sort();
    assert_eq!(all.len(), 600, "each of the 600 ids stored exactly once");
    assert_eq!(all.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (1..=600).collect::<Vec<_>>());
    let stored: Vec<(i64, String)> = a.event_ids(&pay, 0, 1000).unwrap();
    assert_eq!(stored, all, "what the nodes were told is what is stored");
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

/// One node leads a role at a time; when it goes (its session with it), another takes over.
#[test]
fn one_node_leads_a_role_until_it_goes() {
    let Some((a, config, schema)) = fresh("lead") else { return };
    let b = PgStore::with_config(config.clone()).unwrap();
    assert!(a.lead("outbox").unwrap(), "the first to ask leads");
    assert!(a.lead("outbox").unwrap(), "and keeps leading");
    assert!(!b.lead("outbox").unwrap(), "the other does not");
    assert!(b.lead("delivery").unwrap(), "roles are separate");
    drop(a);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !b.lead("outbox").unwrap() {
        assert!(std::time::Instant::now() < deadline, "the role was never taken over");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(b);
    drop_schema(&config, &schema);
}

/// Commits run on a connection of their own; when the server drops it, the next commit opens
/// another and nothing is lost or numbered twice.
#[test]
fn a_commit_after_its_connection_was_dropped_reconnects() {
    let Some((s, mut config, schema)) = fresh("committer") else { return };
    // This store's connections are told apart from other tests' by their application name.
    drop(s);
    config.application_name(&schema);
    let s = PgStore::with_config(config.clone()).unwrap();
    let pay = domain::AffiliateId("pay".into());
    let w = |id: &str| store::conformance::write(&pay, id);
    assert_eq!(s.commit(&[w("e1")]).unwrap(), vec![store::conformance::stored(1, "e1")]);
    let mut admin = config.connect(postgres::NoTls).unwrap();
    let dropped: i64 = admin
        .query_one(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND application_name = $1 AND query LIKE 'WITH s AS (%'
               AND query LIKE '%INSERT INTO event_seq%') t",
            &[&schema],
        )
        .unwrap()
        .get(0);
    assert_eq!(dropped, 1, "the committer's connection was found and dropped");
    // The server takes a moment to close it; the first commit after may meet it still open.
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(s.commit(&[w("e2")]).unwrap(), vec![store::conformance::stored(2, "e2")]);
    assert_eq!(s.commit(&[w("e3")]).unwrap(), vec![store::conformance::stored(3, "e3")]);
    assert_eq!(s.event_count(&pay).unwrap(), 3);
    drop(s);
    drop_schema(&config, &schema);
}
