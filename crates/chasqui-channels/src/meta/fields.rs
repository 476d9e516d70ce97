//! Typed readings of the non-message webhook fields Chasqui acts on; the raw value is always kept
//! next to them, so a field we read partly loses nothing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{int, items, nonempty, object, string};

/// A non-message field, read for the parts Chasqui applies to channel, template or contact state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KnownField {
    /// `message_template_status_update`: approved, rejected, paused, disabled, …
    TemplateStatus(TemplateStatus),
    /// `message_template_quality_update`.
    TemplateQuality(TemplateQuality),
    /// `template_category_update`: Meta re-categorised a template.
    TemplateCategory(TemplateCategory),
    /// `account_update`: verification, bans, restrictions, partner added/removed, …
    AccountUpdate(AccountUpdate),
    /// `account_review_update`.
    AccountReview(AccountReview),
    /// `phone_number_quality_update`: quality flag and messaging limit.
    PhoneNumberQuality(PhoneNumberQuality),
    /// `phone_number_name_update`: display-name review.
    PhoneNumberName(PhoneNumberName),
    /// `user_preferences`: marketing stop/resume.
    UserPreferences {
        /// One item per preference change.
        preferences: Vec<UserPreference>,
    },
    /// Any other field, or a `messages` change with nothing we recognise: see the raw value.
    Other,
}

/// A template's review status changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateStatus {
    /// `APPROVED`, `REJECTED`, `PENDING`, `FLAGGED`, `PAUSED`, `DISABLED`, `REINSTATED`, …
    pub event: Option<String>,
    /// Meta's template id (a number on the wire, kept as text).
    pub template_id: Option<String>,
    /// Template name.
    pub template_name: Option<String>,
    /// Template language (`en_US`, `pt_BR`, …).
    pub language: Option<String>,
    /// Template category, when sent.
    pub category: Option<String>,
    /// Short reason (`INVALID_FORMAT`, `SCAM`, `NONE`, …).
    pub reason: Option<String>,
    /// Longer rejection reason (`rejection_info.reason`).
    pub rejection_reason: Option<String>,
    /// Meta's advice (`rejection_info.recommendation`).
    pub recommendation: Option<String>,
    /// When a flagged template will be disabled (`disable_info.disable_date`, as written).
    pub disable_date: Option<String>,
}

/// A template's quality score changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateQuality {
    /// Meta's template id.
    pub template_id: Option<String>,
    /// Template name.
    pub template_name: Option<String>,
    /// Template language.
    pub language: Option<String>,
    /// `GREEN`, `YELLOW`, `RED`, `UNKNOWN`.
    pub previous_quality_score: Option<String>,
    /// `GREEN`, `YELLOW`, `RED`, `UNKNOWN`.
    pub new_quality_score: Option<String>,
}

/// Meta moved a template to another category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateCategory {
    /// Meta's template id.
    pub template_id: Option<String>,
    /// Template name.
    pub template_name: Option<String>,
    /// Template language.
    pub language: Option<String>,
    /// Category before, when sent.
    pub previous_category: Option<String>,
    /// Category now.
    pub new_category: Option<String>,
}

/// Something happened to the WhatsApp Business Account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountUpdate {
    /// `VERIFIED_ACCOUNT`, `DISABLED_UPDATE`, `ACCOUNT_RESTRICTION`, `PARTNER_ADDED`,
    /// `PARTNER_REMOVED`, `PARTNER_APP_INSTALLED`, `PARTNER_APP_UNINSTALLED`, …
    pub event: Option<String>,
    /// The business number concerned, when the event names one (`phone_number`).
    pub phone_number: Option<String>,
    /// `waba_info.waba_id`: the customer's WABA (Embedded Signup, partner changes).
    pub waba_id: Option<String>,
    /// `waba_info.owner_business_id`.
    pub owner_business_id: Option<String>,
    /// `waba_info.partner_app_id`.
    pub partner_app_id: Option<String>,
    /// `ban_info.waba_ban_state` (e.g. `SCHEDULE_FOR_DISABLE`, `DISABLE`).
    pub ban_state: Option<String>,
    /// `ban_info.waba_ban_date`, as written.
    pub ban_date: Option<String>,
    /// `restriction_info[].restriction_type`.
    pub restriction_types: Vec<String>,
    /// `violation_info.violation_type`.
    pub violation_type: Option<String>,
}

impl AccountUpdate {
    /// Whether the business removed us as partner, uninstalled our app, or the WABA left or was
    /// deleted: the channels on this WABA must be marked disconnected.
    pub fn disconnects_channel(&self) -> bool {
        matches!(
            self.event.as_deref(),
            Some(
                "PARTNER_REMOVED"
                    | "PARTNER_APP_UNINSTALLED"
                    | "ACCOUNT_OFFBOARDED"
                    | "ACCOUNT_DELETED"
            )
        )
    }
}

/// The result of a WABA policy review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountReview {
    /// `APPROVED`, `REJECTED`, `PENDING`, …
    pub decision: Option<String>,
}

