-- An activity's commerce and workspace are checked by one foreign key, (workspace_id,
-- commerce_id) → commerces (workspace_id, id), instead of one to workspaces and one to
-- commerces. It also says more: the commerce is the activity's workspace's. And each check
-- locks its parent row (FOR KEY SHARE): with a key to workspaces every create of a workspace
-- queued on that one row, which cost more than the insert of the activity itself.
ALTER TABLE commerces ADD CONSTRAINT commerces_workspace_id_id_key UNIQUE (workspace_id, id);
ALTER TABLE activities
    DROP CONSTRAINT activities_workspace_id_fkey,
    DROP CONSTRAINT activities_commerce_id_fkey,
    ADD CONSTRAINT activities_commerce_fkey FOREIGN KEY (workspace_id, commerce_id)
        REFERENCES commerces (workspace_id, id) ON DELETE CASCADE;
