# identity: signs ES256 JWTs with the transit key identity-jwt (marshaling_algorithm=jws),
# publishes its public keys as JWKS, and rotates it. It can never export or decrypt anything.
path "transit/keys/identity-jwt" {
  capabilities = ["read"]
}

path "transit/sign/identity-jwt" {
  capabilities = ["update"]
}

# The same endpoint with the hash algorithm in the path (transit/sign/identity-jwt/sha2-256).
path "transit/sign/identity-jwt/+" {
  capabilities = ["update"]
}

path "transit/keys/identity-jwt/rotate" {
  capabilities = ["update"]
}

# TOTP secrets are stored as ciphertext of the derived key identity-totp (context: the user id).
path "transit/encrypt/identity-totp" {
  capabilities = ["update"]
}

path "transit/decrypt/identity-totp" {
  capabilities = ["update"]
}

# A periodic token must renew itself to stay alive; nothing else about tokens.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
