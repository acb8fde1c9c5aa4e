//! The page of a list that has no filters of its own (Servers, Provider
//! Jobs): `after` or `before` a row in the address, the cursors of the
//! pager's links (`lists::pager`).

use serde::Deserialize;

use crate::domain::ValidationError;
use crate::domain::page::{Cursor, KeyKind, Page, PageRequest};

#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub before: String,
}

impl PageParams {
    /// The page asked for, in a list whose rows are placed by a `kind` key.
    pub fn request(&self, kind: KeyKind) -> Result<PageRequest, ValidationError> {
        PageRequest::from_params(&self.after, &self.before, kind)
    }
}

/// The pager's links of `page` of the list at `path`: to the page before
/// and the page after, where there is one.
pub fn links<T>(path: &str, page: &Page<T>, cursor: impl Fn(&T) -> Cursor) -> (Option<String>, Option<String>) {
    let (prev, next) = page.prev_and_next(cursor);
    (prev.map(|token| format!("{path}?before={token}")), next.map(|token| format!("{path}?after={token}")))
}
