//! Machine images as the console shows them: labels, platforms, the tabs of
//! the list, sort orders and the parsed query of the Machine Images page.
//!
//! Input from the URL becomes these types at the edge; everything inside
//! trusts them ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use super::ValidationError;
use super::access::{Action, Ownership, Resource, Rights};
use super::page::{KeyKind, PageRequest};
use super::refusal::Refusal;
use super::text::is_invisible;
use serde::{Deserialize, Serialize};

/// The 25 labels of the enStratus picker: colour swatches, flags, icons, tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    None,
    Blue,
    Yellow,
    Green,
    Orange,
    Purple,
    Red,
    Gray,
    White,
    FlagBlue,
    FlagGreen,
    FlagOrange,
    FlagPurple,
    FlagRed,
    IconAsterisk,
    IconBug,
    IconKey,
    IconLightbulb,
    IconStar,
    TagBlue,
    TagGreen,
    TagOrange,
    TagPurple,
    TagRed,
    TagYellow,
}

/// How a label is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    None,
    Swatch,
    Flag,
    Icon,
    Tag,
}

impl Label {
    pub const ALL: [Label; 25] = [
        Label::None,
        Label::Blue,
        Label::Yellow,
        Label::Green,
        Label::Orange,
        Label::Purple,
        Label::Red,
        Label::Gray,
        Label::White,
        Label::FlagBlue,
        Label::FlagGreen,
        Label::FlagOrange,
        Label::FlagPurple,
        Label::FlagRed,
        Label::IconAsterisk,
        Label::IconBug,
        Label::IconKey,
        Label::IconLightbulb,
        Label::IconStar,
        Label::TagBlue,
        Label::TagGreen,
        Label::TagOrange,
        Label::TagPurple,
        Label::TagRed,
        Label::TagYellow,
    ];

    /// The stored name, also the CSS class suffix and the form value.
    pub fn as_str(self) -> &'static str {
        self.parts().0
    }

    /// The name a screen reader (and a tooltip) says.
    pub fn title(self) -> &'static str {
        self.parts().2
    }

    pub fn kind(self) -> LabelKind {
        self.parts().1
    }

    /// The colour word of a flag or tag (used by its icon's class).
    pub fn colour(self) -> &'static str {
        let name = self.as_str();
        name.strip_prefix("flag").or_else(|| name.strip_prefix("tag")).unwrap_or(name)
    }

    /// The SVG symbol that draws a flag, tag or icon label: a fragment of
    /// `static/labels.svg` (`URLS.labels`).
    pub fn symbol(self) -> &'static str {
        match self {
            Label::IconAsterisk => "#i-asterisk",
            Label::IconBug => "#i-bug",
            Label::IconKey => "#i-key",
            Label::IconLightbulb => "#i-lightbulb",
            Label::IconStar => "#i-star",
            _ if self.kind() == LabelKind::Tag => "#i-tag",
            _ => "#i-flag",
        }
    }

    fn parts(self) -> (&'static str, LabelKind, &'static str) {
        use LabelKind::*;
        match self {
            Label::None => ("none", None, "No label"),
            Label::Blue => ("blue", Swatch, "Blue"),
            Label::Yellow => ("yellow", Swatch, "Yellow"),
            Label::Green => ("green", Swatch, "Green"),
            Label::Orange => ("orange", Swatch, "Orange"),
            Label::Purple => ("purple", Swatch, "Purple"),
            Label::Red => ("red", Swatch, "Red"),
            Label::Gray => ("gray", Swatch, "Gray"),
            Label::White => ("white", Swatch, "White"),
            Label::FlagBlue => ("flagblue", Flag, "Blue flag"),
            Label::FlagGreen => ("flaggreen", Flag, "Green flag"),
            Label::FlagOrange => ("flagorange", Flag, "Orange flag"),
            Label::FlagPurple => ("flagpurple", Flag, "Purple flag"),
            Label::FlagRed => ("flagred", Flag, "Red flag"),
            Label::IconAsterisk => ("iconasterisk", Icon, "Asterisk"),
            Label::IconBug => ("iconbug", Icon, "Bug"),
            Label::IconKey => ("iconkey", Icon, "Key"),
            Label::IconLightbulb => ("iconlightbulb", Icon, "Light bulb"),
            Label::IconStar => ("iconstar", Icon, "Star"),
            Label::TagBlue => ("tagblue", Tag, "Blue tag"),
            Label::TagGreen => ("taggreen", Tag, "Green tag"),
            Label::TagOrange => ("tagorange", Tag, "Orange tag"),
            Label::TagPurple => ("tagpurple", Tag, "Purple tag"),
            Label::TagRed => ("tagred", Tag, "Red tag"),
            Label::TagYellow => ("tagyellow", Tag, "Yellow tag"),
        }
    }
}

/// What a refusal may quote of a value typed: itself in quotes when it is
/// short, printable text, else "This" (never an escape sequence).
fn shown(value: &str) -> String {
    let printable = !value.chars().any(|c| c.is_control() || is_invisible(c));
    if printable && value.chars().count() <= 40 { format!("“{value}”") } else { "This".to_owned() }
}

