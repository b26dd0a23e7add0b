#[allow(unused_imports)]
use crate::helpers::*;
use idp_store::{Db, PoolSettings};

engine_test!(
    async fn migrations_apply_to_an_empty_database_and_reapplying_is_a_no_op(engine) {
        let test_db = TestDb::create(engine).await;
        let db = Db::connect(&test_db.url, &PoolSettings::default()).await.unwrap();

        let status = idp_store::migrate::status(&db).await.unwrap();
        assert!(!status.is_empty());
        assert!(status.iter().all(|m| !m.applied), "nothing applied yet");

        let applied = idp_store::migrate::run(&db).await.unwrap();
        assert_eq!(applied, status.len());
        assert!(idp_store::migrate::is_up_to_date(&db).await.unwrap());

        let again = idp_store::migrate::run(&db).await.unwrap();
        assert_eq!(again, 0, "a second apply changes nothing");
        db.close().await;
    }
);

engine_test!(
    async fn usernames_and_emails_are_unique_regardless_of_case(engine) {
        let test_db = TestDb::create(engine).await;
        let db = Db::connect(&test_db.url, &PoolSettings::default()).await.unwrap();
        idp_store::migrate::run(&db).await.unwrap();

        let insert = "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) \
                      VALUES ($1, $2, $3, 'x', 0, 0)";
        sqlx::query(insert).bind(uuid::Uuid::new_v4().to_string()).bind("Alice").bind("a@example.com")
            .execute(db.read()).await.unwrap();
        let err = sqlx::query(insert).bind(uuid::Uuid::new_v4().to_string()).bind("alice").bind("other@example.com")
            .execute(db.read()).await.unwrap_err();
        assert_eq!(idp_store::StoreError::from(err).violated_index(), Some("users_username_key"));
        let err = sqlx::query(insert).bind(uuid::Uuid::new_v4().to_string()).bind("bob").bind("A@EXAMPLE.COM")
            .execute(db.read()).await.unwrap_err();
        assert_eq!(idp_store::StoreError::from(err).violated_index(), Some("users_email_key"));
        db.close().await;
    }
);
