//! `GET /sandbox`: a small page to chat as a customer — pick a number, see what the business
//! sent with its ticks, tap buttons, reply. Server-rendered HTML with a little vanilla script
//! (no build chain); the script is inline and allowed by its hash in the Content-Security-Policy.
//! The page asks for the tenant's API key and keeps it in `sessionStorage` only.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use sha2::Digest;

use crate::http::AppState;

const HTML: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");

/// The page route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(page))
}

/// The page and its Content-Security-Policy, built once.
fn rendered() -> &'static (String, String) {
    static PAGE: OnceLock<(String, String)> = OnceLock::new();
    PAGE.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT.as_bytes()));
        let csp = format!(
            "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        (HTML.replace("/*SCRIPT*/", SCRIPT), csp)
    })
}

async fn page() -> Response {
    let (html, csp) = rendered();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_inlined_and_hashed() {
        let (html, csp) = rendered();
        assert!(!html.contains("/*SCRIPT*/"));
        assert!(html.contains("sessionStorage"));
        assert!(csp.contains("script-src 'sha256-"));
        assert!(
            !csp.contains("unsafe-inline'; connect") || csp.contains("style-src 'unsafe-inline'")
        );
    }
}
