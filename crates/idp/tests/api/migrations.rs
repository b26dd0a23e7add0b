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

engine_test!(
    async fn every_sql_statement_prepares_against_the_migrated_schema(engine) {
        use idp_store::repo::{Engines, statements};
        use sqlx::Executor as _;
        let test_db = TestDb::create(engine).await;
        let db = Db::connect(&test_db.url, &PoolSettings::default()).await.unwrap();
        idp_store::migrate::run(&db).await.unwrap();
        let mut conn = db.read().acquire().await.unwrap();
        let mut prepared = 0;
        let mut failures = Vec::new();
        for statement in statements() {
            let for_this_engine = match statement.engines {
                Engines::Both => true,
                Engines::Sqlite => engine == Engine::Sqlite,
                Engines::Postgres => engine == Engine::Postgres,
            };
            if !for_this_engine {
                continue;
            }
            // SQLite's batched rotation is several statements in one string.
            for sql in statement.sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                match conn.prepare(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql.to_owned()))).await {
                    Ok(_) => prepared += 1,
                    Err(e) => failures.push(format!("{}: {e}\n  {sql}", statement.module)),
                }
            }
        }
        assert!(failures.is_empty(), "statements that do not prepare:\n{}", failures.join("\n"));
        assert!(prepared >= 90, "only {prepared} statements prepared");
        drop(conn);
        db.close().await;
    }
);
