//! Text from requests (login names, client ids, user agents) on its way into
//! a log line. Whoever reads the log must see one line per event and the
//! characters in the order they were sent: a raw line break would let a
//! crafted login name start a forged line, and a bidirectional override
//! would let it reorder what the reader sees. JSON already escapes C0
//! controls (CR, LF, …), but not DEL, the C1 controls (U+0085 NEXT LINE
//! among them), U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR, which
//! many viewers and log shippers also break lines at.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not appear raw in a log line.
fn needs_escape(c: char) -> bool {
    c.is_control() // C0, DEL and C1 (U+0085)
        || matches!(c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{061C}' | '\u{200E}' | '\u{200F}' // bidirectional marks
            | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' // embeddings, overrides, isolates
        )
}

/// `text` with every such character written as a JSON-style `\uXXXX`
/// escape (all of them lie in the Basic Multilingual Plane); borrowed when
/// there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `value` as one line of JSON that parses back to the same value: JSON
/// escapes C0 controls itself, and the other characters [`escape`] rewrites
/// can only occur inside strings, where `\uXXXX` is the same character.
pub fn json(value: &serde_json::Value) -> String {
    escape(&value.to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn line_breaks_of_every_kind_and_bidi_overrides_are_escaped() {
        let login = "alice\r\nbob\u{85}carol\u{2028}dave\u{2029}erin\u{b}\u{c}\u{7f}\u{202e}gnp.exe\u{2066}";
        let escaped = escape(login);
        assert_eq!(
            escaped,
            "alice\\u000d\\u000abob\\u0085carol\\u2028dave\\u2029erin\\u000b\\u000c\\u007f\\u202egnp.exe\\u2066"
        );
        assert!(!escaped.chars().any(needs_escape));
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in ["alice", "Zoë Müller", "日本語", "a\\u2028b", "😀", ""] {
            assert!(matches!(escape(text), Cow::Borrowed(t) if t == text), "{text}");
        }
    }

    #[test]
    fn json_stays_one_line_and_parses_back_to_the_same_value() {
        let value = json!({"login": "x\u{2028}y\u{85}z\n\u{202e}", "nested": ["\u{2029}"], "n": 1});
        let line = json(&value);
        assert!(!line.chars().any(needs_escape), "{line}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).unwrap(), value);
    }
}
