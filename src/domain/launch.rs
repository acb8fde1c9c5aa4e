//! The rules of a launch: server names, how many, which hardware sizes fit
//! an image, and the check of the whole dialog against what the account
//! and the user offer (`validate`), every message at once.

use bigdecimal::BigDecimal;

use super::ValidationError;
use super::access::{Action, Ownership, Resource, Rights};
use super::budget::{BudgetFigures, OverHardQuota, cents};
use super::cloud_init::{ConfigForm, ConfigManagement, Encryption, VolumeForm, VolumeGroup, user_data};
use super::images::Label;
use super::text::refuse_control_in_text;

/// A server's name: 1 to 100 characters of letters, digits, `-`, `.`, `_`
/// and space, after trimming (PRODUCT 3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName(String);

impl ServerName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "Enter a name for the server."));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("name", format!("A name has at most {} characters.", Self::MAX_CHARS)));
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ' '))) {
            // A character that cannot be seen is named by its code point.
            let shown = if bad.is_control() || super::text::is_invisible(bad) {
                format!("U+{:04X}", u32::from(bad))
            } else {
                format!("“{bad}”")
            };
            return Err(ValidationError::new(
                "name",
                format!("{shown} cannot be used: a name has letters, digits, “-”, “.”, “_” and spaces."),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many servers one launch starts: 1 to 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(u8);

impl Count {
    pub const MAX: u8 = 20;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.trim().parse::<u8>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(ValidationError::new("count", format!("Launch from 1 to {} servers at a time.", Self::MAX))),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// The names of the servers of one launch: the name itself for one server,
/// `NAME-1` … `NAME-N` for several.
pub fn server_names(name: &ServerName, count: Count) -> Vec<String> {
    if count.get() == 1 {
        vec![name.as_str().to_owned()]
    } else {
        (1..=count.get()).map(|n| format!("{}-{n}", name.as_str())).collect()
    }
}

/// The fields of the launch form that its checks read, as typed.
pub struct LaunchInput<'a> {
    pub name: &'a str,
    pub count: &'a str,
    pub description: &'a str,
    pub label: &'a str,
    pub budget_code_id: &'a str,
    pub group_id: &'a str,
    pub zone: &'a str,
    pub product_id: &'a str,
    pub firewall_ids: &'a [String],
    /// `none`, `existing` or `new`.
    pub key_choice: &'a str,
    pub key_pair: &'a str,
    pub volumes: &'a VolumeForm,
    pub config: &'a ConfigForm,
}

/// The fields of the Key Pair tab.
pub const KEY_PAIR_FIELDS: [&str; 3] = ["key_choice", "key_pair", "new_key_name"];

/// Messages gathered across the tabs.
#[derive(Default)]
struct Errors(Vec<ValidationError>);

impl Errors {
    fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(ValidationError::new(field, message));
    }

    fn extend(&mut self, errors: Vec<ValidationError>) {
        self.0.extend(errors);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn on_key_pair(&self) -> bool {
        self.0.iter().any(|e| KEY_PAIR_FIELDS.contains(&e.field))
    }
}

/// A hardware size as the dialog offers it.
pub struct ProductOption {
    pub id: String,
    pub title: String,
    pub rate: BigDecimal,
    /// Why it cannot run this image, if it cannot (shown disabled).
    pub unfit: Option<String>,
}

/// A budget code as the dialog offers it, with its state now.
pub struct CodeOption {
    pub id: i64,
    pub name: String,
    pub figures: BudgetFigures,
}

/// What the account and the user offer a launch.
pub struct Options {
    pub products: Vec<ProductOption>,
    pub zones: Vec<String>,
    /// `(id, name, provider id)`.
    pub firewalls: Vec<(i64, String, String)>,
    pub key_pairs: Vec<String>,
    pub groups: Vec<(i64, String)>,
    /// The user's active codes not in HARD_ALARM.
    pub codes: Vec<CodeOption>,
    /// The user's codes in HARD_ALARM: not offered, and refused with why.
    pub exhausted: Vec<(i64, String)>,
    /// The owning group (or none) and budget code pairs, among the user's,
    /// that their `SERVER Start` covers for a server of their own
    /// ([`start_choices`]).
    pub may_start: Vec<(Option<i64>, i64)>,
}

/// Memory in GiB as sizes are named: "8", "0.5".
pub fn gib(ram_mb: i64) -> String {
    let gib = ram_mb as f64 / 1024.0;
    if gib.fract() == 0.0 { format!("{gib:.0}") } else { format!("{gib:.1}") }
}

impl Options {
    /// Whether the dialog offers owning group `group` (none: `None`): with
    /// one of the user's codes at least, their `SERVER Start` covers it.
    pub fn group_offered(&self, group: Option<i64>) -> bool {
        self.may_start.iter().any(|(offered, _)| *offered == group)
    }
}

/// The servers a launch makes are the launcher's own, of the group and
/// billed to the code they choose: `SERVER Start` is asked of that owner,
/// group and code (not of the image's), for each choice the dialog offers.
pub fn start_choices(
    rights: &Rights,
    user: i64,
    groups: &[(i64, String)],
    codes: &[CodeOption],
) -> Vec<(Option<i64>, i64)> {
    let groups = std::iter::once(None).chain(groups.iter().map(|(id, _)| Some(*id)));
    groups
        .flat_map(|group| codes.iter().map(move |code| (group, code.id)))
        .filter(|&(group, code)| {
            let owned = Ownership { owner_user: Some(user), owner_group: group, budget_code: Some(code) };
            rights.allows(Resource::Server, Action::Start, &owned)
        })
        .collect()
}

/// A launch that passed every check.
#[derive(Debug)]
pub struct Launch {
    pub names: Vec<String>,
    pub description: String,
    pub label: Label,
    pub budget_code_id: i64,
    pub group_id: Option<i64>,
    pub zone: Option<String>,
    pub product_id: String,
    pub rate: BigDecimal,
    pub firewalls: Vec<(i64, String)>,
    pub key_name: Option<String>,
    pub volume_group: Option<VolumeGroup>,
    pub config: ConfigManagement,
    pub user_data: Option<String>,
}

/// Checks every tab; all messages at once.
pub fn validate(
    form: &LaunchInput<'_>,
    windows: bool,
    options: &Options,
    capabilities: Encryption,
) -> Result<Launch, Vec<ValidationError>> {
    let mut errors = Errors::default();
    let name = ServerName::parse(form.name).map_err(|e| errors.0.push(e)).ok();
    let count = Count::parse(form.count).map_err(|e| errors.0.push(e)).ok();
    // Several servers are named NAME-1 … NAME-N: each must fit the limit.
    let (name, count) = match (name, count) {
        (Some(name), Some(count)) => match server_names(&name, count).iter().map(|n| n.chars().count()).max() {
            Some(longest) if longest > ServerName::MAX_CHARS => {
                let keep = ServerName::MAX_CHARS - (longest - name.as_str().chars().count());
                errors.push(
                    "name",
                    format!(
                        "{} servers are named “-1” to “-{}” after it: keep the name to {keep} characters.",
                        count.get(),
                        count.get()
                    ),
                );
                (None, None)
            }
            _ => (Some(name), Some(count)),
        },
        other => other,
    };
    if form.description.chars().count() > 1000 {
        errors.push("description", "A description has at most 1,000 characters.");
    } else if let Err(e) = refuse_control_in_text("description", form.description, "description") {
        errors.0.push(e);
    }
    let label = if form.label.is_empty() { Ok(Label::None) } else { form.label.parse::<Label>() };
    let label = label.map_err(|e| errors.0.push(e)).unwrap_or(Label::None);

    let code = options.codes.iter().find(|c| c.id.to_string() == form.budget_code_id);
    if code.is_none() {
        match options.exhausted.iter().find(|(id, _)| id.to_string() == form.budget_code_id) {
            Some((_, name)) => errors.push(
                "budget_code_id",
                format!("“{name}” has reached its hard quota: no server may be launched on it. Choose another code."),
            ),
            None => errors.push("budget_code_id", "Choose one of your budget codes."),
        }
    }
    // `None`: not one of the user's groups.
    let group_id = match form.group_id {
        "" => Some(None),
        raw => options.groups.iter().find(|(id, _)| id.to_string() == raw).map(|(id, _)| Some(*id)),
    };
    match (code, group_id) {
        (_, None) => errors.push("group_id", "Choose one of your groups, or none."),
        (Some(code), Some(group)) if !options.may_start.contains(&(group, code.id)) => errors.push(
            "group_id",
            "Your role does not let you start a server of this group billed to this code: choose another group.",
        ),
        _ => {}
    }
    let group_id = group_id.flatten();
    let zone = match form.zone {
        "" => None,
        raw if options.zones.iter().any(|z| z == raw) => Some(raw.to_owned()),
        _ => {
            errors.push("zone", "Choose a data center of this account, or any.");
            None
        }
    };
    let product = options.products.iter().find(|p| p.id == form.product_id);
    match product {
        None => errors.push("product_id", "Choose a product (hardware size)."),
        Some(ProductOption { unfit: Some(why), id, .. }) => {
            errors.push("product_id", format!("{id} cannot run this image: {why}."));
        }
        Some(_) => {}
    }
    let mut firewalls = Vec::new();
    for raw in form.firewall_ids {
        match options.firewalls.iter().find(|(id, _, _)| id.to_string() == *raw) {
            // A firewall ticked twice (a hand-made form) is one firewall.
            Some((id, _, _)) if firewalls.iter().any(|(chosen, _)| chosen == id) => {}
            Some((id, _, provider_id)) => firewalls.push((*id, provider_id.clone())),
            None => errors.push("firewall_ids", "Choose firewalls of this account."),
        }
    }
    if let (Some(code), Some(product), Some(count)) = (code, product, count)
        && let Err(over) = code.figures.check_launch(&(&product.rate * BigDecimal::from(count.get())))
    {
        errors.push("budget_code_id", past_hard_quota(&code.name, &over));
    }

    let key_name = match form.key_choice {
        "existing" if options.key_pairs.iter().any(|k| k == form.key_pair) => Some(form.key_pair.to_owned()),
        "existing" => {
            errors.push("key_pair", "Choose one of this account's key pairs.");
            None
        }
        "new" => {
            errors.push("new_key_name", "Create the key pair first (Create Key Pair), then launch.");
            None
        }
        "none" | "" => None,
        _ => {
            errors.push("key_choice", "Choose no key pair, an existing one or a new one.");
            None
        }
    };
    if key_name.is_none() && windows && !errors.on_key_pair() {
        errors.push("key_choice", "Windows images need a key pair: the administrator password is encrypted with it.");
    }

    let volume_group = form.volumes.parse().map_err(|e| errors.extend(e)).ok().flatten();
    let config = form.config.parse().map_err(|e| errors.extend(e)).ok();
    let rendered = config.as_ref().map(|config| user_data(volume_group.as_ref(), capabilities, config));
    let user_data = match rendered {
        Some(Ok(data)) => data,
        Some(Err(e)) => {
            errors.0.push(e);
            None
        }
        None => None,
    };

    match (name, count, code, product, config) {
        (Some(name), Some(count), Some(code), Some(product), Some(config)) if errors.is_empty() => Ok(Launch {
            names: server_names(&name, count),
            description: form.description.trim().to_owned(),
            label,
            budget_code_id: code.id,
            group_id,
            zone,
            product_id: product.id.clone(),
            rate: product.rate.clone(),
            firewalls,
            key_name,
            volume_group,
            config,
            user_data,
        }),
        _ => Err(errors.0),
    }
}

/// Why a launch is refused at its budget code.
pub fn past_hard_quota(code: &str, over: &OverHardQuota) -> String {
    format!(
        "These servers would take {code} past its hard quota: {} projected this month, of {}.",
        cents(&over.projected),
        cents(&over.hard_quota)
    )
}

/// Memory a Windows server needs, in MB.
pub const WINDOWS_MIN_RAM_MB: i64 = 2048;

/// Why a hardware size cannot run an image, if it cannot. Sizes are
/// EBS-backed: the root disk is sized from the image, so only the
/// architecture and, for Windows, the memory decide.
pub fn unfit_reason(
    product_architectures: &[String],
    ram_mb: i64,
    image_architecture: &str,
    windows: bool,
) -> Option<String> {
    if !product_architectures.iter().any(|a| a == image_architecture) {
        return Some(format!("not for {image_architecture} images"));
    }
    if windows && ram_mb < WINDOWS_MIN_RAM_MB {
        return Some("Windows needs at least 2 GB of memory".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::budget::Quotas;

    fn options(hard_quota: &str) -> Options {
        let quotas = Quotas { soft: hard_quota.parse().unwrap(), hard: hard_quota.parse().unwrap() };
        Options {
            products: vec![
                ProductOption {
                    id: "t3.micro".into(),
                    title: String::new(),
                    rate: "0.01".parse().unwrap(),
                    unfit: None,
                },
                ProductOption {
                    id: "t3.nano".into(),
                    title: String::new(),
                    rate: "0.005".parse().unwrap(),
                    unfit: Some("too little memory for Windows".into()),
                },
            ],
            zones: vec!["us-east-1a".into()],
            firewalls: vec![(7, "web".into(), "sg-0123".into())],
            key_pairs: vec!["ops".into()],
            groups: vec![(3, "Ops".into())],
            codes: vec![CodeOption {
                id: 5,
                name: "Operations".into(),
                figures: BudgetFigures::new(&[], quotas, Utc::now()),
            }],
            exhausted: vec![(9, "Exhausted".into())],
            may_start: vec![(None, 5), (Some(3), 5)],
        }
    }

    fn input<'a>(firewalls: &'a [String], volumes: &'a VolumeForm, config: &'a ConfigForm) -> LaunchInput<'a> {
        LaunchInput {
            name: " web ",
            count: "3",
            description: "",
            label: "",
            budget_code_id: "5",
            group_id: "3",
            zone: "",
            product_id: "t3.micro",
            firewall_ids: firewalls,
            key_choice: "existing",
            key_pair: "ops",
            volumes,
            config,
        }
    }

    #[test]
    fn a_valid_launch_names_its_servers_and_keeps_the_choices() {
        let (firewalls, volumes, config) =
            (vec!["7".to_owned(), "7".to_owned()], VolumeForm::default(), ConfigForm::default());
        let launch = validate(&input(&firewalls, &volumes, &config), false, &options("1000"), Encryption::Provider)
            .unwrap_or_else(|e| panic!("refused: {e:?}"));
        assert_eq!(launch.names, ["web-1", "web-2", "web-3"]);
        assert_eq!((launch.budget_code_id, launch.group_id, launch.zone), (5, Some(3), None));
        assert_eq!(launch.firewalls, [(7, "sg-0123".to_owned())]);
        assert_eq!(launch.key_name.as_deref(), Some("ops"));
        assert!(launch.volume_group.is_none());
    }

    #[test]
    fn every_tab_is_checked_and_every_message_comes_at_once() {
        let (firewalls, volumes, config) = (vec!["8".to_owned()], VolumeForm::default(), ConfigForm::default());
        let mut form = input(&firewalls, &volumes, &config);
        form.name = "";
        form.group_id = "4";
        form.product_id = "t3.nano";
        form.key_choice = "none";
        let errors = validate(&form, true, &options("1000"), Encryption::Provider).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "group_id", "product_id", "firewall_ids", "key_choice"]);
        assert!(errors[2].message.contains("too little memory for Windows"));
        assert!(errors[4].message.contains("Windows images need a key pair"));
    }

    #[test]
    fn several_servers_names_with_their_numbers_fit_the_limit() {
        let (firewalls, volumes, config) = (vec!["7".to_owned()], VolumeForm::default(), ConfigForm::default());
        let mut form = input(&firewalls, &volumes, &config);
        let (long, shorter) = ("x".repeat(100), "x".repeat(97));
        form.name = &long;
        form.count = "1";
        let one = validate(&form, false, &options("1000"), Encryption::Provider).expect("one server: the name itself");
        assert_eq!(one.names, std::slice::from_ref(&long));
        form.count = "12";
        let errors = validate(&form, false, &options("1000"), Encryption::Provider).unwrap_err();
        let found: Vec<_> = errors.iter().map(|e| (e.field, e.message.as_str())).collect();
        assert_eq!(found, [("name", "12 servers are named “-1” to “-12” after it: keep the name to 97 characters.")]);
        form.name = &shorter;
        let launch = validate(&form, false, &options("1000"), Encryption::Provider).unwrap();
        assert_eq!(launch.names.last().map(|n| n.len()), Some(100));
    }

    #[test]
    fn a_key_choice_the_form_does_not_offer_is_refused() {
        let (firewalls, volumes, config) = (Vec::new(), VolumeForm::default(), ConfigForm::default());
        let mut form = input(&firewalls, &volumes, &config);
        form.key_choice = "borrowed";
        for windows in [false, true] {
            let errors = validate(&form, windows, &options("1000"), Encryption::Provider).unwrap_err();
            let found: Vec<_> = errors.iter().map(|e| (e.field, e.message.as_str())).collect();
            assert_eq!(found, [("key_choice", "Choose no key pair, an existing one or a new one.")]);
        }
        form.key_choice = "";
        let launch = validate(&form, false, &options("1000"), Encryption::Provider).unwrap();
        assert!(launch.key_name.is_none(), "no choice sent is none");
    }

    #[test]
    fn a_launch_past_the_hard_quota_is_refused_at_the_budget_code() {
        let (firewalls, volumes, config) = (Vec::new(), VolumeForm::default(), ConfigForm::default());
        let errors =
            validate(&input(&firewalls, &volumes, &config), false, &options("0.01"), Encryption::Provider).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "budget_code_id");
        assert!(errors[0].message.starts_with("These servers would take Operations past its hard quota"));
    }

    #[test]
    fn names_allow_letters_digits_and_a_few_marks() {
        assert_eq!(ServerName::parse("  web front-1.a_b ").unwrap().as_str(), "web front-1.a_b");
        assert_eq!(ServerName::parse(" ").unwrap_err().message, "Enter a name for the server.");
        assert!(ServerName::parse(&"x".repeat(100)).is_ok());
        assert!(ServerName::parse(&"x".repeat(101)).unwrap_err().message.contains("at most 100"));
        assert!(ServerName::parse("web/1").unwrap_err().message.contains("“/” cannot be used"));
        assert!(ServerName::parse("wéb").is_err());
        assert!(ServerName::parse("web\u{7}").unwrap_err().message.starts_with("U+0007 cannot be used"));
    }

    #[test]
    fn a_launch_starts_1_to_20_servers() {
        assert!(Count::parse("0").is_err());
        assert_eq!(Count::parse("1").unwrap().get(), 1);
        assert_eq!(Count::parse("20").unwrap().get(), 20);
        assert!(Count::parse("21").is_err());
        assert!(Count::parse("two").is_err());
    }

    #[test]
    fn several_servers_are_numbered() {
        let name = ServerName::parse("web").unwrap();
        assert_eq!(server_names(&name, Count::parse("1").unwrap()), ["web"]);
        assert_eq!(server_names(&name, Count::parse("3").unwrap()), ["web-1", "web-2", "web-3"]);
    }

    #[test]
    fn sizes_fit_by_architecture_and_windows_memory() {
        let x86 = ["x86_64".to_owned()];
        assert_eq!(unfit_reason(&x86, 1024, "x86_64", false), None);
        assert_eq!(unfit_reason(&x86, 1024, "arm64", false).as_deref(), Some("not for arm64 images"));
        assert!(unfit_reason(&x86, 1024, "x86_64", true).is_some());
        assert_eq!(unfit_reason(&x86, 2048, "x86_64", true), None);
    }
}
