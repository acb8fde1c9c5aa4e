//! Why the rules refuse a change that is well-formed and allowed: the name
//! is taken, the thing is in use, it changed meanwhile, it would leave an
//! account without an administrator. One enum, so a rule's wording lives
//! here once and `web::error` maps every refusal to its status in one place.
//!
//! A refusal that belongs to one field of a form says so (`field`): the
//! page shows it there (422), as it shows a `ValidationError`.

use super::access::AccessRight;
use super::budget::OverHardQuota;
use super::launch::past_hard_quota;
use super::resource::{Deletion, ResourceState, servers};

/// Whose images and servers a right would reach ([`Refusal::Widening`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// Those the group of this name owns.
    Group(String),
    /// Those billed to the budget code of this name.
    BudgetCode(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum Refusal {
    /// `name` is used in `account` by a `what` ("firewall", "key pair") in
    /// `state`.
    NameTaken {
        what: &'static str,
        name: String,
        state: ResourceState,
        account: String,
    },
    /// A key pair or firewall cannot be deleted now (`why` is a refusing
    /// [`Deletion`]).
    Undeletable {
        what: &'static str,
        why: Deletion,
    },
    /// Someone else changed it since the form was read.
    StaleVersion {
        what: &'static str,
    },
    /// A cloud account cannot be deleted while `servers` of its servers
    /// are not terminated.
    AccountInUse {
        account: String,
        servers: i64,
    },
    /// Account `account` has `changes` still on their way to the provider
    /// (a revoked share, a deregistration…): deleting it now would drop them.
    AccountChangesPending {
        account: String,
        changes: i64,
        disabled: bool,
    },
    /// The change would leave the account `account` (which had one) without
    /// an active user holding Admin there.
    LastAdmin {
        account: String,
    },
    /// Connecting `account` would leave the administrator who connects it
    /// without the right to configure it: no role their groups get there
    /// allows it.
    ConnectedUnadministered {
        account: String,
    },
    /// Granting `right` in `account` (the current one when `None`) exceeds
    /// the acting user's own rights there.
    Escalation {
        right: AccessRight,
        account: Option<String>,
    },
    /// The groups or budget codes given to a user would let their `right`
    /// reach images and servers (of `reached`) that the acting user's own
    /// rights in `account` (the current one when `None`) do not.
    Widening {
        right: AccessRight,
        reached: Reached,
        account: Option<String>,
    },
    /// User `user` holds `right` in `account` (the current one when
    /// `None`), which the acting user does not: changing their password,
    /// groups or status would reach past the actor's own rights.
    Outranked {
        user: String,
        right: AccessRight,
        account: Option<String>,
    },
    /// Taking `right` away in `account` (the current one when `None`): a
    /// right the acting user does not hold there is not theirs to withdraw
    /// (from a role, or a group's role), as it is not theirs to grant.
    Withdrawal {
        right: AccessRight,
        account: Option<String>,
    },
    /// An image record cannot be deleted while `.0` live servers were
    /// launched from it (from any record of an own image).
    ImageInUse(i64),
    /// Delete, retirement and the bin's purge wait while an image is
    /// protected.
    ImageProtected {
        name: String,
    },
    /// Deprecating an image that is deprecated already (`deprecated`), or
    /// undeprecating one that is not: the menu was stale.
    DeprecatedAlready {
        name: String,
        deprecated: bool,
    },
    /// The company has a budget code of this name (in any case).
    BudgetCodeNameTaken {
        name: String,
    },
    /// Deactivating a budget code that is inactive already.
    BudgetCodeInactive {
        name: String,
    },
    /// The replacement chosen for a deactivated budget code was deactivated
    /// meanwhile.
    ReplacementInactive,
    /// The company has a `what` ("group", "role") named `name` already.
    CompanyNameTaken {
        what: &'static str,
        name: String,
    },
    /// The email belongs to another user: one of the company's (who could be
    /// added to this account instead) or someone else's.
    EmailTaken {
        colleague: bool,
    },
    /// An administrator deactivating themselves.
    SelfDeactivation,
    /// The user `name` is active (or inactive) already.
    AlreadyActive(String),
    AlreadyInactive(String),
    /// The user `name` is a member of the account `account` already.
    AlreadyMember {
        name: String,
        account: String,
    },
    /// A group with this many members cannot be deleted.
    GroupHasMembers(i64),
    /// A role this many groups have in some account cannot be deleted.
    RoleInUse(i64),
    /// The default roles cannot be deleted.
    DefaultRole,
    /// A default role keeps its name.
    DefaultRoleName,
    /// The rights of the default Admin role cannot be reduced.
    AdminRoleLocked,
    /// The role `role` has `right` already.
    RightHeld {
        role: String,
        right: AccessRight,
    },
    /// The provider already has a `what` called `name` that the console has
    /// not synced yet.
    NameTakenAtProvider {
        what: &'static str,
        name: String,
    },
    /// The launch's budget code was deactivated or withdrawn from the user
    /// after the form was checked.
    BudgetWithdrawn,
    /// The launch would take budget code `code` past its hard quota (checked
    /// again under the code's lock).
    PastHardQuota {
        code: String,
        over: OverHardQuota,
    },
    /// Starting a paused server again would take its budget code `code`
    /// past its hard quota (its hourly rate counts again once it runs).
    StartPastHardQuota {
        code: String,
        over: OverHardQuota,
    },
    /// Server `name` is `progress` (its title): `action` cannot be done now,
    /// though it could in another state.
    ServerNotNow {
        name: String,
        progress: &'static str,
        action: &'static str,
    },
    /// Someone else set group `group`'s role in the account since the Set
    /// Role dialog was read; it is `now` (`None`: no role).
    GroupRoleChanged {
        group: String,
        now: Option<String>,
    },
    /// Server `name` moved on since the page was read; it is `progress` now.
    ServerChanged {
        name: String,
        progress: &'static str,
    },
    /// Server `name` has no instance at the provider yet.
    ServerNotAtProvider {
        name: String,
    },
    /// `action` is for the account that owns image `name`; this one keeps
    /// it as `kept_as` ("shared with it", "launched from the public
    /// catalog").
    ImageNotOwn {
        name: String,
        action: &'static str,
        kept_as: &'static str,
    },
    /// Image `name` waits in the recycle bin, where it can only be restored
    /// or purged.
    ImageInBin {
        name: String,
    },
    /// Restoring or purging image `name`, which is not in the recycle bin.
    ImageNotInBin {
        name: String,
    },
    /// The provider is still making image `name`.
    ImageBeingMade {
        name: String,
    },
    /// The provider could not make image `name`: it can only be deleted.
    ImageMakingFailed {
        name: String,
    },
    /// Image `name` is `state` (pending, failed, deregistered…): only an
    /// available image can be `done` ("launched", "shared", "changed"),
    /// whatever the user's role.
    ImageNotAvailable {
        name: String,
        state: String,
        done: &'static str,
    },
    /// Firewall `name` is not at the provider yet (or could not be made):
    /// it takes no rules.
    FirewallNotReady {
        name: String,
        /// The provider refused to make it.
        failed: bool,
    },
    /// The firewall rule `rule` (its summary) is still being added
    /// (`adding`), or is being removed already.
    RuleBusy {
        rule: String,
        adding: bool,
    },
    /// Another change to the same rows ran at the same moment and
    /// PostgreSQL undid this one (a deadlock or a serialization failure):
    /// nothing was written, and the same request, sent again, goes through.
    Contended,
}

impl Refusal {
    /// The version check every edit form shares (users, groups, roles,
    /// budget codes): `saved` tells whether the write made over the version
    /// the form was read at found that version; when not, the `what` is
    /// stale and the change is refused (nothing written).
    pub fn stale_unless(saved: bool, what: &'static str) -> Result<(), Refusal> {
        if saved { Ok(()) } else { Err(Refusal::StaleVersion { what }) }
    }

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
            Refusal::Contended => {
                "Another change to the same things ran at the same moment, so this one was undone and nothing \
                 was saved. Try again."
                    .to_owned()
            }
            Refusal::AccountChangesPending { account, changes, disabled } => format!(
                "{account} still has {changes} change{} on {} way to the provider (Provider Jobs lists {}): deleting \
                 the account now would drop {}. Delete it once {} done.{}",
                if *changes == 1 { "" } else { "s" },
                if *changes == 1 { "its" } else { "their" },
                if *changes == 1 { "it" } else { "them" },
                if *changes == 1 { "it" } else { "them" },
                if *changes == 1 { "it is" } else { "they are" },
                if *disabled { " A disabled account's changes wait: enable it to let them run." } else { "" },
            ),
            Refusal::AccountInUse { account, servers } => format!(
                "{account} still has {servers} server{} that {} not terminated: terminate {} first, then delete the \
                 account.",
                if *servers == 1 { "" } else { "s" },
                if *servers == 1 { "is" } else { "are" },
                if *servers == 1 { "it" } else { "them" },
            ),
            Refusal::ConnectedUnadministered { account } => format!(
                "You would not be able to administer “{account}”: the role your groups get in new accounts does not \
                 allow configuring cloud accounts. Give one of your groups a role for new accounts that does (Users › \
                 Groups), or ask another administrator to connect it."
            ),
            Refusal::LastAdmin { account } => format!(
                "This would leave {account} without an administrator, that is without an active user holding Admin \
                 (ANY ANY ANY) there. Make someone else an administrator of {account} first."
            ),
            Refusal::Widening { right, reached, account } => {
                let place = account.as_deref().unwrap_or("this account");
                let whose = match reached {
                    Reached::Group(name) => format!("of the group “{name}”"),
                    Reached::BudgetCode(name) => format!("billed to “{name}”"),
                };
                format!(
                    "With this change their right {} {} {} would reach the images and servers {whose}, which your \
                     own rights in {place} do not reach.",
                    right.resource, right.action, right.qualifier
                )
            }
            Refusal::Escalation { right, account } => {
                let place = account.as_deref().unwrap_or("this account");
                format!(
                    "You cannot grant {} {} {}: your own rights in {place} do not include it.",
                    right.resource, right.action, right.qualifier
                )
            }
            Refusal::Outranked { user, right, account } => {
                let place = account.as_deref().unwrap_or("this account");
                format!(
                    "You cannot change {user}: they hold {} {} {} in {place}, which your own rights there do not \
                     include. An administrator who holds it can.",
                    right.resource, right.action, right.qualifier
                )
            }
            Refusal::Withdrawal { right, account } => {
                let place = account.as_deref().unwrap_or("this account");
                format!(
                    "You cannot take {} {} {} away: your own rights in {place} do not include it. An \
                     administrator who holds it can.",
                    right.resource, right.action, right.qualifier
                )
            }
            Refusal::ImageInUse(n) => {
                let (verb, them) = if *n == 1 { ("is", "it") } else { ("are", "them") };
                format!("{} launched from it {verb} pending, running or paused. Terminate {them} first.", servers(*n))
            }
            Refusal::ImageProtected { name } => {
                format!("“{name}” is protected: remove its protection first (image actions › Unprotect).")
            }
            Refusal::DeprecatedAlready { name, deprecated } => {
                format!("“{name}” is {}.", if *deprecated { "already deprecated" } else { "not deprecated" })
            }
            Refusal::BudgetCodeNameTaken { name } => format!("The company already has a budget code named “{name}”."),
            Refusal::BudgetCodeInactive { name } => format!("{name} is inactive already."),
            Refusal::ReplacementInactive => "That budget code was deactivated meanwhile; choose another one.".into(),
            Refusal::CompanyNameTaken { what, name } => format!("Your company has a {what} named “{name}” already."),
            Refusal::EmailTaken { colleague: true } => "A user of your company has this email already: find them \
                                                        in the list. If they are not in this account yet, “Add to \
                                                        this account…” in their row lets them in."
                .into(),
            Refusal::EmailTaken { colleague: false } => "This email is already in use.".into(),
            Refusal::SelfDeactivation => "You cannot deactivate yourself.".into(),
            Refusal::AlreadyActive(name) => format!("{name} is active already."),
            Refusal::AlreadyInactive(name) => format!("{name} is inactive already."),
            Refusal::AlreadyMember { name, account } => format!("{name} is a member of {account} already."),
            Refusal::GroupHasMembers(n) => format!(
                "It has {n} {}. Take them out of the group first (Users, Edit).",
                if *n == 1 { "member" } else { "members" }
            ),
            Refusal::RoleInUse(n) => {
                let (groups, has, them) =
                    if *n == 1 { ("1 group".to_owned(), "has", "it") } else { (format!("{n} groups"), "have", "them") };
                format!("{groups} {has} this role in an account. Set another role for {them} first (Groups, Set Role).")
            }
            Refusal::DefaultRole => "The default roles cannot be deleted.".into(),
            Refusal::DefaultRoleName => "A default role keeps its name.".into(),
            Refusal::AdminRoleLocked => {
                "The default Admin role holds every right: its rights cannot be changed.".into()
            }
            Refusal::RightHeld { role, right } => {
                format!("{role} has {} {} {} already.", right.resource, right.action, right.qualifier)
            }
            Refusal::NameTakenAtProvider { what, name } => {
                format!("The provider already has a {what} named “{name}”; choose another name.")
            }
            Refusal::BudgetWithdrawn => {
                "This budget code was deactivated or withdrawn meanwhile: choose another.".into()
            }
            Refusal::PastHardQuota { code, over } => past_hard_quota(code, over),
            Refusal::StartPastHardQuota { code, over } => format!(
                "Starting this server would take {code} past its hard quota: {} projected this month, of {}.",
                super::budget::cents(&over.projected),
                super::budget::cents(&over.hard_quota)
            ),
            Refusal::ServerNotNow { name, progress, action } => {
                format!("{name} is {progress}: it cannot {} now.", action.to_lowercase())
            }
            Refusal::ServerChanged { name, progress } => {
                format!("{name} changed meanwhile; it is {progress} now. Try again.")
            }
            Refusal::GroupRoleChanged { group, now } => {
                let now = match now {
                    Some(role) => format!("it has the role “{role}” now"),
                    None => "it has no role now".to_owned(),
                };
                format!("Someone else set the role of “{group}” meanwhile: {now}. Choose again to replace it.")
            }
            Refusal::ImageNotOwn { name, action, kept_as } => {
                format!("“{action}” is for the account that owns “{name}”: this account has it {kept_as}.")
            }
            Refusal::ImageInBin { name } => format!("“{name}” is in the recycle bin: restore it first."),
            Refusal::ImageNotInBin { name } => format!("“{name}” is not in the recycle bin."),
            Refusal::ImageBeingMade { name } => {
                format!("The provider is still making “{name}”; try again when it is available.")
            }
            Refusal::ImageMakingFailed { name } => {
                format!("The provider could not make “{name}”: it can only be deleted.")
            }
            Refusal::ImageNotAvailable { name, state, done } => {
                format!("“{name}” is {state} at the provider: only an available image can be {done}.")
            }
            Refusal::ServerNotAtProvider { name } => {
                format!("{name} is not at the provider yet; try again in a moment.")
            }
            Refusal::FirewallNotReady { name, failed: false } => {
                format!("The provider has not made the firewall “{name}” yet: it takes rules once it is ready.")
            }
            Refusal::FirewallNotReady { name, failed: true } => {
                format!("The provider could not make the firewall “{name}”: it takes no rules.")
            }
            Refusal::RuleBusy { rule, adding: true } => {
                format!("The rule “{rule}” is still being added; remove it once it is in place.")
            }
            Refusal::RuleBusy { rule, adding: false } => format!("The rule “{rule}” is being removed already."),
        }
    }

    /// The form field the refusal belongs to, if it belongs to one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Refusal::NameTaken { .. }
            | Refusal::NameTakenAtProvider { .. }
            | Refusal::CompanyNameTaken { .. }
            | Refusal::BudgetCodeNameTaken { .. }
            | Refusal::DefaultRoleName => Some("name"),
            Refusal::EmailTaken { .. } => Some("email"),
            Refusal::ReplacementInactive => Some("replacement_id"),
            Refusal::BudgetWithdrawn | Refusal::PastHardQuota { .. } => Some("budget_code_id"),
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

    #[test]
    fn administration_refusals_keep_their_sentences() {
        assert_eq!(
            Refusal::GroupHasMembers(1).message(),
            "It has 1 member. Take them out of the group first (Users, Edit)."
        );
        assert!(Refusal::GroupHasMembers(2).message().starts_with("It has 2 members."));
        assert!(
            Refusal::RoleInUse(1).message().starts_with("1 group has this role in an account. Set another role for it")
        );
        assert!(Refusal::RoleInUse(3).message().starts_with("3 groups have this role"));
        assert_eq!(Refusal::EmailTaken { colleague: false }.field(), Some("email"));
        assert_eq!(Refusal::DefaultRoleName.field(), Some("name"));
        assert_eq!(Refusal::SelfDeactivation.field(), None);
        let orphaned = Refusal::LastAdmin { account: "Acme Staging".into() };
        assert!(orphaned.message().starts_with("This would leave Acme Staging without an administrator"));
        assert_eq!(orphaned.field(), None);
    }

    #[test]
    fn a_launch_refused_by_its_budget_code_says_so_at_the_code() {
        let over = OverHardQuota { projected: 2100.into(), hard_quota: 2000.into() };
        let refusal = Refusal::PastHardQuota { code: "Operations".into(), over };
        assert!(refusal.message().starts_with("These servers would take Operations past its hard quota"));
        assert_eq!(refusal.field(), Some("budget_code_id"));
        assert_eq!(Refusal::BudgetWithdrawn.field(), Some("budget_code_id"));
    }

    #[test]
    fn a_server_action_refused_now_names_the_state() {
        let refusal = Refusal::ServerNotNow { name: "web".into(), progress: "paused", action: "Pause" };
        assert_eq!(refusal.message(), "web is paused: it cannot pause now.");
        assert_eq!(refusal.field(), None);
    }
}
