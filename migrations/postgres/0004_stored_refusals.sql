-- A command refused by the domain (403, 404, 409, 412, 422) also stores its answer under its
-- idempotency key, so a repeat gets the first answer even when the task has changed since.
-- Null for a success; otherwise the refusal's stored form (`DomainError::to_stored`).
alter table idempotency_keys add column refusal text;
