-- The origins an app lets frame its recipients' portal page (CSP frame-ancestors); none by
-- default, as before.
ALTER TABLE webhook_apps ADD COLUMN portal_frame_ancestors text[] NOT NULL DEFAULT '{}';
