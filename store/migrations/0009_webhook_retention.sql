-- Retention (store/webhookretention.go) deletes old deliveries; the cascade of each to its
-- attempts looks them up by delivery_id, which without an index is a scan of every attempt per
-- deleted delivery (deleting an endpoint, recipient or app cascades the same way).
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);
