-- Offboardings that run in chunks (issue 15, item 5). Each chunk is its
-- own transaction and stores, in that transaction, what the operation has
-- done so far: which space and group memberships and how many direct
-- grants, with the report it is building. A restart reads it and goes on
-- where the last committed chunk stopped.

-- +goose Up
CREATE TABLE operation_progress (
    operation_id BIGINT PRIMARY KEY REFERENCES operations (id),
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE operation_progress;
