//! What a client registration may contain (admin API, CLI).

use std::time::Duration;

use crate::client::{ClientType, GrantType};
use crate::jose::Algorithm;
use crate::scope::Scope;
use crate::validation::FieldViolation;

/// The longest per-client token lifetime: signing keys stay published a day
/// after retirement, so no token may outlive that.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
const MAX_URIS: usize = 32;
const MAX_URI_LEN: usize = 2_000;

/// Client ids chosen by operators: `[A-Za-z0-9._~-]`, 3–100 characters (URL-safe
/// without escaping, since they travel in query strings).
pub fn client_id(id: &str) -> Result<(), String> {
    let ok = (3..=100).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("must be 3 to 100 characters of letters, digits, '.', '_', '~' or '-'".into())
    }
}

pub fn client_name(name: &str) -> Result<(), String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 128 || trimmed.chars().any(char::is_control)
    {
        Err("must be 1 to 128 characters without control characters".into())
    } else {
        Ok(())
    }
}

/// A redirect URI (RFC 6749 §3.1.2): absolute, no fragment. `https`, or
/// `http` only on loopback (RFC 8252 §7.3) and localhost; a private-use
/// scheme (`com.example.app:/cb`, RFC 8252 §7.1) for native apps. Never
/// `javascript:`, `data:` and the like.
pub fn redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_LEN || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an absolute URI without spaces, at most 2000 characters".into());
    }
    let parsed = url::Url::parse(uri).map_err(|_| "must be an absolute URI".to_owned())?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err("must not contain a fragment".into());
    }
    // The parser defaults an empty port and accepts `:0`; neither names an
    // endpoint (and the loopback any-port rule would not take them).
    if crate::redirect_uri::written_port(uri).is_some_and(|p| !crate::redirect_uri::valid_port(p)) {
        return Err("the port must be a number from 1 to 65535".into());
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host_str() {
            Some("localhost" | "127.0.0.1" | "[::1]") => Ok(()),
            _ => Err("http is only allowed for localhost and loopback addresses; use https".into()),
        },
        "javascript" | "data" | "vbscript" | "file" | "about" | "blob" | "ftp" | "ws" | "wss" => {
            Err(format!("the {} scheme is not allowed", parsed.scheme()))
        }
        // Private-use schemes must look like reversed domain names.
        scheme if scheme.contains('.') => Ok(()),
        _ => {
            Err("custom schemes must be reversed domain names (e.g. com.example.app:/callback)"
                .into())
        }
    }
}

/// `id_token_signed_response_alg` (OIDC Dynamic Client Registration §2):
/// one of the algorithms a server configured with `configured` signs with,
/// the list discovery publishes as `id_token_signing_alg_values_supported`.
pub fn id_token_alg(name: &str, configured: Algorithm) -> Result<Algorithm, String> {
    let supported = configured.signing_algorithms();
    name.parse::<Algorithm>().ok().filter(|alg| supported.contains(alg)).ok_or_else(|| {
        let names: Vec<&str> = supported.iter().map(|alg| alg.as_str()).collect();
        format!("must be one of {} (id_token_signing_alg_values_supported)", names.join(", "))
    })
}

