//! Plan tiers, named the way our first users sell them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A tenant's plan tier; limits per tier arrive with the usage features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Plan {
    /// Entry tier.
    Inicial,
    /// Small teams.
    Profesional,
    /// Larger companies.
    Empresarial,
    /// Negotiated contracts.
    Enterprise,
}

/// Raised when a plan name is not one we sell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan `{0}`: use one of INICIAL, PROFESIONAL, EMPRESARIAL, ENTERPRISE")]
pub struct UnknownPlan(pub String);

impl Plan {
    /// Every plan, in ascending order.
    pub const ALL: [Plan; 4] = [
        Plan::Inicial,
        Plan::Profesional,
        Plan::Empresarial,
        Plan::Enterprise,
    ];

    /// The stable name used in the API, the CLI and the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Plan::Inicial => "INICIAL",
            Plan::Profesional => "PROFESIONAL",
            Plan::Empresarial => "EMPRESARIAL",
            Plan::Enterprise => "ENTERPRISE",
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownPlan(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_round_trips() {
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>().unwrap(), plan);
            assert_eq!(plan.as_str().to_lowercase().parse::<Plan>().unwrap(), plan);
        }
    }

    #[test]
    fn unknown_plan_lists_the_valid_ones() {
        let err = "GOLD".parse::<Plan>().unwrap_err().to_string();
        assert!(err.contains("GOLD") && err.contains("PROFESIONAL"), "{err}");
    }
}
