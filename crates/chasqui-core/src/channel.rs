//! Channel kinds: the providers a tenant can connect.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which provider a channel talks to; decides the webhook format and the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChannelKind {
    /// Meta's WhatsApp Cloud API.
    #[serde(rename = "whatsapp_cloud")]
    WhatsappCloud,
    /// 360dialog (Meta's payloads, its own authentication and host).
    #[serde(rename = "360dialog")]
    Dialog360,
    /// Twilio WhatsApp and SMS.
    #[serde(rename = "twilio")]
    Twilio,
    /// A Chatwoot inbox (inbound events only).
    #[serde(rename = "chatwoot")]
    Chatwoot,
    /// A WPBox-style reseller API (Zaptra): sends by token, no webhooks of its own.
    #[serde(rename = "zaptra")]
    Zaptra,
    /// The built-in imitation of the Cloud API.
    #[serde(rename = "sandbox")]
    Sandbox,
}

/// Raised for a kind we do not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown channel kind `{0}`: use one of whatsapp_cloud, 360dialog, twilio, chatwoot, zaptra, sandbox"
)]
pub struct UnknownChannelKind(pub String);

impl ChannelKind {
    /// Every kind.
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::WhatsappCloud,
        ChannelKind::Dialog360,
        ChannelKind::Twilio,
        ChannelKind::Chatwoot,
        ChannelKind::Zaptra,
        ChannelKind::Sandbox,
    ];

    /// The stable name used in the API and the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelKind::WhatsappCloud => "whatsapp_cloud",
            ChannelKind::Dialog360 => "360dialog",
            ChannelKind::Twilio => "twilio",
            ChannelKind::Chatwoot => "chatwoot",
            ChannelKind::Zaptra => "zaptra",
            ChannelKind::Sandbox => "sandbox",
        }
    }

    /// Whether webhooks of this kind carry Meta's payload (routed by `phone_number_id`).
    pub fn speaks_meta(&self) -> bool {
        matches!(
            self,
            ChannelKind::WhatsappCloud | ChannelKind::Dialog360 | ChannelKind::Sandbox
        )
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelKind {
    type Err = UnknownChannelKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| UnknownChannelKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_lists_valid() {
        for k in ChannelKind::ALL {
            assert_eq!(k.as_str().parse::<ChannelKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        let e = "telegram".parse::<ChannelKind>().unwrap_err().to_string();
        assert!(e.contains("telegram") && e.contains("360dialog"));
    }
}
