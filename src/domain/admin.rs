//! The rules of user administration: the input of the Users, Groups and
//! Roles pages, generated passwords, who may grant what, and which changes
//! would leave an account without an administrator.
//!
//! **No escalation.** An administrator may only hand out rights they hold
//! themselves in the account they act in. A wanted right is *held* when one
//! of the actor's rights covers its resource (`ANY` covers every resource),
//! its action (`ANY` covers every action) and a qualifier at least as broad:
//! `ANY` is broader than everything, `GROUP` is broader than `THIS_GROUP`
//! (the group a role is attached to is one of its member's groups), and
//! every other qualifier only covers itself. A wanted `ANY` resource or
//! action is held only through `ANY`. The changes ask [`exceeds`] before adding
//! a right to a role, setting a role on a group and putting a user in a
//! group (or into an account, where their groups' roles start to count).
//!
//! **Last administrator.** Every account of a company that has an
//! administrator keeps one: an active member who holds `ANY ANY ANY` (what
//! the default Admin role is) there through a group's role. Per account,
//! because only someone who works in an account can give the role back
//! there: an administrator of Production alone cannot repair Staging. The
//! check is made in the database before and after the write, inside the
//! change's transaction and under the company's lock, so every path that
//! could lose the last one (deactivating, taking someone out of a group,
//! setting a role, deleting a right, deleting a group) is covered by one
//! query and refused by rolling back (`changes::admin::keeping_admins`).
//!
//! Rights on the pages themselves (`USER`, `GROUP`, `ROLE`): `Access` shows a
//! page, `Configure` adds and edits (and, on Users, resets passwords,
//! deactivates and reactivates; on Groups, sets the role; on Roles, edits
//! the access rights), `Delete` deletes (groups). None of them has an owner,
//! group or budget code, so only rights qualified `ANY` cover them.

use super::ValidationError;
use super::access::{AccessRight, Action, Ownership, Qualifier, Resource, Rights};
use super::refusal::Refusal;

/// The right everything is allowed with: what makes an administrator.
pub const ADMIN_RIGHT: AccessRight = AccessRight::new(Resource::Any, Action::Any, Qualifier::Any);

fn qualifier_covers(held: Qualifier, wanted: Qualifier) -> bool {
    held == Qualifier::Any || held == wanted || (held == Qualifier::Group && wanted == Qualifier::ThisGroup)
}

/// Does one of `held` cover `wanted` (resource, action and a qualifier at
/// least as broad)?
pub fn holds(held: &[AccessRight], wanted: &AccessRight) -> bool {
    held.iter().any(|h| {
        (h.resource == Resource::Any || h.resource == wanted.resource)
            && (h.action == Action::Any || h.action == wanted.action)
            && qualifier_covers(h.qualifier, wanted.qualifier)
    })
}

/// The first of `wanted` that the actor (holding `held`) does not hold.
pub fn exceeds<'a>(held: &[AccessRight], wanted: &'a [AccessRight]) -> Option<&'a AccessRight> {
    wanted.iter().find(|w| !holds(held, w))
}

/// The resources that have an owner, a group and a budget code: those a
/// qualified right picks from (`Rights::may` asks `ANY` of the others).
const OWNED: [Resource; 3] = [Resource::Image, Resource::Server, Resource::Volume];

/// The first reach that giving a user groups or budget codes hands them
/// beyond the acting user's own (`actor`): one of their rights, and whose
/// resources it would then reach. `after` is the user's rights with what
/// is given (see `Rights::gained_through`). A `BILLING` right reaches what
/// the codes given pay for, a `GROUP` right what the groups given own: the
/// actor must reach as far, through `ANY`, the same codes or the same
/// groups.
pub fn widening(
    actor: &Rights,
    after: &Rights,
    groups_given: &[i64],
    codes_given: &[i64],
) -> Option<(AccessRight, Ownership)> {
    after.gained_through(groups_given, codes_given).into_iter().find(|(right, reached)| {
        OWNED
            .into_iter()
            .filter(|kind| right.resource == Resource::Any || right.resource == *kind)
            .any(|kind| !actor.allows(kind, right.action, reached))
    })
}

/// The default role whose rights cannot be reduced.
pub fn is_admin_role(is_default: bool, name: &str) -> bool {
    is_default && name == "Admin"
}

/// Whether a role (default or not, held by `groups` groups in some
/// account) may be deleted now.
pub fn role_deletion(is_default: bool, groups: i64) -> Result<(), Refusal> {
    if is_default {
        return Err(Refusal::DefaultRole);
    }
    if groups > 0 { Err(Refusal::RoleInUse(groups)) } else { Ok(()) }
}

