//! Twilio webhooks (WhatsApp and SMS): inbound messages and status callbacks, both
//! `application/x-www-form-urlencoded`, mapped to the same model as Meta's.
//!
//! Status mapping onto the lattice (`chasqui_core::status`):
//!
//! | Twilio `MessageStatus` | lattice |
//! |---|---|
//! | `accepted`, `scheduled`, `queued`, `sending` | `queued` (still with Twilio) |
//! | `sent`, `partially_delivered` | `sent` (a partial delivery is no proof of arrival) |
//! | `delivered` | `delivered` |
//! | `read` | `read` |
//! | `undelivered`, `failed` | `failed` (with `ErrorCode` / `ErrorMessage`) |
//! | `canceled` | `failed` (a cancelled scheduled message will never be sent) |
//! | `receiving`, `received`, anything else | none: kept in the history, changes nothing |
//!
//! A request is a status callback when it carries `MessageStatus` (or `SmsStatus`) with an
//! outbound value; `received`/`receiving`, or no status at all with a `Body` or media, is an
//! inbound message. Twilio adds parameters without notice; unknown ones are ignored here and
//! still covered by the signature, which is computed over whatever arrived.

use chasqui_core::message::{
    Context, InboundMessage, InteractiveReply, Media, MessageContent, ProviderError, Referral,
    Sender,
};
use chasqui_core::status::{Status, StatusUpdate};
use serde::{Deserialize, Serialize};

/// The most media items Twilio attaches to one message (MMS).
const MAX_MEDIA: usize = 10;

/// Which Twilio product a webhook is about, from the `whatsapp:` address prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwilioChannel {
    /// WhatsApp through Twilio (`whatsapp:+…` addresses).
    Whatsapp,
    /// SMS/MMS.
    Sms,
}

/// One parsed Twilio webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwilioWebhook {
    /// `AccountSid`: the Twilio account (or subaccount) it belongs to.
    pub account_sid: Option<String>,
    /// `MessagingServiceSid`, when a messaging service is used.
    pub messaging_service_sid: Option<String>,
    /// WhatsApp or SMS.
    pub channel: TwilioChannel,
    /// `From` as sent (`whatsapp:+14155238886`, `+14155238886`).
    pub from: Option<String>,
    /// `To` as sent: for inbound messages, our number.
    pub to: Option<String>,
    /// What happened.
    pub event: TwilioEvent,
}

/// What a Twilio webhook carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TwilioEvent {
    /// A customer's message.
    Message {
        /// The message in Chasqui's model.
        message: Box<InboundMessage>,
    },
    /// A status callback for one of our messages.
    Status {
        /// The update in Chasqui's model.
        status: Box<StatusUpdate>,
    },
}

/// Why a Twilio webhook could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioParseError {
    /// No `MessageSid` (nor `SmsSid` / `SmsMessageSid`).
    #[error("no MessageSid in the request")]
    MissingSid,
    /// Neither a status callback nor an inbound message.
    #[error("neither a status callback (MessageStatus) nor an inbound message (Body, NumMedia)")]
    Unrecognised,
}

/// Decodes a form body into name/value pairs, in order (invalid UTF-8 is replaced, never fails);
/// the same pairs feed [`crate::signature::verify_twilio`].
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Parses a form-encoded Twilio webhook body.
pub fn parse_form(body: &[u8]) -> Result<TwilioWebhook, TwilioParseError> {
    parse_params(&form_params(body))
}

/// Maps a Twilio message status onto the lattice; see the module docs for the table.
pub fn map_status(twilio_status: &str) -> Option<Status> {
    match twilio_status.trim().to_ascii_lowercase().as_str() {
        "accepted" | "scheduled" | "queued" | "sending" => Some(Status::Queued),
        "sent" | "partially_delivered" => Some(Status::Sent),
        "delivered" => Some(Status::Delivered),
        "read" => Some(Status::Read),
        "undelivered" | "failed" | "canceled" => Some(Status::Failed),
        _ => None,
    }
}

