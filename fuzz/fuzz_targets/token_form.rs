//! The token endpoint's body parsing: urlencoded and multipart bodies (the
//! input is the body; its first byte picks the content type) are parsed
//! through the real extractor, which must answer fields or a typed error
//! and never panic.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use idp_server::oauth::form::FormFields;
use libfuzzer_sys::fuzz_target;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread().build().expect("a runtime")
});

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XYZ",
    "multipart/form-data; boundary=\"a b\"",
    "multipart/form-data",
    "application/json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let content_type = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    let request = Request::builder()
        .method("POST")
        .uri("/auth/token")
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let parsed = RUNTIME.block_on(FormFields::from_request(request, &()));
    if let Ok(fields) = parsed {
        for name in ["grant_type", "code", "refresh_token", "scope", "client_id"] {
            let _ = fields.required(name);
        }
    }
    let _ = FormFields::from_urlencoded(body);
});
