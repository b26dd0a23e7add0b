//! Tokens: the claims of the JWTs idp signs.

mod claims;

pub use claims::{ACCESS_TOKEN_TYP, AccessClaims, Audience, ID_TOKEN_TYP, IdClaims};
