//! Server-rendered pages: escaping, the page frame, and the headers every
//! page carries. No external assets: the one stylesheet is inline,
//! allowed by a per-response CSP nonce.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::oauth::form::FormFields;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;\
color:#1d2433;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}\
main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem;width:100%;max-width:22rem}\
h1{font-size:1.35rem;margin:0 0 .25rem}p{margin:.25rem 0 1rem;color:#4a5568}\
label{display:block;font-size:.9rem;margin:.75rem 0 .25rem}\
input[type=text],input[type=password],input[type=email]{box-sizing:border-box;width:100%;padding:.6rem;border:1px solid #cbd2dc;\
border-radius:8px;font-size:1rem}\
button{margin-top:1.25rem;width:100%;padding:.7rem;border:0;border-radius:8px;background:#2456d8;color:#fff;\
font-size:1rem;cursor:pointer}button.secondary{background:#e8ebf0;color:#1d2433;margin-top:.5rem}\
.error{background:#fdecec;color:#8a1c1c;border-radius:8px;padding:.6rem .75rem;margin:.75rem 0;font-size:.9rem}\
ul{padding-left:1.2rem;color:#4a5568}.aside{margin-top:1rem;text-align:center;font-size:.9rem}\
a{color:#2456d8}";

/// A complete page. `form_targets` are extra `form-action` sources: the
/// origin a form submission may end up at after our redirects (Chromium
/// applies `form-action` to the whole redirect chain).
pub fn page(status: StatusCode, title: &str, body: &str, form_targets: &[String]) -> Response {
    let nonce = idp_core::random::token::<16>();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style nonce=\"{nonce}\">{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        title = escape(title),
    );
    let mut form_action = String::from("'self'");
    for target in form_targets {
        form_action.push(' ');
        form_action.push_str(target);
    }
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    (status, headers, html).into_response()
}

/// The fields of a form a browser posted. Our forms are urlencoded; any
/// other body is refused with a page saying so. (The page is the error,
/// returned once per request; boxing it would buy nothing.)
#[allow(clippy::result_large_err)]
pub fn form_fields(headers: &HeaderMap, body: &[u8]) -> Result<FormFields, Response> {
    let urlencoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !urlencoded {
        return Err(error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This page accepts only the form it sent.",
        ));
    }
    FormFields::from_urlencoded(body)
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, &e.description))
}

/// The `token` of a link's query string (empty if there is none: it then
/// matches no stored token).
pub fn link_token(query: Option<String>) -> String {
    FormFields::from_urlencoded(query.unwrap_or_default().as_bytes())
        .ok()
        .and_then(|f| f.get("token").map(str::to_owned))
        .unwrap_or_default()
}

/// A page that says what went wrong, and never redirects anywhere.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!("<h1>Something went wrong</h1><p class=\"error\">{}</p>", escape(message));
    page(status, "Error", &body, &[])
}

/// The page for a store failure: 400 for a value the database cannot hold,
/// 503 while it is unreachable, 500 otherwise. The cause is logged, never
/// shown.
/// Every use case's failure, as the browser pages answer it: the one map
/// for pages.
pub fn failure_page(err: crate::service::Failure) -> Response {
    use crate::service::Failure;
    match err {
        Failure::Busy => {
            let mut page = error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy. Please try again in a moment.",
            );
            page.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::service::hashing::RETRY_AFTER_SECS),
            );
            page
        }
        Failure::Store(e) => store_failure(e),
        Failure::Unexpected(e) => {
            tracing::error!(error = format!("{e:#}"), "browser endpoint failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not complete the request. Please try again.",
            )
        }
    }
}

pub fn store_failure(err: idp_store::StoreError) -> Response {
    if err.is_unstorable_input() {
        return error_page(StatusCode::BAD_REQUEST, crate::http::error::UNSTORABLE_INPUT);
    }
    tracing::error!(error = %err, "browser endpoint failed");
    let status = if err.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error_page(status, "The server could not complete the request. Please try again.")
}

/// The `form-action` source for a redirect URI: its origin, or its scheme
/// for a native app's private-use scheme.
pub fn form_target(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// A 303/302 to `location`.
pub fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_every_special_character() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#x27;y&#x27;)&lt;/script&gt;"
        );
    }

    #[test]
    fn form_targets_are_origins() {
        assert_eq!(
            form_target("https://app.example.com:8443/cb?x=1").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(form_target("com.example.app:/oauth").as_deref(), Some("com.example.app:"));
    }
}