/// A default role keeps its name.
pub fn role_rename(is_default: bool, old: &str, new: &str) -> Result<(), Refusal> {
    if is_default && old != new { Err(Refusal::DefaultRoleName) } else { Ok(()) }
}

/// Whether a group with `members` members may be deleted now.
pub fn group_deletion(members: i64) -> Result<(), Refusal> {
    if members > 0 { Err(Refusal::GroupHasMembers(members)) } else { Ok(()) }
}

/// Whether the user `target` (named `name`, `active` or not) may be
/// deactivated by the user `actor`.
pub fn deactivation(actor: i64, target: i64, active: bool, name: &str) -> Result<(), Refusal> {
    if actor == target {
        return Err(Refusal::SelfDeactivation);
    }
    if active { Ok(()) } else { Err(Refusal::AlreadyInactive(name.to_owned())) }
}

/// Whether the user named `name` may be reactivated.
pub fn reactivation(active: bool, name: &str) -> Result<(), Refusal> {
    if active { Err(Refusal::AlreadyActive(name.to_owned())) } else { Ok(()) }
}

/// Whether the user named `name` may be added to `account`.
pub fn admission(member: bool, name: &str, account: &str) -> Result<(), Refusal> {
    if member { Err(Refusal::AlreadyMember { name: name.to_owned(), account: account.to_owned() }) } else { Ok(()) }
}

/// Whether a user may sign in. Stored as TEXT (`active`, `inactive`) with a
/// CHECK; rows read it through `TryFrom<String>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Inactive,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
        }
    }
}

impl TryFrom<String> for UserStatus {
    type Error = super::access::UnknownValue;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        match stored.as_str() {
            "active" => Ok(UserStatus::Active),
            "inactive" => Ok(UserStatus::Inactive),
            _ => Err(super::access::UnknownValue(stored)),
        }
    }
}

/// An email address as typed, trimmed; unique in the console ignoring case
/// (the database's `users_email_ci` index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address there is (RFC 5321's path limit), in bytes.
    pub const MAX_BYTES: usize = 254;

    /// A plausible address: one `@`, something before it, a domain with a
    /// dot after it, no spaces. Whether it receives mail is not ours to know.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let email = raw.trim();
        let invalid = |m: &str| Err(ValidationError::new("email", m));
        if email.is_empty() {
            return invalid("Enter an email address.");
        }
        if email.len() > Self::MAX_BYTES {
            return invalid("An email address has at most 254 characters.");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid("An email address looks like name@example.com.");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || !domain_ok || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid("An email address looks like name@example.com.");
        }
        // Sign-in refuses these: an address holding one could never sign in.
        super::text::refuse_invisible("email", email, "email address")?;
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A required name (of a person, group or role): 1 to 100 characters,
/// canonical (`text::canonical_name`: trimmed, one space between words,
/// composed).
pub fn name(field: &'static str, raw: &str, what: &str) -> Result<String, ValidationError> {
    if raw.chars().any(char::is_control) {
        return Err(ValidationError::new(field, format!("The {what} cannot contain control characters.")));
    }
    let name = super::text::canonical_name(raw);
    if name.is_empty() {
        return Err(ValidationError::new(field, format!("Enter the {what}.")));
    }
    if name.chars().count() > 100 {
        return Err(ValidationError::new(field, format!("The {what} has at most 100 characters.")));
    }
    super::text::refuse_invisible(field, &name, what)?;
    Ok(name)
}

/// An optional description: trimmed, at most 500 characters.
pub fn description(raw: &str) -> Result<String, ValidationError> {
    let text = raw.trim();
    if text.chars().count() > 500 {
        return Err(ValidationError::new("description", "A description has at most 500 characters."));
    }
    super::text::refuse_control_in_text("description", text, "description")?;
    Ok(text.to_owned())
}

/// A password made for a user, shown once to the administrator. `Debug`
/// never shows it; only its argon2id hash is stored.
pub struct GeneratedPassword(String);

impl GeneratedPassword {
    /// Characters that cannot be confused with one another when read aloud
    /// or copied by hand (no 0/O, 1/l/I).
    const ALPHABET: &'static [u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    /// 20 of 56 characters: about 116 bits.
    const LENGTH: usize = 20;

