//! Keyset pagination: a page starts after (or ends before) the position of a
//! row in the sort order, never at an offset. The position travels in the URL
//! as an opaque token; a token that does not decode is a bad request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ValidationError;

/// Rows on a page.
pub const PAGE_SIZE: i64 = 50;

/// A row's position in a sort order: its sort key and its id (the tie-break).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

/// What a sort order's key is, and so what its cursors carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A lowercased name.
    Name,
    /// A moment.
    Time,
    /// A count.
    Count,
    /// The id alone: a list in the order rows were made (newest first).
    Id,
}

impl Cursor {
    pub fn by_name(id: i64, lowercase_name: String) -> Self {
        Self { id, name: Some(lowercase_name), at: None, count: None }
    }

    pub fn by_time(id: i64, at: DateTime<Utc>) -> Self {
        Self { id, name: None, at: Some(at), count: None }
    }

    pub fn by_count(id: i64, count: i64) -> Self {
        Self { id, name: None, at: None, count: Some(count) }
    }

    pub fn by_id(id: i64) -> Self {
        Self { id, name: None, at: None, count: None }
    }

    /// The kind of key the cursor carries, if it carries exactly one.
    fn kind(&self) -> Option<KeyKind> {
        match (&self.name, &self.at, &self.count) {
            (Some(_), None, None) => Some(KeyKind::Name),
            (None, Some(_), None) => Some(KeyKind::Time),
            (None, None, Some(_)) => Some(KeyKind::Count),
            (None, None, None) => Some(KeyKind::Id),
            _ => None,
        }
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cursor always serializes");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a token from the URL for a sort whose key is a `kind`;
    /// `field` names the parameter it came in.
    pub fn decode(token: &str, field: &'static str, kind: KeyKind) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new(field, "This page link is not valid. Start again from the first page.");
        if token.len() > 2048 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.kind() == Some(kind) && cursor.could_be_a_row() { Ok(cursor) } else { Err(invalid()) }
    }

    /// Whether a row could sit at this position: a name without control
    /// characters (PostgreSQL refuses a NUL in text) and a moment within the
    /// years the console stores (PostgreSQL's own range ends at 4713 BC).
    fn could_be_a_row(&self) -> bool {
        use chrono::Datelike as _;
        let name_ok = self.name.as_deref().is_none_or(|name| !name.chars().any(char::is_control));
        let at_ok = self.at.is_none_or(|at| (1..=9999).contains(&at.year()));
        name_ok && at_ok
    }
}

/// Which page of a list to show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PageRequest {
    #[default]
    First,
    /// The rows that follow this position.
    After(Cursor),
    /// The rows that precede this position (the previous page).
    Before(Cursor),
}

impl PageRequest {
    /// The page a list's `after` and `before` parameters ask for (both empty:
    /// the first), for a sort whose key is a `kind`.
    pub fn from_params(after: &str, before: &str, kind: KeyKind) -> Result<Self, ValidationError> {
        match (after, before) {
            ("", "") => Ok(PageRequest::First),
            (after, "") => Ok(PageRequest::After(Cursor::decode(after, "after", kind)?)),
            ("", before) => Ok(PageRequest::Before(Cursor::decode(before, "before", kind)?)),
            _ => Err(ValidationError::new("after", "Give either after or before, not both.")),
        }
    }
}

/// One page of rows and whether there are more on either side.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_next: bool,
    pub has_prev: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `PAGE_SIZE + 1` rows fetched in query order:
    /// forward for `First`/`After`, backward for `Before`. The extra row only
    /// tells that more exist.
    pub fn from_fetched(mut rows: Vec<T>, request: &PageRequest) -> Self {
        let more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        match request {
            PageRequest::First => Page { rows, has_next: more, has_prev: false },
            PageRequest::After(_) => Page { rows, has_next: more, has_prev: true },
            PageRequest::Before(_) => {
                rows.reverse();
                Page { rows, has_next: true, has_prev: more }
            }
        }
    }

    /// The tokens of the page's links: `before` its first row when a page
    /// precedes it, `after` its last when one follows.
    pub fn prev_and_next(&self, cursor: impl Fn(&T) -> Cursor) -> (Option<String>, Option<String>) {
        let prev = self.rows.first().filter(|_| self.has_prev).map(|row| cursor(row).encode());
        let next = self.rows.last().filter(|_| self.has_next).map(|row| cursor(row).encode());
        (prev, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let by_name = Cursor::by_name(42, "ubuntu 24.04 – ünïcode".into());
        assert_eq!(Cursor::decode(&by_name.encode(), "after", KeyKind::Name), Ok(by_name));
        let by_time = Cursor::by_time(7, Utc::now());
        assert_eq!(Cursor::decode(&by_time.encode(), "after", KeyKind::Time), Ok(by_time));
        let by_count = Cursor::by_count(9, 12);
        assert_eq!(Cursor::decode(&by_count.encode(), "after", KeyKind::Count), Ok(by_count));
        let by_id = Cursor::by_id(3);
        assert_eq!(Cursor::decode(&by_id.encode(), "after", KeyKind::Id), Ok(by_id));
    }

    #[test]
    fn tampered_cursors_are_refused() {
        for token in ["", "!!!", "bm90IGpzb24", &URL_SAFE_NO_PAD.encode(r#"{"id":"x"}"#)] {
            assert!(Cursor::decode(token, "after", KeyKind::Name).is_err(), "{token}");
        }
        // Keys no row has, which would reach the database: a NUL, a year before PostgreSQL's.
        for json in [r#"{"id":1,"name":"a\u0000b"}"#, r#"{"id":1,"at":"-200000-01-01T00:00:00Z"}"#] {
            let kind = if json.contains("name") { KeyKind::Name } else { KeyKind::Time };
            assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(json), "after", kind).is_err(), "{json}");
        }
        let by_time = Cursor::by_time(7, Utc::now()).encode();
        assert!(Cursor::decode(&by_time, "after", KeyKind::Name).is_err(), "a time cursor for a name sort");
        assert!(Cursor::decode(&by_time, "after", KeyKind::Count).is_err(), "a time cursor for a count sort");
        assert!(Cursor::decode(&by_time, "after", KeyKind::Id).is_err(), "a time cursor for a list by id");
        assert!(Cursor::decode(&Cursor::by_id(3).encode(), "after", KeyKind::Time).is_err(), "an id for a time sort");
    }

    #[test]
    fn a_backward_page_is_put_in_order() {
        let fetched: Vec<i64> = (1..=51).rev().collect();
        let page = Page::from_fetched(fetched, &PageRequest::Before(Cursor::by_name(52, "x".into())));
        assert_eq!(page.rows.first(), Some(&2));
        assert_eq!(page.rows.last(), Some(&51));
        assert!(page.has_prev && page.has_next);
    }
}
