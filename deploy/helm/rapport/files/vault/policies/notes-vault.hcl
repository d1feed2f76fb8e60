# notes-vault: one derived aes256-gcm96 key per scope under transit/keys/notes-*.
# Envelope encryption via datakeys, rewrap after rotation, and crypto-shredding
# (set deletion_allowed through .../config, then delete the key).
# Note: `notes-*` is a prefix glob, so it also covers transit/keys/notes-*/… sub-paths.
path "transit/keys/notes-*" {
  capabilities = ["create", "read", "update", "delete"]
}

path "transit/keys/notes-*/config" {
  capabilities = ["update"]
}

path "transit/encrypt/notes-*" {
  capabilities = ["update"]
}

path "transit/decrypt/notes-*" {
  capabilities = ["update"]
}

path "transit/datakey/plaintext/notes-*" {
  capabilities = ["update"]
}

path "transit/rewrap/notes-*" {
  capabilities = ["update"]
}

# A periodic token must renew itself to stay alive; nothing else about tokens.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
