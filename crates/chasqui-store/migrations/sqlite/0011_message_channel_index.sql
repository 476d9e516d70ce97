-- Read paths at scale: one channel's messages (alone or with other filters) page through their
-- own index in id order, instead of walking all of the tenant's messages for them.
CREATE INDEX messages_tenant_channel ON messages(tenant_id, channel_id, id);
