//! What key pairs and firewalls share: the life of a row that can be ahead of
//! the provider, and who may see, create and delete them.
//!
//! A change is written in the console with its provider job in one
//! transaction, so a row can be `Pending` (the provider does not have it
//! yet), `Deleting` (deleted here, not yet there; hidden) or `Error` (the
//! provider refused to make it).
//!
//! Rights: PRODUCT names the actions of `IMAGE` and `SERVER` only. For
//! `KEYPAIR` and `FIREWALL` the console reads `Access` as "see the page",
//! `Configure` as "create or import" and `Delete` as "delete", so the default
//! roles read as their descriptions promise: CloudManager does everything,
//! Configurator sees and creates, CSR only sees. Neither resource has an
//! owner, group or budget code, so only rights with the `ANY` qualifier
//! cover them (as for the public catalog).

use super::access::{Action, Resource, Rights};

/// Where a row stands with the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceState {
    Pending,
    Active,
    Deleting,
    Error,
}

impl ResourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::Pending => "PENDING",
            ResourceState::Active => "ACTIVE",
            ResourceState::Deleting => "DELETING",
            ResourceState::Error => "ERROR",
        }
    }

    /// A stored state; an unknown one reads as `Error` (nothing is offered
    /// for it but Delete, which removes the row only).
    pub fn from_stored(stored: &str) -> Self {
        match stored {
            "PENDING" => ResourceState::Pending,
            "ACTIVE" => ResourceState::Active,
            "DELETING" => ResourceState::Deleting,
            _ => ResourceState::Error,
        }
    }
}

/// Rows read their stored state through this (`#[diesel(deserialize_as = String)]`).
impl From<String> for ResourceState {
    fn from(stored: String) -> Self {
        ResourceState::from_stored(&stored)
    }
}

/// What a user may do on the Key Pairs or Firewalls page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceAction {
    See,
    Create,
    Delete,
}

impl ResourceAction {
    /// The access right the action asks for.
    pub fn right(self) -> Action {
        match self {
            ResourceAction::See => Action::Access,
            ResourceAction::Create => Action::Configure,
            ResourceAction::Delete => Action::Delete,
        }
    }
}

/// May the user do `action` to key pairs or firewalls (`resource`)?
pub fn may(rights: &Rights, resource: Resource, action: ResourceAction) -> bool {
    rights.may(resource, action.right())
}

/// The facts that decide whether a row can be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteFacts {
    pub state: ResourceState,
    /// Pending, running or paused servers that use it.
    pub live_servers: i64,
    /// The provider keeps it for good (the `default` firewall).
    pub permanent: bool,
}

/// Whether a row can be deleted now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Delete it at the provider through a job.
    AtProvider,
    /// The provider never made it: removing the row is all there is.
    RowOnly,
    InUse(i64),
    /// Being created or deleted: wait for the provider.
    Busy(ResourceState),
    Permanent,
    Forbidden,
}

impl Deletion {
    pub fn allowed(self) -> bool {
        matches!(self, Deletion::AtProvider | Deletion::RowOnly)
    }
}

/// The one rule for Delete: the actions menu offers it when this allows it,
/// and the handler asks it again before acting.
pub fn deletion(rights: &Rights, resource: Resource, facts: &DeleteFacts) -> Deletion {
    if !may(rights, resource, ResourceAction::Delete) {
        return Deletion::Forbidden;
    }
    if facts.permanent {
        return Deletion::Permanent;
    }
    if facts.live_servers > 0 {
        return Deletion::InUse(facts.live_servers);
    }
    match facts.state {
        ResourceState::Active => Deletion::AtProvider,
        ResourceState::Error => Deletion::RowOnly,
        busy @ (ResourceState::Pending | ResourceState::Deleting) => Deletion::Busy(busy),
    }
}

/// "1 server" / "3 servers".
pub fn servers(n: i64) -> String {
    if n == 1 { "1 server".to_owned() } else { format!("{n} servers") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::{Grant, default_roles};

    fn rights_of(role: &str) -> Rights {
        let (_, _, rights) = default_roles().into_iter().find(|(n, _, _)| *n == role).expect("a default role");
        Rights::new(1, [1], [], rights.into_iter().map(|right| Grant { right, via_group: 1 }).collect())
    }

    const UNUSED: DeleteFacts = DeleteFacts { state: ResourceState::Active, live_servers: 0, permanent: false };

    #[test]
    fn default_roles_see_create_and_delete_as_promised() {
        for resource in [Resource::Keypair, Resource::Firewall] {
            let can = |role, action| may(&rights_of(role), resource, action);
            assert!(can("CloudManager", ResourceAction::Delete));
            assert!(can("Configurator", ResourceAction::Create));
            assert!(!can("Configurator", ResourceAction::Delete));
            assert!(can("CSR", ResourceAction::See));
            assert!(!can("CSR", ResourceAction::Create));
        }
    }

    #[test]
    fn only_an_unused_settled_row_can_be_deleted() {
        let admin = rights_of("Admin");
        let decide = |facts| deletion(&admin, Resource::Keypair, &facts);
        assert_eq!(decide(UNUSED), Deletion::AtProvider);
        assert_eq!(decide(DeleteFacts { live_servers: 2, ..UNUSED }), Deletion::InUse(2));
        assert_eq!(decide(DeleteFacts { state: ResourceState::Error, ..UNUSED }), Deletion::RowOnly);
        assert_eq!(
            decide(DeleteFacts { state: ResourceState::Pending, ..UNUSED }),
            Deletion::Busy(ResourceState::Pending)
        );
        assert_eq!(decide(DeleteFacts { permanent: true, ..UNUSED }), Deletion::Permanent);
        assert_eq!(deletion(&rights_of("Configurator"), Resource::Firewall, &UNUSED), Deletion::Forbidden);
    }

    #[test]
    fn states_round_trip() {
        for state in [ResourceState::Pending, ResourceState::Active, ResourceState::Deleting, ResourceState::Error] {
            assert_eq!(ResourceState::from_stored(state.as_str()), state);
        }
    }
}
