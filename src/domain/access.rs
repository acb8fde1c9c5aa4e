//! Access rights: what a user may do in the current account.
//!
//! A user's rights in an account are the sum of the rights of the roles that
//! their groups hold in that account (a group has at most one role per
//! account). A right is `(resource, action, qualifier)`; the qualifier limits
//! which resources it covers. Every "may this user do X to Y" question in the
//! product is answered here, once: templates ask it which actions to offer and
//! handlers ask it again before acting.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::ValidationError;

/// What a right is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Console,
    Image,
    Server,
    Firewall,
    Keypair,
    Volume,
    Budget,
    User,
    Group,
    Role,
    /// Cloud accounts: connect, edit, disable, delete.
    Account,
    Any,
}

/// What may be done. `Any` matches every action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Any,
    Access,
    Configure,
    Delete,
    DefineServer,
    DefineServerFromPublic,
    ShareLocal,
    SharePublic,
    Start,
    Image,
    Pause,
    Terminate,
}

/// Which resources a right covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// All resources of the account.
    Any,
    /// Resources owned by any of the user's groups.
    Group,
    /// Resources owned by the group through which the user holds the role.
    ThisGroup,
    /// Resources billed to a budget code the user holds.
    Billing,
    /// Resources the user owns.
    Mine,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(UnknownValue(s.to_owned())),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(Resource {
    Console = "CONSOLE",
    Image = "IMAGE",
    Server = "SERVER",
    Firewall = "FIREWALL",
    Keypair = "KEYPAIR",
    Volume = "VOLUME",
    Budget = "BUDGET",
    User = "USER",
    Group = "GROUP",
    Role = "ROLE",
    Account = "ACCOUNT",
    Any = "ANY",
});

text_enum!(Action {
    Any = "ANY",
    Access = "Access",
    Configure = "Configure",
    Delete = "Delete",
    DefineServer = "DefineServer",
    DefineServerFromPublic = "DefineServerFromPublic",
    ShareLocal = "ShareLocal",
    SharePublic = "SharePublic",
    Start = "Start",
    Image = "Image",
    Pause = "Pause",
    Terminate = "Terminate",
});

text_enum!(Qualifier {
    Any = "ANY",
    Group = "GROUP",
    ThisGroup = "THIS_GROUP",
    Billing = "BILLING",
    Mine = "MINE",
});

/// A stored value that is not one of the known names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// One access right of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRight {
    pub resource: Resource,
    pub action: Action,
    pub qualifier: Qualifier,
}

impl AccessRight {
    pub const fn new(resource: Resource, action: Action, qualifier: Qualifier) -> Self {
        Self { resource, action, qualifier }
    }

    /// Refused when the right names an action its resource does not have
    /// (PRODUCT 1: IMAGE's and SERVER's own actions; every other resource is
    /// seen, configured and deleted), or limits by owner, group or budget
    /// code a resource that has none (the console, cloud accounts, the
    /// administration). `ANY` fits every resource, and the resource `ANY`
    /// takes every action and qualifier.
    pub fn meaningful(&self) -> Result<(), ValidationError> {
        use Action::*;
        let actions: &[Action] = match self.resource {
            Resource::Any => return Ok(()),
            Resource::Image => {
                &[Any, Access, Configure, Delete, DefineServer, DefineServerFromPublic, ShareLocal, SharePublic]
            }
            Resource::Server => &[Any, Access, Start, Configure, Image, Pause, Terminate],
            _ => &[Any, Access, Configure, Delete],
        };
        if !actions.contains(&self.action) {
            let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
            return Err(ValidationError::new(
                "action",
                format!("{} has no action {}: choose one of {}.", self.resource, self.action, names.join(", ")),
            ));
        }
        let owned = !matches!(
            self.resource,
            Resource::Console | Resource::Account | Resource::User | Resource::Group | Resource::Role
        );
        if !owned && self.qualifier != Qualifier::Any {
            return Err(ValidationError::new(
                "qualifier",
                format!("{} has no owner, group or budget code to limit it by: its qualifier is ANY.", self.resource),
            ));
        }
        Ok(())
    }

    fn covers(&self, resource: Resource, action: Action) -> bool {
        (self.resource == Resource::Any || self.resource == resource)
            && (self.action == Action::Any || self.action == action)
    }
}

/// An access right as the user holds it: through the role of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub right: AccessRight,
    /// The group the role is attached to (what `THIS_GROUP` refers to).
    pub via_group: i64,
}

