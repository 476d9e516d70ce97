//! Where a link is shown, which decides its prefilled text and the values that text needs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::LinkError;
use super::error::echo;

/// Where a link appears; each context has its own texts and placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkContext {
    /// On an invoice the customer holds: the customer writes to the business about it.
    Invoice,
    /// On a customer's profile in the business's app: staff open a chat with that customer.
    CustomerProfile,
    /// On a job confirmation: the business confirms a visit with the customer.
    JobConfirmation,
    /// Anywhere else (a website button, a flyer): a plain greeting to the business.
    Generic,
}

impl LinkContext {
    /// Every context, in documentation order.
    pub const ALL: [LinkContext; 4] = [
        Self::Invoice,
        Self::CustomerProfile,
        Self::JobConfirmation,
        Self::Generic,
    ];

    /// The names accepted by [`parse`](Self::parse), for error messages and API docs.
    pub const NAMES: &'static [&'static str] =
        &["invoice", "customer_profile", "job_confirmation", "generic"];

    /// Parses a context name (`invoice`, `customer_profile`, …; `-` is accepted for `_`, any case).
    pub fn parse(name: &str) -> Result<Self, LinkError> {
        let normalised = name.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == normalised)
            .ok_or_else(|| LinkError::UnknownContext {
                given: echo(name),
                known: Self::NAMES,
            })
    }

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CustomerProfile => "customer_profile",
            Self::JobConfirmation => "job_confirmation",
            Self::Generic => "generic",
        }
    }

    /// The placeholders this context fills; a tenant template may use these and no others.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Self::Invoice => &[
                "number",
                "amount",
                "due_date",
                "customer_name",
                "business_name",
            ],
            Self::CustomerProfile => &["customer_name", "business_name"],
            Self::JobConfirmation => &["job", "date", "address", "customer_name", "business_name"],
            Self::Generic => &["customer_name", "business_name"],
        }
    }
}

impl fmt::Display for LinkContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LinkContext {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for c in LinkContext::ALL {
            assert_eq!(LinkContext::parse(c.as_str()).unwrap(), c);
        }
        assert_eq!(
            LinkContext::parse("Job-Confirmation").unwrap(),
            LinkContext::JobConfirmation
        );
        let err = LinkContext::parse("receipt").unwrap_err();
        assert_eq!((err.code(), err.field()), ("unknown_context", "context"));
        assert_eq!(
            err.to_string(),
            "unknown context `receipt`: expected one of invoice, customer_profile, job_confirmation, generic"
        );
    }
}
