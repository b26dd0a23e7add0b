//! Form bodies of the OAuth endpoints: `application/x-www-form-urlencoded`
//! as RFC 6749 prescribes, and `multipart/form-data`, which the original
//! service's clients send (`curl -F`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};

use super::error::OAuthError;

/// More fields than any OAuth request has; a body with more is refused
/// before it costs anything.
const MAX_FIELDS: usize = 64;
/// Longest value of a single field.
const MAX_VALUE_LEN: usize = 64 * 1024;

/// The parameters of one request. Empty values count as absent
/// (RFC 6749 §3.1); a parameter given twice is refused (§3.2).
#[derive(Debug, Default, Clone)]
pub struct FormFields(HashMap<String, String>);

impl FormFields {
    /// A non-empty parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Every parameter, for requests that are not OAuth token requests
    /// (the authorization endpoint's query string and forms).
    pub fn as_map(&self) -> &HashMap<String, String> {
        &self.0
    }

    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("Missing parameter: {name}")))
    }

    fn insert(&mut self, name: String, value: String) -> Result<(), OAuthError> {
        if value.len() > MAX_VALUE_LEN || name.len() > 128 {
            return Err(OAuthError::invalid_request("A parameter is too long."));
        }
        if name.contains('\0') || value.contains('\0') {
            return Err(OAuthError::invalid_request("Parameters must not contain NUL characters."));
        }
        if self.0.len() >= MAX_FIELDS {
            return Err(OAuthError::invalid_request("Too many parameters."));
        }
        if self.0.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "Parameter given more than once: {name}"
            )));
        }
        self.0.insert(name, value);
        Ok(())
    }

    /// Parses an urlencoded body strictly: invalid UTF-8 after
    /// percent-decoding is refused rather than silently replaced.
    pub fn from_urlencoded(body: &[u8]) -> Result<Self, OAuthError> {
        let mut fields = Self::default();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let mut parts = pair.splitn(2, |&b| b == b'=');
            let name = decode(parts.next().unwrap_or_default())?;
            let value = decode(parts.next().unwrap_or_default())?;
            fields.insert(name, value)?;
        }
        Ok(fields)
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }
}

fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let plus_as_space: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes)
        .map_err(|_| OAuthError::invalid_request("The form is not valid UTF-8."))
}

fn unsupported_media_type() -> OAuthError {
    OAuthError::invalid_request(
        "Expected Content-Type application/x-www-form-urlencoded or multipart/form-data.",
    )
    .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

fn too_large() -> OAuthError {
    OAuthError::invalid_request("The request body is too large.")
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

impl<S: Send + Sync> FromRequest<S> for FormFields {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_owned();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => {
                let body = Bytes::from_request(req, state).await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        OAuthError::invalid_request("The request body could not be read.")
                    }
                })?;
                Self::from_urlencoded(&body)
            }
            "multipart/form-data" => {
                let mut multipart = Multipart::from_request(req, state)
                    .await
                    .map_err(|_| OAuthError::invalid_request("The multipart body is malformed."))?;
                let mut fields = Self::default();
                loop {
                    let field = match multipart.next_field().await {
                        Ok(Some(field)) => field,
                        Ok(None) => break,
                        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                            return Err(too_large());
                        }
                        Err(_) => {
                            return Err(OAuthError::invalid_request(
                                "The multipart body is malformed.",
                            ));
                        }
                    };
                    let name = field.name().unwrap_or_default().to_owned();
                    let bytes = field.bytes().await.map_err(|e| {
                        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                            too_large()
                        } else {
                            OAuthError::invalid_request("The multipart body is malformed.")
                        }
                    })?;
                    let value = String::from_utf8(bytes.to_vec())
                        .map_err(|_| OAuthError::invalid_request("The form is not valid UTF-8."))?;
                    fields.insert(name, value)?;
                }
                Ok(fields)
            }
            _ => Err(unsupported_media_type()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_bodies_decode_percent_and_plus() {
        let f =
            FormFields::from_urlencoded(b"grant_type=password&username=al%40ce&password=a+b%2Bc")
                .unwrap();
        assert_eq!(f.get("grant_type"), Some("password"));
        assert_eq!(f.get("username"), Some("al@ce"));
        assert_eq!(f.get("password"), Some("a b+c"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let f = FormFields::from_urlencoded(b"scope=&client_id=x").unwrap();
        assert_eq!(f.get("scope"), None);
        assert!(f.required("scope").is_err());
    }

    #[test]
    fn duplicates_invalid_utf8_and_nul_are_refused() {
        assert!(FormFields::from_urlencoded(b"a=1&a=2").is_err());
        assert!(FormFields::from_urlencoded(b"a=%FF%FE").is_err());
        assert!(FormFields::from_urlencoded(b"a=x%00y").is_err());
    }

    #[test]
    fn too_many_fields_are_refused() {
        let body: String = (0..100).map(|i| format!("f{i}=v&")).collect();
        assert!(FormFields::from_urlencoded(body.as_bytes()).is_err());
    }
}