impl FromStr for Label {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .into_iter()
            .find(|label| label.as_str() == s)
            .ok_or_else(|| ValidationError::new("label", format!("{} is not one of the labels.", shown(s))))
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! choice_enum {
    ($(#[$meta:meta])* $ty:ident, $field:literal { $($variant:ident = $text:literal / $title:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $ty { $($variant),+ }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }

            pub fn title(self) -> &'static str {
                match self { $($ty::$variant => $title),+ }
            }
        }

        impl FromStr for $ty {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(ValidationError::new(
                        $field,
                        format!("{} is not allowed; use one of: {}", super::text::quoted(s), [$($text),+].join(", ")),
                    )),
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

choice_enum!(
    /// The operating system family of an image.
    Platform, "platform" {
        Ubuntu = "UBUNTU" / "Ubuntu",
        Debian = "DEBIAN" / "Debian",
        CentOs = "CENT_OS" / "CentOS",
        Rhel = "RHEL" / "Red Hat Enterprise Linux",
        FedoraCore = "FEDORA_CORE" / "Fedora",
        Suse = "SUSE" / "SUSE",
        AmazonLinux = "AMAZON" / "Amazon Linux",
        Windows = "WINDOWS" / "Windows",
        FreeBsd = "FREE_BSD" / "FreeBSD",
        Unknown = "UNKNOWN" / "Unknown",
    }
);

impl Platform {
    /// The CSS class of the OS icon.
    pub fn icon(self) -> &'static str {
        match self {
            Platform::Windows => "windows",
            Platform::FreeBsd => "bsd",
            Platform::Unknown => "unknown",
            _ => "linux",
        }
    }

    /// The platform of a provider image, from what the provider says (Windows)
    /// and the habits of publishers' image names.
    pub fn infer(name: &str, description: &str, windows: bool) -> Self {
        if windows {
            return Platform::Windows;
        }
        let text = format!("{name} {description}").to_lowercase();
        const HINTS: &[(&str, Platform)] = &[
            ("ubuntu", Platform::Ubuntu),
            ("debian", Platform::Debian),
            ("centos", Platform::CentOs),
            ("rhel", Platform::Rhel),
            ("red hat", Platform::Rhel),
            ("fedora", Platform::FedoraCore),
            ("suse", Platform::Suse),
            ("sles", Platform::Suse),
            ("amzn", Platform::AmazonLinux),
            ("al2023", Platform::AmazonLinux),
            ("amazon linux", Platform::AmazonLinux),
            ("freebsd", Platform::FreeBsd),
            ("windows", Platform::Windows),
        ];
        HINTS.iter().find(|(hint, _)| text.contains(hint)).map_or(Platform::Unknown, |(_, p)| *p)
    }

    /// Parses a stored value; values written by newer code show as Unknown.
    pub fn from_stored(s: &str) -> Self {
        s.parse().unwrap_or(Platform::Unknown)
    }
}

choice_enum!(
    /// Processor architecture.
    Architecture, "arch" {
        I386 = "i386" / "32-bit x86",
        X86_64 = "x86_64" / "64-bit x86",
        Arm64 = "arm64" / "64-bit ARM",
    }
);

choice_enum!(
    /// The tabs of the Machine Images page.
    Scope, "scope" {
        Own = "own" / "My images",
        Shared = "shared" / "Shared with me",
        Public = "public" / "Public catalog",
        Bin = "bin" / "Recycle bin",
    }
);

choice_enum!(
    /// Sort orders of the list. Every order ends with the id as tie-break, so
    /// keyset pages never skip or repeat a row.
    Sort, "sort" {
        Name = "name" / "Name A–Z",
        NameDesc = "-name" / "Name Z–A",
        Newest = "-created" / "Newest first",
        Oldest = "created" / "Oldest first",
        RecentlyLaunched = "-last_launched" / "Launched most recently",
        LongestUnlaunched = "last_launched" / "Launched longest ago",
        MostLaunched = "-launches" / "Most launches",
        FewestLaunched = "launches" / "Fewest launches",
    }
);

choice_enum!(
    /// Where an image is in its life: the list's `lifecycle` filter.
    Lifecycle, "lifecycle" {
        Retiring = "retiring" / "Retirement scheduled",
        RetiredRoot = "retired_root" / "Built on a retired image",
        Protected = "protected" / "Protected",
        Unused90d = "unused_90d" / "Unused for 90 days",
    }
);

impl Sort {
    /// The sort orders a tab offers, and its default. The public catalog is
    /// ordered by time only (see `db::images::search_public`).
    pub fn choices(scope: Scope) -> (&'static [Sort], Sort) {
        match scope {
            Scope::Public => (&[Sort::Newest, Sort::Oldest], Sort::Newest),
            Scope::Own | Scope::Shared | Scope::Bin => (Sort::ALL, Sort::Name),
        }
    }

    /// Parses the `sort` parameter for a tab.
    pub fn parse_for(scope: Scope, raw: &str) -> Result<Sort, ValidationError> {
        let (allowed, default) = Sort::choices(scope);
        if raw.is_empty() {
            return Ok(default);
        }
        let sort: Sort = raw.parse()?;
        if allowed.contains(&sort) {
            Ok(sort)
        } else {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            Err(ValidationError::new(
                "sort",
                format!("{} cannot be sorted by {}; use one of: {}", scope.title(), sort.title(), names.join(", ")),
            ))
        }
    }

    /// What the order's key is: a name, a moment (created, last launched;
    /// never launched counts as launched at the epoch) or a count.
    pub fn key(self) -> KeyKind {
        match self {
            Sort::Name | Sort::NameDesc => KeyKind::Name,
            Sort::Newest | Sort::Oldest | Sort::RecentlyLaunched | Sort::LongestUnlaunched => KeyKind::Time,
            Sort::MostLaunched | Sort::FewestLaunched => KeyKind::Count,
        }
    }

    pub fn descending(self) -> bool {
        matches!(self, Sort::NameDesc | Sort::Newest | Sort::RecentlyLaunched | Sort::MostLaunched)
    }
}

/// Text typed into the search box: trimmed, at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    pub const MAX_CHARS: usize = 200;

    /// `None` for an empty search.
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "q",
                format!("Search text is too long: at most {} characters.", Self::MAX_CHARS),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ValidationError::new("q", "Search text cannot contain control characters."));
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A `LIKE` pattern matching the text anywhere, with `%`, `_` and `\`
    /// taken literally. Its case is kept: the query lowercases it with
    /// PostgreSQL's `lower`, as it does the text searched (Rust's lowercase
    /// differs: "İ" becomes two characters).
    pub fn like_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.0.len() + 2);
        pattern.push('%');
        for c in self.0.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        pattern
    }
}

/// Search and filters of the list, already parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub search: Option<SearchText>,
    pub platform: Option<Platform>,
    pub arch: Option<Architecture>,
    pub label: Option<Label>,
    pub lifecycle: Option<Lifecycle>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }
}

/// What a user may do to an image from its actions menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAction {
    Launch,
    Deprecate,
    Undeprecate,
    Delete,
    Sharing,
    /// Refuse delete, retirement and purge until unprotected.
    Protect,
    Unprotect,
    /// Back from the recycle bin, as it was.
    Restore,
    /// Out of the recycle bin before its retention ends: deregistered now.
    Purge,
    /// Dates to deprecate and retire it on.
    Schedule,
}

impl ImageAction {
    pub fn title(self) -> &'static str {
        match self {
            ImageAction::Launch => "Launch",
            ImageAction::Deprecate => "Deprecate",
            ImageAction::Undeprecate => "Undeprecate",
            ImageAction::Delete => "Delete",
            ImageAction::Sharing => "Sharing",
            ImageAction::Protect => "Protect",
            ImageAction::Unprotect => "Unprotect",
            ImageAction::Restore => "Restore",
            ImageAction::Purge => "Delete now",
            ImageAction::Schedule => "Schedule",
        }
    }

    /// Whether the menu item opens a dialog; otherwise it posts at once.
    pub fn needs_dialog(self) -> bool {
        !matches!(self, ImageAction::Undeprecate | ImageAction::Protect | ImageAction::Unprotect | ImageAction::Restore)
    }

    /// The action's path under `/images/{id}/`.
    pub fn path(self) -> &'static str {
        match self {
            ImageAction::Launch => "launch",
            ImageAction::Deprecate => "deprecate",
            ImageAction::Undeprecate => "undeprecate",
            ImageAction::Delete => "delete",
            ImageAction::Sharing => "sharing",
            ImageAction::Protect => "protect",
            ImageAction::Unprotect => "unprotect",
            ImageAction::Restore => "restore",
            ImageAction::Purge => "purge",
            ImageAction::Schedule => "schedule",
        }
    }
}

/// Where an account's record of an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Own,
    Shared,
    PublicLaunched,
}

impl Source {
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "own" => Some(Source::Own),
            "shared" => Some(Source::Shared),
            "public_launched" => Some(Source::PublicLaunched),
            _ => None,
        }
    }
}

/// The facts about one image record that decide its actions.
#[derive(Debug, Clone, Copy)]
pub struct ImageFacts {
    pub source: Source,
    pub active: bool,
    pub deprecated: bool,
    pub ownership: Ownership,
    /// What the account's provider lets images be shared with.
    pub provider: SharingSupport,
    /// Whether the provider has made the image (one made from a server has
    /// a record before it has an image).
    pub making: Making,
    pub protected: bool,
    /// Deleted, waiting in the recycle bin.
    pub binned: bool,
}

/// Where the making of an image from a server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Making {
    /// The provider has the image: every image but the two below.
    Done,
    /// The provider is making it: nothing can be done to it yet (there is
    /// nothing at the provider to deprecate or deregister).
    InProgress,
    /// The provider could not make it: Delete removes the record.
    Failed,
}

/// What deleting an image record does now, or what stops it: the one
/// answer the delete dialogs give beforehand and `changes::images::delete`
/// acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteFate {
    /// The provider could not make it: only its record goes.
    RecordOnly,
    /// An own image goes to the recycle bin for this many days, then the
    /// provider deregisters it.
    Binned { days: i32 },
    /// An own image of a company that keeps no recycle bin: the provider
    /// deregisters it at once.
    Deregistered,
    /// Shared with or launched in this account: only this account's record
    /// goes; its owner keeps the image.
    Removed,
    /// Refused: an own image is protected.
    Protected,
    /// Refused while this many servers launched from it are pending,
    /// running or paused.
    InUse(i64),
}

impl DeleteFate {
    /// In the order the delete asks: an unmade image has nothing at the
    /// provider to protect or launch from; protection comes before the
    /// servers, which come before where the image goes.
    pub fn of(source: Source, made: bool, protected: bool, alive_servers: i64, retention_days: i32) -> Self {
        match source {
            _ if !made => DeleteFate::RecordOnly,
            Source::Own if protected => DeleteFate::Protected,
            _ if alive_servers > 0 => DeleteFate::InUse(alive_servers),
            Source::Own if retention_days > 0 => DeleteFate::Binned { days: retention_days },
            Source::Own => DeleteFate::Deregistered,
            Source::Shared | Source::PublicLaunched => DeleteFate::Removed,
        }
    }

    /// Why the delete is refused, if it is.
    pub fn refusal(self, name: &str) -> Option<Refusal> {
        match self {
            DeleteFate::Protected => Some(Refusal::ImageProtected { name: name.to_owned() }),
            DeleteFate::InUse(alive) => Some(Refusal::ImageInUse(alive)),
            _ => None,
        }
    }
}

/// How a provider can share images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharingSupport {
    /// With other accounts, by account number.
    pub accounts: bool,
    /// With everyone.
    pub public: bool,
}

/// The ways this user may share this image: with other accounts, publicly.
/// Only own, active images are shared, and only as far as the provider can.
pub fn sharing_rights(rights: &Rights, image: &ImageFacts) -> SharingSupport {
    if image.source != Source::Own || !image.active {
        return SharingSupport::default();
    }
    let may = |action| rights.allows(Resource::Image, action, &image.ownership);
    SharingSupport {
        accounts: image.provider.accounts && may(Action::ShareLocal),
        public: image.provider.public && may(Action::SharePublic),
    }
}

/// Whether a handler may carry out `action` on this image: the very rule that
/// built the menu.
pub fn may(rights: &Rights, image: &ImageFacts, action: ImageAction) -> bool {
    allowed_actions(rights, image).contains(&action)
}

/// Why the menu leaves an action out for an image: the user's role, which
/// no state of the image would change, or the image's state, which time,
/// another action or a fresher page may. A handler refuses the role's
/// reason as forbidden (403) and a state's as a conflict with the image as
/// it is now (409): an administrator following a stale link is not told
/// that their role forbids it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotOffered {
    /// The role does not allow it, whatever the image's state.
    Role,
    /// Only the account that owns the image may do it (its lifecycle), and
    /// this account keeps it as shared with it, or launched from the public
    /// catalog.
    NotOwn,
    /// Done already: deprecating a deprecated image, protecting a protected
    /// one, or the other way round.
    Already,
    /// Deleted, waiting in the recycle bin: it can only be restored or purged.
    InBin,
    /// Restore and purge are for an image in the recycle bin.
    NotInBin,
    /// The provider is still making it.
    BeingMade,
    /// The provider could not make it: it can only be deleted.
    MakingFailed,
    /// Not available at the provider (pending, failed, deregistered): it
    /// can be neither launched nor shared.
    NotAvailable,
}

/// Why `action` is not offered on `image`; `None` when it is (`may`).
pub fn not_offered(rights: &Rights, image: &ImageFacts, action: ImageAction) -> Option<NotOffered> {
    if may(rights, image, action) {
        return None;
    }
    // The image available and settled, and each state an action toggles.
    let settled = ImageFacts { active: true, binned: false, making: Making::Done, ..*image };
    let states = [
        settled,
        ImageFacts { deprecated: !image.deprecated, ..settled },
        ImageFacts { protected: !image.protected, ..settled },
        ImageFacts { binned: true, ..settled },
    ];
    if !states.iter().any(|state| may(rights, state, action)) {
        let owned = ImageFacts { source: Source::Own, ..settled };
        return Some(if image.source != Source::Own && may(rights, &owned, action) {
            NotOffered::NotOwn
        } else {
            NotOffered::Role
        });
    }
    Some(if image.binned && action == ImageAction::Restore {
        NotOffered::NotAvailable
    } else if image.binned {
        NotOffered::InBin
    } else if matches!(action, ImageAction::Restore | ImageAction::Purge) {
        NotOffered::NotInBin
    } else {
        match image.making {
            Making::InProgress => NotOffered::BeingMade,
            Making::Failed => NotOffered::MakingFailed,
            Making::Done if !image.active => NotOffered::NotAvailable,
            Making::Done => NotOffered::Already,
        }
    })
}

/// May the user rename and relabel the image? Not while it waits in the
/// recycle bin: there it can only be restored or purged.
pub fn may_configure(rights: &Rights, image: &ImageFacts) -> bool {
    !image.binned && rights.allows(Resource::Image, Action::Configure, &image.ownership)
}

/// An image's name in an account: 1 to 255 characters after trimming, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName(String);

impl ImageName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "Enter a name."));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("name", format!("A name has at most {} characters.", Self::MAX_CHARS)));
        }
        if name.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "A name cannot contain control characters such as tabs or line breaks.",
            ));
        }
        super::text::refuse_invisible("name", name, "name")?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name a new image is made with at the provider (Make image): EC2's
/// CreateImage takes 3 to 128 letters, digits, spaces and `( ) [ ] . / - '
/// @ _`, and refuses anything else when the job runs, long after the
/// dialog closed. So the dialog refuses it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeImageName(ImageName);

impl MadeImageName {
    const OTHER_CHARS: &str = " ()[]./-'@_";

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = ImageName::parse(raw)?;
        if !(3..=128).contains(&name.as_str().chars().count()) {
            return Err(ValidationError::new("name", "The provider names an image with 3 to 128 characters."));
        }
        if let Some(bad) = name.as_str().chars().find(|c| !c.is_ascii_alphanumeric() && !Self::OTHER_CHARS.contains(*c))
        {
            return Err(ValidationError::new(
                "name",
                format!(
                    "The provider does not take “{bad}” in an image's name: use letters, digits, spaces and ( ) [ ] . / - ' @ _."
                ),
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// When an own image is deprecated and then retired (the schedule dialog):
/// either may be unset. Each date is after today and at most ten years
/// ahead, and retirement comes on or after deprecation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    pub deprecate_on: Option<chrono::NaiveDate>,
    pub retire_on: Option<chrono::NaiveDate>,
}

impl Schedule {
    /// Parses the dialog's two dates (`YYYY-MM-DD`, as a date input sends
    /// them) as of `today`; every field's problem at once.
    pub fn parse(deprecate_on: &str, retire_on: &str, today: chrono::NaiveDate) -> Result<Self, Vec<ValidationError>> {
        let latest = today.checked_add_months(chrono::Months::new(120)).unwrap_or(today);
        let mut errors = Vec::new();
        let mut date = |field: &'static str, raw: &str| {
            let raw = raw.trim();
            if raw.is_empty() {
                return None;
            }
            let problem = match full_date(raw) {
                Ok(day) if day <= today => "Choose a day after today.".to_owned(),
                Ok(day) if day > latest => "Choose a day at most ten years ahead.".to_owned(),
                Ok(day) => return Some(day),
                Err(problem) => problem,
            };
            errors.push(ValidationError::new(field, problem));
            None
        };
        let schedule =
            Self { deprecate_on: date("deprecate_on", deprecate_on), retire_on: date("retire_on", retire_on) };
        if let (Some(deprecate), Some(retire)) = (schedule.deprecate_on, schedule.retire_on)
            && retire < deprecate
        {
            errors.push(ValidationError::new("retire_on", "Retire it on or after the day it is deprecated."));
        }
        if errors.is_empty() { Ok(schedule) } else { Err(errors) }
    }
}

/// A day written `YYYY-MM-DD` (RFC 3339's full-date, what a date input sends and the API documents),
/// nothing looser: chrono's `%Y-%m-%d` alone also takes `2027-1-1` and `+2027-01-01`.
fn full_date(raw: &str) -> Result<chrono::NaiveDate, String> {
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shaped {
        return Err("Enter a date as YYYY-MM-DD.".to_owned());
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| format!("There is no day {raw} in the calendar."))
}

/// How many days a company's deleted images wait in the recycle bin: a
/// whole number from 0 (deleted at once) to 365.
pub fn parse_retention_days(raw: &str) -> Result<i32, ValidationError> {
    let message = "Enter a number of days from 0 (delete at once) to 365.";
    match raw.trim().parse::<i32>() {
        Ok(days) if (0..=365).contains(&days) => Ok(days),
        _ => Err(ValidationError::new("bin_retention_days", message)),
    }
}

/// What happens to a deleted image under a retention of `days`, to follow
/// "Deleted images …": "wait 7 days in the recycle bin".
pub fn retention_phrase(days: i32) -> String {
    match days {
        0 => "are deregistered at once, without the recycle bin".to_owned(),
        1 => "wait 1 day in the recycle bin".to_owned(),
        days => format!("wait {days} days in the recycle bin"),
    }
}

/// The actions menu of an image: only what this user may do to this image in
/// its state. Handlers ask the same function before acting.
pub fn allowed_actions(rights: &Rights, image: &ImageFacts) -> Vec<ImageAction> {
    let may = |action| rights.allows(Resource::Image, action, &image.ownership);
    if image.binned {
        // What waits in the bin can only come back, or go for good; what
        // the provider no longer has (deregistered by someone else) only go.
        return if image.source == Source::Own && may(Action::Delete) {
            if image.active { vec![ImageAction::Restore, ImageAction::Purge] } else { vec![ImageAction::Purge] }
        } else {
            Vec::new()
        };
    }
    match image.making {
        Making::Done => {}
        Making::InProgress => return Vec::new(),
        Making::Failed => return if may(Action::Delete) { vec![ImageAction::Delete] } else { Vec::new() },
    }
    let mut actions = Vec::new();
    // The server would be the user's own, of a group and code they choose in
    // the dialog, which asks SERVER Start of those (`launch::start_choices`).
    if image.active && may(Action::DefineServer) && rights.allows_some(Resource::Server, Action::Start) {
        actions.push(ImageAction::Launch);
    }
    // The lifecycle of an image gone from the provider (deregistered or
    // disabled behind the console's back) changes nothing anywhere.
    if image.source == Source::Own && image.active && may(Action::Configure) {
        actions.push(if image.deprecated { ImageAction::Undeprecate } else { ImageAction::Deprecate });
        actions.push(ImageAction::Schedule);
        actions.push(if image.protected { ImageAction::Unprotect } else { ImageAction::Protect });
    }
    if may(Action::Delete) {
        actions.push(ImageAction::Delete);
    }
    let sharing = sharing_rights(rights, image);
    if sharing.accounts || sharing.public {
        actions.push(ImageAction::Sharing);
    }
    actions
}

/// The list's query string, as typed (the page's address and the API's
/// parameters alike). Every field is parsed before use.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub q: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lifecycle: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sort: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub after: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub before: String,
}

/// The parsed query of the list (the page's and the API's).
pub struct ListQuery {
    pub scope: Scope,
    pub filters: Filters,
    pub sort: Sort,
    pub page: PageRequest,
}

fn optional<T: std::str::FromStr<Err = ValidationError>>(raw: &str) -> Result<Option<T>, ValidationError> {
    if raw.is_empty() { Ok(None) } else { raw.parse().map(Some) }
}

impl ListQuery {
    pub fn parse(params: &ListParams) -> Result<Self, ValidationError> {
        let scope = optional(&params.scope)?.unwrap_or(Scope::Own);
        let sort = Sort::parse_for(scope, &params.sort)?;
        let filters = Filters {
            search: SearchText::parse(&params.q)?,
            platform: optional(&params.platform)?,
            arch: optional(&params.arch)?,
            // Public images carry no labels of this account.
            label: if scope == Scope::Public { None } else { optional(&params.label)? },
            lifecycle: if scope == Scope::Public { None } else { optional(&params.lifecycle)? },
        };
        let page = PageRequest::from_params(&params.after, &params.before, sort.key())?;
        Ok(Self { scope, filters, sort, page })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_asks_what_stops_it_before_where_the_image_goes() {
        use DeleteFate::*;
        let fate = |source, made, protected, alive, days| DeleteFate::of(source, made, protected, alive, days);
        assert_eq!(fate(Source::Own, false, true, 0, 7), RecordOnly, "nothing at the provider to protect");
        assert_eq!(fate(Source::Own, true, true, 2, 7), Protected);
        assert_eq!(fate(Source::Own, true, false, 2, 7), InUse(2));
        assert_eq!(fate(Source::Shared, true, true, 1, 7), InUse(1), "protection is the owner's");
        assert_eq!(fate(Source::Own, true, false, 0, 7), Binned { days: 7 });
        assert_eq!(fate(Source::Own, true, false, 0, 0), Deregistered);
        assert_eq!(fate(Source::PublicLaunched, true, false, 0, 7), Removed);
        assert_eq!(InUse(1).refusal("x"), Some(Refusal::ImageInUse(1)));
        assert_eq!(Binned { days: 7 }.refusal("x"), None);
    }

    #[test]
    fn there_are_25_distinct_labels_that_parse_back() {
        for label in Label::ALL {
            assert_eq!(label.as_str().parse::<Label>().ok(), Some(label));
        }
        let names: std::collections::HashSet<_> = Label::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(names.len(), 25);
    }

    #[test]
    fn an_unknown_label_is_quoted_only_when_it_is_short_printable_text() {
        let message = |raw: &str| raw.parse::<Label>().unwrap_err().message;
        assert_eq!(message("pink"), "“pink” is not one of the labels.");
        for raw in ["\u{0}", "a\u{1}", "\u{202e}red", &"x".repeat(41)] {
            assert_eq!(message(raw), "This is not one of the labels.", "{raw:?}");
        }
    }

    #[test]
    fn flags_and_tags_know_their_colour() {
        assert_eq!(Label::FlagRed.colour(), "red");
        assert_eq!(Label::TagYellow.colour(), "yellow");
        assert_eq!(Label::FlagRed.kind(), LabelKind::Flag);
        assert_eq!(Label::IconBug.kind(), LabelKind::Icon);
    }

    #[test]
    fn unknown_scope_names_the_allowed_values() {
        let err = "mine".parse::<Scope>().unwrap_err();
        assert_eq!(err.field, "scope");
        assert!(err.message.contains("own, shared, public"), "{}", err.message);
    }

    #[test]
    fn platforms_are_inferred_from_publishers_names() {
        assert_eq!(
            Platform::infer("ubuntu/images/hvm-ssd/ubuntu-noble-24.04-amd64-server", "", false),
            Platform::Ubuntu
        );
        assert_eq!(Platform::infer("al2023-ami-2023.6", "Amazon Linux 2023 AMI", false), Platform::AmazonLinux);
        assert_eq!(Platform::infer("RHEL-9.3.0_HVM", "", false), Platform::Rhel);
        assert_eq!(Platform::infer("anything", "", true), Platform::Windows);
        assert_eq!(Platform::infer("golden-web", "made by us", false), Platform::Unknown);
    }

    #[test]
    fn the_public_catalog_sorts_by_time_only() {
        assert_eq!(Sort::parse_for(Scope::Public, ""), Ok(Sort::Newest));
        assert_eq!(Sort::parse_for(Scope::Own, ""), Ok(Sort::Name));
        assert_eq!(Sort::parse_for(Scope::Public, "created"), Ok(Sort::Oldest));
        let err = Sort::parse_for(Scope::Public, "name").unwrap_err();
        assert!(err.message.contains("use one of: -created, created"), "{}", err.message);
    }

    #[test]
    fn search_text_is_trimmed_and_empty_means_none() {
        assert_eq!(SearchText::parse("   ").unwrap(), None);
        assert_eq!(SearchText::parse(" ubuntu ").unwrap().unwrap().as_str(), "ubuntu");
    }

    #[test]
    fn search_text_over_200_characters_is_refused() {
        assert!(SearchText::parse(&"é".repeat(200)).is_ok());
        let err = SearchText::parse(&"é".repeat(201)).unwrap_err();
        assert!(err.message.contains("at most 200"));
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        let text = SearchText::parse(r"50%_off\ Ü").unwrap().unwrap();
        assert_eq!(text.like_pattern(), r"%50\%\_off\\ Ü%");
    }

    fn facts(source: Source, deprecated: bool) -> ImageFacts {
        ImageFacts {
            source,
            active: true,
            deprecated,
            ownership: Ownership::default(),
            provider: SharingSupport { accounts: true, public: true },
            making: Making::Done,
            protected: false,
            binned: false,
        }
    }

    #[test]
    fn schedules_are_in_the_future_in_order_and_within_ten_years() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(
            Schedule::parse("2026-12-03", "2027-01-01", today),
            Ok(Schedule { deprecate_on: day("2026-12-03"), retire_on: day("2027-01-01") })
        );
        assert_eq!(Schedule::parse("", "", today), Ok(Schedule::default()), "no schedule");
        assert_eq!(Schedule::parse("", "2036-12-02", today).unwrap().retire_on, day("2036-12-02"));
        let fields = |d: &str, r: &str| -> Vec<(&'static str, String)> {
            Schedule::parse(d, r, today).unwrap_err().into_iter().map(|e| (e.field, e.message)).collect()
        };
        assert_eq!(fields("2026-12-02", "")[0].1, "Choose a day after today.");
        assert_eq!(fields("", "2036-12-03")[0].1, "Choose a day at most ten years ahead.");
        assert_eq!(
            fields("2027-02-01", "2027-01-01"),
            [("retire_on", "Retire it on or after the day it is deprecated.".into())]
        );
        assert_eq!(fields("soon", "2026-13-01").len(), 2, "both fields at once");
        assert_eq!(fields("2027\u{0}-01-01", "")[0].1, "Enter a date as YYYY-MM-DD.");
        for loose in ["2027-1-1", "+2027-01-01", "2027-01-1", " 2027-01-01x", "２０２７-01-01"] {
            assert_eq!(fields(loose, "")[0].1, "Enter a date as YYYY-MM-DD.", "{loose:?}");
        }
        assert_eq!(fields("2027-02-30", "")[0].1, "There is no day 2027-02-30 in the calendar.");
    }

