//! Delivery status of an outbound message, as a lattice, so webhooks can arrive in any order.
//!
//! Providers deliver status webhooks at least once and in no particular order: `delivered` may
//! come after `read`, or never (Meta skips it when the message is read at once). A message's
//! status is therefore the *join* of every status seen for it, never the last one received:
//!
//! ```text
//! queued < sent < failed < delivered < read < played
//! ```
//!
//! [`merge`] takes the higher of the two, so it is commutative, associative and idempotent: any
//! permutation of any multiset of updates, applied from any starting point, ends in the same status,
//! and no update ever moves a message backwards.
//!
//! **Where `failed` sits.** `failed` is terminal for the sending pipeline: a late `queued` or `sent`
//! never turns a failed message back into a pending one. It is *not* above the delivery receipts:
//! with multi-device accounts Meta may report `failed` and then `delivered` or `read` for the same
//! message (reported by YCloud), and a receipt from the phone is proof that the message arrived.
//! So `delivered`/`read`/`played` supersede `failed`; the failure itself (code, title, details) stays
//! in the status history, which the caller keeps for every update.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::message::ProviderError;

/// Where an outbound message stands; see the module docs for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted by Chasqui (or the provider) and not yet handed to WhatsApp/the carrier.
    Queued,
    /// Handed to WhatsApp/the carrier.
    Sent,
    /// The provider gave up; see the error in the update. Superseded only by a receipt.
    Failed,
    /// Arrived on the recipient's device.
    Delivered,
    /// Opened by the recipient.
    Read,
    /// A voice message was played (Meta's `played`).
    Played,
}

/// Raised when a status string is not one of the lattice's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown delivery status `{0}`: use one of queued, sent, failed, delivered, read, played")]
pub struct UnknownStatus(pub String);

impl Status {
    /// Every status, from the bottom of the lattice to the top.
    pub const ALL: [Status; 6] = [
        Status::Queued,
        Status::Sent,
        Status::Failed,
        Status::Delivered,
        Status::Read,
        Status::Played,
    ];

    /// Parses the stable name (case-insensitive, surrounding blanks ignored); Meta's webhook values
    /// are these names.
    pub fn parse(s: &str) -> Result<Status, UnknownStatus> {
        let wanted = s.trim();
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }

    /// The stable name used in the API and the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Delivered => "delivered",
            Status::Read => "read",
            Status::Played => "played",
        }
    }

    /// Height in the lattice; a higher rank always wins a [`merge`].
    pub fn rank(&self) -> u8 {
        match self {
            Status::Queued => 0,
            Status::Sent => 1,
            Status::Failed => 2,
            Status::Delivered => 3,
            Status::Read => 4,
            Status::Played => 5,
        }
    }

    /// The status after `incoming` is applied to `self`; same as [`merge`].
    #[must_use]
    pub fn advance(self, incoming: Status) -> Status {
        merge(self, incoming)
    }

    /// Whether applying `incoming` changes anything (it ranks strictly higher).
    pub fn is_advanced_by(self, incoming: Status) -> bool {
        incoming.rank() > self.rank()
    }

    /// Whether the recipient's device has confirmed the message (delivered, read or played).
    pub fn reached_device(&self) -> bool {
        self.rank() >= Status::Delivered.rank()
    }

    /// Whether the status is still in flight (queued or sent): what stuck-status checks look at.
    pub fn is_pending(&self) -> bool {
        matches!(self, Status::Queued | Status::Sent)
    }
}

/// Joins the current status with an incoming one: the higher rank wins, so order never matters.
#[must_use]
pub fn merge(current: Status, incoming: Status) -> Status {
    if incoming.rank() > current.rank() {
        incoming
    } else {
        current
    }
}

/// Folds any number of updates into one status (`None` when there are none).
pub fn merge_all<I: IntoIterator<Item = Status>>(updates: I) -> Option<Status> {
    updates.into_iter().reduce(merge)
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::parse(s)
    }
}

/// One delivery-status webhook for an outbound message, from any provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The provider's id of the outbound message (`wamid.…`, Twilio `SM…`).
    pub provider_message_id: String,
    /// The lattice status, or `None` when the provider's value has no place in it (e.g. Twilio
    /// `receiving`); such updates go to the history and change nothing.
    pub status: Option<Status>,
    /// The provider's own word for the status, verbatim, for the history.
    pub provider_status: String,
    /// When the provider says it happened (Unix seconds), if it says.
    pub timestamp: Option<i64>,
    /// The recipient's phone-based WhatsApp id or phone number (absent for BSUID-only sends).
    pub recipient_wa_id: Option<String>,
    /// The recipient's business-scoped user id (BSUID), when known.
    pub recipient_user_id: Option<String>,
    /// The recipient's parent BSUID, when enabled for the business.
    pub recipient_parent_user_id: Option<String>,
    /// `individual` or `group` (Meta), when given.
    pub recipient_type: Option<String>,
    /// For group messages: the group id.
    pub group_id: Option<String>,
    /// For group messages: the participant's phone-based id.
    pub participant_wa_id: Option<String>,
    /// For group messages: the participant's BSUID.
    pub participant_user_id: Option<String>,
    /// Why it failed (only on failures).
    #[serde(default)]
    pub errors: Vec<ProviderError>,
    /// How the message is billed, when the provider says.
    pub pricing: Option<Pricing>,
    /// Meta's conversation object (kept only for some pricing types since July 2025).
    pub conversation: Option<ConversationInfo>,
    /// The tracker we set on send and Meta echoes back.
    pub biz_opaque_callback_data: Option<String>,
}

