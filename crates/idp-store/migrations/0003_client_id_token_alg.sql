-- A client's `id_token_signed_response_alg` (OIDC Dynamic Client
-- Registration §2): the JWS algorithm of its ID tokens, one of those the
-- server signs with (its ALGORITHM, and RS256, which OIDC Core §15.1
-- requires every provider to offer). NULL, as for every existing client,
-- means the server's ALGORITHM.
ALTER TABLE oauth_clients ADD COLUMN id_token_signed_response_alg TEXT;
