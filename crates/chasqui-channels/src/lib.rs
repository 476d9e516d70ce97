//! Provider adapters: one module per provider for sending, parsing webhooks and checking signatures.
//!
//! The adapters arrive with the inbound and outbound issues; the crate exists now so the
//! dependency direction (`chasqui` → `chasqui-channels` → `chasqui-core`) is fixed from the start.