    pub fn generate() -> Self {
        let n = Self::ALPHABET.len();
        // Rejection sampling keeps every character equally likely.
        let limit = (256 / n * n) as u8;
        let mut password = String::with_capacity(Self::LENGTH);
        while password.len() < Self::LENGTH {
            for byte in rand::random::<[u8; 32]>() {
                if byte < limit && password.len() < Self::LENGTH {
                    password.push(char::from(Self::ALPHABET[usize::from(byte) % n]));
                }
            }
        }
        Self(password)
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for GeneratedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeneratedPassword(hidden)")
    }
}

/// What the audit trail records in place of a secret.
pub const MASKED: &str = "********";

#[cfg(test)]
mod tests {
    use super::*;

    fn right(resource: Resource, action: Action, qualifier: Qualifier) -> AccessRight {
        AccessRight::new(resource, action, qualifier)
    }

    /// User `user` in `groups`, holding `codes`, with `rights` through group `via`.
    fn rights(user: i64, groups: &[i64], codes: &[i64], via: i64, rights: &[AccessRight]) -> Rights {
        let grants = rights.iter().map(|&right| crate::domain::access::Grant { right, via_group: via }).collect();
        Rights::new(user, groups.iter().copied(), codes.iter().copied(), grants)
    }

    #[test]
    fn a_code_given_widens_billing_rights_only_as_far_as_the_actor_reaches() {
        let terminate = right(Resource::Server, Action::Terminate, Qualifier::Billing);
        // The actor holds code 1; they give the user code 2 (and keep 1).
        let actor = rights(1, &[10], &[1], 10, &[terminate]);
        let after = rights(2, &[10], &[1, 2], 10, &[terminate]);
        let (widened, reached) = widening(&actor, &after, &[], &[2]).expect("code 2 is beyond the actor");
        assert_eq!((widened, reached.budget_code), (terminate, Some(2)));
        // Code 1, which the actor holds, is theirs to give.
        assert_eq!(widening(&actor, &after, &[], &[1]), None);
        // So is any code, for an actor whose right is not qualified.
        let unqualified = right(Resource::Server, Action::Terminate, Qualifier::Any);
        assert_eq!(widening(&rights(1, &[], &[], 10, &[unqualified]), &after, &[], &[2]), None);
        // A right with no qualifier a code widens gains nothing from one.
        let mine = right(Resource::Server, Action::Terminate, Qualifier::Mine);
        assert_eq!(widening(&actor, &rights(2, &[10], &[1, 2], 10, &[mine]), &[], &[2]), None);
    }

    #[test]
    fn a_group_given_widens_group_rights_and_brings_its_own_to_all_the_users_groups() {
        let configure = right(Resource::Image, Action::Configure, Qualifier::Group);
        // The actor is in group 10 only.
        let actor = rights(1, &[10], &[], 10, &[configure]);
        // Put in group 10 too, a user of group 20 with the right through 20
        // reaches 10's images: the actor's.
        assert_eq!(widening(&actor, &rights(2, &[10, 20], &[], 20, &[configure]), &[10], &[]), None);
        // Put in group 30, they reach 30's, which the actor does not.
        let (_, reached) = widening(&actor, &rights(2, &[10, 30], &[], 10, &[configure]), &[30], &[]).unwrap();
        assert_eq!(reached.owner_group, Some(30));
        // A right that comes with the group given reaches every group of
        // theirs: group 20's images too, beyond the actor.
        let (_, reached) = widening(&actor, &rights(2, &[10, 20], &[], 10, &[configure]), &[10], &[]).unwrap();
        assert_eq!(reached.owner_group, Some(20));
        // THIS_GROUP through the group given reaches that group's own.
        let this_group = right(Resource::Image, Action::Configure, Qualifier::ThisGroup);
        let (_, reached) = widening(&actor, &rights(2, &[30], &[], 30, &[this_group]), &[30], &[]).unwrap();
        assert_eq!(reached.owner_group, Some(30));
        // An ANY resource reaches images and servers alike.
        let any = right(Resource::Any, Action::Configure, Qualifier::Group);
        assert!(widening(&actor, &rights(2, &[10], &[], 10, &[any]), &[10], &[]).is_some(), "servers of 10");
    }

    #[test]
    fn admin_holds_everything() {
        let held = [ADMIN_RIGHT];
        assert!(holds(&held, &right(Resource::Role, Action::Configure, Qualifier::Mine)));
        assert!(holds(&held, &ADMIN_RIGHT));
    }

