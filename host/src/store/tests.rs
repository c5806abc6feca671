//! One test suite, run against every backend: each test is an `async fn(&TestDb)` and the
//! `backend_tests!` list at the bottom runs it on a fresh SQLite file and on a fresh PostgreSQL
//! schema. PostgreSQL is the server at `KEYHOLD_TEST_DATABASE_URL` (`scripts/with-postgres`
//! starts a throwaway one; `scripts/test` does so for the whole suite); without it the
//! PostgreSQL tests fail rather than pass unseen.

use std::sync::Arc;

use keyhold_shared::Uuid;

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::*;

pub const DATABASE_URL_VAR: &str = "KEYHOLD_TEST_DATABASE_URL";

/// A fresh, empty database for one test. `open` may be called more than once: every handle
/// sees the same data, as several host processes would.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl TestDb {
    pub async fn sqlite() -> Self {
        TestDb::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A new schema of its own in the test server's database, so tests run in parallel.
    pub async fn postgres() -> Self {
        let url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{DATABASE_URL_VAR} is not set: the PostgreSQL store tests need a server. \
                 Run them with `scripts/with-postgres cargo test` (or `scripts/test`), or point \
                 {DATABASE_URL_VAR} at a database you may create schemas in."
            )
        });
        let schema = format!(
            "keyhold_test_{}",
            hex::encode(*crate::operator::random_bytes::<8>().unwrap())
        );
        admin(&url, &format!("CREATE SCHEMA {schema}")).await;
        TestDb::Postgres { url, schema }
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            // Unowned: some tests open a second store on the file to play a second host
            // (which the ownership lock refuses outside tests; `sqlite_database_has_one_owner…`).
            TestDb::Sqlite(dir) => {
                Arc::new(SqliteStore::open_unowned(&dir.path().join("k.db")).unwrap())
            }
            TestDb::Postgres { url, schema } => {
                let mut config: tokio_postgres::Config = url.parse().unwrap();
                config.options(format!("-c search_path={schema}"));
                Arc::new(PgStore::from_config(config).await.unwrap())
            }
        }
    }

    /// Drops the test's schema (kept when the test fails, to look at).
    pub async fn finish(self) {
        if let TestDb::Postgres { url, schema } = self {
            admin(&url, &format!("DROP SCHEMA {schema} CASCADE")).await;
        }
    }
}

async fn admin(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {DATABASE_URL_VAR}: {e}"));
    let task = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = task.await;
}

// ---- records ----------------------------------------------------------------------------------

fn uuid(kind: u8, n: u32) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes[0] = kind;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Uuid::new_v4(bytes)
}

fn org_id(n: u32) -> OrgId {
    OrgId(uuid(1, n))
}

fn activity_id(n: u32) -> ActivityId {
    ActivityId(uuid(2, n))
}

fn wallet_id(n: u32) -> WalletId {
    WalletId(uuid(3, n))
}

fn key_id(n: u32) -> PrivateKeyId {
    PrivateKeyId(uuid(4, n))
}

fn sealed(org: OrgId, version: u64) -> SealedOrgState {
    SealedOrgState {
        org_id: org,
        version,
        nonce: [version as u8; 24],
        ciphertext: vec![version as u8, 1, 2, 3],
    }
}

fn org(n: u32) -> OrgRecord {
    let id = org_id(n);
    OrgRecord {
        id,
        name: format!("org {n}"),
        sealed: sealed(id, 1),
        created_at_ms: 1_000 + u64::from(n),
    }
}

