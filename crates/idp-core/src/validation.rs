//! What we accept from users at registration and in profile updates.
//!
//! Each check returns a short message fragment meant to follow the field name
//! ("username must be ..."); the server turns them into a 422 body. Messages
//! never echo a password.

/// One rejected field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: &'static str,
    pub message: String,
}

const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=64;
const EMAIL_CHARS: std::ops::RangeInclusive<usize> = 3..=254;
const EMAIL_LOCAL_MAX: usize = 64;
const DNS_LABEL_MAX: usize = 63;
const DISPLAY_NAME_MAX: usize = 128;
const PASSWORD_MIN: usize = 8;
const PASSWORD_MAX: usize = 128;

/// 3 to 64 characters of `[A-Za-z0-9._-]`: safe in URLs, logs and LDAP-ish
/// identifiers without escaping.
pub fn username(value: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    // Only ASCII passes the character check, so bytes equal characters here.
    if USERNAME_CHARS.contains(&value.len()) && value.chars().all(allowed) {
        Ok(())
    } else {
        Err("must be 3 to 64 characters of letters, digits, '.', '_' or '-'".to_owned())
    }
}

/// A pragmatic address check, not RFC 5321 in full: no quoted local parts, no
/// IP literals, no internationalised addresses. ASCII only because the unique
/// index on `lower(email)` folds case for ASCII alone on SQLite, so two
/// spellings of one non-ASCII address could both register.
pub fn email(value: &str) -> Result<(), String> {
    if !EMAIL_CHARS.contains(&value.len()) {
        return Err(format!("must be {} to {} characters", EMAIL_CHARS.start(), EMAIL_CHARS.end()));
    }
    if is_valid_email(value) { Ok(()) } else { Err("is not a valid email address".to_owned()) }
}

fn is_valid_email(value: &str) -> bool {
    let mut parts = value.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    is_valid_local_part(local) && is_valid_domain(domain)
}

/// RFC 5322 dot-atom: atext characters in dot-separated, non-empty runs.
fn is_valid_local_part(local: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    local.len() <= EMAIL_LOCAL_MAX
        && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// DNS host name with at least two labels (no bare `localhost`-style names).
fn is_valid_domain(domain: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=DNS_LABEL_MAX).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    domain.contains('.') && domain.split('.').all(label_ok)
}

/// 1 to 128 characters once surrounding whitespace is trimmed. Control
/// characters are refused anywhere in the value, not just inside the trimmed
/// part, because the caller stores what it was given.
pub fn display_name(value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    let chars = value.trim().chars().count();
    if chars == 0 {
        Err("must not be empty".to_owned())
    } else if chars > DISPLAY_NAME_MAX {
        Err(format!("must be at most {DISPLAY_NAME_MAX} characters"))
    } else {
        Ok(())
    }
}

/// Length is counted in characters, not bytes, so a passphrase in any script
/// gets the same allowance. The upper bound keeps hashing cost predictable.
pub fn new_password(password: &str, username: &str, email: &str) -> Result<(), String> {
    if password.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    let chars = password.chars().count();
    if chars < PASSWORD_MIN {
        return Err(format!("must be at least {PASSWORD_MIN} characters"));
    }
    if chars > PASSWORD_MAX {
        return Err(format!("must be at most {PASSWORD_MAX} characters"));
    }
    let lowered = password.to_lowercase();
    if lowered == username.to_lowercase() {
        return Err("must not be the same as the username".to_owned());
    }
    if lowered == email.to_lowercase() {
        return Err("must not be the same as the email address".to_owned());
    }
    Ok(())
}