/// Who owns a resource and what it is billed to: what qualifiers look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ownership {
    pub owner_user: Option<i64>,
    pub owner_group: Option<i64>,
    pub budget_code: Option<i64>,
}

/// The resources of a kind a user may do an action to, as a list query
/// asks it: every one, or those matching any of the parts of [`Within`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    All,
    Within(Within),
}

/// Resources owned by the user, owned by one of the groups, or billed to
/// one of the budget codes (sorted; empty parts match nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Within {
    pub owner_user: Option<i64>,
    pub owner_groups: Vec<i64>,
    pub budget_codes: Vec<i64>,
}

impl Reach {
    /// Whether `target` is within reach: what [`Rights::allows`] says of it.
    pub fn covers(&self, target: &Ownership) -> bool {
        match self {
            Self::All => true,
            Self::Within(within) => {
                (within.owner_user.is_some() && target.owner_user == within.owner_user)
                    || target.owner_group.is_some_and(|g| within.owner_groups.contains(&g))
                    || target.budget_code.is_some_and(|b| within.budget_codes.contains(&b))
            }
        }
    }
}

/// What a provider job is about. Who may read a job, on the Jobs page or in
/// the API, follows from it as it does for the resource itself (see
/// [`Rights::jobs_reach`]): a job tells what it asked of the provider
/// ("Launch server NAME", an instance id), which is no less than what its
/// resource's row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSubject {
    /// The account's own upkeep (syncs, the lifecycle's pass): nobody's.
    Account,
    /// A change to an image, with the owner, group and budget code the
    /// image had when it was asked.
    Image(Ownership),
    /// A launch, a server action or an image made from a server, with the
    /// server's owner, group and budget code.
    Server(Ownership),
    Keypair,
    Firewall,
}

/// The jobs of an account a user may read: those they asked for, the
/// account's own upkeep, and those about what their role lets them see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsReach {
    pub requested_by: i64,
    pub images: Reach,
    pub servers: Reach,
    pub keypairs: bool,
    pub firewalls: bool,
}

/// Everything a user may do in one account.
#[derive(Debug, Clone, Default)]
pub struct Rights {
    user_id: i64,
    groups: HashSet<i64>,
    budget_codes: HashSet<i64>,
    grants: Vec<Grant>,
}

impl Rights {
    pub fn new(
        user_id: i64,
        groups: impl IntoIterator<Item = i64>,
        budget_codes: impl IntoIterator<Item = i64>,
        grants: Vec<Grant>,
    ) -> Self {
        Self { user_id, groups: groups.into_iter().collect(), budget_codes: budget_codes.into_iter().collect(), grants }
    }

    /// May the user do `action` to this particular resource?
    pub fn allows(&self, resource: Resource, action: Action, target: &Ownership) -> bool {
        self.grants
            .iter()
            .filter(|grant| grant.right.covers(resource, action))
            .any(|grant| self.qualifier_matches(grant, target))
    }

    /// The resources of this kind the user may do `action` to, for a list
    /// to show only those: the qualifiers of every grant that covers it,
    /// joined.
    pub fn reach(&self, resource: Resource, action: Action) -> Reach {
        let mut within = Within::default();
        for grant in self.grants.iter().filter(|grant| grant.right.covers(resource, action)) {
            match grant.right.qualifier {
                Qualifier::Any => return Reach::All,
                Qualifier::Group => within.owner_groups.extend(&self.groups),
                Qualifier::ThisGroup => within.owner_groups.push(grant.via_group),
                Qualifier::Billing => within.budget_codes.extend(&self.budget_codes),
                Qualifier::Mine => within.owner_user = Some(self.user_id),
            }
        }
        for ids in [&mut within.owner_groups, &mut within.budget_codes] {
            ids.sort_unstable();
            ids.dedup();
        }
        Reach::Within(within)
    }

    /// May the user do `action` to at least some resource of this kind? This
    /// decides what the navigation and page-level controls offer; acting on a
    /// particular resource still asks [`Rights::allows`].
    pub fn allows_some(&self, resource: Resource, action: Action) -> bool {
        self.grants.iter().any(|grant| grant.right.covers(resource, action))
    }

