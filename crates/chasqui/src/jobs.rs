//! The background job kinds this binary knows how to run.
//!
//! Features register their handlers here (webhook processing, sending, media download…);
//! a job of a kind nobody handles is parked as dead with a clear reason, never dropped.

use chasqui_store::worker::Handlers;

use crate::http::AppState;

/// Every job handler, bound to the application's state.
pub fn handlers(_state: &AppState) -> Handlers {
    Handlers::new()
}
