//! Why the rules refuse a change that is well-formed and allowed: the name
//! is taken, the thing is in use, it changed meanwhile, it would leave the
//! company without an administrator. One enum, so a rule's wording lives
//! here once and `web::error` maps every refusal to its status in one place.
//!
//! A refusal that belongs to one field of a form says so (`field`): the
//! page shows it there (422), as it shows a `ValidationError`.

use super::access::AccessRight;
use super::resource::{Deletion, ResourceState, servers};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum Refusal {
    /// `name` is used in `account` by a `what` ("firewall", "key pair") in
    /// `state`.
    NameTaken { what: &'static str, name: String, state: ResourceState, account: String },
    /// A key pair or firewall cannot be deleted now (`why` is a refusing
    /// [`Deletion`]).
    Undeletable { what: &'static str, why: Deletion },
    /// Someone else changed it since the form was read.
    StaleVersion { what: &'static str },
    /// The change would leave the company without an active administrator.
    LastAdmin,
    /// Granting `right` in `account` (the current one when `None`) exceeds
    /// the acting user's own rights there.
    Escalation { right: AccessRight, account: Option<String> },
    /// An image record cannot be deleted while `.0` live servers were
    /// launched from it (from any record of an own image).
    ImageInUse(i64),
    /// Deprecating an image that is deprecated already (`deprecated`), or
    /// undeprecating one that is not: the menu was stale.
    DeprecatedAlready { name: String, deprecated: bool },
    /// The company has a budget code of this name (in any case).
    BudgetCodeNameTaken { name: String },
    /// Deactivating a budget code that is inactive already.
    BudgetCodeInactive { name: String },
    /// The replacement chosen for a deactivated budget code was deactivated
    /// meanwhile.
    ReplacementInactive,
}

impl Refusal {
    /// The sentence the user reads.
    pub fn message(&self) -> String {
        match self {
            Refusal::NameTaken { what, name, state, account } => match state {
                ResourceState::Deleting => format!("A {what} named “{name}” is being deleted; try again in a moment."),
                ResourceState::Error => {
                    format!("The {what} “{name}” could not be made at the provider; delete it first to use its name.")
                }
                _ => format!("{account} already has a {what} named “{name}”."),
            },
            Refusal::Undeletable { what, why } => match why {
                Deletion::InUse(n) => {
                    let (verb, them) = if *n == 1 { ("is", "it") } else { ("are", "them") };
                    format!(
                        "{} launched with this {what} {verb} pending, running or paused. Terminate {them} first.",
                        servers(*n)
                    )
                }
                Deletion::Busy(ResourceState::Deleting) => format!("This {what} is already being deleted."),
                Deletion::Busy(_) => format!("The provider is still making this {what}; wait until it is ready."),
                Deletion::Permanent => {
                    format!("Every network has this {what}; the provider does not allow deleting it.")
                }
                Deletion::Forbidden | Deletion::AtProvider | Deletion::RowOnly => {
                    format!("Your role does not allow deleting this {what}.")
                }
            },
            Refusal::StaleVersion { what } => format!("The {what} changed meanwhile. Reload to see the change."),
            Refusal::LastAdmin => "This would leave the company without an active user holding Admin (ANY ANY ANY) \
                                   in one of its accounts. Make someone else an administrator first."
                .into(),
            Refusal::Escalation { right, account } => {
                let place = account.as_deref().unwrap_or("this account");
                format!(
                    "You cannot grant {} {} {}: your own rights in {place} do not include it.",
                    right.resource, right.action, right.qualifier
                )
            }
            Refusal::ImageInUse(n) => {
                let (verb, them) = if *n == 1 { ("is", "it") } else { ("are", "them") };
                format!("{} launched from it {verb} pending, running or paused. Terminate {them} first.", servers(*n))
            }
            Refusal::DeprecatedAlready { name, deprecated } => {
                format!("“{name}” is {}.", if *deprecated { "already deprecated" } else { "not deprecated" })
            }
            Refusal::BudgetCodeNameTaken { name } => format!("The company already has a budget code named “{name}”."),
            Refusal::BudgetCodeInactive { name } => format!("{name} is inactive already."),
            Refusal::ReplacementInactive => "That budget code was deactivated meanwhile; choose another one.".into(),
        }
    }

    /// The form field the refusal belongs to, if it belongs to one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Refusal::NameTaken { .. } | Refusal::BudgetCodeNameTaken { .. } => Some("name"),
            Refusal::ReplacementInactive => Some("replacement_id"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_says_why_by_the_state_of_its_holder() {
        let taken = |state| Refusal::NameTaken {
            what: "firewall",
            name: "web".into(),
            state,
            account: "Acme Production".into(),
        };
        assert_eq!(taken(ResourceState::Active).message(), "Acme Production already has a firewall named “web”.");
        assert!(taken(ResourceState::Deleting).message().contains("is being deleted"));
        assert_eq!(taken(ResourceState::Pending).field(), Some("name"));
    }

    #[test]
    fn a_resource_in_use_names_its_servers() {
        let refusal = Refusal::Undeletable { what: "key pair", why: Deletion::InUse(2) };
        assert_eq!(
            refusal.message(),
            "2 servers launched with this key pair are pending, running or paused. Terminate them first."
        );
        assert_eq!(refusal.field(), None);
    }

    #[test]
    fn an_image_in_use_names_the_servers_launched_from_it() {
        assert_eq!(
            Refusal::ImageInUse(1).message(),
            "1 server launched from it is pending, running or paused. Terminate it first."
        );
        assert!(Refusal::ImageInUse(3).message().starts_with("3 servers launched from it are"));
    }

    #[test]
    fn budget_code_refusals_belong_to_their_fields() {
        let taken = Refusal::BudgetCodeNameTaken { name: "Ops".into() };
        assert_eq!(taken.message(), "The company already has a budget code named “Ops”.");
        assert_eq!(taken.field(), Some("name"));
        assert_eq!(Refusal::ReplacementInactive.field(), Some("replacement_id"));
        assert_eq!(Refusal::BudgetCodeInactive { name: "Ops".into() }.field(), None);
    }
}