    #[test]
    fn retention_is_0_to_365_whole_days() {
        assert_eq!(parse_retention_days(" 0 "), Ok(0));
        assert_eq!(parse_retention_days("365"), Ok(365));
        for bad in ["366", "-1", "7.5", "", "seven", "7\0"] {
            assert_eq!(parse_retention_days(bad).unwrap_err().field, "bin_retention_days", "{bad:?}");
        }
    }

    #[test]
    fn a_protected_image_still_offers_delete_and_a_binned_one_only_restore_and_purge() {
        let admin = rights_of("Admin");
        let protected = ImageFacts { protected: true, ..facts(Source::Own, false) };
        let offered = allowed_actions(&admin, &protected);
        assert!(offered.contains(&ImageAction::Unprotect) && !offered.contains(&ImageAction::Protect));
        assert!(offered.contains(&ImageAction::Delete), "offered, and refused with the reason");
        let binned = ImageFacts { binned: true, ..facts(Source::Own, false) };
        assert_eq!(allowed_actions(&admin, &binned), [ImageAction::Restore, ImageAction::Purge]);
        assert!(!may_configure(&admin, &binned), "no rename or relabel in the bin");
        assert!(allowed_actions(&rights_of("Configurator"), &binned).is_empty());
        assert!(!allowed_actions(&admin, &facts(Source::Shared, false)).contains(&ImageAction::Protect));
    }

