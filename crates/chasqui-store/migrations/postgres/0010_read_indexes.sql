-- Read paths at scale: the conversation list pages through a tenant's conversations in id order.
CREATE INDEX conversations_tenant_id ON conversations(tenant_id, id);
