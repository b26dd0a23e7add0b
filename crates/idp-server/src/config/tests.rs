use super::*;

fn parse(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_source(&Source::from_pairs(pairs.iter().copied()))
}

#[test]
fn defaults_need_no_settings_at_all() {
    let s = parse(&[]).unwrap();
    assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(s.dialect(), Dialect::Sqlite);
    assert_eq!(s.algorithm, Algorithm::RS256);
    assert_eq!(s.access_token_ttl, Duration::from_secs(30 * 60));
    assert_eq!(s.refresh_token_ttl, Duration::from_secs(7 * 86_400));
    assert_eq!(s.issuer, "http://127.0.0.1:8000");
    assert_eq!(s.default_audience, s.issuer);
    assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
}

#[test]
fn the_original_sqlalchemy_url_is_translated() {
    let s = parse(&[(
        "SQLALCHEMY_URL",
        "postgresql+psycopg2://postgres:pw@localhost:5432/identity_db",
    )])
    .unwrap();
    assert_eq!(s.database_url, "postgres://postgres:pw@localhost:5432/identity_db");
    assert_eq!(s.dialect(), Dialect::Postgres);
}

#[test]
fn database_url_wins_over_the_sqlalchemy_alias() {
    let s = parse(&[("DATABASE_URL", "sqlite://x.db"), ("SQLALCHEMY_URL", "postgresql://a@b/c")])
        .unwrap();
    assert_eq!(s.database_url, "sqlite://x.db");
}

#[test]
fn a_bad_database_url_is_named_without_its_password() {
    let err = parse(&[("DATABASE_URL", "mysql://root:s3cret@db/idp")]).unwrap_err();
    assert_eq!(err.setting, "DATABASE_URL");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[test]
fn unknown_algorithms_are_refused() {
    let err = parse(&[("ALGORITHM", "HS256")]).unwrap_err();
    assert_eq!(err.to_string(), "ALGORITHM: expected one of RS256, ES256, EdDSA, got \"HS256\"");
}

#[test]
fn issuer_must_be_an_http_url_without_query() {
    assert!(parse(&[("ISSUER", "ftp://x")]).is_err());
    assert!(parse(&[("ISSUER", "https://id.example.com/?a=b")]).is_err());
    assert_eq!(
        parse(&[("ISSUER", "https://id.example.com/")]).unwrap().issuer,
        "https://id.example.com"
    );
}

#[test]
fn a_bad_bind_address_names_the_setting() {
    let err = parse(&[("BIND", "localhost")]).unwrap_err();
    assert_eq!(err.setting, "BIND");
}

#[test]
fn postgres_without_secret_key_says_what_is_missing() {
    let s = parse(&[("DATABASE_URL", "postgres://postgres@127.0.0.1/idp")]).unwrap();
    let err = s.secret_key().unwrap_err();
    assert_eq!(err.setting, "SECRET_KEY");
}

#[test]
fn a_public_key_without_a_private_key_is_refused() {
    let err = parse(&[("PUBLIC_KEY_PATH", "/keys/public.pem")]).unwrap_err();
    assert_eq!(err.setting, "PUBLIC_KEY_PATH");
}

#[test]
fn trusted_proxies_take_addresses_and_networks() {
    let s = parse(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ,::1")]).unwrap();
    assert_eq!(s.trusted_proxies.len(), 3);
    assert!(s.trusted_proxies[1].contains(&"192.168.1.7".parse::<std::net::IpAddr>().unwrap()));
    assert_eq!(parse(&[("TRUSTED_PROXIES", "everyone")]).unwrap_err().setting, "TRUSTED_PROXIES");
    assert!(parse(&[]).unwrap().trusted_proxies.is_empty(), "no proxy is trusted by default");
}

#[test]
fn connection_limits_have_defaults_and_bounds() {
    let s = parse(&[]).unwrap();
    assert_eq!(s.header_read_timeout, Duration::from_secs(10));
    assert_eq!(s.idle_timeout, Duration::from_secs(60));
    assert_eq!(s.shutdown_timeout, Duration::from_secs(30));
    // Derived from the open-file limit, never more than 10 000.
    assert!((16..=10_000).contains(&s.max_connections), "{}", s.max_connections);
    if let Some(room) = connections_the_file_limit_allows(s.database_max_connections) {
        assert!(s.max_connections as u64 <= room.max(16), "leaves the reserve free");
    }

    let s = parse(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "5"),
        ("IDLE_TIMEOUT_SECONDS", "120"),
        ("MAX_CONNECTIONS", "250"),
        ("SHUTDOWN_TIMEOUT_SECONDS", "0"),
    ])
    .unwrap();
    assert_eq!(s.header_read_timeout, Duration::from_secs(5));
    assert_eq!(s.idle_timeout, Duration::from_secs(120));
    assert_eq!(s.max_connections, 250);
    assert_eq!(s.shutdown_timeout, Duration::ZERO);

    for (setting, value) in [
        ("HEADER_READ_TIMEOUT_SECONDS", "0"),
        ("IDLE_TIMEOUT_SECONDS", "forever"),
        ("MAX_CONNECTIONS", "0"),
        ("SHUTDOWN_TIMEOUT_SECONDS", "-1"),
    ] {
        let err = parse(&[(setting, value)]).unwrap_err();
        assert_eq!(err.setting, setting);
        assert!(err.to_string().contains(value), "{err}");
    }
}