/// Validates a registration and returns every violation at once (not just the
/// first), in field order username, email, password, name, so a form can mark
/// all bad fields in one round trip.
pub fn registration(
    username: &str,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Vec<FieldViolation> {
    let checks = [
        ("username", self::username(username)),
        ("email", self::email(email)),
        ("password", new_password(password, username, email)),
        ("name", name.map_or(Ok(()), display_name)),
    ];
    checks
        .into_iter()
        .filter_map(|(field, result)| result.err().map(|message| FieldViolation { field, message }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_length_boundaries() {
        assert!(username("ab").is_err());
        assert!(username("abc").is_ok());
        assert!(username(&"a".repeat(64)).is_ok());
        assert!(username(&"a".repeat(65)).is_err());
        assert!(username("").is_err());
    }

    #[test]
    fn username_allows_letters_digits_dot_underscore_dash() {
        for ok in ["alice", "Bob_42", "j.doe", "x-y-z", "..._", "007"] {
            assert_eq!(username(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn username_refuses_sql_metacharacters_nul_spaces_and_unicode() {
        for bad in [
            "admin'--",
            "a\"b\"c",
            "x; DROP TABLE users",
            "robert%",
            "a*b*c",
            "abc\0",
            "\0\0\0",
            "with space",
            "tab\tbed",
            "ümlaut",
            "ab\u{0301}",
            "user@example",
        ] {
            assert_eq!(
                username(bad),
                Err("must be 3 to 64 characters of letters, digits, '.', '_' or '-'".to_owned()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn plausible_emails_are_accepted() {
        for ok in [
            "a@b.co",
            "alice@example.com",
            "Alice.Smith+tag@mail.example.co.uk",
            "o'brien@example.ie",
            "x_y-z@sub-domain.example.org",
            "1234@123.example",
        ] {
            assert_eq!(email(ok), Ok(()), "{ok}");
        }
        let local = "l".repeat(64);
        assert!(email(&format!("{local}@example.com")).is_ok());
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "a@b",
            "alice",
            "alice@",
            "@example.com",
            "a@@example.com",
            "a@b@example.com",
            "alice@localhost",
            "alice@example..com",
            "alice@.example.com",
            "alice@example.com.",
            "alice@-example.com",
            "alice@example-.com",
            "alice@exa_mple.com",
            "al..ice@example.com",
            ".alice@example.com",
            "alice.@example.com",
            "al ice@example.com",
            "alice@exam ple.com",
            " alice@example.com",
            "alice@example.com\n",
            "al\0ice@example.com",
            "\"alice\"@example.com",
            "alice@[127.0.0.1]",
            "a,b@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unicode_emails_are_refused() {
        for bad in
            ["jörg@example.com", "jorg@exämple.com", "用户@例子.广告", "a@xn--bcher-kva.ch\u{200b}"]
        {
            assert_eq!(email(bad), Err("is not a valid email address".to_owned()), "{bad}");
        }
        // The punycode form of an internationalised domain is plain ASCII.
        assert!(email("a@xn--bcher-kva.ch").is_ok());
    }

    #[test]
    fn email_length_limits() {
        let label = "d".repeat(63);
        let domain = format!("{label}.{label}.{label}.{}", "d".repeat(58)); // 250 chars
        let at_limit = format!("abc@{domain}");
        assert_eq!(at_limit.len(), 254);
        assert!(email(&at_limit).is_ok());
        assert!(email(&format!("abcd@{domain}")).is_err());
        assert!(email(&format!("{}@example.com", "l".repeat(65))).is_err());
        assert!(email(&format!("a@{}.com", "d".repeat(64))).is_err());
    }

    #[test]
    fn display_name_rules() {
        assert!(display_name("Alice Smith").is_ok());
        assert!(display_name("  Zoë Ångström  ").is_ok());
        assert!(display_name(&"名".repeat(128)).is_ok());
        assert!(display_name(&format!("  {}  ", "n".repeat(128))).is_ok());
        assert_eq!(
            display_name(&"名".repeat(129)),
            Err("must be at most 128 characters".to_owned())
        );
        assert_eq!(display_name(""), Err("must not be empty".to_owned()));
        assert_eq!(display_name("   "), Err("must not be empty".to_owned()));
        for bad in ["a\0b", "line\nbreak", "bell\u{7}", "del\u{7f}", "c1\u{85}", "Alice\n"] {
            assert_eq!(
                display_name(bad),
                Err("must not contain control characters".to_owned()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn password_length_is_counted_in_characters() {
        let ok = |p: &str| new_password(p, "alice", "alice@example.com");
        assert_eq!(ok(&"p".repeat(7)), Err("must be at least 8 characters".to_owned()));
        assert!(ok(&"p".repeat(8)).is_ok());
        assert!(ok(&"p".repeat(128)).is_ok());
        assert_eq!(ok(&"p".repeat(129)), Err("must be at most 128 characters".to_owned()));
        // 7 two-byte characters are 14 bytes, still too short; 128 are 256 bytes, still fine.
        assert!(ok(&"é".repeat(7)).is_err());
        assert!(ok(&"é".repeat(8)).is_ok());
        assert!(ok(&"密".repeat(128)).is_ok());
        assert!(ok(&"🔑".repeat(129)).is_err());
    }

    #[test]
    fn password_must_differ_from_username_and_email() {
        assert_eq!(
            new_password("AliceSmith", "alicesmith", "a@example.com"),
            Err("must not be the same as the username".to_owned())
        );
        assert_eq!(
            new_password("ALICE@example.com", "alice", "alice@EXAMPLE.com"),
            Err("must not be the same as the email address".to_owned())
        );
        assert!(new_password("alicesmith1", "alicesmith", "a@example.com").is_ok());
    }

    #[test]
    fn password_refuses_control_characters() {
        for bad in ["passw\0rd123", "password\n123", "\u{1b}[31mpassword"] {
            assert_eq!(
                new_password(bad, "alice", "a@example.com"),
                Err("must not contain control characters".to_owned())
            );
        }
        assert!(new_password("pass word with spaces", "alice", "a@example.com").is_ok());
    }

    #[test]
    fn password_value_never_appears_in_messages() {
        let password = "secret!";
        let violations = registration("alice", "alice@example.com", password, None);
        assert_eq!(violations.len(), 1);
        assert!(violations.iter().all(|v| !v.message.contains(password)));
    }

    #[test]
    fn registration_reports_every_bad_field_in_order() {
        let violations = registration("a'", "not-an-email", "short", Some("\0"));
        let fields: Vec<_> = violations.iter().map(|v| v.field).collect();
        assert_eq!(fields, ["username", "email", "password", "name"]);
        assert_eq!(
            violations.get(2),
            Some(&FieldViolation {
                field: "password",
                message: "must be at least 8 characters".to_owned()
            })
        );
    }

    #[test]
    fn registration_of_valid_input_has_no_violations() {
        assert!(registration("alice", "alice@example.com", "correct horse", None).is_empty());
        assert!(
            registration("alice", "alice@example.com", "correct horse", Some("Alice")).is_empty()
        );
        let only_name = registration("alice", "alice@example.com", "correct horse", Some(" "));
        assert_eq!(only_name.len(), 1);
        assert_eq!(only_name.first().map(|v| v.field), Some("name"));
    }

    #[test]
    fn registration_checks_password_against_the_submitted_username() {
        let violations = registration("alice.smith", "a@example.com", "Alice.Smith", None);
        assert_eq!(
            violations,
            [FieldViolation {
                field: "password",
                message: "must not be the same as the username".to_owned()
            }]
        );
    }
}