    #[test]
    fn a_narrower_qualifier_does_not_hold_a_broader_one() {
        let held = [right(Resource::Server, Action::Any, Qualifier::Group)];
        assert!(holds(&held, &right(Resource::Server, Action::Start, Qualifier::Group)));
        assert!(holds(&held, &right(Resource::Server, Action::Start, Qualifier::ThisGroup)));
        assert!(!holds(&held, &right(Resource::Server, Action::Start, Qualifier::Any)));
        assert!(!holds(&held, &right(Resource::Server, Action::Start, Qualifier::Mine)));
    }

    #[test]
    fn any_is_held_only_through_any() {
        let held = [right(Resource::Image, Action::Any, Qualifier::Any)];
        assert!(!holds(&held, &right(Resource::Any, Action::Access, Qualifier::Any)));
        let held = [right(Resource::Image, Action::Access, Qualifier::Any)];
        assert!(!holds(&held, &right(Resource::Image, Action::Any, Qualifier::Any)));
    }

    #[test]
    fn exceeds_names_the_first_right_not_held() {
        let held = [right(Resource::Image, Action::Access, Qualifier::Any)];
        let wanted = [right(Resource::Image, Action::Access, Qualifier::Mine), ADMIN_RIGHT];
        assert_eq!(exceeds(&held, &wanted), Some(&ADMIN_RIGHT));
        assert_eq!(exceeds(&held, &wanted[..1]), None);
    }

    #[test]
    fn only_the_default_admin_role_is_locked() {
        assert!(is_admin_role(true, "Admin"));
        assert!(!is_admin_role(false, "Admin"));
        assert!(!is_admin_role(true, "CloudManager"));
    }

    #[test]
    fn default_roles_and_roles_in_use_stay() {
        assert_eq!(role_deletion(true, 0), Err(Refusal::DefaultRole));
        assert_eq!(role_deletion(false, 2), Err(Refusal::RoleInUse(2)));
        assert_eq!(role_deletion(false, 0), Ok(()));
        assert_eq!(role_rename(true, "Admin", "Boss"), Err(Refusal::DefaultRoleName));
        assert_eq!(role_rename(true, "Admin", "Admin"), Ok(()));
        assert_eq!(role_rename(false, "CSR", "Support"), Ok(()));
    }

    #[test]
    fn a_group_with_members_stays() {
        assert_eq!(group_deletion(1), Err(Refusal::GroupHasMembers(1)));
        assert_eq!(group_deletion(0), Ok(()));
    }

    #[test]
    fn status_changes_check_the_current_status() {
        assert_eq!(deactivation(1, 1, true, "Ann"), Err(Refusal::SelfDeactivation));
        assert_eq!(deactivation(1, 2, false, "Ann"), Err(Refusal::AlreadyInactive("Ann".into())));
        assert_eq!(deactivation(1, 2, true, "Ann"), Ok(()));
        assert_eq!(reactivation(true, "Ann"), Err(Refusal::AlreadyActive("Ann".into())));
        assert_eq!(reactivation(false, "Ann"), Ok(()));
        assert_eq!(admission(false, "Ann", "Acme"), Ok(()));
        assert_eq!(admission(true, "Ann", "Acme").unwrap_err().message(), "Ann is a member of Acme already.");
    }

    #[test]
    fn emails_are_trimmed_and_checked() {
        assert_eq!(Email::parse("  Ann@Example.com ").unwrap().as_str(), "Ann@Example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@.com", "a@b@c.com"] {
            assert_eq!(Email::parse(bad).unwrap_err().field, "email", "{bad:?}");
        }
        // What the sign-in form refuses, an address cannot hold.
        for hidden in ["ann\u{200b}@acme.test", "\u{202e}ann@acme.test", "ann@acme\u{feff}.test"] {
            assert!(Email::parse(hidden).unwrap_err().message.contains("invisible"), "{hidden:?}");
        }
    }

    #[test]
    fn names_are_required() {
        assert_eq!(name("given_name", "  ", "first name").unwrap_err().field, "given_name");
        assert_eq!(name("given_name", " Ann ", "first name").unwrap(), "Ann");
    }

    #[test]
    fn generated_passwords_are_long_distinct_and_hidden() {
        let a = GeneratedPassword::generate();
        let b = GeneratedPassword::generate();
        assert_eq!(a.reveal().len(), 20);
        assert_ne!(a.reveal(), b.reveal());
        assert!(a.reveal().bytes().all(|c| GeneratedPassword::ALPHABET.contains(&c)));
        assert_eq!(format!("{a:?}"), "GeneratedPassword(hidden)");
    }
}
