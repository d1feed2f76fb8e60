# session-relay: needs no secret from Vault today; its token can only look itself up and renew
# itself (a periodic token dies unless renewed). Grant more here, never via the root token.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