    #[test]
    fn an_image_being_made_offers_nothing_and_a_failed_one_only_delete() {
        let admin = rights_of("Admin");
        let making = ImageFacts { active: false, making: Making::InProgress, ..facts(Source::Own, false) };
        assert!(allowed_actions(&admin, &making).is_empty());
        let failed = ImageFacts { making: Making::Failed, ..making };
        assert_eq!(allowed_actions(&admin, &failed), [ImageAction::Delete]);
        assert!(allowed_actions(&rights_of("CSR"), &failed).is_empty());
    }

    #[test]
    fn an_image_gone_from_the_provider_is_only_deleted() {
        let admin = rights_of("Admin");
        let gone = ImageFacts { active: false, deprecated: true, ..facts(Source::Own, true) };
        assert_eq!(allowed_actions(&admin, &gone), [ImageAction::Delete]);
        for action in [ImageAction::Undeprecate, ImageAction::Schedule, ImageAction::Protect, ImageAction::Launch] {
            assert_eq!(not_offered(&admin, &gone, action), Some(NotOffered::NotAvailable), "{action:?}");
        }
    }

    fn rights_of(role: &str) -> Rights {
        let (_, _, rights) = crate::domain::access::default_roles().into_iter().find(|(n, _, _)| *n == role).unwrap();
        let grants = rights.into_iter().map(|right| crate::domain::access::Grant { right, via_group: 1 }).collect();
        Rights::new(1, [1], [], grants)
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(ImageName::parse("  web  ").unwrap().as_str(), "web");
        assert_eq!(ImageName::parse("   ").unwrap_err().message, "Enter a name.");
        assert!(ImageName::parse(&"x".repeat(255)).is_ok());
        assert!(ImageName::parse(&"x".repeat(256)).unwrap_err().message.contains("at most 255"));
        assert!(ImageName::parse("web\tserver").is_err());
        assert!(ImageName::parse("ünïcödé 🚀").is_ok());
        assert_eq!(
            MadeImageName::parse(" web-2026.12 (base) [x86]/v1 'a'@b_c ").unwrap().as_str(),
            "web-2026.12 (base) [x86]/v1 'a'@b_c"
        );
        assert!(MadeImageName::parse("ab").unwrap_err().message.contains("3 to 128"));
        assert!(MadeImageName::parse(&"x".repeat(129)).is_err());
        assert!(MadeImageName::parse("bad/name!!<>").unwrap_err().message.contains("“!”"));
        assert!(MadeImageName::parse("ünïcödé").is_err());
    }