    /// What groups and budget codes given to the user (`groups_given`,
    /// `codes_given`, already among theirs) add to their reach: for each of
    /// their rights qualified `GROUP`, `THIS_GROUP` or `BILLING`, the
    /// ownerships it covers now and did not before. A right that came with
    /// a group given covers all of its ownerships anew.
    pub fn gained_through(&self, groups_given: &[i64], codes_given: &[i64]) -> Vec<(AccessRight, Ownership)> {
        let mut gained = Vec::new();
        for grant in &self.grants {
            let fresh = groups_given.contains(&grant.via_group);
            let pick = |all: &HashSet<i64>, given: &[i64]| -> Vec<i64> {
                if fresh { all.iter().copied().collect() } else { given.to_vec() }
            };
            let reached: Vec<Ownership> = match grant.right.qualifier {
                Qualifier::Group => pick(&self.groups, groups_given)
                    .into_iter()
                    .map(|group| Ownership { owner_group: Some(group), ..Ownership::default() })
                    .collect(),
                Qualifier::ThisGroup if fresh => {
                    vec![Ownership { owner_group: Some(grant.via_group), ..Ownership::default() }]
                }
                Qualifier::Billing => pick(&self.budget_codes, codes_given)
                    .into_iter()
                    .map(|code| Ownership { budget_code: Some(code), ..Ownership::default() })
                    .collect(),
                Qualifier::ThisGroup | Qualifier::Any | Qualifier::Mine => Vec::new(),
            };
            gained.extend(reached.into_iter().map(|ownership| (grant.right, ownership)));
        }
        gained
    }

    /// May the user do `action` to resources nobody in the account owns, such
    /// as the provider's public catalog? Only an `ANY` qualifier covers those.
    pub fn allows_unowned(&self, resource: Resource, action: Action) -> bool {
        self.allows(resource, action, &Ownership::default())
    }

    /// The jobs the user may read: each kind of subject as far as the
    /// user's right to see such resources reaches.
    pub fn jobs_reach(&self) -> JobsReach {
        JobsReach {
            requested_by: self.user_id,
            images: self.reach(Resource::Image, Action::Access),
            servers: self.reach(Resource::Server, Action::Access),
            keypairs: self.may(Resource::Keypair, Action::Access),
            firewalls: self.may(Resource::Firewall, Action::Access),
        }
    }

    fn qualifier_matches(&self, grant: &Grant, target: &Ownership) -> bool {
        match grant.right.qualifier {
            Qualifier::Any => true,
            Qualifier::Group => target.owner_group.is_some_and(|g| self.groups.contains(&g)),
            Qualifier::ThisGroup => target.owner_group == Some(grant.via_group),
            Qualifier::Billing => target.budget_code.is_some_and(|b| self.budget_codes.contains(&b)),
            Qualifier::Mine => target.owner_user == Some(self.user_id),
        }
    }
}

/// Refused for lack of rights: the sentence a 403 shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(String);

impl Forbidden {
    /// "Your role in this account does not allow deleting firewalls."
    pub fn to(resource: Resource, action: Action) -> Self {
        Self(format!("Your role in this account does not allow {}.", Self::doing(resource, action)))
    }

    /// The same refusal for account `name`, when it is not the current one:
    /// "Your role in “Acme Staging” does not allow deleting cloud accounts."
    pub fn in_account(name: &str, resource: Resource, action: Action) -> Self {
        Self(format!("Your role in “{name}” does not allow {}.", Self::doing(resource, action)))
    }

    fn doing(resource: Resource, action: Action) -> String {
        let things = match resource {
            Resource::Console => "the console",
            Resource::Image => "images",
            Resource::Server => "servers",
            Resource::Firewall => "firewalls",
            Resource::Keypair => "key pairs",
            Resource::Volume => "volumes",
            Resource::Budget => "budget codes",
            Resource::User => "users",
            Resource::Group => "groups",
            Resource::Role => "roles",
            Resource::Account => "cloud accounts",
            Resource::Any => "everything",
        };
        match action {
            Action::Any => format!("everything with {things}"),
            Action::Access => format!("seeing {things}"),
            Action::Configure => format!("changing {things}"),
            Action::Delete => format!("deleting {things}"),
            Action::DefineServer => "launching servers from this image".into(),
            Action::DefineServerFromPublic => "searching and launching public images".into(),
            Action::ShareLocal => "sharing images with other accounts".into(),
            Action::SharePublic => "making images public or private".into(),
            Action::Start => format!("starting {things}"),
            Action::Image => "making images from servers".into(),
            Action::Pause => format!("pausing {things}"),
            Action::Terminate => format!("terminating {things}"),
        }
    }