/// Parses already-decoded form parameters (first value wins for repeated names).
pub fn parse_params(params: &[(String, String)]) -> Result<TwilioWebhook, TwilioParseError> {
    let p = Params(params);
    let sid = p
        .get("MessageSid")
        .or_else(|| p.get("SmsSid"))
        .or_else(|| p.get("SmsMessageSid"))
        .ok_or(TwilioParseError::MissingSid)?;
    let from = p.get("From");
    let to = p.get("To");
    let is_whatsapp = [from.as_deref(), to.as_deref()]
        .into_iter()
        .flatten()
        .any(|a| strip_whatsapp(a).is_some())
        || p.get("ChannelPrefix")
            .is_some_and(|c| c.eq_ignore_ascii_case("whatsapp"));
    let channel = if is_whatsapp {
        TwilioChannel::Whatsapp
    } else {
        TwilioChannel::Sms
    };

    let provider_status = p.get("MessageStatus").or_else(|| p.get("SmsStatus"));
    let inbound = match provider_status
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("received" | "receiving") => true,
        Some(_) => false,
        None => p.get("Body").is_some() || p.get("NumMedia").is_some(),
    };

    let event = if inbound {
        TwilioEvent::Message {
            message: Box::new(inbound_message(&p, sid, from.as_deref(), channel)),
        }
    } else {
        let provider_status = provider_status.ok_or(TwilioParseError::Unrecognised)?;
        TwilioEvent::Status {
            status: Box::new(status_update(
                &p,
                sid,
                provider_status,
                to.as_deref(),
                channel,
            )),
        }
    };
    Ok(TwilioWebhook {
        account_sid: p.get("AccountSid"),
        messaging_service_sid: p.get("MessagingServiceSid"),
        channel,
        from,
        to,
        event,
    })
}

/// Read access to form pairs; empty values read as absent.
struct Params<'a>(&'a [(String, String)]);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// A free-text value exactly as sent (only an all-blank value reads as absent).
    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn float(&self, name: &str) -> Option<f64> {
        self.get(name)?
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
    }
}

/// `whatsapp:+1415…` → `Some("+1415…")`; any other address → `None`.
fn strip_whatsapp(address: &str) -> Option<&str> {
    address
        .get(..9)
        .filter(|p| p.eq_ignore_ascii_case("whatsapp:"))
        .map(|_| &address[9..])
}

fn bare_address(address: &str) -> &str {
    strip_whatsapp(address).unwrap_or(address)
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn inbound_message(
    p: &Params<'_>,
    sid: String,
    from: Option<&str>,
    channel: TwilioChannel,
) -> InboundMessage {
    let body = p.text("Body");
    let num_media = p
        .get("NumMedia")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_MEDIA);
    let mut media: Vec<Media> = (0..num_media)
        .filter_map(|i| {
            let url = p.get(&format!("MediaUrl{i}"))?;
            Some(Media {
                url: Some(url),
                mime_type: p.get(&format!("MediaContentType{i}")),
                ..Media::default()
            })
        })
        .collect();
    let message_type = p.get("MessageType").map(|t| t.to_ascii_lowercase());

    let content =
        if let (Some(latitude), Some(longitude)) = (p.float("Latitude"), p.float("Longitude")) {
            MessageContent::Location {
                latitude: Some(latitude),
                longitude: Some(longitude),
                name: p.get("Label"),
                address: p.get("Address"),
                url: None,
            }
        } else if p.get("ListId").is_some() {
            MessageContent::Interactive {
                reply: InteractiveReply::ListReply {
                    id: p.get("ListId"),
                    title: p.get("ListTitle"),
                    description: p.get("ListItemDescription"),
                },
            }
        } else if p.get("ButtonPayload").is_some() || p.get("ButtonText").is_some() {
            if message_type.as_deref() == Some("interactive") {
                MessageContent::Interactive {
                    reply: InteractiveReply::ButtonReply {
                        id: p.get("ButtonPayload"),
                        title: p.get("ButtonText"),
                    },
                }
            } else {
                MessageContent::Button {
                    payload: p.get("ButtonPayload"),
                    text: p.get("ButtonText"),
                }
            }
        } else if !media.is_empty() {
            let mut first = media.remove(0);
            first.caption = body;
            media_content(first, message_type.as_deref())
        } else {
            MessageContent::Text {
                body: body.unwrap_or_default(),
            }
        };

    let phone = from.map(bare_address).map(str::to_owned);
    let wa_id = match channel {
        TwilioChannel::Whatsapp => p
            .get("WaId")
            .or_else(|| phone.as_deref().map(digits).filter(|d| !d.is_empty())),
        TwilioChannel::Sms => None,
    };
    let mut msg = InboundMessage::new(sid, content);
    msg.sender = Sender {
        wa_id,
        profile_name: p.get("ProfileName"),
        phone,
        ..Sender::default()
    };
    msg.additional_media = media;
    let context = Context {
        replied_to_id: p.get("OriginalRepliedMessageSid"),
        replied_to_from: p.get("OriginalRepliedMessageSender"),
        forwarded: p.flag("Forwarded"),
        frequently_forwarded: p.flag("FrequentlyForwarded"),
        referred_product: None,
    };
    msg.context = (context != Context::default()).then_some(context);
    let referral = Referral {
        source_url: p.get("ReferralSourceUrl"),
        source_id: p.get("ReferralSourceId"),
        source_type: p.get("ReferralSourceType"),
        headline: p.get("ReferralHeadline"),
        body: p.get("ReferralBody"),
        media_type: p.get("ReferralMediaContentType"),
        image_url: p.get("ReferralMediaUrl"),
        ctwa_clid: p.get("ReferralCtwaClid"),
        ..Referral::default()
    };
    msg.referral = (referral != Referral::default()).then_some(referral);
    msg
}

