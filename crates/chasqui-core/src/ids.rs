//! Typed identifiers, so a tenant id can never be passed where a key id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Raised when a string is not a valid identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id: expected `{prefix}_` followed by a UUID")]
pub struct InvalidId {
    /// What kind of id was expected.
    pub kind: &'static str,
    /// The expected prefix.
    pub prefix: &'static str,
    /// What was given.
    pub value: String,
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// The prefix that makes ids of this kind recognisable in logs and URLs.
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id (UUID v7), so ids sort by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (as stored in the database).
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside, for storage.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let invalid = || InvalidId { kind: $kind, prefix: $prefix, value: s.to_owned() };
                let rest = s
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or_else(invalid)?;
                Uuid::try_parse(rest).map(Self).map_err(|_| invalid())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// An organization using Chasqui; every piece of tenant data is scoped by it.
    TenantId, "ten", "tenant"
);
typed_id!(
    /// One API key of a tenant; public, safe to show and log.
    ApiKeyId, "key", "API key"
);
typed_id!(
    /// One durable background job.
    JobId, "job", "job"
);
typed_id!(
    /// One sending/receiving identity of a tenant (a WhatsApp number, a Twilio sender, a Chatwoot inbox).
    ChannelId, "chn", "channel"
);
typed_id!(
    /// A customer as the tenant knows them, whatever number variant they write from.
    ContactId, "con", "contact"
);
typed_id!(
    /// A thread between one contact and one channel.
    ConversationId, "cnv", "conversation"
);
typed_id!(
    /// One message, inbound or outbound.
    MessageId, "msg", "message"
);
typed_id!(
    /// A raw webhook delivery as received, kept before it is acknowledged.
    ReceiptId, "rcp", "receipt"
);
typed_id!(
    /// Something that happened in a tenant's account, told to its application (webhooks, SSE).
    EventId, "evt", "event"
);
typed_id!(
    /// A URL of the tenant's application that receives signed events.
    WebhookEndpointId, "whe", "webhook endpoint"
);
typed_id!(
    /// One event on its way to one webhook endpoint, with its attempts.
    DeliveryId, "dlv", "delivery"
);
typed_id!(
    /// One media file (received from a customer or uploaded by a tenant), stored in the media store.
    MediaId, "med", "media"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_and_parse_round_trip() {
        let id = TenantId::new();
        let text = id.to_string();
        assert!(text.starts_with("ten_"));
        assert_eq!(text.parse::<TenantId>().unwrap(), id);
    }

    #[test]
    fn a_key_id_is_not_a_tenant_id() {
        let key = ApiKeyId::new().to_string();
        let err = key.parse::<TenantId>().unwrap_err();
        assert_eq!(err.kind, "tenant");
        assert!(err.to_string().contains("ten_"));
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".*") {
            let _ = s.parse::<TenantId>();
        }
    }
}