fn fingerprint(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// Where the stores find `a` by its request (`store/request_key.rs`).
fn request_of(a: &ActivityRecord) -> i64 {
    crate::store::request_ms(a.body.as_bytes())
}

fn activity(org: OrgId, n: u32, created_at_ms: u64) -> ActivityRecord {
    ActivityRecord {
        id: activity_id(n),
        org,
        fingerprint: fingerprint(n),
        activity_type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2".into(),
        status: "ACTIVITY_STATUS_COMPLETED".into(),
        body: format!("{{\"n\":{n},\"timestampMs\":\"{created_at_ms}\"}}"),
        result: "{}".into(),
        votes: "[]".into(),
        created_at_ms,
        updated_at_ms: created_at_ms,
    }
}

fn commit(activity: ActivityRecord) -> ActivityCommit {
    ActivityCommit {
        activity,
        wallets: vec![],
        accounts: vec![],
        private_keys: vec![],
        org_state: None,
        sub_orgs: vec![],
        vote_request: None,
        replace_waiting: None,
        meta: None,
        exported: vec![],
        edits: vec![],
        receipt: None,
        detach_from_parent: false,
        policy_evaluation: None,
    }
}

fn receipt(org: OrgId, seq: u64) -> keyhold_shared::msg::Receipt {
    use keyhold_shared::msg::{
        ActivityStatus, Ed25519Signature, Receipt, ReceiptBody, ReceiptKind,
    };
    Receipt {
        body: ReceiptBody {
            format: keyhold_shared::msg::RECEIPT_FORMAT,
            org_id: org,
            seq,
            prev: [seq as u8; 32],
            kind: ReceiptKind::Activity,
            activity_id: ActivityId(Uuid::new_v4([seq as u8; 16])),
            activity_type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2".into(),
            status: ActivityStatus::Completed,
            fingerprint: [1; 32],
            user_id: keyhold_shared::UserId(Uuid::new_v4([2; 16])),
            executed_at_ms: seq,
            org_version: 1,
            result_digest: [3; 32],
        },
        signature: Ed25519Signature([4; 32], [5; 32]),
    }
}

fn wallet(org: OrgId, n: u32, created_at_ms: u64) -> WalletRecord {
    WalletRecord {
        id: wallet_id(n),
        org,
        name: format!("wallet {n}"),
        sealed_seed: SealedSeed {
            nonce: [n as u8; 24],
            ciphertext: vec![n as u8; 48],
        },
        created_at_ms,
        imported: false,
        exported: false,
        updated_at_ms: created_at_ms,
    }
}

fn account(wallet: &WalletRecord, n: u32, address: &str) -> AccountRecord {
    AccountRecord {
        id: format!("account-{n:04}"),
        org: wallet.org,
        wallet: wallet.id,
        curve: "CURVE_SECP256K1".into(),
        path_format: "PATH_FORMAT_BIP32".into(),
        path: format!("m/44'/60'/0'/0/{n}"),
        address_format: "ADDRESS_FORMAT_ETHEREUM".into(),
        address: address.into(),
        public_key: format!("02{n:064x}"),
        created_at_ms: wallet.created_at_ms,
    }
}

fn private_key(org: OrgId, n: u32, addresses: &[(&str, &str)]) -> PrivateKeyRecord {
    PrivateKeyRecord {
        id: key_id(n),
        org,
        name: format!("key {n}"),
        curve: "CURVE_SECP256K1".into(),
        public_key: format!("03{n:064x}"),
        addresses: addresses
            .iter()
            .map(|(f, a)| ((*f).to_owned(), (*a).to_owned()))
            .collect(),
        tags: vec![format!("tag-{n}"), "shared".into()],
        sealed_key: SealedSeed {
            nonce: [7; 24],
            ciphertext: vec![n as u8; 32],
        },
        created_at_ms: 5_000 + u64::from(n),
        imported: false,
        exported: false,
        updated_at_ms: 5_000 + u64::from(n),
    }
}

fn page(limit: Option<u32>, after: Option<String>, before: Option<String>) -> Page {
    Page {
        limit,
        before,
        after,
    }
}

fn is_conflict<T: std::fmt::Debug>(result: StoreResult<T>) -> bool {
    matches!(result, Err(HostError::Conflict(_)))
}

// ---- tests ------------------------------------------------------------------------------------

async fn meta_round_trip(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(store.get_meta("quorum").await.unwrap(), None);
    store.put_meta("quorum", vec![1, 2, 3]).await.unwrap();
    store.put_meta("other", vec![9]).await.unwrap();
    assert_eq!(store.get_meta("quorum").await.unwrap(), Some(vec![1, 2, 3]));
    store.put_meta("quorum", vec![4]).await.unwrap();
    assert_eq!(store.get_meta("quorum").await.unwrap(), Some(vec![4]));
    assert_eq!(store.get_meta("other").await.unwrap(), Some(vec![9]));
    // A second handle (another host) sees the same data, and reopening migrates nothing twice.
    let again = db.open().await;
    assert_eq!(again.get_meta("quorum").await.unwrap(), Some(vec![4]));
}

async fn orgs_round_trip(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    assert_eq!(store.get_org(o.id).await.unwrap(), Some(o.clone()));
    assert_eq!(store.get_org(org_id(2)).await.unwrap(), None);
    assert!(
        store.insert_org(o.clone()).await.is_err(),
        "an organization id is unique"
    );
    // A root organization has no parent: it is nobody's sub-organization.
    assert!(
        store
            .list_sub_orgs(o.id, Page::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Everything one activity writes is readable afterwards, field for field.
async fn commit_stores_everything(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    let w = wallet(o.id, 1, 2_000);
    let accounts = vec![
        account(&w, 1, "0xAbC0000000000000000000000000000000000001"),
        account(&w, 2, "0xabc0000000000000000000000000000000000002"),
    ];
    let key = private_key(
        o.id,
        1,
        &[
            (
                "ADDRESS_FORMAT_ETHEREUM",
                "0xDeF0000000000000000000000000000000000001",
            ),
            ("ADDRESS_FORMAT_COMPRESSED", "03aa"),
        ],
    );
    let a = activity(o.id, 1, 2_000);
    store
        .commit_activity(ActivityCommit {
            wallets: vec![w.clone()],
            accounts: accounts.clone(),
            private_keys: vec![key.clone()],
            org_state: Some(sealed(o.id, 2)),
            ..commit(a.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store.get_activity(o.id, a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .find_activity(o.id, request_of(&a), &a.fingerprint)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.list_wallets(o.id).await.unwrap(), vec![w.clone()]);
    assert_eq!(store.get_wallet(o.id, w.id).await.unwrap(), Some(w.clone()));
    assert_eq!(
        store
            .list_accounts(o.id, Some(w.id), Page::default())
            .await
            .unwrap(),
        accounts
    );
    assert_eq!(
        store.list_private_keys(o.id).await.unwrap(),
        vec![key.clone()]
    );
    let stored = store.get_org(o.id).await.unwrap().unwrap();
    assert_eq!(stored.sealed, sealed(o.id, 2));
    assert_eq!(stored.name, o.name);
    assert_eq!(stored.created_at_ms, o.created_at_ms);
    // Nothing leaks into another organization.
    let other = org(2);
    store.insert_org(other.clone()).await.unwrap();
    assert_eq!(store.get_activity(other.id, a.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_activity(other.id, request_of(&a), &a.fingerprint)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_wallet(other.id, w.id).await.unwrap(), None);
    assert!(store.list_wallets(other.id).await.unwrap().is_empty());
    assert!(
        store
            .list_accounts(other.id, None, Page::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_private_keys(other.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .find_activity(o.id, 10, &fingerprint(99))
            .await
            .unwrap(),
        None
    );
}

/// The sealed state moves only from version v to v + 1; a commit that lost the race is a
/// `Conflict` and leaves nothing behind (not its activity, not its wallets).
async fn org_state_compare_and_swap(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    store
        .commit_activity(ActivityCommit {
            org_state: Some(sealed(o.id, 2)),
            ..commit(activity(o.id, 1, 10))
        })
        .await
        .unwrap();
    // A second successor of version 1.
    let w = wallet(o.id, 1, 11);
    let lost = store
        .commit_activity(ActivityCommit {
            org_state: Some(sealed(o.id, 2)),
            wallets: vec![w.clone()],
            accounts: vec![account(&w, 1, "0x01")],
            meta: Some(("import key".into(), b"lost".to_vec())),
            ..commit(activity(o.id, 2, 11))
        })
        .await;
    assert!(is_conflict(lost), "a second version 2 must be a conflict");
    assert_eq!(store.get_meta("import key").await.unwrap(), None);
    assert_eq!(
        store
            .find_activity(o.id, 11, &fingerprint(2))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_wallet(o.id, w.id).await.unwrap(), None);
    assert_eq!(store.find_account(o.id, "0x01").await.unwrap(), None);
    // Skipping a version is refused too.
    let skipped = store
        .commit_activity(ActivityCommit {
            org_state: Some(sealed(o.id, 4)),
            ..commit(activity(o.id, 3, 12))
        })
        .await;
    assert!(is_conflict(skipped), "version 4 does not follow 2");
    // An organization that does not exist has no version to swap.
    let missing = org_id(7);
    assert!(is_conflict(
        store
            .commit_activity(ActivityCommit {
                org_state: Some(sealed(missing, 2)),
                ..commit(activity(missing, 4, 12))
            })
            .await
    ));
    assert_eq!(
        store.get_org(o.id).await.unwrap().unwrap().sealed,
        sealed(o.id, 2)
    );
    // The retry, against the current version, goes through.
    store
        .commit_activity(ActivityCommit {
            org_state: Some(sealed(o.id, 3)),
            ..commit(activity(o.id, 2, 13))
        })
        .await
        .unwrap();
    assert_eq!(
        store.get_org(o.id).await.unwrap().unwrap().sealed,
        sealed(o.id, 3)
    );
}

/// Organization reads see every committed change: this store's own (a SQLite store keeps
/// recently read records), a failed compare-and-swap's, and — once the enclave reported the
/// record stale and the host called `forget_org` — another process's.
async fn org_reads_follow_committed_changes(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    // Activity `n` moves the organization to `version`, through `store`.
    let move_to = |store: &Arc<dyn Store>, version: u64, n: u32| {
        let store = store.clone();
        async move {
            store
                .commit_activity(ActivityCommit {
                    org_state: Some(sealed(o.id, version)),
                    ..commit(activity(o.id, n, u64::from(n)))
                })
                .await
        }
    };
    let read = |store: &Arc<dyn Store>| {
        let store = store.clone();
        async move { store.get_org(o.id).await.unwrap().unwrap().sealed }
    };
    assert_eq!(read(&store).await, o.sealed);
    assert_eq!(read(&store).await, o.sealed);
    move_to(&store, 2, 1).await.unwrap();
    assert_eq!(read(&store).await, sealed(o.id, 2));
    // Another host process on the same database moves it on.
    let other = db.open().await;
    move_to(&other, 3, 2).await.unwrap();
    // This store's next change, made from what it read, loses the compare-and-swap…
    assert!(is_conflict(move_to(&store, 3, 3).await));
    // …after which it reads the current record again.
    assert_eq!(read(&store).await, sealed(o.id, 3));
    move_to(&other, 4, 4).await.unwrap();
    store.forget_org(o.id);
    assert_eq!(read(&store).await, sealed(o.id, 4));
}

/// The same request (fingerprint) stored twice in one organization is a conflict: the second
/// writer must find the first one's activity instead. Other organizations are independent.
async fn duplicate_activity_is_a_conflict(db: &TestDb) {
    let store = db.open().await;
    let (o, p) = (org(1), org(2));
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(p.clone()).await.unwrap();
    let first = activity(o.id, 1, 10);
    let key = |value: &[u8]| Some(("import key".to_owned(), value.to_vec()));
    store
        .commit_activity(ActivityCommit {
            meta: key(b"the stored run's"),
            ..commit(first.clone())
        })
        .await
        .unwrap();
    let w = wallet(o.id, 1, 11);
    let again = ActivityRecord {
        id: activity_id(2),
        ..first.clone()
    };
    assert!(is_conflict(
        store
            .commit_activity(ActivityCommit {
                wallets: vec![w.clone()],
                meta: key(b"the losing run's"),
                ..commit(again)
            })
            .await
    ));
    assert_eq!(store.get_wallet(o.id, w.id).await.unwrap(), None);
    // The import key an activity keeps is the stored run's, not the one that lost the race.
    assert_eq!(
        store.get_meta("import key").await.unwrap(),
        key(b"the stored run's").map(|(_, v)| v)
    );
    assert_eq!(
        store.get_activity(o.id, activity_id(2)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_activity(o.id, request_of(&first), &first.fingerprint)
            .await
            .unwrap(),
        Some(first.clone())
    );
    // The same fingerprint in another organization is another activity.
    let elsewhere = ActivityRecord {
        id: activity_id(3),
        org: p.id,
        ..first.clone()
    };
    store
        .commit_activity(commit(elsewhere.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_activity(p.id, request_of(&first), &first.fingerprint)
            .await
            .unwrap(),
        Some(elsewhere)
    );
}

/// A request is found by its body's timestamp and fingerprint (`store/request_key.rs`); a
/// vote's target by fingerprint alone, among the activities created awaiting consensus — and
/// still after they were decided.
async fn activities_found_by_request_and_votes_by_fingerprint(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    let signed = activity(o.id, 1, 1_746_736_509_954);
    store.commit_activity(commit(signed.clone())).await.unwrap();
    assert_eq!(request_of(&signed), 1_746_736_509_954);
    assert_eq!(
        store
            .find_activity(o.id, 1_746_736_509_954, &signed.fingerprint)
            .await
            .unwrap(),
        Some(signed.clone())
    );
    // Another timestamp is another request, even with the same fingerprint.
    assert_eq!(
        store
            .find_activity(o.id, 1_746_736_509_955, &signed.fingerprint)
            .await
            .unwrap(),
        None
    );
    // Never awaiting votes: not a vote's target.
    assert_eq!(
        store
            .find_vote_target(o.id, &signed.fingerprint)
            .await
            .unwrap(),
        None
    );
    // A body without a timestamp is filed under 0.
    let untimed = ActivityRecord {
        body: "{\"n\":2}".into(),
        ..activity(o.id, 2, 20)
    };
    store
        .commit_activity(commit(untimed.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_activity(o.id, 0, &untimed.fingerprint)
            .await
            .unwrap(),
        Some(untimed)
    );
    let waiting = ActivityRecord {
        status: "ACTIVITY_STATUS_CONSENSUS_NEEDED".into(),
        ..activity(o.id, 3, 30)
    };
    store
        .commit_activity(commit(waiting.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_vote_target(o.id, &waiting.fingerprint)
            .await
            .unwrap(),
        Some(waiting.clone())
    );
    let decided = ActivityRecord {
        status: "ACTIVITY_STATUS_COMPLETED".into(),
        votes: "[1,2]".into(),
        updated_at_ms: 40,
        ..waiting.clone()
    };
    store
        .commit_activity(ActivityCommit {
            replace_waiting: Some(waiting.votes.clone()),
            ..commit(decided.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .find_vote_target(o.id, &waiting.fingerprint)
            .await
            .unwrap(),
        Some(decided.clone())
    );
    assert_eq!(
        store
            .find_activity(o.id, request_of(&waiting), &waiting.fingerprint)
            .await
            .unwrap(),
        Some(decided)
    );
    // Nothing of one organization is found in another.
    let other = org(2);
    store.insert_org(other.clone()).await.unwrap();
    assert_eq!(
        store
            .find_vote_target(other.id, &waiting.fingerprint)
            .await
            .unwrap(),
        None
    );
}

/// An activity waiting for consensus keeps its stamped requests in order; a vote replaces the
/// activity only while it still waits.
async fn votes_replace_a_waiting_activity(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    let waiting = ActivityRecord {
        status: "ACTIVITY_STATUS_CONSENSUS_NEEDED".into(),
        ..activity(o.id, 1, 10)
    };
    store
        .commit_activity(ActivityCommit {
            vote_request: Some(("submit body".into(), "submit stamp".into())),
            ..commit(waiting.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .vote_requests(o.id, &waiting.fingerprint)
            .await
            .unwrap(),
        vec![("submit body".to_owned(), "submit stamp".to_owned())]
    );
    // A first approval: still waiting.
    let voted = ActivityRecord {
        votes: "[1]".into(),
        updated_at_ms: 20,
        ..waiting.clone()
    };
    store
        .commit_activity(ActivityCommit {
            vote_request: Some(("vote 1".into(), "stamp 1".into())),
            replace_waiting: Some(waiting.votes.clone()),
            ..commit(voted.clone())
        })
        .await
        .unwrap();
    // Another approval decided on the votes before that one: a conflict (it is decided again),
    // and neither its request nor its list of votes is kept.
    let stale = store
        .commit_activity(ActivityCommit {
            vote_request: Some(("vote x".into(), "stamp x".into())),
            replace_waiting: Some(waiting.votes.clone()),
            ..commit(ActivityRecord {
                votes: "[\"x\"]".into(),
                ..voted.clone()
            })
        })
        .await;
    assert!(is_conflict(stale));
    assert_eq!(
        store.get_activity(o.id, waiting.id).await.unwrap(),
        Some(voted.clone())
    );
    // The second approval completes it and changes the organization's state.
    let done = ActivityRecord {
        status: "ACTIVITY_STATUS_COMPLETED".into(),
        result: "{\"ok\":true}".into(),
        votes: "[1,2]".into(),
        updated_at_ms: 30,
        ..waiting.clone()
    };
    store
        .commit_activity(ActivityCommit {
            vote_request: Some(("vote 2".into(), "stamp 2".into())),
            org_state: Some(sealed(o.id, 2)),
            replace_waiting: Some(voted.votes.clone()),
            ..commit(done.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store.get_activity(o.id, waiting.id).await.unwrap(),
        Some(done.clone()),
        "id, fingerprint, body and creation time stay; status, result, votes change"
    );
    assert_eq!(
        store
            .vote_requests(o.id, &waiting.fingerprint)
            .await
            .unwrap(),
        vec![
            ("submit body".to_owned(), "submit stamp".to_owned()),
            ("vote 1".to_owned(), "stamp 1".to_owned()),
            ("vote 2".to_owned(), "stamp 2".to_owned()),
        ]
    );
    // A late vote on a completed activity changes nothing at all.
    let late = store
        .commit_activity(ActivityCommit {
            vote_request: Some(("vote 3".into(), "stamp 3".into())),
            replace_waiting: Some(done.votes.clone()),
            ..commit(ActivityRecord {
                status: "ACTIVITY_STATUS_REJECTED".into(),
                ..done.clone()
            })
        })
        .await;
    assert!(is_conflict(late));
    assert_eq!(
        store.get_activity(o.id, waiting.id).await.unwrap(),
        Some(done)
    );
    assert_eq!(
        store
            .vote_requests(o.id, &waiting.fingerprint)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        store
            .vote_requests(o.id, &fingerprint(2))
            .await
            .unwrap()
            .is_empty()
    );
    // Replacing an activity that was never stored is a conflict too.
    assert!(is_conflict(
        store
            .commit_activity(ActivityCommit {
                replace_waiting: Some("[]".into()),
                ..commit(activity(o.id, 5, 50))
            })
            .await
    ));
}

/// Votes on one waiting activity stored at once (through two hosts), all decided on the same
/// votes: one is stored whole, the others are conflicts (to be run again) and leave nothing.
async fn concurrent_votes_keep_their_order(db: &TestDb) {
    let hosts = [db.open().await, db.open().await];
    let o = org(1);
    hosts[0].insert_org(o.clone()).await.unwrap();
    let waiting = ActivityRecord {
        status: "ACTIVITY_STATUS_CONSENSUS_NEEDED".into(),
        ..activity(o.id, 1, 10)
    };
    hosts[0]
        .commit_activity(ActivityCommit {
            vote_request: Some(("submit".into(), "stamp".into())),
            ..commit(waiting.clone())
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..8u32 {
        let store = hosts[(n % 2) as usize].clone();
        let waiting = waiting.clone();
        tasks.push(tokio::spawn(async move {
            let result = store
                .commit_activity(ActivityCommit {
                    vote_request: Some((format!("vote {n}"), format!("stamp {n}"))),
                    replace_waiting: Some(waiting.votes.clone()),
                    ..commit(ActivityRecord {
                        votes: format!("[{n}]"),
                        ..waiting
                    })
                })
                .await;
            (n, result)
        }));
    }
    let mut stored = vec![("submit".to_owned(), "stamp".to_owned())];
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (n, Ok(())) => {
                stored.push((format!("vote {n}"), format!("stamp {n}")));
                winners.push(n);
            }
            (_, Err(HostError::Conflict(_))) => {}
            (n, Err(e)) => panic!("vote {n}: {e}"),
        }
    }
    // Every vote was decided on the same votes: one is stored over them, the others are
    // conflicts (decided again by their hosts), and no vote's list overwrites another's.
    let [winner] = winners[..] else {
        panic!("stored: {winners:?}")
    };
    assert_eq!(
        hosts[0]
            .get_activity(o.id, waiting.id)
            .await
            .unwrap()
            .unwrap()
            .votes,
        format!("[{winner}]")
    );
    let mut kept = hosts[1]
        .vote_requests(o.id, &waiting.fingerprint)
        .await
        .unwrap();
    assert_eq!(
        kept.first(),
        stored.first(),
        "the submitter's request stays first"
    );
    kept.sort();
    stored.sort();
    assert_eq!(kept, stored, "exactly the acknowledged votes");
}

fn ids(list: &[ActivityRecord]) -> Vec<u32> {
    list.iter()
        .map(|a| {
            let bytes = a.id.0.as_bytes();
            u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]])
        })
        .collect()
}

/// Newest first (ties in creation time: the later stored first); cursors are activity ids;
/// `after` pages towards older activities and `before` towards newer ones; a cursor that is not
/// in the (filtered) list is ignored; the limit defaults to 10 and is clamped to 1..=100.
async fn activity_pagination(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    // Activities 1..=15, stored in that order; 7 and 8 share a timestamp with 6.
    for n in 1..=15u32 {
        let at = if (6..=8).contains(&n) {
            60
        } else {
            u64::from(n) * 10
        };
        store
            .commit_activity(commit(activity(o.id, n, at)))
            .await
            .unwrap();
    }
    let list = async |limit, after: Option<u32>, before: Option<u32>| {
        let cursor = |n: Option<u32>| n.map(|n| activity_id(n).to_string());
        ids(&store
            .list_activities(
                o.id,
                vec![],
                vec![],
                page(limit, cursor(after), cursor(before)),
            )
            .await
            .unwrap())
    };
    assert_eq!(
        list(None, None, None).await,
        vec![15, 14, 13, 12, 11, 10, 9, 8, 7, 6]
    );
    assert_eq!(list(Some(3), None, None).await, vec![15, 14, 13]);
    assert_eq!(list(Some(3), Some(8), None).await, vec![7, 6, 5]);
    assert_eq!(list(Some(100), Some(3), None).await, vec![2, 1]);
    assert_eq!(list(None, Some(1), None).await, Vec::<u32>::new());
    assert_eq!(list(None, None, Some(12)).await, vec![15, 14, 13]);
    assert_eq!(list(Some(2), None, Some(7)).await, vec![15, 14]);
    assert_eq!(list(None, Some(12), Some(7)).await, vec![11, 10, 9, 8]);
    assert_eq!(list(None, Some(7), Some(12)).await, Vec::<u32>::new());
    assert_eq!(list(Some(0), None, None).await, vec![15], "limit 0 means 1");
    assert_eq!(list(Some(1000), None, None).await.len(), 15);
    // Unknown cursors (and another organization's activity ids) are ignored.
    assert_eq!(list(Some(2), Some(99), None).await, vec![15, 14]);
    let p = org(2);
    store.insert_org(p.clone()).await.unwrap();
    store
        .commit_activity(commit(activity(p.id, 50, 55)))
        .await
        .unwrap();
    assert_eq!(list(Some(2), Some(50), Some(50)).await, vec![15, 14]);
    let theirs = store
        .list_activities(p.id, vec![], vec![], Page::default())
        .await
        .unwrap();
    assert_eq!(ids(&theirs), vec![50]);
}

async fn activity_limit_is_clamped_to_100(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    for n in 1..=105u32 {
        store
            .commit_activity(commit(activity(o.id, n, u64::from(n))))
            .await
            .unwrap();
    }
    let all = store
        .list_activities(o.id, vec![], vec![], page(Some(500), None, None))
        .await
        .unwrap();
    assert_eq!(ids(&all), (6..=105).rev().collect::<Vec<_>>());
}

async fn activity_filters(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    let kinds = [
        ("ACTIVITY_TYPE_CREATE_WALLET", "ACTIVITY_STATUS_COMPLETED"),
        (
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
            "ACTIVITY_STATUS_COMPLETED",
        ),
        (
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
            "ACTIVITY_STATUS_CONSENSUS_NEEDED",
        ),
        ("ACTIVITY_TYPE_CREATE_POLICY_V3", "ACTIVITY_STATUS_REJECTED"),
    ];
    for n in 1..=12u32 {
        let (t, s) = kinds[(n as usize) % kinds.len()];
        store
            .commit_activity(commit(ActivityRecord {
                activity_type: t.into(),
                status: s.into(),
                ..activity(o.id, n, u64::from(n))
            }))
            .await
            .unwrap();
    }
    let list = async |statuses: &[&str], types: &[&str], page: Page| {
        ids(&store
            .list_activities(
                o.id,
                statuses.iter().map(|s| (*s).to_owned()).collect(),
                types.iter().map(|s| (*s).to_owned()).collect(),
                page,
            )
            .await
            .unwrap())
    };
    // n % 4: 0 → create wallet, 1 → signed, 2 → waiting, 3 → rejected policy.
    assert_eq!(
        list(&["ACTIVITY_STATUS_COMPLETED"], &[], Page::default()).await,
        vec![12, 9, 8, 5, 4, 1]
    );
    assert_eq!(
        list(&[], &["ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2"], Page::default()).await,
        vec![10, 9, 6, 5, 2, 1]
    );
    assert_eq!(
        list(
            &["ACTIVITY_STATUS_COMPLETED"],
            &["ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2"],
            Page::default()
        )
        .await,
        vec![9, 5, 1]
    );
    assert_eq!(
        list(
            &[
                "ACTIVITY_STATUS_REJECTED",
                "ACTIVITY_STATUS_CONSENSUS_NEEDED"
            ],
            &[],
            Page::default()
        )
        .await,
        vec![11, 10, 7, 6, 3, 2]
    );
    assert_eq!(
        list(&["ACTIVITY_STATUS_FAILED"], &[], Page::default()).await,
        Vec::<u32>::new()
    );
    // Cursors within the filtered list; one the filter excludes is ignored.
    let after = |n: u32| page(Some(2), Some(activity_id(n).to_string()), None);
    assert_eq!(
        list(&["ACTIVITY_STATUS_COMPLETED"], &[], after(9)).await,
        vec![8, 5]
    );
    assert_eq!(
        list(&["ACTIVITY_STATUS_COMPLETED"], &[], after(10)).await,
        vec![12, 9]
    );
}

async fn account_pagination(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    // Wallet 1 (time 100) with accounts 1..=3, wallet 2 (time 200) with 4..=5, then two more
    // accounts for wallet 1 (time 300).
    let w1 = wallet(o.id, 1, 100);
    let w2 = wallet(o.id, 2, 200);
    let acc = |w: &WalletRecord, n: u32, at: u64| AccountRecord {
        created_at_ms: at,
        ..account(w, n, &format!("0x{n:040x}"))
    };
    store
        .commit_activity(ActivityCommit {
            wallets: vec![w1.clone()],
            accounts: (1..=3).map(|n| acc(&w1, n, 100)).collect(),
            ..commit(activity(o.id, 1, 100))
        })
        .await
        .unwrap();
    store
        .commit_activity(ActivityCommit {
            wallets: vec![w2.clone()],
            accounts: (4..=5).map(|n| acc(&w2, n, 200)).collect(),
            ..commit(activity(o.id, 2, 200))
        })
        .await
        .unwrap();
    store
        .commit_activity(ActivityCommit {
            accounts: (6..=7).map(|n| acc(&w1, n, 300)).collect(),
            ..commit(activity(o.id, 3, 300))
        })
        .await
        .unwrap();
    let list = async |wallet: Option<WalletId>, limit, after: Option<u32>, before: Option<u32>| {
        let cursor = |n: Option<u32>| n.map(|n| format!("account-{n:04}"));
        store
            .list_accounts(o.id, wallet, page(limit, cursor(after), cursor(before)))
            .await
            .unwrap()
            .iter()
            .map(|a| a.id.trim_start_matches("account-").parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(None, None, None, None).await,
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(
        list(Some(w1.id), None, None, None).await,
        vec![1, 2, 3, 6, 7]
    );
    assert_eq!(list(Some(w2.id), None, None, None).await, vec![4, 5]);
    assert_eq!(list(None, Some(2), None, None).await, vec![1, 2]);
    assert_eq!(list(None, Some(2), Some(2), None).await, vec![3, 4]);
    assert_eq!(list(None, None, None, Some(4)).await, vec![1, 2, 3]);
    assert_eq!(list(None, None, Some(2), Some(6)).await, vec![3, 4, 5]);
    // A cursor is an account of the organization, whichever wallet is listed.
    assert_eq!(list(Some(w1.id), None, Some(4), None).await, vec![6, 7]);
    assert_eq!(
        list(None, Some(0), None, None).await,
        vec![1],
        "limit 0 means 1"
    );
    assert_eq!(
        list(None, None, Some(99), None).await,
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(
        list(Some(wallet_id(9)), None, None, None).await,
        Vec::<u32>::new()
    );
    let p = org(2);
    store.insert_org(p.clone()).await.unwrap();
    assert!(
        store
            .list_accounts(p.id, None, Page::default())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn account_by_address_ignores_case(db: &TestDb) {
    let store = db.open().await;
    let (o, p) = (org(1), org(2));
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(p.clone()).await.unwrap();
    let w = wallet(o.id, 1, 100);
    let a = account(&w, 1, "0xAbCdEf0000000000000000000000000000000001");
    let b = account(&w, 2, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
    store
        .commit_activity(ActivityCommit {
            wallets: vec![w.clone()],
            accounts: vec![a.clone(), b.clone()],
            ..commit(activity(o.id, 1, 100))
        })
        .await
        .unwrap();
    for needle in [
        "0xAbCdEf0000000000000000000000000000000001",
        "0xabcdef0000000000000000000000000000000001",
        "0XABCDEF0000000000000000000000000000000001",
        "  0xabcdef0000000000000000000000000000000001 ",
    ] {
        assert_eq!(
            store.find_account(o.id, needle).await.unwrap(),
            Some((a.clone(), w.clone())),
            "{needle:?}"
        );
    }
    assert_eq!(
        store
            .find_account(o.id, "BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU")
            .await
            .unwrap(),
        Some((b, w.clone()))
    );
    assert_eq!(
        store
            .find_account(p.id, "0xabcdef0000000000000000000000000000000001")
            .await
            .unwrap(),
        None,
        "another organization's address"
    );
    assert_eq!(store.find_account(o.id, "0xabcdef").await.unwrap(), None);
}

async fn private_keys_by_id_or_address(db: &TestDb) {
    let store = db.open().await;
    let (o, p) = (org(1), org(2));
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(p.clone()).await.unwrap();
    let k1 = private_key(
        o.id,
        1,
        &[
            (
                "ADDRESS_FORMAT_ETHEREUM",
                "0xFeDc000000000000000000000000000000000001",
            ),
            ("ADDRESS_FORMAT_COMPRESSED", "03bb01"),
        ],
    );
    let k2 = PrivateKeyRecord {
        curve: "CURVE_ED25519".into(),
        tags: vec![],
        ..private_key(o.id, 2, &[("ADDRESS_FORMAT_SOLANA", "So1anaAddre55")])
    };
    let k3 = private_key(p.id, 3, &[("ADDRESS_FORMAT_ETHEREUM", "0xother")]);
    store
        .commit_activity(ActivityCommit {
            private_keys: vec![k2.clone(), k1.clone()],
            ..commit(activity(o.id, 1, 100))
        })
        .await
        .unwrap();
    store
        .commit_activity(ActivityCommit {
            private_keys: vec![k3.clone()],
            ..commit(activity(p.id, 2, 100))
        })
        .await
        .unwrap();
    // Oldest first, each with its addresses in order.
    assert_eq!(
        store.list_private_keys(o.id).await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert_eq!(
        store.list_private_keys(p.id).await.unwrap(),
        vec![k3.clone()]
    );
    let find = async |org: OrgId, needle: &str| store.find_private_key(org, needle).await.unwrap();
    assert_eq!(
        find(o.id, &k1.id.to_string()).await,
        Some((k1.clone(), None))
    );
    assert_eq!(
        find(o.id, &k1.id.to_string().to_uppercase()).await,
        Some((k1.clone(), None)),
        "ids ignore case too"
    );
    assert_eq!(
        find(o.id, "0xfedc000000000000000000000000000000000001").await,
        Some((k1.clone(), Some("ADDRESS_FORMAT_ETHEREUM".to_owned())))
    );
    assert_eq!(
        find(o.id, " 03BB01").await,
        Some((k1.clone(), Some("ADDRESS_FORMAT_COMPRESSED".to_owned())))
    );
    assert_eq!(
        find(o.id, "so1anaaddre55").await,
        Some((k2.clone(), Some("ADDRESS_FORMAT_SOLANA".to_owned())))
    );
    assert_eq!(
        find(o.id, &k3.id.to_string()).await,
        None,
        "another organization's key"
    );
    assert_eq!(find(o.id, "0xother").await, None);
    assert_eq!(find(o.id, &key_id(9).to_string()).await, None);
    assert_eq!(find(o.id, "nothing").await, None);
}

async fn sub_organizations(db: &TestDb) {
    let store = db.open().await;
    let parent = org(1);
    store.insert_org(parent.clone()).await.unwrap();
    // Sub-organizations 10..=14, two created by one activity with a wallet of its own.
    let sub = |n: u32, at: u64| OrgRecord {
        created_at_ms: at,
        ..org(n)
    };
    let w = wallet(org_id(10), 1, 100);
    store
        .commit_activity(ActivityCommit {
            sub_orgs: vec![(sub(10, 100), parent.id), (sub(11, 100), parent.id)],
            wallets: vec![w.clone()],
            accounts: vec![account(&w, 1, "0xSub")],
            ..commit(activity(parent.id, 1, 100))
        })
        .await
        .unwrap();
    for n in 12..=14u32 {
        store
            .commit_activity(ActivityCommit {
                sub_orgs: vec![(sub(n, u64::from(n) * 10), parent.id)],
                ..commit(activity(parent.id, n, u64::from(n) * 10))
            })
            .await
            .unwrap();
    }
    // A sub-organization of a sub-organization is not the parent's.
    store
        .commit_activity(ActivityCommit {
            sub_orgs: vec![(sub(20, 50), org_id(10))],
            ..commit(activity(org_id(10), 2, 50))
        })
        .await
        .unwrap();
    assert_eq!(store.get_org(org_id(11)).await.unwrap(), Some(sub(11, 100)));
    assert_eq!(
        store.find_account(org_id(10), "0xsub").await.unwrap(),
        Some((account(&w, 1, "0xSub"), w.clone()))
    );
    let list = async |parent: OrgId, limit, after: Option<u32>, before: Option<u32>| {
        let cursor = |n: Option<u32>| n.map(|n| org_id(n).to_string());
        store
            .list_sub_orgs(parent, page(limit, cursor(after), cursor(before)))
            .await
            .unwrap()
    };
    let orgs = |ns: &[u32]| ns.iter().map(|n| org_id(*n)).collect::<Vec<_>>();
    // Oldest first: 12 (120), 13 (130), 14 (140) were created after 10 and 11 (100).
    assert_eq!(
        list(parent.id, None, None, None).await,
        orgs(&[10, 11, 12, 13, 14])
    );
    assert_eq!(list(parent.id, Some(2), None, None).await, orgs(&[10, 11]));
    assert_eq!(
        list(parent.id, Some(2), Some(11), None).await,
        orgs(&[12, 13])
    );
    assert_eq!(list(parent.id, None, None, Some(12)).await, orgs(&[10, 11]));
    assert_eq!(
        list(parent.id, None, Some(10), Some(14)).await,
        orgs(&[11, 12, 13])
    );
    assert_eq!(
        list(parent.id, None, Some(20), None).await,
        orgs(&[10, 11, 12, 13, 14])
    );
    assert_eq!(list(org_id(10), None, None, None).await, orgs(&[20]));
    assert_eq!(list(org_id(12), None, None, None).await, orgs(&[]));
    // parents, for parent credentials acting on a sub-organization
    assert_eq!(store.parent_of(org_id(20)).await.unwrap(), Some(org_id(10)));
    assert_eq!(store.parent_of(org_id(12)).await.unwrap(), Some(parent.id));
    assert_eq!(store.parent_of(parent.id).await.unwrap(), None);
    assert_eq!(store.parent_of(org_id(99)).await.unwrap(), None);
    // A sub-organization that deleted itself is unlinked from its parent in the same commit...
    store
        .commit_activity(ActivityCommit {
            detach_from_parent: true,
            ..commit(activity(org_id(12), 50, 500))
        })
        .await
        .unwrap();
    assert_eq!(
        list(parent.id, None, None, None).await,
        orgs(&[10, 11, 13, 14])
    );
    assert_eq!(store.parent_of(org_id(12)).await.unwrap(), None);
    // ...and not when that commit fails (here: its activity id is taken)
    assert!(
        store
            .commit_activity(ActivityCommit {
                detach_from_parent: true,
                ..commit(activity(org_id(13), 50, 600))
            })
            .await
            .is_err()
    );
    assert_eq!(store.parent_of(org_id(13)).await.unwrap(), Some(parent.id));
}

/// Receipts: stored with their activity, the newest before a seq found, recovered ones kept
/// apart (no result) and replaced when the real commit arrives late.
async fn audit_receipts(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    let other = org(2);
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(other.clone()).await.unwrap();
    for seq in [1u64, 2] {
        store
            .commit_activity(ActivityCommit {
                receipt: Some(ReceiptRecord {
                    receipt: receipt(o.id, seq),
                    result: Some(vec![seq as u8]),
                }),
                ..commit(activity(o.id, seq as u32, seq * 10))
            })
            .await
            .unwrap();
    }
    let latest = store.latest_receipt(o.id, None).await.unwrap().unwrap();
    assert_eq!(latest.receipt, receipt(o.id, 2));
    assert_eq!(latest.result, Some(vec![2]));
    let before = store.latest_receipt(o.id, Some(2)).await.unwrap().unwrap();
    assert_eq!(before.receipt.body.seq, 1);
    assert_eq!(store.latest_receipt(other.id, None).await.unwrap(), None);
    // seq 3 recovered from the enclave (no result), then its real commit arrives
    let recovered = ReceiptRecord {
        receipt: receipt(o.id, 3),
        result: None,
    };
    store
        .insert_recovered_receipts(vec![recovered.clone(), recovered.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.latest_receipt(o.id, None).await.unwrap(),
        Some(recovered)
    );
    store
        .commit_activity(ActivityCommit {
            receipt: Some(ReceiptRecord {
                receipt: receipt(o.id, 3),
                result: Some(vec![3]),
            }),
            ..commit(activity(o.id, 3, 30))
        })
        .await
        .unwrap();
    let latest = store.latest_receipt(o.id, None).await.unwrap().unwrap();
    assert_eq!(latest.result, Some(vec![3]));
    // recovering a seq that was stored for real changes nothing
    store
        .insert_recovered_receipts(vec![ReceiptRecord {
            receipt: receipt(o.id, 3),
            result: None,
        }])
        .await
        .unwrap();
    assert_eq!(
        store
            .latest_receipt(o.id, None)
            .await
            .unwrap()
            .unwrap()
            .result,
        Some(vec![3])
    );
    // seq 6 recovered with 4 and 5 missing: the holes show in the seqs, per organization, in range
    store
        .insert_recovered_receipts(vec![ReceiptRecord {
            receipt: receipt(o.id, 6),
            result: None,
        }])
        .await
        .unwrap();
    assert_eq!(
        store.receipt_seqs(o.id, 1, 10).await.unwrap(),
        vec![1, 2, 3, 6]
    );
    assert_eq!(store.receipt_seqs(o.id, 2, 6).await.unwrap(), vec![2, 3]);
    assert_eq!(
        store.receipt_seqs(o.id, 7, u64::MAX).await.unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        store.receipt_seqs(other.id, 1, 10).await.unwrap(),
        Vec::<u64>::new()
    );
    store
        .commit_activity(ActivityCommit {
            receipt: Some(ReceiptRecord {
                receipt: receipt(o.id, 5),
                result: Some(vec![5]),
            }),
            ..commit(activity(o.id, 5, 50))
        })
        .await
        .unwrap();
    assert_eq!(
        store.receipt_seqs(o.id, 1, 10).await.unwrap(),
        vec![1, 2, 3, 5, 6]
    );
}

/// Imported records keep their flag; an export marks the wallet or key it exported, in the
/// organization that exported it only.
async fn import_and_export_flags(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    let other = org(2);
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(other.clone()).await.unwrap();
    let imported = WalletRecord {
        imported: true,
        ..wallet(o.id, 1, 10)
    };
    let plain = wallet(o.id, 2, 20);
    let key = PrivateKeyRecord {
        imported: true,
        ..private_key(o.id, 3, &[("ADDRESS_FORMAT_ETHEREUM", "0xKey3")])
    };
    store
        .commit_activity(ActivityCommit {
            wallets: vec![imported.clone(), plain.clone()],
            accounts: vec![account(&plain, 1, "0xPlain")],
            private_keys: vec![key.clone()],
            ..commit(activity(o.id, 1, 10))
        })
        .await
        .unwrap();
    let flags = async |id| {
        let w = store.get_wallet(o.id, id).await.unwrap().unwrap();
        (w.imported, w.exported)
    };
    assert_eq!(flags(imported.id).await, (true, false));
    assert_eq!(flags(plain.id).await, (false, false));
    // The account's wallet as the signing path finds it (and a SQLite store keeps it).
    let exported_by_address = async || {
        let (_, w) = store.find_account(o.id, "0xPlain").await.unwrap().unwrap();
        w.exported
    };
    assert!(!exported_by_address().await);
    // another organization naming these ids marks nothing
    store
        .commit_activity(ActivityCommit {
            exported: vec![ExportMark::Wallet(plain.id), ExportMark::PrivateKey(key.id)],
            ..commit(activity(other.id, 2, 20))
        })
        .await
        .unwrap();
    assert_eq!(flags(plain.id).await, (false, false));
    store
        .commit_activity(ActivityCommit {
            exported: vec![ExportMark::Wallet(plain.id), ExportMark::PrivateKey(key.id)],
            ..commit(activity(o.id, 3, 30))
        })
        .await
        .unwrap();
    assert_eq!(flags(plain.id).await, (false, true));
    assert!(exported_by_address().await);
    let keys = store.list_private_keys(o.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].imported && keys[0].exported);
}

/// Many commits at once; one that fails (a lost compare-and-swap) rolls back alone and the
/// others are all durable and visible once acknowledged (SQLite: grouped in one transaction).
async fn concurrent_commits_isolate_failures(db: &TestDb) {
    let store = db.open().await;
    let o = org(9);
    store.insert_org(o.clone()).await.unwrap();
    let mut tasks = Vec::new();
    // Activity 50 moves the org from version 1 to 2; 51 claims 1 → 2 as well and loses. 51 is
    // sent once 50 is acknowledged (a sleep made the order depend on the machine's load).
    let (fifty_done, fifty_committed) = tokio::sync::watch::channel(false);
    let fifty_done = Arc::new(fifty_done);
    for n in 1..=100u32 {
        let store = store.clone();
        let org_state = matches!(n, 50 | 51).then(|| sealed(o.id, 2));
        let (fifty_done, mut fifty_committed) = (fifty_done.clone(), fifty_committed.clone());
        tasks.push(tokio::spawn(async move {
            if n == 51 {
                fifty_committed.wait_for(|done| *done).await.unwrap();
            }
            let result = store
                .commit_activity(ActivityCommit {
                    org_state,
                    meta: Some((format!("key {n}"), vec![1])),
                    ..commit(activity(o.id, n, u64::from(n)))
                })
                .await;
            if n == 50 {
                fifty_done.send_replace(true);
            }
            (n, result)
        }));
    }
    for task in tasks {
        let (n, result) = task.await.unwrap();
        let found = store
            .find_activity(o.id, i64::from(n), &fingerprint(n))
            .await
            .unwrap();
        let key = store.get_meta(&format!("key {n}")).await.unwrap();
        if n == 51 {
            assert!(is_conflict(result), "a stale version must not commit");
            assert!(
                found.is_none() && key.is_none(),
                "the failed commit must leave nothing behind"
            );
        } else {
            result.unwrap();
            assert!(found.is_some(), "acknowledged activity {n} must be stored");
            assert_eq!(key, Some(vec![1]), "with what it keeps");
        }
    }
    assert_eq!(
        store.get_org(o.id).await.unwrap().unwrap().sealed.version,
        2
    );
}

/// Two handles on one database (two hosts) race to change one organization: every change is
/// read-modify-write of the version, retried on conflict. Every change lands exactly once and
/// the version counts them: no lost update, no version written twice.
async fn racing_hosts_serialise_on_the_version(db: &TestDb) {
    let hosts = [db.open().await, db.open().await];
    let o = org(1);
    hosts[0].insert_org(o.clone()).await.unwrap();
    const CHANGES: u32 = 40;
    let mut tasks = Vec::new();
    for n in 1..=CHANGES {
        let store = hosts[(n % 2) as usize].clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            loop {
                let current = store.get_org(o.id).await.unwrap().unwrap().sealed.version;
                let result = store
                    .commit_activity(ActivityCommit {
                        org_state: Some(sealed(o.id, current + 1)),
                        ..commit(activity(o.id, n, u64::from(n)))
                    })
                    .await;
                match result {
                    Ok(()) => return conflicts,
                    Err(HostError::Conflict(_)) => conflicts += 1,
                    Err(e) => panic!("change {n}: {e}"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let version = hosts[1]
        .get_org(o.id)
        .await
        .unwrap()
        .unwrap()
        .sealed
        .version;
    assert_eq!(
        version,
        u64::from(CHANGES) + 1,
        "{conflicts} conflicts retried"
    );
    let all = hosts[1]
        .list_activities(o.id, vec![], vec![], page(Some(100), None, None))
        .await
        .unwrap();
    let mut seen = ids(&all);
    seen.sort_unstable();
    assert_eq!(seen, (1..=CHANGES).collect::<Vec<_>>());
}

/// With enough activities under way the writer waits for more before it commits: a commit sent
/// well after another joins its group. With few under way nothing waits; after a wait that
/// gathered nothing, the next commit does not wait.
#[tokio::test]
async fn sqlite_group_commit_waits_only_under_load() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let policy = super::sqlite::GroupCommit {
        siblings: 4,
        delay: Duration::from_millis(600),
    };
    let store = Arc::new(SqliteStore::open_with(&dir.path().join("k.db"), policy).unwrap());
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    // One under way: its commit is not held back.
    let alone = store.activity_started();
    let before = store.groups();
    let started = Instant::now();
    store
        .commit_activity(commit(activity(o.id, 1, 1)))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(store.groups(), before + 1);
    drop(alone);
    // Eight under way: the first commit waits for a second (a quarter of them).
    let busy: Vec<_> = (0..8).map(|_| store.activity_started()).collect();
    let before = store.groups();
    let first = {
        let store = store.clone();
        tokio::spawn(async move { store.commit_activity(commit(activity(o.id, 2, 2))).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    store
        .commit_activity(commit(activity(o.id, 3, 3)))
        .await
        .unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(store.groups(), before + 1, "both commits in one group");
    // Still eight under way, but nothing else arrives (activities of one organization waiting
    // for each other's commits): the writer waits the delay once, then not for the next commit.
    let started = Instant::now();
    store
        .commit_activity(commit(activity(o.id, 4, 4)))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(550), "{waited:?}");
    let started = Instant::now();
    store
        .commit_activity(commit(activity(o.id, 5, 5)))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(400));
    drop(busy);
}

/// Commits reach the database file through the checkpointing thread: a few activities are far
/// below any automatic checkpoint (SQLite's 1000 pages, the writer's 4000), yet soon a copy of
/// the main file alone, without the WAL, holds every one of them.
#[tokio::test]
async fn sqlite_commits_are_checkpointed_off_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let store = SqliteStore::open(&path).unwrap();
    let o = org(1);
    store.insert_org(o.clone()).await.unwrap();
    for n in 1..=5 {
        store
            .commit_activity(commit(activity(o.id, n, u64::from(n))))
            .await
            .unwrap();
    }
    let count_in_main_file = || {
        let copy = dir.path().join("copy.db");
        std::fs::copy(&path, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        // Not even the schema is there before the first checkpoint.
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM activities", [], |r| r.get(0))
            .unwrap_or(0);
        drop(conn);
        std::fs::remove_file(&copy).unwrap();
        n
    };
    let mut waited = 0;
    while count_in_main_file() < 5 {
        assert!(waited < 100, "not checkpointed after 5 s");
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(store.checkpoints() >= 1);
}

/// Migration 11 turns `activities_by_time` ascending (new activities land at its end): pages
/// of activities are still read newest first from the index, scanned backwards, with no sort
/// of the organization's activities; a database listed under the old index lists the same.
#[tokio::test]
async fn sqlite_activity_pages_read_the_time_index_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let o = org(1);
    {
        // Stored, then set back to before migration 11 (the descending index): 11 and those
        // after it run again on open.
        let store = SqliteStore::open(&path).unwrap();
        store.insert_org(o.clone()).await.unwrap();
        for n in 1..=4 {
            store
                .commit_activity(commit(activity(o.id, n, 1_000 + u64::from(n % 2))))
                .await
                .unwrap();
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "DROP INDEX activities_by_time;
             CREATE INDEX activities_by_time ON activities(org_id, created_at_ms DESC);
             PRAGMA user_version = {};",
            // Migration 11 and those after it run again on open.
            10
        ))
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let listed: Vec<_> = store
        .list_activities(o.id, vec![], vec![], page(Some(10), None, None))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    // Newest first; the same millisecond in reverse insertion order.
    let expected: Vec<_> = [3, 1, 4, 2].map(|n| activity(o.id, n, 0).id).to_vec();
    assert_eq!(listed, expected);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let index: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'activities_by_time'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!index.contains("DESC"), "{index}");
    let plan: Vec<String> = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            super::sqlite::activity_page_sql()
        ))
        .unwrap()
        .query_map(
            rusqlite::params![
                o.id.to_string(),
                "[]",
                "[]",
                i64::MAX,
                i64::MAX,
                i64::MIN,
                i64::MIN,
                10
            ],
            |r| r.get::<_, String>(3),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("USING INDEX activities_by_time"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

/// One host per SQLite database: a second store on the same file is refused while the first
/// runs (it would commit behind the first one's caches), and opens once the first is dropped.
#[tokio::test]
async fn sqlite_database_has_one_owner_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let first = SqliteStore::open(&path).unwrap();
    let o = org(1);
    first.insert_org(o.clone()).await.unwrap();
    let refused = SqliteStore::open(&path).expect_err("a second owner");
    assert!(
        refused
            .to_string()
            .contains("in use by another keyhold host"),
        "{refused}"
    );
    // The first store still works: the refused one touched nothing.
    first
        .commit_activity(commit(activity(o.id, 1, 1)))
        .await
        .unwrap();
    drop(first);
    let second = SqliteStore::open(&path).unwrap();
    assert!(second.get_org(o.id).await.unwrap().is_some());
}

/// Legacy rows for the request-index migrations: a signed activity, one awaiting consensus,
/// one decided by votes (its vote requests kept), one whose body has no timestamp — in the
/// activities table as it was before (no `request_ms`, UNIQUE (org_id, fingerprint)).
const LEGACY_ACTIVITIES: [(u32, &str, &str); 4] = [
    (
        1,
        "ACTIVITY_STATUS_COMPLETED",
        r#"{"timestampMs":"1746736509954","n":1}"#,
    ),
    (
        2,
        "ACTIVITY_STATUS_CONSENSUS_NEEDED",
        r#"{"timestampMs":"+1746736509955"}"#,
    ),
    (
        3,
        "ACTIVITY_STATUS_COMPLETED",
        r#"{"timestampMs":"1746736509956"}"#,
    ),
    (4, "ACTIVITY_STATUS_COMPLETED", "not json"),
];

/// What the stores find of [`LEGACY_ACTIVITIES`] after the migration.
async fn legacy_activities_are_found(store: &dyn Store, o: OrgId) {
    let fp = fingerprint;
    let found = |n: u32| {
        let (_, status, body) = LEGACY_ACTIVITIES[n as usize - 1];
        ActivityRecord {
            status: status.into(),
            body: body.into(),
            ..activity(o, n, u64::from(n))
        }
    };
    assert_eq!(
        store
            .find_activity(o, 1_746_736_509_954, &fp(1))
            .await
            .unwrap(),
        Some(found(1))
    );
    assert_eq!(
        store
            .find_activity(o, 1_746_736_509_955, &fp(2))
            .await
            .unwrap(),
        Some(found(2))
    );
    assert_eq!(
        store.find_activity(o, 0, &fp(4)).await.unwrap(),
        Some(found(4))
    );
    assert_eq!(store.find_activity(o, 0, &fp(1)).await.unwrap(), None);
    assert_eq!(store.find_vote_target(o, &fp(1)).await.unwrap(), None);
    assert_eq!(
        store.find_vote_target(o, &fp(2)).await.unwrap(),
        Some(found(2))
    );
    assert_eq!(
        store.find_vote_target(o, &fp(3)).await.unwrap(),
        Some(found(3))
    );
    assert_eq!(store.find_vote_target(o, &fp(4)).await.unwrap(), None);
    // Still one activity per request.
    let again = ActivityRecord {
        id: activity_id(9),
        ..found(1)
    };
    assert!(is_conflict(store.commit_activity(commit(again)).await));
}

/// A database a newer keyhold migrated is refused, not written to without the columns it added.
#[tokio::test]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(
        None,
        "user_version",
        super::sqlite::MIGRATIONS.len() as i64 + 1,
    )
    .unwrap();
    drop(conn);
    let refused = SqliteStore::open(&path).expect_err("a newer schema");
    assert!(refused.to_string().contains("newer keyhold"), "{refused}");
    // As migrated by this version: opens.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", super::sqlite::MIGRATIONS.len() as i64)
        .unwrap();
    drop(conn);
    SqliteStore::open(&path).unwrap();
}

/// PostgreSQL's copy of [`sqlite_refuses_a_newer_schema`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_newer_schema() {
    let db = TestDb::postgres().await;
    drop(db.open().await);
    let TestDb::Postgres { url, schema } = &db else {
        unreachable!()
    };
    admin(
        url,
        &format!(
            "INSERT INTO {schema}.keyhold_migrations VALUES ({})",
            super::postgres::MIGRATIONS.len() + 1
        ),
    )
    .await;
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.options(format!("-c search_path={schema}"));
    let refused = PgStore::from_config(config)
        .await
        .expect_err("a newer schema");
    assert!(refused.to_string().contains("newer keyhold"), "{refused}");
    db.finish().await;
}

/// Rowids with gaps and out of the activities' order, as deletions and recovered rows leave them.
fn legacy_rowid(n: u32) -> i64 {
    [0, 7, 3, 12, 40][n as usize]
}

/// Migration 12 rebuilds the activities table around the request index: rows stored before it
/// are found by request and vote as if stored after, and keep their order.
#[tokio::test]
async fn sqlite_request_migration_fills_in_old_activities() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let o = org(1);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &super::sqlite::MIGRATIONS[..super::sqlite::REQUEST_MS_VERSION - 1] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(
            None,
            "user_version",
            (super::sqlite::REQUEST_MS_VERSION - 1) as i64,
        )
        .unwrap();
        for (n, status, body) in LEGACY_ACTIVITIES {
            conn.execute(
                "INSERT INTO activities (rowid, activity_id, org_id, fingerprint, type, status, body, result, votes, created_at_ms, updated_at_ms) VALUES (?7, ?1, ?2, ?3, 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2', ?4, ?5, '{}', '[]', ?6, ?6)",
                rusqlite::params![activity_id(n).to_string(), o.id.to_string(), fingerprint(n), status, body, n, legacy_rowid(n)],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO vote_requests (org_id, fingerprint, seq, body, stamp) VALUES (?1, ?2, 0, 'b', 's')",
            rusqlite::params![o.id.to_string(), fingerprint(3)],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    store.insert_org(o.clone()).await.unwrap();
    legacy_activities_are_found(&store, o.id).await;
    let listed: Vec<_> = store
        .list_activities(o.id, vec![], vec![], page(Some(10), None, None))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, [4, 3, 2, 1].map(activity_id).to_vec());
    // Rowids are kept as they were (a page cursor holds one).
    let conn = rusqlite::Connection::open(&path).unwrap();
    for (n, _, _) in LEGACY_ACTIVITIES {
        let rowid: i64 = conn
            .query_row(
                "SELECT rowid FROM activities WHERE activity_id = ?1",
                [activity_id(n).to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rowid, legacy_rowid(n), "activity {n}");
    }
    drop(conn);
    // Both lookups, and a vote's update, go through their index: no scan of the activities.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let plan = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> String {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params, |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let org_text = o.id.to_string();
    let by_request = plan(
        &super::sqlite::find_activity_sql(),
        &[&org_text, &1_i64, &fingerprint(1)],
    );
    assert!(
        by_request.contains("USING INDEX activities_by_request"),
        "{by_request}"
    );
    let by_vote = plan(
        &super::sqlite::find_vote_target_sql(),
        &[&org_text, &fingerprint(2)],
    );
    assert!(
        by_vote.contains("USING INDEX activities_awaiting_consensus"),
        "{by_vote}"
    );
    let update = plan(
        super::sqlite::REPLACE_WAITING_SQL,
        &[
            &"x",
            &"{}",
            &"[]",
            &1_i64,
            &org_text,
            &fingerprint(2),
            &"[]",
        ],
    );
    assert!(
        update.contains("USING INDEX activities_awaiting_consensus"),
        "{update}"
    );
}

/// PostgreSQL's migration 7, as SQLite's 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_request_migration_fills_in_old_activities() {
    let db = TestDb::postgres().await;
    let TestDb::Postgres { url, schema } = &db else {
        unreachable!()
    };
    let o = org(1);
    let mut setup = format!(
        "SET search_path = {schema}; CREATE TABLE keyhold_migrations (version BIGINT NOT NULL);"
    );
    for (i, sql) in super::postgres::MIGRATIONS[..super::postgres::REQUEST_MS_VERSION - 1]
        .iter()
        .enumerate()
    {
        setup.push_str(sql);
        setup.push_str(&format!(
            ";INSERT INTO keyhold_migrations VALUES ({});",
            i + 1
        ));
    }
    for (n, status, body) in LEGACY_ACTIVITIES {
        setup.push_str(&format!(
            "INSERT INTO activities (activity_id, org_id, fingerprint, type, status, body, result, votes, created_at_ms, updated_at_ms) VALUES ('{}', '{}', '{}', 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2', '{status}', '{body}', '{{}}', '[]', {n}, {n});",
            activity_id(n),
            o.id,
            fingerprint(n),
        ));
    }
    setup.push_str(&format!(
        "INSERT INTO vote_requests (org_id, fingerprint, seq, body, stamp) VALUES ('{}', '{}', 0, 'b', 's');",
        o.id,
        fingerprint(3)
    ));
    admin(url, &setup).await;
    let store = db.open().await;
    store.insert_org(o.clone()).await.unwrap();
    legacy_activities_are_found(store.as_ref(), o.id).await;
    drop(store);
    db.finish().await;
}

/// Migration 9 rebuilds the receipt and evaluation tables (WITHOUT ROWID): rows stored before
/// it read back the same, and the rebuilt tables keep their keys.
#[tokio::test]
async fn sqlite_rebuilt_tables_keep_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let o = org(1);
    let a = activity_id(1);
    let kept = receipt(o.id, 1);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &super::sqlite::MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 8).unwrap();
        conn.execute(
            "INSERT INTO audit_receipts (org_id, seq, receipt, result) VALUES (?1, 1, ?2, ?3)",
            rusqlite::params![
                o.id.to_string(),
                postcard::to_allocvec(&kept).unwrap(),
                vec![7u8]
            ],
        )
        .unwrap();
        let e = evaluation(o.id, a, 1, 1);
        conn.execute(
            "INSERT INTO policy_evaluations (evaluation_id, org_id, activity_id, vote_id, seq, policy_evaluations, created_at_ms) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)",
            rusqlite::params![e.id, o.id.to_string(), a.to_string(), e.vote_id, e.policy_evaluations, e.created_at_ms as i64],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let latest = store.latest_receipt(o.id, None).await.unwrap().unwrap();
    assert_eq!(latest.receipt, kept);
    assert_eq!(latest.result, Some(vec![7]));
    assert_eq!(
        store.policy_evaluations(o.id, a).await.unwrap(),
        vec![evaluation(o.id, a, 1, 1)]
    );
    // A recovered receipt for a seq already stored does not replace it; a new one is added.
    store
        .insert_recovered_receipts(vec![
            ReceiptRecord {
                receipt: receipt(o.id, 1),
                result: None,
            },
            ReceiptRecord {
                receipt: receipt(o.id, 2),
                result: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.receipt_seqs(o.id, 0, 10).await.unwrap(), vec![1, 2]);
    assert_eq!(
        store
            .latest_receipt(o.id, Some(2))
            .await
            .unwrap()
            .unwrap()
            .result,
        Some(vec![7])
    );
}

#[test]
fn database_argument() {
    let parse = |s: &str| s.parse::<Database>();
    let url = "postgres://keyhold:s3cret@db.internal:5433/keyhold?connect_timeout=5";
    assert_eq!(parse(url), Ok(Database::Postgres(url.into())));
    assert!(matches!(
        parse("postgresql://localhost/k"),
        Ok(Database::Postgres(_))
    ));
    assert_eq!(
        parse("sqlite:/var/lib/keyhold/k.db"),
        Ok(Database::Sqlite("/var/lib/keyhold/k.db".into()))
    );
    assert_eq!(
        parse("sqlite:///var/lib/k.db"),
        Ok(Database::Sqlite("/var/lib/k.db".into()))
    );
    assert_eq!(parse("sqlite:k.db"), Ok(Database::Sqlite("k.db".into())));
    assert_eq!(parse("data/k.db"), Ok(Database::Sqlite("data/k.db".into())));
    assert!(parse("sqlite:").is_err());
    assert!(parse("").is_err());
    // Logged at startup: the location, never the password.
    let shown = format!("{:?}", parse(url).unwrap());
    assert!(
        shown.contains("db.internal") && shown.contains("5433"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}

// ---- renames, deletions and private key tags -------------------------------------------------

/// `update_wallet`, `delete_wallets`, `delete_wallet_accounts` and `delete_private_keys` edit
/// and remove records (sealed seeds and keys included) of their own organization only, in the
/// activity's transaction.
async fn renames_and_deletions(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    let other = org(2);
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(other.clone()).await.unwrap();
    let kept = wallet(o.id, 1, 10);
    let gone = wallet(o.id, 2, 20);
    let accounts = vec![
        account(&kept, 1, "0xKept1"),
        account(&kept, 2, "0xKept2"),
        account(&gone, 3, "0xGone3"),
    ];
    let k1 = private_key(o.id, 1, &[("ADDRESS_FORMAT_ETHEREUM", "0xKey1")]);
    let k2 = private_key(o.id, 2, &[("ADDRESS_FORMAT_ETHEREUM", "0xKey2")]);
    store
        .commit_activity(ActivityCommit {
            wallets: vec![kept.clone(), gone.clone()],
            accounts: accounts.clone(),
            private_keys: vec![k1.clone(), k2.clone()],
            ..commit(activity(o.id, 1, 10))
        })
        .await
        .unwrap();
    // Looked up before the edits (a SQLite store then keeps them): the edits must show below.
    for address in ["0xKept1", "0xKept2", "0xGone3"] {
        assert!(store.find_account(o.id, address).await.unwrap().is_some());
    }
    let edits = vec![
        RecordEdit::RenameWallet {
            wallet: kept.id,
            name: "renamed".into(),
        },
        RecordEdit::DeleteWallet(gone.id),
        RecordEdit::DeleteAccount(accounts[1].id.clone()),
        RecordEdit::DeletePrivateKey(k2.id),
    ];
    // another organization naming these records changes nothing
    store
        .commit_activity(ActivityCommit {
            edits: edits.clone(),
            ..commit(activity(other.id, 2, 400))
        })
        .await
        .unwrap();
    assert_eq!(
        store.list_wallets(o.id).await.unwrap(),
        vec![kept.clone(), gone.clone()]
    );
    assert_eq!(store.list_private_keys(o.id).await.unwrap().len(), 2);
    // a commit that loses its compare-and-swap applies none of its edits
    let stale = store
        .commit_activity(ActivityCommit {
            edits: edits.clone(),
            org_state: Some(sealed(o.id, 7)),
            ..commit(activity(o.id, 3, 450))
        })
        .await;
    assert!(is_conflict(stale));
    assert_eq!(store.list_wallets(o.id).await.unwrap().len(), 2);

    let mut activity_4 = activity(o.id, 4, 400);
    activity_4.updated_at_ms = 500;
    store
        .commit_activity(ActivityCommit {
            edits,
            org_state: Some(sealed(o.id, 2)),
            ..commit(activity_4)
        })
        .await
        .unwrap();
    let renamed = store.get_wallet(o.id, kept.id).await.unwrap().unwrap();
    assert_eq!(
        renamed,
        WalletRecord {
            name: "renamed".into(),
            updated_at_ms: 500,
            ..kept.clone()
        }
    );
    assert_eq!(store.get_wallet(o.id, gone.id).await.unwrap(), None);
    assert_eq!(
        store.list_wallets(o.id).await.unwrap(),
        vec![renamed.clone()]
    );
    assert_eq!(
        store
            .list_accounts(o.id, None, Page::default())
            .await
            .unwrap(),
        vec![accounts[0].clone()]
    );
    for address in ["0xKept2", "0xGone3"] {
        assert_eq!(store.find_account(o.id, address).await.unwrap(), None);
    }
    assert_eq!(
        store.find_account(o.id, "0xKept1").await.unwrap(),
        Some((accounts[0].clone(), renamed))
    );
    let ids = |a: &[AccountRecord]| a.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    let mut asked = ids(&accounts);
    asked.push("unknown".into());
    assert_eq!(
        ids(&store.get_accounts(o.id, asked.clone()).await.unwrap()),
        vec![accounts[0].id.clone()]
    );
    assert!(
        store
            .get_accounts(other.id, asked)
            .await
            .unwrap()
            .is_empty()
    );
    // the deleted key is gone by id and by address; the other one stays
    for needle in [k2.id.to_string(), "0xkey2".into()] {
        assert_eq!(store.find_private_key(o.id, &needle).await.unwrap(), None);
    }
    assert_eq!(
        store.list_private_keys(o.id).await.unwrap(),
        vec![k1.clone()]
    );
    // the same ids may be used again (an import of the deleted wallet's mnemonic, say)
    store
        .commit_activity(ActivityCommit {
            wallets: vec![gone.clone()],
            accounts: vec![accounts[2].clone()],
            private_keys: vec![k2.clone()],
            ..commit(activity(o.id, 5, 600))
        })
        .await
        .unwrap();
    assert_eq!(store.get_wallet(o.id, gone.id).await.unwrap(), Some(gone));
}

/// Private key tags are added once, removed, and dropped from every key of the organization.
async fn private_key_tag_edits(db: &TestDb) {
    let store = db.open().await;
    let o = org(1);
    let other = org(2);
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(other.clone()).await.unwrap();
    let k1 = private_key(o.id, 1, &[]);
    let k2 = private_key(o.id, 2, &[]);
    let k3 = private_key(other.id, 3, &[]);
    store
        .commit_activity(ActivityCommit {
            private_keys: vec![k1.clone(), k2.clone()],
            ..commit(activity(o.id, 1, 10))
        })
        .await
        .unwrap();
    store
        .commit_activity(ActivityCommit {
            private_keys: vec![k3.clone()],
            ..commit(activity(other.id, 2, 10))
        })
        .await
        .unwrap();
    let tag = |key, tag: &str, add| RecordEdit::TagPrivateKey {
        key,
        tag: tag.into(),
        add,
    };
    let mut a = activity(o.id, 3, 100);
    a.updated_at_ms = 700;
    store
        .commit_activity(ActivityCommit {
            edits: vec![
                tag(k1.id, "new", true),
                tag(k1.id, "new", true),
                tag(k2.id, "tag-2", false),
                tag(k3.id, "new", true),
                tag(key_id(99), "new", true),
                RecordEdit::DropPrivateKeyTag("shared".into()),
            ],
            ..commit(a)
        })
        .await
        .unwrap();
    let tags_of = async |org, key: PrivateKeyId| {
        let (k, _) = store
            .find_private_key(org, &key.to_string())
            .await
            .unwrap()
            .unwrap();
        (k.tags, k.updated_at_ms)
    };
    assert_eq!(
        tags_of(o.id, k1.id).await,
        (vec!["tag-1".to_owned(), "new".to_owned()], 700)
    );
    assert_eq!(tags_of(o.id, k2.id).await, (Vec::<String>::new(), 700));
    // another organization's key keeps its tags, "shared" included
    assert_eq!(
        tags_of(other.id, k3.id).await,
        (k3.tags.clone(), k3.updated_at_ms)
    );
}

/// Runs each named test against a fresh database of each backend.
fn evaluation(org: OrgId, activity: ActivityId, n: u32, seq: u64) -> PolicyEvaluationRecord {
    PolicyEvaluationRecord {
        id: uuid(9, n).to_string(),
        org,
        activity,
        vote_id: uuid(8, n).to_string(),
        seq,
        policy_evaluations: format!("[{{\"policyId\":\"p{n}\",\"outcome\":\"OUTCOME_ALLOW\"}}]"),
        created_at_ms: 100 + seq,
    }
}

/// An activity's policy evaluations: one per step (submission, each vote), written with the
/// step's records or not at all, read back in receipt order, and only for their organization.
async fn policy_evaluations_follow_their_activity(db: &TestDb) {
    let store = db.open().await;
    let (o, p) = (org(1), org(2));
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(p.clone()).await.unwrap();
    let waiting = ActivityRecord {
        status: "ACTIVITY_STATUS_CONSENSUS_NEEDED".into(),
        ..activity(o.id, 1, 10)
    };
    let submitted = evaluation(o.id, waiting.id, 1, 7);
    store
        .commit_activity(ActivityCommit {
            policy_evaluation: Some(submitted.clone()),
            ..commit(waiting.clone())
        })
        .await
        .unwrap();
    // A vote that loses its race (the state moved on) leaves no evaluation behind.
    let lost = evaluation(o.id, waiting.id, 2, 8);
    assert!(is_conflict(
        store
            .commit_activity(ActivityCommit {
                org_state: Some(sealed(o.id, 5)),
                replace_waiting: Some(waiting.votes.clone()),
                policy_evaluation: Some(lost),
                ..commit(waiting.clone())
            })
            .await
    ));
    assert_eq!(
        store.policy_evaluations(o.id, waiting.id).await.unwrap(),
        vec![submitted.clone()]
    );
    // The vote that completes it adds its own evaluation; a later seq sorts after.
    let approved = evaluation(o.id, waiting.id, 3, 12);
    store
        .commit_activity(ActivityCommit {
            org_state: Some(sealed(o.id, 2)),
            replace_waiting: Some(waiting.votes.clone()),
            policy_evaluation: Some(approved.clone()),
            ..commit(ActivityRecord {
                status: "ACTIVITY_STATUS_COMPLETED".into(),
                ..waiting.clone()
            })
        })
        .await
        .unwrap();
    // Another activity's evaluation, stored after but with a lower seq (another host's
    // receipt order), does not mix in.
    let other = activity(o.id, 2, 11);
    store
        .commit_activity(ActivityCommit {
            policy_evaluation: Some(evaluation(o.id, other.id, 4, 3)),
            ..commit(other.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store.policy_evaluations(o.id, waiting.id).await.unwrap(),
        vec![submitted, approved]
    );
    assert_eq!(
        store
            .policy_evaluations(o.id, other.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // Only through the activity's own organization.
    assert!(
        store
            .policy_evaluations(p.id, waiting.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .policy_evaluations(o.id, activity_id(99))
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- webhook endpoints -----------------------------------------------------------------------

/// Endpoints are inserted, replaced and deleted in their activity's commit, per organization,
/// listed oldest first; a commit that loses its compare-and-swap changes none.
async fn webhook_endpoints_follow_their_activity(db: &TestDb) {
    let store = db.open().await;
    let (o, other) = (org(1), org(2));
    store.insert_org(o.clone()).await.unwrap();
    store.insert_org(other.clone()).await.unwrap();
    let put = |id: &str, name: &str| RecordEdit::PutWebhookEndpoint {
        id: id.into(),
        data: format!(r#"{{"endpointId":"{id}","name":"{name}"}}"#),
    };
    store
        .commit_activity(ActivityCommit {
            edits: vec![put("e1", "first")],
            ..commit(activity(o.id, 1, 10))
        })
        .await
        .unwrap();
    store
        .commit_activity(ActivityCommit {
            edits: vec![put("e2", "second")],
            ..commit(activity(o.id, 2, 20))
        })
        .await
        .unwrap();
    // another organization's endpoint of the same id is its own
    store
        .commit_activity(ActivityCommit {
            edits: vec![put("e1", "theirs")],
            ..commit(activity(other.id, 3, 30))
        })
        .await
        .unwrap();
    let listed = store.list_webhook_endpoints(o.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["e1", "e2"]
    );
    assert_eq!(listed[0].org, o.id);
    assert_eq!(listed[0].data, r#"{"endpointId":"e1","name":"first"}"#);
    assert_eq!((listed[0].created_at_ms, listed[0].updated_at_ms), (10, 10));

    // an update replaces the data and keeps the creation time
    store
        .commit_activity(ActivityCommit {
            edits: vec![put("e1", "renamed")],
            ..commit(activity(o.id, 4, 40))
        })
        .await
        .unwrap();
    let e1 = store
        .get_webhook_endpoint(o.id, "e1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e1.data, r#"{"endpointId":"e1","name":"renamed"}"#);
    assert_eq!((e1.created_at_ms, e1.updated_at_ms), (10, 40));
    assert_eq!(
        store.list_webhook_endpoints(o.id).await.unwrap()[0].id,
        "e1",
        "still listed in creation order"
    );

    // a commit that loses its compare-and-swap applies none of its edits
    let stale = store
        .commit_activity(ActivityCommit {
            edits: vec![RecordEdit::DeleteWebhookEndpoint("e1".into())],
            org_state: Some(sealed(o.id, 7)),
            ..commit(activity(o.id, 5, 50))
        })
        .await;
    assert!(is_conflict(stale));
    assert!(
        store
            .get_webhook_endpoint(o.id, "e1")
            .await
            .unwrap()
            .is_some()
    );

    store
        .commit_activity(ActivityCommit {
            edits: vec![RecordEdit::DeleteWebhookEndpoint("e1".into())],
            ..commit(activity(o.id, 6, 60))
        })
        .await
        .unwrap();
    assert!(
        store
            .get_webhook_endpoint(o.id, "e1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_webhook_endpoints(o.id).await.unwrap().len(), 1);
    let theirs = store
        .get_webhook_endpoint(other.id, "e1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs.data, r#"{"endpointId":"e1","name":"theirs"}"#);
    assert!(
        store
            .list_webhook_endpoints(org(3).id)
            .await
            .unwrap()
            .is_empty()
    );
}

macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::TestDb::postgres().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

backend_tests!(
    meta_round_trip,
    orgs_round_trip,
    commit_stores_everything,
    org_state_compare_and_swap,
    org_reads_follow_committed_changes,
    duplicate_activity_is_a_conflict,
    activities_found_by_request_and_votes_by_fingerprint,
    votes_replace_a_waiting_activity,
    concurrent_votes_keep_their_order,
    activity_pagination,
    activity_limit_is_clamped_to_100,
    activity_filters,
    account_pagination,
    account_by_address_ignores_case,
    private_keys_by_id_or_address,
    sub_organizations,
    import_and_export_flags,
    audit_receipts,
    concurrent_commits_isolate_failures,
    racing_hosts_serialise_on_the_version,
    renames_and_deletions,
    private_key_tag_edits,
    policy_evaluations_follow_their_activity,
    webhook_endpoints_follow_their_activity,
);