/// Every violation of a registration, field by field.
#[allow(clippy::too_many_arguments)]
pub fn registration(
    client_type: ClientType,
    name: &str,
    redirect_uris: &[String],
    post_logout_redirect_uris: &[String],
    grant_types: &[GrantType],
    scopes: &[String],
    access_token_ttl: Option<Duration>,
    refresh_token_ttl: Option<Duration>,
) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    let mut push =
        |field: &'static str, message: String| out.push(FieldViolation { field, message });
    if let Err(m) = client_name(name) {
        push("name", m);
    }
    for (field, uris) in
        [("redirect_uris", redirect_uris), ("post_logout_redirect_uris", post_logout_redirect_uris)]
    {
        if uris.len() > MAX_URIS {
            push(field, format!("at most {MAX_URIS} URIs"));
        }
        for uri in uris {
            if let Err(m) = redirect_uri(uri) {
                push(field, format!("{}: {m}", uri.chars().take(100).collect::<String>()));
            }
        }
    }
    if grant_types.is_empty() {
        push("grant_types", "must name at least one grant type".into());
    }
    if grant_types.contains(&GrantType::ClientCredentials) && client_type == ClientType::Public {
        push("grant_types", "client_credentials needs a confidential client".into());
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        push("redirect_uris", "authorization_code needs at least one redirect URI".into());
    }
    if Scope::parse(&scopes.join(" ")).is_err()
        || scopes.iter().any(|s| s.is_empty() || s.contains(' '))
    {
        push(
            "scopes",
            "scopes must be printable ASCII tokens without spaces, quotes or backslashes".into(),
        );
    }
    for (field, ttl) in
        [("access_token_ttl_secs", access_token_ttl), ("refresh_token_ttl_secs", refresh_token_ttl)]
    {
        if let Some(ttl) = ttl {
            let max = if field == "access_token_ttl_secs" {
                MAX_TOKEN_TTL
            } else {
                Duration::from_secs(365 * 86_400)
            };
            if ttl.is_zero() || ttl > max {
                push(field, format!("must be from 1 to {} seconds", max.as_secs()));
            }
        }
    }
    out
}

/// Permission names: `resource:action`, lower case (e.g. `users:read`).
pub fn permission_name(name: &str) -> Result<(), String> {
    let valid_part = |p: &str, star: bool| {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b"_.-".contains(&b)
                    || (star && b == b'*')
            })
    };
    match name.split_once(':') {
        Some((resource, action)) if valid_part(resource, false) && valid_part(action, true) => {
            Ok(())
        }
        _ => Err("must be resource:action in lower case, e.g. users:read".into()),
    }
}

/// Role names: 1–64 characters of letters, digits, space, `.`, `_`, `-`.
pub fn role_name(name: &str) -> Result<(), String> {
    let ok = !name.trim().is_empty()
        && name.len() <= 64
        && name.trim() == name
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b" ._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of letters, digits, spaces, '.', '_' or '-'".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_safe() {
        for ok in [
            "https://app.example.com/cb",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:65535/cb",
            "http://[::1]:1/cb",
            "https://app.example.com:8443/cb",
            "com.example.app:/oauth",
        ] {
            assert!(redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad_port in [
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:+80/cb",
            "http://[::1]:0/cb",
            "https://app.example.com:/cb",
            "https://app.example.com:0/cb",
            "https://app.example.com:65536/cb",
        ] {
            assert!(redirect_uri(bad_port).is_err(), "{bad_port}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "/relative",
            "https://a.example/ space",
            "myapp:/cb",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registrations_report_every_problem() {
        let v = registration(
            ClientType::Public,
            "",
            &["javascript:x".into()],
            &[],
            &[GrantType::ClientCredentials, GrantType::AuthorizationCode],
            &["ok".into(), "bad\"scope".into()],
            Some(Duration::from_secs(2 * 86_400)),
            None,
        );
        let fields: Vec<&str> = v.iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            ["name", "redirect_uris", "grant_types", "scopes", "access_token_ttl_secs"]
        );
    }

    #[test]
    fn id_token_algorithms_are_the_ones_the_server_signs_with() {
        assert_eq!(id_token_alg("RS256", Algorithm::ES256), Ok(Algorithm::RS256));
        assert_eq!(id_token_alg("ES256", Algorithm::ES256), Ok(Algorithm::ES256));
        assert_eq!(id_token_alg("RS256", Algorithm::RS256), Ok(Algorithm::RS256));
        assert_eq!(
            id_token_alg("EdDSA", Algorithm::ES256),
            Err("must be one of ES256, RS256 (id_token_signing_alg_values_supported)".into())
        );
        for unknown in ["HS256", "none", "rs256", ""] {
            assert!(id_token_alg(unknown, Algorithm::EdDSA).is_err(), "{unknown}");
        }
    }

    #[test]
    fn names() {
        assert!(permission_name("users:read").is_ok());
        assert!(permission_name("reports:*").is_ok());
        assert!(permission_name("Users:Read").is_err());
        assert!(permission_name("users").is_err());
        assert!(role_name("Support Staff").is_ok());
        assert!(role_name(" padded").is_err());
        assert!(client_id("my-spa").is_ok());
        assert!(client_id("a b").is_err());
    }
}