/// A business number's quality rating or messaging limit changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneNumberQuality {
    /// The number, digits only.
    pub display_phone_number: Option<String>,
    /// `FLAGGED`, `UNFLAGGED`, `UPGRADE`, `DOWNGRADE`, …
    pub event: Option<String>,
    /// The messaging limit now (`TIER_10K`, …).
    pub current_limit: Option<String>,
    /// The portfolio's messaging limit (newer name for the same idea), when sent.
    pub messaging_limit: Option<String>,
}

/// A display-name review finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneNumberName {
    /// The number, digits only.
    pub display_phone_number: Option<String>,
    /// `APPROVED`, `REJECTED`, `DEFERRED`, …
    pub decision: Option<String>,
    /// The name that was reviewed.
    pub requested_verified_name: Option<String>,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
}

/// A user stopped or resumed a category of messages (marketing opt-out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserPreference {
    /// The user's phone-based id.
    pub wa_id: Option<String>,
    /// The user's BSUID.
    pub user_id: Option<String>,
    /// `marketing_messages`.
    pub category: Option<String>,
    /// `stop`, `resume` or `signup`.
    pub value: Option<String>,
    /// Meta's sentence.
    pub detail: Option<String>,
    /// When (Unix seconds).
    pub timestamp: Option<i64>,
}

impl UserPreference {
    /// Whether this is an opt-out to record in the consent ledger.
    pub fn is_opt_out(&self) -> bool {
        self.value
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("stop"))
    }
}

/// Reads the typed part of a field's value; never fails (unreadable parts stay `None`).
pub(super) fn known_field(field: &str, v: &Value) -> KnownField {
    if !v.is_object() {
        return KnownField::Other;
    }
    match field {
        "message_template_status_update" => KnownField::TemplateStatus(TemplateStatus {
            event: string(v, "event"),
            template_id: string(v, "message_template_id"),
            template_name: string(v, "message_template_name"),
            language: string(v, "message_template_language"),
            category: string(v, "message_template_category"),
            reason: string(v, "reason"),
            rejection_reason: object(v, "rejection_info").and_then(|r| string(r, "reason")),
            recommendation: object(v, "rejection_info").and_then(|r| string(r, "recommendation")),
            disable_date: object(v, "disable_info").and_then(|d| string(d, "disable_date")),
        }),
        "message_template_quality_update" => KnownField::TemplateQuality(TemplateQuality {
            template_id: string(v, "message_template_id"),
            template_name: string(v, "message_template_name"),
            language: string(v, "message_template_language"),
            previous_quality_score: string(v, "previous_quality_score"),
            new_quality_score: string(v, "new_quality_score"),
        }),
        "template_category_update" => KnownField::TemplateCategory(TemplateCategory {
            template_id: string(v, "message_template_id"),
            template_name: string(v, "message_template_name"),
            language: string(v, "message_template_language"),
            previous_category: string(v, "previous_category"),
            new_category: string(v, "new_category"),
        }),
        "account_update" => {
            let waba = object(v, "waba_info");
            let ban = object(v, "ban_info");
            KnownField::AccountUpdate(AccountUpdate {
                event: string(v, "event"),
                phone_number: string(v, "phone_number"),
                waba_id: waba.and_then(|w| string(w, "waba_id")),
                owner_business_id: waba.and_then(|w| string(w, "owner_business_id")),
                partner_app_id: waba.and_then(|w| string(w, "partner_app_id")),
                ban_state: ban.and_then(|b| string(b, "waba_ban_state")),
                ban_date: ban.and_then(|b| string(b, "waba_ban_date")),
                restriction_types: items(v, "restriction_info")
                    .iter()
                    .filter_map(|r| string(r, "restriction_type"))
                    .collect(),
                violation_type: object(v, "violation_info")
                    .and_then(|i| string(i, "violation_type")),
            })
        }
        "account_review_update" => KnownField::AccountReview(AccountReview {
            decision: string(v, "decision"),
        }),
        "phone_number_quality_update" => KnownField::PhoneNumberQuality(PhoneNumberQuality {
            display_phone_number: string(v, "display_phone_number"),
            event: string(v, "event"),
            current_limit: string(v, "current_limit"),
            messaging_limit: string(v, "whatsapp_business_manager_messaging_limit"),
        }),
        "phone_number_name_update" => KnownField::PhoneNumberName(PhoneNumberName {
            display_phone_number: string(v, "display_phone_number"),
            decision: string(v, "decision"),
            requested_verified_name: string(v, "requested_verified_name"),
            rejection_reason: string(v, "rejection_reason"),
        }),
        "user_preferences" => {
            let contacts = items(v, "contacts");
            let preferences = items(v, "user_preferences")
                .iter()
                .filter(|p| p.is_object())
                .map(|p| {
                    let wa_id = nonempty(p, "wa_id");
                    // The BSUID comes on the item or on the contact with the same wa_id.
                    let user_id = nonempty(p, "user_id").or_else(|| {
                        let w = wa_id.as_deref()?;
                        contacts
                            .iter()
                            .find(|c| string(c, "wa_id").as_deref() == Some(w))
                            .and_then(|c| nonempty(c, "user_id"))
                    });
                    UserPreference {
                        wa_id,
                        user_id,
                        category: string(p, "category"),
                        value: string(p, "value"),
                        detail: string(p, "detail"),
                        timestamp: int(p, "timestamp"),
                    }
                })
                .collect();
            KnownField::UserPreferences { preferences }
        }
        _ => KnownField::Other,
    }
}
