//! `GET /v1/sys/ha-status` (DESIGN §17): the nodes of the cluster, the
//! active one and its term, as this node sees them. Every node answers it
//! itself (standbys do not forward it), for provider admins only: it names
//! the nodes' internal addresses.
//!
//! Unlike `GET /v1/sys/notifications`, a read here is not an audit event:
//! it touches no account, half, request, link, custody or seal (DESIGN §7),
//! and it must answer on a standby, which cannot append to the log (only
//! the active node writes), and most of all when no node is active. A
//! token that fails verification is still recorded (`auth.fail`) by the
//! caller extractor, like on every route, where the log can be written.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::domain::ids::Role as PrincipalRole;
use crate::error::Error;
use crate::ha::{HaStatus, Role};

/// This node.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThisNodeView {
    node: String,
    instance: String,
    api_addr: Option<String>,
    /// `active` or `standby`.
    role: &'static str,
}

/// The node holding the lease.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveView {
    node: String,
    api_addr: Option<String>,
}

/// A node seen in the last 30 s.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    node: String,
    api_addr: Option<String>,
    role: &'static str,
    /// Its last heartbeat (RFC 3339, the database's clock).
    last_seen: String,
}

/// The cluster as this node sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HaStatusView {
    /// Whether this is a cluster (PostgreSQL) rather than a single node.
    ha_enabled: bool,
    /// `sqlite` or `postgres`.
    backend: &'static str,
    node: ThisNodeView,
    /// `null` when no node holds the lease.
    active: Option<ActiveView>,
    /// The lease's term; `null` on a single node or with no active node.
    term: Option<i64>,
    nodes: Vec<NodeView>,
}

impl From<HaStatus> for HaStatusView {
    fn from(s: HaStatus) -> Self {
        let (active, term) = match &s.role {
            Role::Active { term } => {
                (Some(ActiveView { node: s.node.clone(), api_addr: s.api_addr.clone() }), term.map(|t| t.get()))
            }
            Role::Standby { active: Some(a) } => {
                (Some(ActiveView { node: a.node.clone(), api_addr: Some(a.api_addr.clone()) }), Some(a.term.get()))
            }
            Role::Standby { active: None } => (None, None),
        };
        let role = |active: bool| if active { "active" } else { "standby" };
        Self {
            ha_enabled: s.ha_enabled,
            backend: s.backend.as_str(),
            node: ThisNodeView {
                node: s.node,
                instance: s.instance.as_str().to_owned(),
                api_addr: s.api_addr,
                role: s.role.as_str(),
            },
            active,
            term,
            nodes: s
                .nodes
                .into_iter()
                .map(|n| NodeView {
                    node: n.node,
                    api_addr: n.api_addr,
                    role: role(n.active),
                    last_seen: crate::vault::rfc3339_of(
                        time::OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(n.last_seen_ms),
                    ),
                })
                .collect(),
        }
    }
}

/// The nodes of the cluster, the active one and its term, as this node
/// sees it; answered by every node itself (provider admins).
#[utoipa::path(get, path = "/v1/sys/ha-status", operation_id = "show_ha_status", tag = "sys", security(("bearer" = [])),
    responses(
        (status = 200, description = "The cluster's state.", body = HaStatusView),
        (status = 403, description = "Not a provider admin.", body = crate::http::error::ErrorBody),
    ))]
pub async fn show(State(app): State<App>, caller: Caller) -> Result<Json<HaStatusView>, Error> {
    if !app.vault.orgs().is_provider(&caller.principal.org) || !caller.has_role(PrincipalRole::Admin) {
        return Err(Error::forbidden("forbidden", "only the provider's admins see the cluster's status"));
    }
    Ok(Json(app.ha.status().into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ha::{ActiveNode, Backend, InstanceId, SeenNode, Term};

    fn status(role: Role, backend: Backend) -> HaStatus {
        HaStatus {
            ha_enabled: backend == Backend::Postgres,
            backend,
            node: "rv-2".into(),
            instance: InstanceId::random(),
            api_addr: Some("https://rv-2.internal:8750".into()),
            role,
            nodes: vec![SeenNode {
                instance: InstanceId::random(),
                node: "rv-1".into(),
                api_addr: Some("https://rv-1.internal:8750".into()),
                active: true,
                last_seen_ms: 1_767_225_600_250,
            }],
        }
    }

    #[test]
    fn a_standby_names_the_active_node_and_its_term() {
        let active = ActiveNode {
            instance: InstanceId::random(),
            node: "rv-1".into(),
            api_addr: "https://rv-1.internal:8750".into(),
            term: Term::new(4),
        };
        let view =
            serde_json::to_value(HaStatusView::from(status(Role::Standby { active: Some(active) }, Backend::Postgres)))
                .unwrap();
        assert_eq!(view["ha_enabled"], true);
        assert_eq!(view["backend"], "postgres");
        assert_eq!(view["node"]["role"], "standby");
        assert_eq!(view["active"], serde_json::json!({"node": "rv-1", "api_addr": "https://rv-1.internal:8750"}));
        assert_eq!(view["term"], 4);
        assert_eq!(
            view["nodes"][0],
            serde_json::json!({"node": "rv-1", "api_addr": "https://rv-1.internal:8750", "role": "active", "last_seen": "2026-01-01T00:00:00.250Z"})
        );
    }

    #[test]
    fn no_active_node_shows_as_null_and_a_single_node_has_no_term() {
        let view = serde_json::to_value(HaStatusView::from(status(Role::Standby { active: None }, Backend::Postgres)))
            .unwrap();
        assert_eq!((view["active"].clone(), view["term"].clone()), (serde_json::Value::Null, serde_json::Value::Null));
        let single =
            serde_json::to_value(HaStatusView::from(status(Role::Active { term: None }, Backend::Sqlite))).unwrap();
        assert_eq!(single["ha_enabled"], false);
        assert_eq!(single["node"]["role"], "active");
        assert_eq!(single["active"]["node"], "rv-2");
        assert_eq!(single["term"], serde_json::Value::Null);
    }
}
