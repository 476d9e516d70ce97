//! The list convention every list endpoint follows: `?limit=&cursor=` in,
//! `{"data": [...], "next_cursor": "..." | null}` out.

use std::str::FromStr;

use chasqui_store::Page;
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Largest page a client may ask for.
pub const MAX_LIMIT: usize = 200;
/// Page size when the client does not say.
pub const DEFAULT_LIMIT: usize = 50;

/// `?limit=&cursor=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<usize>,
    cursor: Option<String>,
}

impl ListParams {
    /// From the `limit` and `cursor` of an endpoint's own query struct.
    pub fn new(limit: Option<usize>, cursor: Option<String>) -> Self {
        Self { limit, cursor }
    }

    /// The page size, checked.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::invalid(
                "invalid_limit",
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}; {n} was given."),
            )),
        }
    }

    /// The cursor, parsed as the id type the list is ordered by.
    pub fn cursor<T: FromStr>(&self) -> Result<Option<T>, ApiError> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse().map_err(|_| {
                    ApiError::invalid(
                        "invalid_cursor",
                        "cursor",
                        "This cursor is not one this list returned; pass `next_cursor` from the previous page unchanged.",
                    )
                })
            })
            .transpose()
    }
}

/// `{"data": [...], "next_cursor": ...}`.
#[derive(Debug, Serialize)]
pub struct ListResponse<T> {
    data: Vec<T>,
    next_cursor: Option<String>,
}

impl<T> ListResponse<T> {
    /// Converts a storage page, mapping each item to its API view.
    pub fn from_page<S>(page: Page<S>, view: impl FnMut(S) -> T) -> Self {
        Self {
            data: page.items.into_iter().map(view).collect(),
            next_cursor: page.next_cursor,
        }
    }
}
