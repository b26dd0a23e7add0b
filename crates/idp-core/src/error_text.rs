//! The text of OAuth `error_description` values.
//!
//! RFC 6749 §4.1.2.1 and §5.2 allow only `%x20-21 / %x23-5B / %x5D-7E` in
//! `error_description`: printable ASCII without `"` and `\`. Descriptions
//! that quote what a client sent (a grant type, a parameter name) pass
//! through [`error_description`], so no client input can put anything else
//! into a response or a redirect.

use std::borrow::Cow;

/// Whether `c` may appear in an `error_description` (RFC 6749 §5.2).
pub fn allowed(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// `text` with every character outside the allowed set replaced by `?`.
/// Borrowed when nothing needed replacing (the fixed messages).
pub fn error_description(text: Cow<'static, str>) -> Cow<'static, str> {
    if text.chars().all(allowed) {
        text
    } else {
        Cow::Owned(text.chars().map(|c| if allowed(c) { c } else { '?' }).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_backslashes_controls_and_non_ascii_are_replaced() {
        let out = error_description("grant \"x\\y\" é\u{2028}\n\u{0}".to_owned().into());
        assert_eq!(out, "grant ?x?y? ????");
        assert!(out.chars().all(allowed));
    }

    #[test]
    fn allowed_text_is_kept_as_is() {
        let text: Cow<'static, str> = "Unsupported grant_type: foo (see RFC 6749 §5.2)".into();
        // `§` is not ASCII.
        assert_eq!(error_description(text), "Unsupported grant_type: foo (see RFC 6749 ?5.2)");
        let fixed: Cow<'static, str> = "Invalid or revoked refresh token".into();
        assert!(matches!(error_description(fixed), Cow::Borrowed(_)));
    }
}