/// Meta's `pricing` object; every field optional because it changed with per-message pricing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pricing {
    /// Deprecated by Meta but still sent.
    pub billable: Option<bool>,
    /// `CBP` (old conversation-based) or `PMP` (per-message, since July 2025).
    pub pricing_model: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`, … (open set).
    pub category: Option<String>,
    /// PMP's `type`: `regular`, `free_customer_service`, `free_entry_point`.
    pub pricing_type: Option<String>,
}

/// Meta's `conversation` object on statuses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationInfo {
    /// Meta's conversation id.
    pub id: Option<String>,
    /// When the conversation expires (Unix seconds; only on its first status).
    pub expiration_timestamp: Option<i64>,
    /// `origin.type`: `service`, `marketing`, `utility`, `authentication`, `referral_conversion`, …
    pub origin_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip_and_parse_case_insensitively() {
        for st in Status::ALL {
            assert_eq!(Status::parse(st.as_str()).unwrap(), st);
            assert_eq!(
                Status::parse(&format!(" {} ", st.as_str().to_uppercase())).unwrap(),
                st
            );
            assert_eq!(st.to_string().parse::<Status>().unwrap(), st);
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        let err = Status::parse("sending").unwrap_err().to_string();
        assert!(
            err.contains("sending") && err.contains("delivered"),
            "{err}"
        );
    }

    #[test]
    fn ranks_follow_the_documented_order() {
        let ranks: Vec<u8> = Status::ALL.iter().map(Status::rank).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_late_delivered_never_downgrades_read() {
        assert_eq!(merge(Status::Read, Status::Delivered), Status::Read);
        assert_eq!(merge(Status::Delivered, Status::Read), Status::Read);
        assert_eq!(merge(Status::Played, Status::Read), Status::Played);
    }

    #[test]
    fn failed_is_terminal_for_the_pipeline_but_yields_to_receipts() {
        assert_eq!(merge(Status::Failed, Status::Sent), Status::Failed);
        assert_eq!(merge(Status::Failed, Status::Queued), Status::Failed);
        assert_eq!(merge(Status::Sent, Status::Failed), Status::Failed);
        // Multi-device: a receipt after a failure means the message did arrive.
        assert_eq!(merge(Status::Failed, Status::Delivered), Status::Delivered);
        assert_eq!(merge(Status::Read, Status::Failed), Status::Read);
    }

    #[test]
    fn helpers_agree_with_the_lattice() {
        assert!(Status::Sent.is_advanced_by(Status::Delivered));
        assert!(!Status::Read.is_advanced_by(Status::Delivered));
        assert!(!Status::Read.is_advanced_by(Status::Read));
        assert!(Status::Delivered.reached_device() && !Status::Failed.reached_device());
        assert!(Status::Queued.is_pending() && !Status::Failed.is_pending());
        assert_eq!(merge_all([]), None);
        assert_eq!(
            merge_all([Status::Sent, Status::Read, Status::Delivered]),
            Some(Status::Read)
        );
    }

    fn permutations(items: &[Status]) -> Vec<Vec<Status>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let head = rest.remove(i);
            for mut tail in permutations(&rest) {
                tail.insert(0, head);
                out.push(tail);
            }
        }
        out
    }

    #[test]
    fn every_permutation_of_every_subset_agrees() {
        for mask in 1u32..(1 << Status::ALL.len()) {
            let subset: Vec<Status> = Status::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| *s)
                .collect();
            let expected = *subset.iter().max_by_key(|s| s.rank()).unwrap();
            for order in permutations(&subset) {
                assert_eq!(merge_all(order.clone()), Some(expected), "{order:?}");
            }
        }
    }

    fn any_status() -> impl Strategy<Value = Status> {
        prop::sample::select(Status::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn merge_is_commutative_associative_idempotent(
            a in any_status(), b in any_status(), c in any_status()
        ) {
            prop_assert_eq!(merge(a, b), merge(b, a));
            prop_assert_eq!(merge(merge(a, b), c), merge(a, merge(b, c)));
            prop_assert_eq!(merge(a, a), a);
        }

        #[test]
        fn any_order_of_updates_ends_in_the_same_status(
            updates in prop::collection::vec(any_status(), 0..12),
            start in any_status(),
            seed in any::<u64>(),
        ) {
            let forward = updates.iter().copied().fold(start, merge);
            // A deterministic shuffle driven by the seed, plus the full reversal.
            let mut shuffled = updates.clone();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let j = usize::try_from(s >> 33).unwrap_or(0) % (i + 1);
                shuffled.swap(i, j);
            }
            let permuted = shuffled.iter().copied().fold(start, merge);
            let reversed = updates.iter().rev().copied().fold(start, merge);
            prop_assert_eq!(forward, permuted);
            prop_assert_eq!(forward, reversed);
            // The result is the highest-ranked status seen.
            let top = updates.iter().copied().chain([start]).max_by_key(Status::rank);
            prop_assert_eq!(Some(forward), top);
        }

        #[test]
        fn no_update_ever_moves_a_message_backwards(
            updates in prop::collection::vec(any_status(), 1..16)
        ) {
            let mut current = updates[0];
            for incoming in &updates[1..] {
                let next = merge(current, *incoming);
                prop_assert!(next.rank() >= current.rank());
                prop_assert!(next == current || next == *incoming);
                current = next;
            }
        }
    }
}