    #[test]
    fn only_configurators_and_above_may_rename() {
        assert!(may_configure(&rights_of("Configurator"), &facts(Source::Shared, false)));
        assert!(!may_configure(&rights_of("CSR"), &facts(Source::Own, false)));
    }

    #[test]
    fn a_csr_gets_no_actions() {
        assert!(allowed_actions(&rights_of("CSR"), &facts(Source::Own, false)).is_empty());
    }

    #[test]
    fn an_admin_gets_every_action_on_an_own_image() {
        use ImageAction::*;
        assert_eq!(
            allowed_actions(&rights_of("Admin"), &facts(Source::Own, false)),
            [Launch, Deprecate, Schedule, Protect, Delete, Sharing]
        );
        assert_eq!(
            allowed_actions(&rights_of("Admin"), &facts(Source::Own, true)),
            [Launch, Undeprecate, Schedule, Protect, Delete, Sharing]
        );
    }

    #[test]
    fn shared_images_cannot_be_shared_on_or_deprecated() {
        use ImageAction::*;
        assert_eq!(allowed_actions(&rights_of("Admin"), &facts(Source::Shared, false)), [Launch, Delete]);
    }

    #[test]
    fn a_configurator_may_deprecate_but_not_delete_or_launch() {
        assert_eq!(
            allowed_actions(&rights_of("Configurator"), &facts(Source::Own, false)),
            [ImageAction::Deprecate, ImageAction::Schedule, ImageAction::Protect]
        );
    }

