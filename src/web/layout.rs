//! The frame around every signed-in page: top bar with the account switcher,
//! and the left navigation showing only the sections the user may see.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::auth::{CurrentUser, SignedIn};
use crate::db::{accounts::Account, accounts::ProviderState, users::User};
use crate::domain::access::{Action, Resource, Rights};

pub struct AccountChoice {
    pub id: i64,
    pub name: String,
    pub region: String,
    pub current: bool,
}

pub struct NavItem {
    pub title: &'static str,
    pub href: &'static str,
    pub active: bool,
}

pub struct NavSection {
    pub title: &'static str,
    pub items: Vec<NavItem>,
}

pub struct Frame {
    pub user_name: String,
    pub account_name: String,
    pub region_title: String,
    pub accounts: Vec<AccountChoice>,
    pub csrf_token: String,
    pub nav: Vec<NavSection>,
    /// The menu's page this page belongs to (empty for none): switching
    /// accounts leads to it in the other account.
    pub section_href: String,
    /// A short message after an action ("Switched to …").
    pub flash: Option<String>,
    /// Since when the account's cloud provider has not answered.
    pub unreachable_since: Option<Moment>,
    /// When the provider's view was last written into the console.
    pub synced: Option<Moment>,
}

/// Who may open a page: the very test its handler makes, so that the menu
/// offers exactly the pages that open.
#[derive(Clone, Copy)]
enum Opens {
    /// `Access` to the resource (`Rights::may`, as `CurrentUser::require`).
    Access(Resource),
    /// The audit log's own test (`domain::audit_log::may_read`).
    AuditLog,
}

impl Opens {
    fn to(self, rights: &Rights) -> bool {
        match self {
            Opens::Access(resource) => rights.may(resource, Action::Access),
            Opens::AuditLog => crate::domain::audit_log::may_read(rights),
        }
    }
}

/// The pages that exist, in the menu's order: section, title, page, and
/// who may open it.
const PAGES: &[(&str, &str, &str, Opens)] = &[
    ("Compute", "Machine Images", "/images", Opens::Access(Resource::Image)),
    ("Compute", "Servers", "/servers", Opens::Access(Resource::Server)),
    ("Compute", "Key Pairs", "/keypairs", Opens::Access(Resource::Keypair)),
    ("Compute", "Firewalls", "/firewalls", Opens::Access(Resource::Firewall)),
    ("Finance", "Budget Codes", "/admin/budget-codes", Opens::Access(Resource::Budget)),
    ("Users", "Users", "/admin/users", Opens::Access(Resource::User)),
    ("Users", "Groups", "/admin/groups", Opens::Access(Resource::Group)),
    ("Users", "Roles", "/admin/roles", Opens::Access(Resource::Role)),
    ("Users", "Cloud Accounts", ACCOUNTS_PAGE, Opens::Access(Resource::Account)),
    ("Audit", "Audit Log", "/audit", Opens::AuditLog),
    ("Activity", "Provider Jobs", "/jobs", Opens::Access(Resource::Console)),
];

/// The one page a user without a cloud account yet may open.
const ACCOUNTS_PAGE: &str = "/admin/accounts";

/// Where a user lands (after signing in, or switching accounts): the first
/// page of the menu their rights open, Machine Images for most. Without
/// any, Machine Images still, which says why it is closed to them.
pub fn home(rights: &Rights) -> &'static str {
    PAGES.iter().find(|page| page.3.to(rights)).map_or("/images", |page| page.2)
}

/// The page of the menu `wanted` names, if these rights open it; else
/// [`home`]. Where switching accounts leads: the same page in the other
/// account, as a region switcher keeps it.
pub fn same_page_or_home(rights: &Rights, wanted: &str) -> &'static str {
    PAGES.iter().find(|page| page.2 == wanted && page.3.to(rights)).map_or_else(|| home(rights), |page| page.2)
}

impl Frame {
    pub fn new(user: &CurrentUser, active_href: &str) -> Self {
        Self::build(
            Who {
                user: &user.user,
                account: Some(&user.account),
                accounts: &user.accounts,
                rights: &user.rights,
                provider: user.provider,
            },
            user.csrf_token.clone(),
            user.flash.clone(),
            active_href,
        )
    }

    /// The frame of a page that also serves users without an account yet.
    pub fn signed_in(user: &SignedIn, active_href: &str) -> Self {
        Self::build(
            Who {
                user: &user.user,
                account: user.account.as_ref(),
                accounts: &user.accounts,
                rights: &user.rights,
                provider: user.provider,
            },
            user.csrf_token.clone(),
            user.flash.clone(),
            active_href,
        )
    }