    /// A refusal the rights decide with more than a resource and an action
    /// (an image's state, a server's progress); `sentence` says why.
    pub fn because(sentence: impl Into<String>) -> Self {
        Self(sentence.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl Rights {
    /// The one question a page or a change asks before anything else: may
    /// the user do `action` to `resource`s at all? Images and servers have
    /// owners, groups and budget codes, so any right of the kind lets the
    /// user in and each item is asked again with [`Rights::allows`]; the
    /// other resources (key pairs, firewalls, budget codes, users, groups,
    /// roles) have none, so only a right with the `ANY` qualifier covers
    /// them. The console itself is open to any `CONSOLE Access` grant.
    pub fn may(&self, resource: Resource, action: Action) -> bool {
        match resource {
            Resource::Image | Resource::Server | Resource::Volume | Resource::Console => {
                self.allows_some(resource, action)
            }
            _ => self.allows_unowned(resource, action),
        }
    }

    /// [`Rights::may`], as the refusal to return when it says no.
    pub fn require(&self, resource: Resource, action: Action) -> Result<(), Forbidden> {
        if self.may(resource, action) { Ok(()) } else { Err(Forbidden::to(resource, action)) }
    }

    /// May the user do `action` to this one item? Refused with the sentence
    /// of [`Forbidden::to`] otherwise.
    pub fn require_on(&self, resource: Resource, action: Action, target: &Ownership) -> Result<(), Forbidden> {
        if self.allows(resource, action, target) { Ok(()) } else { Err(Forbidden::to(resource, action)) }
    }
}

/// The roles every company starts with, as `(name, description, rights)`.
pub fn default_roles() -> Vec<(&'static str, &'static str, Vec<AccessRight>)> {
    use Action as A;
    use Qualifier::Any as Q;
    use Resource as R;
    const CLOUD: [Resource; 5] = [R::Image, R::Server, R::Firewall, R::Keypair, R::Volume];
    let console = AccessRight::new(R::Console, A::Access, Q);
    let on_cloud = |actions: &[Action]| -> Vec<AccessRight> {
        std::iter::once(console)
            .chain(CLOUD.iter().flat_map(|&r| actions.iter().map(move |&a| AccessRight::new(r, a, Q))))
            .collect()
    };
    let mut csr = on_cloud(&[A::Access]);
    csr.push(AccessRight::new(R::Budget, A::Access, Q));
    vec![
        ("Admin", "Everything, in every account the role is given for.", vec![AccessRight::new(R::Any, A::Any, Q)]),
        ("CloudManager", "All work on images, servers, firewalls, key pairs and volumes.", on_cloud(&[A::Any])),
        (
            "Configurator",
            "Sees and configures images, servers, firewalls, key pairs and volumes.",
            on_cloud(&[A::Access, A::Configure]),
        ),
        ("CSR", "Read only: sees the cloud resources and budget codes.", csr),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_right_names_an_action_of_its_resource_and_a_qualifier_it_can_have() {
        let right = |r: &str, a: &str, q: &str| {
            AccessRight::new(r.parse().unwrap(), a.parse().unwrap(), q.parse().unwrap()).meaningful()
        };
        for ok in [("IMAGE", "SharePublic", "MINE"), ("SERVER", "Pause", "GROUP"), ("ANY", "ANY", "ANY")] {
            assert!(right(ok.0, ok.1, ok.2).is_ok(), "{ok:?}");
        }
        assert!(right("FIREWALL", "Delete", "BILLING").is_ok());
        assert!(right("USER", "ANY", "ANY").is_ok());
        let pause = right("IMAGE", "Pause", "ANY").unwrap_err();
        assert_eq!(pause.field, "action");
        assert!(pause.message.starts_with("IMAGE has no action Pause: choose one of ANY, Access, Configure"));
        assert_eq!(right("ACCOUNT", "Image", "ANY").unwrap_err().field, "action");
        assert_eq!(right("ACCOUNT", "Configure", "MINE").unwrap_err().field, "qualifier");
        assert_eq!(right("CONSOLE", "Access", "GROUP").unwrap_err().field, "qualifier");
    }

    const QA: i64 = 1;
    const DEV: i64 = 2;
    const DEFAULT_CODE: i64 = 10;
    const IMAGING_CODE: i64 = 11;
    const JOHNSON: i64 = 100;
    const HOFFMAN: i64 = 101;
    const MOSELLE: i64 = 102;

    /// The enStratus worked example: three servers, and a QA role holding
    /// `SERVER Image` with each qualifier in turn.
    fn servers() -> [(&'static str, Ownership); 3] {
        let server = |group, code, owner| Ownership {
            owner_group: Some(group),
            budget_code: Some(code),
            owner_user: Some(owner),
        };
        [
            ("QA/Default/Johnson", server(QA, DEFAULT_CODE, JOHNSON)),
            ("Dev/Default/Hoffman", server(DEV, DEFAULT_CODE, HOFFMAN)),
            ("Dev/Imaging/Moselle", server(DEV, IMAGING_CODE, MOSELLE)),
        ]
    }

    /// Johnson is in QA and Dev, holds the Default budget code, and has the QA
    /// role through the QA group only.
    fn johnson_with(qualifier: Qualifier) -> Rights {
        let right = AccessRight::new(Resource::Server, Action::Image, qualifier);
        Rights::new(JOHNSON, [QA, DEV], [DEFAULT_CODE], vec![Grant { right, via_group: QA }])
    }

    fn imageable(qualifier: Qualifier) -> Vec<&'static str> {
        let rights = johnson_with(qualifier);
        servers()
            .into_iter()
            .filter(|(_, s)| rights.allows(Resource::Server, Action::Image, s))
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn any_qualifier_covers_every_server() {
        assert_eq!(imageable(Qualifier::Any), ["QA/Default/Johnson", "Dev/Default/Hoffman", "Dev/Imaging/Moselle"]);
    }

    #[test]
    fn group_qualifier_covers_servers_of_all_the_users_groups() {
        assert_eq!(imageable(Qualifier::Group), ["QA/Default/Johnson", "Dev/Default/Hoffman", "Dev/Imaging/Moselle"]);
    }

    #[test]
    fn this_group_qualifier_covers_only_the_group_holding_the_role() {
        assert_eq!(imageable(Qualifier::ThisGroup), ["QA/Default/Johnson"]);
    }

    #[test]
    fn billing_qualifier_covers_servers_billed_to_the_users_codes() {
        assert_eq!(imageable(Qualifier::Billing), ["QA/Default/Johnson", "Dev/Default/Hoffman"]);
    }

    #[test]
    fn mine_qualifier_covers_only_the_users_own_servers() {
        assert_eq!(imageable(Qualifier::Mine), ["QA/Default/Johnson"]);
    }

    /// What a list shows is what a single item allows: for every qualifier,
    /// alone and with another, the reach covers exactly the servers the
    /// rights allow.
    #[test]
    fn the_reach_of_a_list_covers_what_the_rights_allow_of_each_item() {
        let right = |qualifier| AccessRight::new(Resource::Server, Action::Access, qualifier);
        let mut unowned = servers().to_vec();
        unowned.push(("unowned", Ownership::default()));
        unowned.push(("ownerless in QA", Ownership { owner_group: Some(QA), ..Ownership::default() }));
        for first in Qualifier::ALL {
            for second in Qualifier::ALL {
                let grants = vec![
                    Grant { right: right(*first), via_group: QA },
                    Grant { right: right(*second), via_group: DEV },
                    Grant { right: AccessRight::new(Resource::Image, Action::Access, Qualifier::Any), via_group: QA },
                ];
                let rights = Rights::new(JOHNSON, [QA, DEV], [DEFAULT_CODE], grants);
                let reach = rights.reach(Resource::Server, Action::Access);
                for (name, server) in &unowned {
                    assert_eq!(
                        reach.covers(server),
                        rights.allows(Resource::Server, Action::Access, server),
                        "{first:?} and {second:?}: {name}"
                    );
                }
            }
        }
        let mine = Rights::new(JOHNSON, [QA], [], vec![Grant { right: right(Qualifier::Mine), via_group: QA }]);
        let only_mine = Within { owner_user: Some(JOHNSON), ..Within::default() };
        assert_eq!(mine.reach(Resource::Server, Action::Access), Reach::Within(only_mine));
        assert_eq!(mine.reach(Resource::Image, Action::Access), Reach::Within(Within::default()), "no right at all");
    }

    #[test]
    fn group_qualifier_excludes_groups_the_user_is_not_in() {
        let right = AccessRight::new(Resource::Server, Action::Image, Qualifier::Group);
        let qa_only = Rights::new(JOHNSON, [QA], [DEFAULT_CODE], vec![Grant { right, via_group: QA }]);
        let (_, hoffman) = servers()[1];
        assert!(!qa_only.allows(Resource::Server, Action::Image, &hoffman));
    }

    #[test]
    fn a_right_covers_only_its_own_resource_and_action() {
        let rights = johnson_with(Qualifier::Any);
        let (_, server) = servers()[0];
        assert!(!rights.allows(Resource::Server, Action::Terminate, &server));
        assert!(!rights.allows(Resource::Image, Action::Image, &server));
    }

    #[test]
    fn rights_are_the_sum_over_all_groups_roles() {
        let image =
            |qualifier| Grant { right: AccessRight::new(Resource::Server, Action::Image, qualifier), via_group: QA };
        let terminate = Grant {
            right: AccessRight::new(Resource::Server, Action::Terminate, Qualifier::ThisGroup),
            via_group: DEV,
        };
        let rights = Rights::new(JOHNSON, [QA, DEV], [], vec![image(Qualifier::Mine), terminate]);
        let [(_, johnsons), (_, hoffmans), _] = servers();
        assert!(rights.allows(Resource::Server, Action::Image, &johnsons));
        assert!(!rights.allows(Resource::Server, Action::Image, &hoffmans));
        assert!(rights.allows(Resource::Server, Action::Terminate, &hoffmans));
        assert!(!rights.allows(Resource::Server, Action::Terminate, &johnsons));
    }

    fn role(name: &str) -> Rights {
        let (_, _, rights) = default_roles().into_iter().find(|(n, _, _)| *n == name).expect("a default role");
        let grants = rights.into_iter().map(|right| Grant { right, via_group: QA }).collect();
        Rights::new(JOHNSON, [QA], [], grants)
    }

    #[test]
    fn default_roles_grant_what_the_product_promises() {
        let anything = Ownership::default();
        let admin = role("Admin");
        assert!(admin.allows(Resource::User, Action::Configure, &anything));
        assert!(admin.allows(Resource::Image, Action::SharePublic, &anything));

        let manager = role("CloudManager");
        assert!(manager.allows(Resource::Image, Action::Delete, &anything));
        assert!(manager.allows(Resource::Server, Action::Terminate, &anything));
        assert!(!manager.allows_some(Resource::User, Action::Access));
        assert!(!manager.allows_some(Resource::Budget, Action::Access));

        let configurator = role("Configurator");
        assert!(configurator.allows(Resource::Image, Action::Configure, &anything));
        assert!(!configurator.allows(Resource::Image, Action::Delete, &anything));

        let csr = role("CSR");
        assert!(csr.allows(Resource::Image, Action::Access, &anything));
        assert!(csr.allows(Resource::Budget, Action::Access, &anything));
        assert!(!csr.allows(Resource::Image, Action::Configure, &anything));
        assert!(!csr.allows_some(Resource::Group, Action::Access));
    }

    #[test]
    fn the_jobs_a_user_reads_reach_as_far_as_their_access_to_each_kind_of_resource() {
        let grant =
            |resource, qualifier| Grant { right: AccessRight::new(resource, Action::Access, qualifier), via_group: QA };
        let own_servers = Rights::new(
            JOHNSON,
            [QA],
            [DEFAULT_CODE],
            vec![grant(Resource::Server, Qualifier::Mine), grant(Resource::Keypair, Qualifier::Any)],
        );
        let mine = Within { owner_user: Some(JOHNSON), ..Within::default() };
        assert_eq!(
            own_servers.jobs_reach(),
            JobsReach {
                requested_by: JOHNSON,
                images: Reach::Within(Within::default()),
                servers: Reach::Within(mine),
                keypairs: true,
                firewalls: false,
            },
            "no image job but their own requests, their servers' jobs, every key pair job"
        );
        let csr = role("CSR").jobs_reach();
        assert_eq!((csr.images, csr.servers, csr.keypairs, csr.firewalls), (Reach::All, Reach::All, true, true));
    }

    #[test]
    fn names_round_trip() {
        for q in Qualifier::ALL {
            assert_eq!(q.as_str().parse::<Qualifier>(), Ok(*q));
        }
        assert_eq!("THIS_GROUP".parse(), Ok(Qualifier::ThisGroup));
        assert!("bogus".parse::<Action>().is_err());
    }
}