/// The content for a message whose first attachment is `media`, by MIME type.
fn media_content(media: Media, message_type: Option<&str>) -> MessageContent {
    let mime = media
        .mime_type
        .clone()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if message_type == Some("sticker") || (mime == "image/webp" && message_type.is_none()) {
        MessageContent::Sticker {
            media,
            animated: false,
        }
    } else if mime.starts_with("image/") {
        MessageContent::Image { media }
    } else if mime.starts_with("audio/") {
        MessageContent::Audio {
            media,
            voice: false,
        }
    } else if mime.starts_with("video/") {
        MessageContent::Video { media }
    } else {
        MessageContent::Document { media }
    }
}

fn status_update(
    p: &Params<'_>,
    sid: String,
    provider_status: String,
    to: Option<&str>,
    channel: TwilioChannel,
) -> StatusUpdate {
    let recipient = to.map(bare_address).map(|a| match channel {
        TwilioChannel::Whatsapp => digits(a),
        TwilioChannel::Sms => a.to_owned(),
    });
    let errors = p
        .get("ErrorCode")
        .map(|code| ProviderError {
            code: code.parse::<i64>().ok(),
            title: None,
            message: p.get("ErrorMessage"),
            details: p.get("ChannelStatusMessage"),
            href: code
                .parse::<i64>()
                .ok()
                .map(|c| format!("https://www.twilio.com/docs/api/errors/{c}")),
        })
        .into_iter()
        .collect();
    StatusUpdate {
        provider_message_id: sid,
        status: map_status(&provider_status),
        provider_status,
        timestamp: None,
        recipient_wa_id: recipient.filter(|r| !r.is_empty()),
        recipient_user_id: None,
        recipient_parent_user_id: None,
        recipient_type: None,
        group_id: None,
        participant_wa_id: None,
        participant_user_id: None,
        errors,
        pricing: None,
        conversation: None,
        biz_opaque_callback_data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> TwilioWebhook {
        parse_form(body.as_bytes()).unwrap()
    }

    fn message(w: &TwilioWebhook) -> &InboundMessage {
        match &w.event {
            TwilioEvent::Message { message } => message,
            other => panic!("not a message: {other:?}"),
        }
    }

    fn status(w: &TwilioWebhook) -> &StatusUpdate {
        match &w.event {
            TwilioEvent::Status { status } => status,
            other => panic!("not a status: {other:?}"),
        }
    }

    #[test]
    fn whatsapp_text_message() {
        let w = parse(
            "SmsMessageSid=SM1&NumMedia=0&ProfileName=Ana+P%C3%A9rez&MessageType=text&SmsSid=SM1\
             &WaId=5491122334455&SmsStatus=received&Body=Hola%2C+%C2%BFturno%3F&To=whatsapp%3A%2B14155238886\
             &NumSegments=1&ReferralNumMedia=0&MessageSid=SM1&AccountSid=AC1\
             &From=whatsapp%3A%2B5491122334455&ApiVersion=2010-04-01",
        );
        assert_eq!(w.channel, TwilioChannel::Whatsapp);
        assert_eq!(w.account_sid.as_deref(), Some("AC1"));
        let m = message(&w);
        assert_eq!(m.provider_message_id, "SM1");
        assert_eq!(
            m.content,
            MessageContent::Text {
                body: "Hola, ¿turno?".into()
            }
        );
        assert_eq!(m.sender.wa_id.as_deref(), Some("5491122334455"));
        assert_eq!(m.sender.phone.as_deref(), Some("+5491122334455"));
        assert_eq!(m.sender.profile_name.as_deref(), Some("Ana Pérez"));
        assert_eq!(m.context, None);
        assert_eq!(m.referral, None);
    }

    #[test]
    fn sms_with_several_media() {
        let w = parse(
            "MessageSid=MM1&SmsStatus=received&From=%2B14155550100&To=%2B14155550199&Body=look\
             &NumMedia=2&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm0&MediaContentType0=image%2Fjpeg\
             &MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm1&MediaContentType1=application%2Fpdf",
        );
        assert_eq!(w.channel, TwilioChannel::Sms);
        let m = message(&w);
        assert_eq!(m.kind(), "image");
        let media = m.content.media().unwrap();
        assert_eq!(media.url.as_deref(), Some("https://api.twilio.com/m0"));
        assert_eq!(media.caption.as_deref(), Some("look"));
        assert_eq!(m.additional_media.len(), 1);
        assert_eq!(
            m.additional_media[0].mime_type.as_deref(),
            Some("application/pdf")
        );
        assert_eq!(m.sender.wa_id, None);
        assert_eq!(m.sender.phone.as_deref(), Some("+14155550100"));
    }

    #[test]
    fn location_button_reply_and_referral() {
        let loc = parse(
            "MessageSid=SM2&SmsStatus=received&From=whatsapp:%2B1&To=whatsapp:%2B2\
             &Latitude=-34.6037&Longitude=-58.3816&Address=Av+9+de+Julio&Label=Obelisco",
        );
        match &message(&loc).content {
            MessageContent::Location { latitude, name, .. } => {
                assert_eq!(*latitude, Some(-34.6037));
                assert_eq!(name.as_deref(), Some("Obelisco"));
            }
            other => panic!("{other:?}"),
        }
        let button = parse(
            "MessageSid=SM3&SmsStatus=received&From=whatsapp:%2B1&To=whatsapp:%2B2&Body=Yes\
             &ButtonText=Yes&ButtonPayload=CONFIRM_42&OriginalRepliedMessageSid=SM0\
             &ReferralCtwaClid=clid&ReferralSourceType=ad&ReferralHeadline=Promo",
        );
        let m = message(&button);
        assert_eq!(
            m.content,
            MessageContent::Button {
                payload: Some("CONFIRM_42".into()),
                text: Some("Yes".into())
            }
        );
        assert_eq!(
            m.context.as_ref().unwrap().replied_to_id.as_deref(),
            Some("SM0")
        );
        let referral = m.referral.as_ref().unwrap();
        assert_eq!(referral.ctwa_clid.as_deref(), Some("clid"));
        assert_eq!(referral.headline.as_deref(), Some("Promo"));
    }

    #[test]
    fn status_callbacks() {
        let w = parse(
            "SmsSid=SM9&SmsStatus=undelivered&MessageStatus=undelivered&ChannelToAddress=%2B5491122334455\
             &To=whatsapp%3A%2B5491122334455&ChannelPrefix=whatsapp&MessageSid=SM9&AccountSid=AC1\
             &ErrorCode=63016&ErrorMessage=Failed+to+send+freeform+message&From=whatsapp%3A%2B14155238886\
             &ApiVersion=2010-04-01",
        );
        let s = status(&w);
        assert_eq!(s.status, Some(Status::Failed));
        assert_eq!(s.provider_status, "undelivered");
        assert_eq!(s.recipient_wa_id.as_deref(), Some("5491122334455"));
        assert_eq!(s.errors[0].code, Some(63016));
        assert!(s.errors[0].message.as_deref().unwrap().contains("freeform"));

        let read = parse("MessageSid=SM9&MessageStatus=read&To=whatsapp:%2B1&From=whatsapp:%2B2");
        assert_eq!(status(&read).status, Some(Status::Read));
        assert!(status(&read).errors.is_empty());

        let sms =
            parse("MessageSid=SM8&MessageStatus=delivered&SmsStatus=delivered&To=%2B3315551234");
        assert_eq!(sms.channel, TwilioChannel::Sms);
        assert_eq!(status(&sms).recipient_wa_id.as_deref(), Some("+3315551234"));
    }

    #[test]
    fn every_documented_status_maps() {
        let table = [
            ("queued", Some(Status::Queued)),
            ("sending", Some(Status::Queued)),
            ("accepted", Some(Status::Queued)),
            ("scheduled", Some(Status::Queued)),
            ("sent", Some(Status::Sent)),
            ("partially_delivered", Some(Status::Sent)),
            ("delivered", Some(Status::Delivered)),
            ("read", Some(Status::Read)),
            ("undelivered", Some(Status::Failed)),
            ("failed", Some(Status::Failed)),
            ("canceled", Some(Status::Failed)),
            ("receiving", None),
            ("received", None),
            ("DELIVERED", Some(Status::Delivered)),
            ("bogus", None),
        ];
        for (twilio, expected) in table {
            assert_eq!(map_status(twilio), expected, "{twilio}");
        }
    }

    #[test]
    fn body_text_is_kept_verbatim() {
        let w = parse("MessageSid=SM1&SmsStatus=received&From=%2B1&Body=++line+1%0Aline+2++");
        assert_eq!(
            message(&w).content,
            MessageContent::Text {
                body: "  line 1\nline 2  ".into()
            }
        );
    }

    #[test]
    fn unreadable_requests() {
        assert_eq!(
            parse_form(b"Body=hi").unwrap_err(),
            TwilioParseError::MissingSid
        );
        assert_eq!(
            parse_form(b"MessageSid=SM1&AccountSid=AC1").unwrap_err(),
            TwilioParseError::Unrecognised
        );
        assert_eq!(
            parse_form(b"MessageSid=SM1&NumMedia=abc").unwrap().event,
            TwilioEvent::Message {
                message: Box::new(InboundMessage::new(
                    "SM1",
                    MessageContent::Text {
                        body: String::new()
                    }
                ))
            }
        );
    }
}
