-- The phone number sealed for the winners' notification (issue 19, docs/prizes.md "Notifying
-- the winners"): written with the registration when the campaign has prizes, NULL otherwise.
-- The text is `1.<nonce and ciphertext, base64url>` (ChaCha20-Poly1305 under a key derived from
-- `auth.phone_secret`, the campaign id as associated data): the database alone cannot read it.
-- A person's deletion and a purge empty it with the name and the phone hash.
ALTER TABLE participants ADD COLUMN phone_sealed TEXT;
