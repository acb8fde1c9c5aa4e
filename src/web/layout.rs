//! The frame around every signed-in page: top bar with the account switcher,
//! and the left navigation showing only the sections the user may see.

use crate::auth::CurrentUser;
use crate::domain::access::{Action, Resource};

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
    /// A short message after an action ("Switched to …").
    pub flash: Option<String>,
}

/// The pages that exist, with the right that opens each.
const PAGES: &[(&str, &str, &str, Resource)] = &[("Compute", "Machine Images", "/images", Resource::Image)];

impl Frame {
    pub fn new(user: &CurrentUser, active_href: &str) -> Self {
        let mut nav: Vec<NavSection> = Vec::new();
        for &(section, title, href, resource) in PAGES {
            if !user.rights.allows_some(resource, Action::Access) {
                continue;
            }
            let item = NavItem { title, href, active: href == active_href };
            match nav.iter_mut().find(|s| s.title == section) {
                Some(existing) => existing.items.push(item),
                None => nav.push(NavSection { title: section, items: vec![item] }),
            }
        }
        Self {
            user_name: user.user.full_name(),
            account_name: user.account.name.clone(),
            region_title: user.account.region_title(),
            accounts: user
                .accounts
                .iter()
                .map(|a| AccountChoice {
                    id: a.id,
                    name: a.name.clone(),
                    region: a.region_title(),
                    current: a.id == user.account.id,
                })
                .collect(),
            csrf_token: user.csrf_token.clone(),
            nav,
            flash: None,
        }
    }
}
