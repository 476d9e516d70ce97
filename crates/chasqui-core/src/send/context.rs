//! What the validator needs to know beyond the request: the time, the tenant's region, the
//! recipient's window and WhatsApp id, the known templates and a way to look up uploaded media.

use std::fmt;

use chrono::{DateTime, Utc};

use super::media::MediaLookup;
use crate::phone::{PhoneE164, RegionCode, WaId};
use crate::template::{LanguageFallback, Template};

/// A contact named by `contact_id`, as the caller found it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactRecipient {
    /// Its phone number, when known.
    pub phone: Option<PhoneE164>,
    /// The last WhatsApp id Meta gave for it (`549…`, `521…`), preferred when sending.
    pub wa_id: Option<WaId>,
    /// Its business-scoped user id, for contacts known only by username.
    pub bsuid: Option<String>,
}

/// Everything [`validate`](super::validate) needs besides the request. Build it with
/// [`ValidationContext::new`] and the `with_…` methods.
#[derive(Clone)]
pub struct ValidationContext<'a> {
    /// Now, for the 24-hour window.
    pub now: DateTime<Utc>,
    /// The tenant's region, to read national numbers in `to` (`011 15-2345-6789` in `AR`).
    pub default_region: Option<RegionCode>,
    /// The recipient's last inbound message on this channel (`None`: they never wrote).
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// For a `to` send: the last WhatsApp id Meta gave for this number, sent instead of the
    /// number's own digits when it is the same person (Mexico's `521…`).
    pub last_seen_wa_id: Option<WaId>,
    /// For a `contact_id` send: the contact (`None`: no such contact).
    pub contact: Option<ContactRecipient>,
    /// Known templates: those with the requested name in every language, or all of them.
    pub templates: &'a [Template],
    /// Whether a missing template language may fall back (the tenant's setting).
    pub language_fallback: LanguageFallback,
    /// Looks up our uploaded media (`med_…`) to check MIME type and size; `None` skips the check.
    pub media: Option<&'a dyn MediaLookup>,
}

impl<'a> ValidationContext<'a> {
    /// A context at `now` with nothing known: no region, never written, no templates.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            default_region: None,
            last_inbound_at: None,
            last_seen_wa_id: None,
            contact: None,
            templates: &[],
            language_fallback: LanguageFallback::Exact,
            media: None,
        }
    }

    /// Sets the tenant's region.
    pub fn with_region(mut self, region: Option<RegionCode>) -> Self {
        self.default_region = region;
        self
    }

    /// Sets the recipient's last inbound message.
    pub fn with_last_inbound_at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.last_inbound_at = at;
        self
    }

    /// Sets the last WhatsApp id seen for a `to` number.
    pub fn with_last_seen_wa_id(mut self, wa_id: Option<WaId>) -> Self {
        self.last_seen_wa_id = wa_id;
        self
    }

    /// Sets the contact a `contact_id` names.
    pub fn with_contact(mut self, contact: Option<ContactRecipient>) -> Self {
        self.contact = contact;
        self
    }

    /// Sets the known templates.
    pub fn with_templates(mut self, templates: &'a [Template]) -> Self {
        self.templates = templates;
        self
    }

    /// Sets the language fallback.
    pub fn with_language_fallback(mut self, fallback: LanguageFallback) -> Self {
        self.language_fallback = fallback;
        self
    }

    /// Sets the media lookup.
    pub fn with_media(mut self, media: &'a dyn MediaLookup) -> Self {
        self.media = Some(media);
        self
    }
}

impl fmt::Debug for ValidationContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationContext")
            .field("now", &self.now)
            .field("default_region", &self.default_region)
            .field("last_inbound_at", &self.last_inbound_at)
            .field("last_seen_wa_id", &self.last_seen_wa_id)
            .field("contact", &self.contact)
            .field("templates", &self.templates.len())
            .field("language_fallback", &self.language_fallback)
            .field("media", &self.media.is_some())
            .finish()
    }
}