    fn build(who: Who<'_>, csrf_token: String, flash: Option<String>, active_href: &str) -> Self {
        let mut nav: Vec<NavSection> = Vec::new();
        for &(section, title, href, opens) in PAGES {
            // Without an account only the page that connects one is offered.
            if !opens.to(who.rights) || (who.account.is_none() && href != ACCOUNTS_PAGE) {
                continue;
            }
            let item = NavItem { title, href, active: href == active_href };
            match nav.iter_mut().find(|s| s.title == section) {
                Some(existing) => existing.items.push(item),
                None => nav.push(NavSection { title: section, items: vec![item] }),
            }
        }
        Self {
            user_name: who.user.full_name(),
            account_name: who.account.map_or_else(|| "No cloud account yet".to_owned(), |a| a.name.clone()),
            region_title: who.account.map(Account::region_title).unwrap_or_default(),
            accounts: who
                .accounts
                .iter()
                .map(|a| AccountChoice {
                    id: a.id,
                    name: a.name.clone(),
                    region: a.region_title(),
                    current: who.account.is_some_and(|c| c.id == a.id),
                })
                .collect(),
            csrf_token,
            nav,
            section_href: active_href.to_owned(),
            flash,
            unreachable_since: who.provider.unreachable_since.map(Moment::new),
            synced: who.provider.synced_at.map(Moment::new),
        }
    }
}

/// Whose frame it is.
struct Who<'a> {
    user: &'a User,
    account: Option<&'a Account>,
    accounts: &'a [Account],
    rights: &'a Rights,
    /// The account's provider state.
    provider: ProviderState,
}

/// A point in time as a page shows it: UTC in the text and on hover (the
/// script rewrites the text into the reader's locale), ISO 8601 for machines.
/// Each form is written when the page is rendered, straight into it, and
/// only where the page shows it: a page of rows shows a hundred moments.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    /// `2026-03-07T09:05:30Z`
    pub iso: Written<Iso>,
    /// `2026-03-07 09:05 UTC`
    pub utc: Written<Text>,
    /// Hours and minutes in UTC, for short mentions: `09:05 UTC`.
    pub time: Written<Time>,
}

impl Moment {
    pub fn new(at: DateTime<Utc>) -> Self {
        let parts = Parts {
            year: at.year(),
            month: at.month(),
            day: at.day(),
            hour: at.hour(),
            minute: at.minute(),
            second: at.second(),
        };
        Self { iso: Written(parts, Iso), utc: Written(parts, Text), time: Written(parts, Time) }
    }
}

#[derive(Clone, Copy, Debug)]
struct Parts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

/// A moment in one of its forms ([`Iso`], [`Text`], [`Time`]), written by
/// its `Display`.
#[derive(Clone, Copy, Debug)]
pub struct Written<F>(Parts, F);

#[derive(Clone, Copy, Debug)]
pub struct Iso;
#[derive(Clone, Copy, Debug)]
pub struct Text;
#[derive(Clone, Copy, Debug)]
pub struct Time;

impl Parts {
    /// Writes the two digits of `value` at `at`.
    fn two(buf: &mut [u8], at: usize, value: u32) {
        buf[at] = b'0' + (value / 10 % 10) as u8;
        buf[at + 1] = b'0' + (value % 10) as u8;
    }

    /// `YYYY-MM-DD` into the start of `buf`, if the year has four digits.
    fn date(&self, buf: &mut [u8]) -> bool {
        let Ok(year @ 0..=9999) = u32::try_from(self.year) else { return false };
        Self::two(buf, 0, year / 100);
        Self::two(buf, 2, year % 100);
        Self::two(buf, 5, self.month);
        Self::two(buf, 8, self.day);
        true
    }

    fn write(f: &mut fmt::Formatter<'_>, buf: &[u8]) -> fmt::Result {
        f.write_str(std::str::from_utf8(buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Display for Written<Iso> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Parts { year, month, day, hour, minute, second } = self.0;
        let mut buf = *b"0000-00-00T00:00:00Z";
        if !self.0.date(&mut buf) {
            return write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
        }
        Parts::two(&mut buf, 11, hour);
        Parts::two(&mut buf, 14, minute);
        Parts::two(&mut buf, 17, second);
        Parts::write(f, &buf)
    }
}

impl fmt::Display for Written<Text> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Parts { year, month, day, hour, minute, .. } = self.0;
        let mut buf = *b"0000-00-00 00:00 UTC";
        if !self.0.date(&mut buf) {
            return write!(f, "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC");
        }
        Parts::two(&mut buf, 11, hour);
        Parts::two(&mut buf, 14, minute);
        Parts::write(f, &buf)
    }
}

impl fmt::Display for Written<Time> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = *b"00:00 UTC";
        Parts::two(&mut buf, 0, self.0.hour);
        Parts::two(&mut buf, 3, self.0.minute);
        Parts::write(f, &buf)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn moments_read_in_utc() {
        let at = Utc.with_ymd_and_hms(2026, 3, 7, 9, 5, 30).unwrap();
        let moment = Moment::new(at);
        assert_eq!(moment.iso.to_string(), "2026-03-07T09:05:30Z");
        assert_eq!(moment.utc.to_string(), "2026-03-07 09:05 UTC");
        assert_eq!(moment.time.to_string(), "09:05 UTC");
        assert_eq!(moment.iso.to_string(), at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let late = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(Moment::new(late).iso.to_string(), late.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        // Years of other than four digits are written in full.
        let far = Utc.with_ymd_and_hms(12026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(Moment::new(far).utc.to_string(), "12026-01-02 03:04 UTC");
    }
}
