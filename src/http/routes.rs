//! Every route under `/v1`, in one table. The router mounts these and
//! nothing else under `/v1`; the OpenAPI tests hold the document to this
//! table, so no route is served undocumented and no documented one is
//! missing.

use axum::middleware;
use axum::routing::{MethodRouter, delete, get, post, put};

use super::{
    accounts, audit, auth, console, ha_status, halves, links, moves, notifications, onboarding, openapi, requests,
    reverse, root_signins, subscribers, sys,
};
use crate::app::App;

/// A path template and what serves each of its methods.
pub type Route = (&'static str, MethodRouter<App>);

/// The routes of the one-time link page's actions: anyone holding a link
/// may call them (the link id in the path is the capability), under their
/// own rate limit and the public pages' headers.
pub fn public_links() -> Vec<Route> {
    vec![("/v1/public/links/{id}/open", post(links::open)), ("/v1/public/links/{id}/submit", post(links::submit))]
}

/// Every other route under `/v1`.
pub fn api() -> Vec<Route> {
    vec![
        ("/v1/openapi.json", get(openapi::serve)),
        ("/v1/auth/cli/start", get(auth::cli_start).layer(middleware::from_fn(console::page_headers))),
        ("/v1/auth/cli/token", post(auth::cli_token)),
        ("/v1/auth/whoami", get(auth::whoami)),
        ("/v1/auth/logout", post(auth::logout)),
        ("/v1/sys/seal-status", get(sys::seal_status)),
        ("/v1/sys/unseal", post(sys::unseal)),
        ("/v1/sys/backup", get(sys::backup)),
        ("/v1/sys/notifications", get(notifications::list)),
        ("/v1/sys/ha-status", get(ha_status::show)),
        ("/v1/accounts", post(accounts::create).get(accounts::list)),
        ("/v1/accounts/{account_id}", get(accounts::show).patch(accounts::update)),
        ("/v1/accounts/{account_id}/custodians/{half}", put(accounts::set_custodians)),
        ("/v1/accounts/{account_id}/halves", get(halves::list)),
        ("/v1/accounts/{account_id}/halves/password", put(halves::deposit_password)),
        ("/v1/accounts/{account_id}/halves/mfa", put(halves::deposit_mfa)),
        ("/v1/accounts/{account_id}/halves/password/rotate", post(halves::rotate)),
        ("/v1/accounts/{account_id}/halves/password/rotate/confirm", post(halves::confirm_rotation)),
        ("/v1/accounts/{account_id}/subscribers", post(subscribers::create).get(subscribers::list)),
        ("/v1/accounts/{account_id}/subscribers/{subscriber_id}", delete(subscribers::remove)),
        ("/v1/links", post(links::create)),
        ("/v1/links/{id}", get(links::show).delete(links::revoke)),
        ("/v1/accounts/{account_id}/reverse-assumption", post(reverse::request).get(reverse::show)),
        ("/v1/accounts/{account_id}/reverse-assumption/schedule", post(reverse::schedule)),
        ("/v1/accounts/{account_id}/reverse-assumption/confirm-balance", post(reverse::confirm_balance)),
        ("/v1/accounts/{account_id}/reverse-assumption/checklist/{item}", post(reverse::checklist)),
        ("/v1/accounts/{account_id}/reverse-assumption/handoff", post(reverse::handoff)),
        ("/v1/accounts/{account_id}/reverse-assumption/cancel", post(reverse::cancel)),
        ("/v1/accounts/{account_id}/reverse-assumption/consent", post(reverse::consent)),
        ("/v1/accounts/{account_id}/close", post(reverse::close)),
        ("/v1/accounts/{account_id}/reopen", post(reverse::reopen)),
        ("/v1/accounts/{account_id}/onboarding", post(onboarding::start).get(onboarding::show)),
        ("/v1/accounts/{account_id}/onboarding/checklist/{item}", post(onboarding::checklist)),
        ("/v1/accounts/{account_id}/onboarding/complete", post(onboarding::complete)),
        ("/v1/accounts/{account_id}/moves", post(moves::request).get(moves::list)),
        ("/v1/accounts/{account_id}/moves/{move_id}", get(moves::show)),
        ("/v1/accounts/{account_id}/moves/{move_id}/confirm", post(moves::confirm)),
        ("/v1/accounts/{account_id}/moves/{move_id}/complete", post(moves::complete)),
        ("/v1/accounts/{account_id}/moves/{move_id}/cancel", post(moves::cancel)),
        ("/v1/accounts/{account_id}/root-signins", get(root_signins::list)),
        ("/v1/audit/checkpoint", get(audit::checkpoint)),
        ("/v1/audit/proofs/inclusion", get(audit::inclusion)),
        ("/v1/audit/proofs/consistency", get(audit::consistency)),
        ("/v1/audit/events", get(audit::events)),
        ("/v1/audit/export", get(audit::export)),
        ("/v1/requests", post(requests::create).get(requests::list)),
        ("/v1/requests/{id}", get(requests::show)),
        ("/v1/requests/{id}/approve", post(requests::approve)),
        ("/v1/requests/{id}/deny", post(requests::deny)),
        ("/v1/requests/{id}/cancel", post(requests::cancel)),
        ("/v1/requests/{id}/password", post(requests::password)),
        ("/v1/requests/{id}/mfa-code", post(requests::mfa_code)),
    ]
}

/// The path templates of every route under `/v1`, for the tests that hold
/// the OpenAPI document to the router.
pub fn paths() -> Vec<&'static str> {
    public_links().into_iter().chain(api()).map(|(path, _)| path).collect()
}
