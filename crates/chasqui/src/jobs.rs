//! The background job kinds this binary knows how to run.
//!
//! Features register their handlers here (webhook processing, sending, media download…);
//! a job of a kind nobody handles is parked as dead with a clear reason, never dropped.

use chasqui_store::receipts::PROCESS_RECEIPT;
use chasqui_store::worker::Handlers;

use crate::http::AppState;

/// Every job handler, bound to the application's state.
pub fn handlers(state: &AppState) -> Handlers {
    let s = state.clone();
    Handlers::new()
        .on(PROCESS_RECEIPT, move |job| {
            crate::inbound::process::handle(s.clone(), job)
        })
        .on(
            crate::delivery::JOB_KIND,
            crate::delivery::handler(crate::delivery::Deliverer::from_state(state)),
        )
        .on(chasqui_store::outbound::SEND_MESSAGE, {
            let s = state.clone();
            move |job| crate::outbound::send_job::handle(s.clone(), job)
        })
        .on(
            crate::media::DOWNLOAD_JOB,
            crate::media::download::handler(crate::media::download::Downloader::from_state(state)),
        )
}
