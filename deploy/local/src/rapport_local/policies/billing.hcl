# billing: the ICD-10-CM diagnosis code on a superbill is PHI. It is stored as ciphertext of the
# derived transit key billing-diagnosis (context: the appointment id). Encrypt and decrypt only:
# billing can neither read, export nor delete the key.
path "transit/encrypt/billing-diagnosis" {
  capabilities = ["update"]
}

path "transit/decrypt/billing-diagnosis" {
  capabilities = ["update"]
}

# A periodic token must renew itself to stay alive; nothing else about tokens.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
