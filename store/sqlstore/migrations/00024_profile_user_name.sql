-- A provider's userName is the member's e-mail, compared and stored in
-- lower case so that one address is one membership; but providers and
-- their conformance tests read back the userName they sent, case and all
-- (RFC 7643 makes it caseExact false, not case-folded). The profile keeps
-- it as sent, when that differs from the e-mail only in case.

-- +goose Up
ALTER TABLE member_profiles ADD COLUMN user_name TEXT;

-- +goose Down
ALTER TABLE member_profiles DROP COLUMN user_name;