    #[test]
    fn sharing_follows_the_rights_and_the_provider() {
        let own = facts(Source::Own, false);
        assert_eq!(sharing_rights(&rights_of("CloudManager"), &own), SharingSupport { accounts: true, public: true });
        assert_eq!(sharing_rights(&rights_of("Configurator"), &own), SharingSupport::default());
        let private_only = ImageFacts { provider: SharingSupport { accounts: true, public: false }, ..own };
        assert_eq!(
            sharing_rights(&rights_of("Admin"), &private_only),
            SharingSupport { accounts: true, public: false }
        );
        let unable = ImageFacts { provider: SharingSupport::default(), ..own };
        assert!(!may(&rights_of("Admin"), &unable, ImageAction::Sharing));
        let pending = ImageFacts { active: false, ..own };
        assert!(!may(&rights_of("Admin"), &pending, ImageAction::Sharing));
    }

    #[test]
    fn an_action_not_offered_says_whether_the_role_or_the_state_stops_it() {
        use ImageAction::*;
        let admin = rights_of("Admin");
        let own = facts(Source::Own, false);
        let deprecated = facts(Source::Own, true);
        assert_eq!(not_offered(&admin, &own, Deprecate), None);
        assert_eq!(not_offered(&admin, &deprecated, Deprecate), Some(NotOffered::Already));
        assert_eq!(not_offered(&admin, &own, Undeprecate), Some(NotOffered::Already));
        assert_eq!(not_offered(&admin, &ImageFacts { protected: true, ..own }, Protect), Some(NotOffered::Already));
        assert_eq!(not_offered(&admin, &own, Unprotect), Some(NotOffered::Already));
        let binned = ImageFacts { binned: true, ..own };
        assert_eq!(not_offered(&admin, &binned, Deprecate), Some(NotOffered::InBin));
        assert_eq!(not_offered(&admin, &binned, Launch), Some(NotOffered::InBin));
        assert_eq!(not_offered(&admin, &own, Restore), Some(NotOffered::NotInBin));
        // Deregistered at the provider by someone else while in the bin: it can only go.
        let gone = ImageFacts { active: false, ..binned };
        assert_eq!(allowed_actions(&admin, &gone), [Purge]);
        assert_eq!(not_offered(&admin, &gone, Restore), Some(NotOffered::NotAvailable));
        assert_eq!(not_offered(&admin, &binned, Restore), None);
        let making = ImageFacts { making: Making::InProgress, active: false, ..own };
        assert_eq!(not_offered(&admin, &making, Sharing), Some(NotOffered::BeingMade));
        let failed = ImageFacts { making: Making::Failed, active: false, ..own };
        assert_eq!(not_offered(&admin, &failed, Launch), Some(NotOffered::MakingFailed));
        assert_eq!(not_offered(&admin, &failed, Delete), None);
        let pending = ImageFacts { active: false, ..own };
        assert_eq!(not_offered(&admin, &pending, Launch), Some(NotOffered::NotAvailable));
        assert_eq!(not_offered(&admin, &pending, Sharing), Some(NotOffered::NotAvailable));
        // No state gives a role what it lacks.
        let csr = rights_of("CSR");
        for action in [Launch, Deprecate, Undeprecate, Delete, Sharing, Protect, Restore, Purge, Schedule] {
            assert_eq!(not_offered(&csr, &deprecated, action), Some(NotOffered::Role), "{action:?}");
            assert_eq!(not_offered(&csr, &binned, action), Some(NotOffered::Role), "{action:?}");
        }
        assert_eq!(not_offered(&rights_of("Configurator"), &pending, Launch), Some(NotOffered::Role));
        assert_eq!(not_offered(&admin, &facts(Source::Shared, false), Deprecate), Some(NotOffered::NotOwn));
        assert_eq!(not_offered(&csr, &facts(Source::Shared, false), Deprecate), Some(NotOffered::Role));
    }
}
