//! Composing a mail: its strings from the Fluent catalog
//! (`locales/<language>/mail.ftl`), laid out by the template files
//! (`templates/mail/`), as a plain-text and an HTML part.

use askama::Template;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// What a mail is for; also the `kind` label of `idp_mail_sent_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    PasswordReset,
    EmailVerification,
    EmailChange,
    EmailChangeNotice,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
            Self::EmailChange => "email_change",
            Self::EmailChangeNotice => "email_change_notice",
        }
    }

    /// The prefix of the kind's message ids in the catalog.
    fn message_prefix(self) -> &'static str {
        match self {
            Self::PasswordReset => "password-reset",
            Self::EmailVerification => "email-verification",
            Self::EmailChange => "email-change",
            Self::EmailChangeNotice => "email-change-notice",
        }
    }
}

/// What a mail says, beyond its kind.
#[derive(Clone, Debug)]
pub struct Content<'a> {
    pub kind: MailKind,
    pub username: &'a str,
    /// The address the mail is about (the new one for a change).
    pub email: &'a str,
    /// The one-time link; `None` for a notice.
    pub link: Option<&'a str>,
    /// How long the link works.
    pub valid_for: std::time::Duration,
    /// How the service calls itself: the issuer's host.
    pub site: &'a str,
}

/// A composed mail.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Composed {
    pub kind: MailKind,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Composed {
    /// The bodies carry one-time links.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composed").field("kind", &self.kind).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("mail catalog: {0}")]
    Catalog(String),
    #[error("mail template: {0}")]
    Template(#[from] askama::Error),
}

/// Every string a template shows, already in the reader's language.
struct Parts {
    lang: &'static str,
    subject: String,
    greeting: String,
    intro: String,
    action: String,
    link: String,
    fallback: String,
    outro: String,
    signature: String,
}

#[derive(Template)]
#[template(path = "mail/action.txt")]
struct ActionText<'a> {
    p: &'a Parts,
}

#[derive(Template)]
#[template(path = "mail/action.html")]
struct ActionHtml<'a> {
    p: &'a Parts,
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    p: &'a Parts,
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    p: &'a Parts,
}

/// The mail strings of one language.
pub struct Catalog {
    lang: &'static str,
    bundle: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("lang", &self.lang).finish_non_exhaustive()
    }
}

impl Catalog {
    /// English, built into the binary.
    pub fn english() -> Result<Self, ComposeError> {
        Self::parse("en", include_str!("../../locales/en/mail.ftl"))
    }

    fn parse(lang: &'static str, source: &str) -> Result<Self, ComposeError> {
        let resource = FluentResource::try_new(source.to_owned())
            .map_err(|(_, errors)| ComposeError::Catalog(format!("{lang}: {errors:?}")))?;
        let id: unic_langid::LanguageIdentifier =
            lang.parse().map_err(|_| ComposeError::Catalog(format!("bad language id {lang}")))?;
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // Mail is plain text and HTML, not bidirectional UI: no isolation
        // marks around the variables.
        bundle.set_use_isolating(false);
        bundle
            .add_resource(resource)
            .map_err(|errors| ComposeError::Catalog(format!("{lang}: {errors:?}")))?;
        Ok(Self { lang, bundle })
    }

    fn text(&self, id: &str, args: &FluentArgs<'_>) -> Result<String, ComposeError> {
        let pattern = self
            .bundle
            .get_message(id)
            .and_then(|m| m.value())
            .ok_or_else(|| ComposeError::Catalog(format!("{}: no message {id}", self.lang)))?;
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, Some(args), &mut errors);
        if !errors.is_empty() {
            return Err(ComposeError::Catalog(format!("{}: {id}: {errors:?}", self.lang)));
        }
        Ok(text.into_owned())
    }

    /// The subject and both parts of a mail.
    pub fn compose(&self, content: &Content<'_>) -> Result<Composed, ComposeError> {
        let mut args = FluentArgs::new();
        args.set("username", content.username.to_owned());
        args.set("email", content.email.to_owned());
        args.set("site", content.site.to_owned());
        args.set("minutes", content.valid_for.as_secs().div_ceil(60));
        args.set("hours", content.valid_for.as_secs().div_ceil(3_600));
        let prefix = content.kind.message_prefix();
        let own = |suffix: &str| self.text(&format!("{prefix}-{suffix}"), &args);
        let parts = Parts {
            lang: self.lang,
            subject: own("subject")?,
            greeting: self.text("greeting", &args)?,
            intro: own("intro")?,
            action: match content.link {
                Some(_) => own("action")?,
                None => String::new(),
            },
            link: content.link.unwrap_or_default().to_owned(),
            fallback: self.text("link-fallback", &args)?,
            outro: own("outro")?,
            signature: self.text("signature", &args)?,
        };
        let (text, html) = match content.link {
            Some(_) => (ActionText { p: &parts }.render()?, ActionHtml { p: &parts }.render()?),
            None => (NoticeText { p: &parts }.render()?, NoticeHtml { p: &parts }.render()?),
        };
        Ok(Composed { kind: content.kind, subject: parts.subject, text, html })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn content(kind: MailKind, link: Option<&'static str>) -> Content<'static> {
        Content {
            kind,
            username: "alice",
            email: "alice@example.com",
            link,
            valid_for: Duration::from_secs(30 * 60),
            site: "id.example.com",
        }
    }

    #[test]
    fn every_kind_composes_both_parts_with_the_link() {
        let catalog = Catalog::english().unwrap();
        let link = "https://id.example.com/auth/password/reset?token=pr_abc&x=1";
        for kind in [MailKind::PasswordReset, MailKind::EmailVerification, MailKind::EmailChange] {
            let mail = catalog.compose(&content(kind, Some(link))).unwrap();
            assert!(!mail.subject.is_empty());
            assert!(mail.text.contains(link), "{kind:?}: {}", mail.text);
            assert!(mail.text.starts_with("Hello alice,"), "{}", mail.text);
            // In HTML the link is escaped (`&` in the query).
            assert!(mail.html.contains("token=pr_abc&#38;x=1"), "{}", mail.html);
            assert!(mail.html.starts_with("<!DOCTYPE html>"));
            assert!(mail.html.contains("<html lang=\"en\">"));
        }
        let reset = catalog.compose(&content(MailKind::PasswordReset, Some(link))).unwrap();
        assert!(reset.text.contains("within 30 minutes"), "{}", reset.text);
        let notice = catalog.compose(&content(MailKind::EmailChangeNotice, None)).unwrap();
        assert!(!notice.text.contains("http"), "{}", notice.text);
        assert!(notice.text.contains("alice@example.com"));
    }

    #[test]
    fn what_the_user_chose_is_escaped_in_html() {
        let catalog = Catalog::english().unwrap();
        let mut c = content(MailKind::EmailChangeNotice, None);
        c.email = "<b>x</b>@example.com";
        let mail = catalog.compose(&c).unwrap();
        assert!(mail.html.contains("&#60;b&#62;x&#60;/b&#62;"), "{}", mail.html);
        assert!(!mail.html.contains("<b>x</b>"));
    }

    #[test]
    fn a_missing_message_is_an_error_not_an_empty_string() {
        let catalog = Catalog::parse("en", "greeting = Hi\n").unwrap();
        assert!(catalog.compose(&content(MailKind::PasswordReset, Some("https://x"))).is_err());
    }
}
