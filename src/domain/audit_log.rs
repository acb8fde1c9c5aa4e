//! The audit log as people read it: who may, and an event's changes in words
//! with every secret masked.
//!
//! # Who may read it
//! PRODUCT does not say. The log shows what every user of the account did,
//! including user and role administration, so it is for administrators: the
//! rights that open the user administration pages (`USER`, `GROUP` or `ROLE`
//! `Access`, with the `ANY` qualifier). Only Admin has them by default; a
//! CloudManager or CSR gets 403.
//!
//! # Changes
//! Events store their changed fields as a JSON object, by convention
//! `{"field": {"from": old, "to": new}}` for an edit and `{"field": value}`
//! for what was created or deleted. Each becomes one line `field: value` (or
//! `field: old → new`); nested objects read as `outer.inner`.
//!
//! # Secrets
//! Changes are written without secrets, but the log is the last line of
//! defence: any key whose name says it holds a secret (`password`, `secret`,
//! `private_key`, `token`, `credential`, in any case and position, such as
//! `csrf_token` or `PasswordHash`) is shown as `••••••`, whatever its value
//! and whatever is nested below it.

use serde_json::Value;

use super::access::{Action, Resource, Rights};

/// What a masked value reads as.
pub const MASK: &str = "••••••";

const SECRET_WORDS: [&str; 6] = ["password", "secret", "private_key", "privatekey", "token", "credential"];

/// May the user read the account's audit log?
pub fn may_read(rights: &Rights) -> bool {
    [Resource::User, Resource::Group, Resource::Role]
        .into_iter()
        .any(|resource| rights.allows_unowned(resource, Action::Access))
}

/// Whether a key of the changes names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace(['-', ' '], "_");
    let squashed = key.replace('_', "");
    SECRET_WORDS.iter().any(|word| key.contains(word) || squashed.contains(&word.replace('_', "")))
}

/// One changed field, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeLine {
    pub field: String,
    pub value: String,
}

/// The changes of an event as JSON, every secret's value masked at any
/// depth (what the API answers).
pub fn masked(changes: &Value) -> Value {
    match changes {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), if is_secret_key(k) { Value::String(MASK.to_owned()) } else { masked(v) }))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        other => other.clone(),
    }
}

/// What an account name reads as to a reader who cannot work in the account.
pub const OTHER_ACCOUNT: &str = "another account of your company";

/// An image's events as a reader of the image's page may see them: the
/// account names they hold (the sharing account's `from_account`, and the
/// accounts `shared_with` `added` or `removed`) are kept where `named`
/// says the reader can work in the account, and read [`OTHER_ACCOUNT`]
/// elsewhere, as the page names no other account.
pub fn accounts_named_for(changes: &mut Value, named: impl Fn(&str) -> bool) {
    let mut unnamed = |value: &mut Value| {
        if value.as_str().is_some_and(|name| !named(name)) {
            *value = Value::String(OTHER_ACCOUNT.to_owned());
        }
    };
    let Value::Object(map) = changes else { return };
    if let Some(from) = map.get_mut("from_account") {
        unnamed(from);
    }
    if let Some(Value::Object(shared)) = map.get_mut("shared_with") {
        for list in ["added", "removed"] {
            if let Some(Value::Array(names)) = shared.get_mut(list) {
                names.iter_mut().for_each(&mut unnamed);
            }
        }
    }
}

/// The changes of an event as lines, secrets masked, by field name (jsonb
/// keeps no order of its own).
pub fn change_lines(changes: &Value) -> Vec<ChangeLine> {
    let mut lines = Vec::new();
    match changes {
        Value::Object(map) => {
            for (key, value) in map {
                push(&mut lines, key.clone(), value);
            }
        }
        Value::Null => {}
        other => lines.push(ChangeLine { field: String::new(), value: scalar(other) }),
    }
    lines
}

fn push(lines: &mut Vec<ChangeLine>, field: String, value: &Value) {
    let last = field.rsplit('.').next().unwrap_or(&field);
    if is_secret_key(last) {
        lines.push(ChangeLine { field, value: MASK.to_owned() });
        return;
    }
    match value {
        Value::Object(map) if map.len() == 2 && map.contains_key("from") && map.contains_key("to") => {
            let value = format!("{} → {}", shown(&map["from"]), shown(&map["to"]));
            lines.push(ChangeLine { field, value });
        }
        Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                push(lines, format!("{field}.{key}"), inner);
            }
        }
        other => lines.push(ChangeLine { field, value: shown(other) }),
    }
}

/// A value on one line; objects inside lists keep their secrets masked.
fn shown(value: &Value) -> String {
    match value {
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        Value::Object(map) if map.is_empty() => "—".into(),
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| if is_secret_key(k) { format!("{k}: {MASK}") } else { format!("{k}: {}", shown(v)) })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => scalar(other),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(s) if s.is_empty() => "“”".into(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_images_events_name_only_the_accounts_the_reader_works_in() {
        let mut sharing = json!({
            "shared_with": { "added": ["Acme Staging", "Acme Lab"], "removed": ["Acme QA"] },
            "public": { "from": false, "to": false },
        });
        super::accounts_named_for(&mut sharing, |name| name == "Acme Lab");
        let other = super::OTHER_ACCOUNT;
        assert_eq!(
            sharing,
            json!({
                "shared_with": { "added": [other, "Acme Lab"], "removed": [other] },
                "public": { "from": false, "to": false },
            })
        );
        let mut share = json!({ "from_account": "Acme Production", "provider_image_id": "ami-1" });
        super::accounts_named_for(&mut share, |_| false);
        assert_eq!(share, json!({ "from_account": other, "provider_image_id": "ami-1" }));
        let mut rename = json!({ "name": { "from": "Acme Staging", "to": "b" } });
        super::accounts_named_for(&mut rename, |_| false);
        assert_eq!(rename["name"]["from"], "Acme Staging", "other fields are the image's own");
    }

    use super::*;

    fn read(changes: Value) -> Vec<(String, String)> {
        change_lines(&changes).into_iter().map(|l| (l.field, l.value)).collect()
    }

    #[test]
    fn edits_read_from_to_and_nested_fields_by_path() {
        let lines = read(json!({
            "name": { "from": "Ops", "to": "Operations" },
            "moved": { "servers": 2, "users": [] },
            "public": { "from": false, "to": true },
            "note": null,
        }));
        assert_eq!(
            lines,
            [
                ("moved.servers".into(), "2".into()),
                ("moved.users".into(), "none".into()),
                ("name".into(), "Ops → Operations".into()),
                ("note".into(), "—".into()),
                ("public".into(), "no → yes".into()),
            ]
        );
    }

    #[test]
    fn secrets_are_masked_at_any_depth_and_in_any_spelling() {
        let lines = read(json!({
            "password": "hunter2",
            "user": { "PasswordHash": "$argon2id$…", "email": "a@b.test" },
            "private_key": { "from": "-----BEGIN", "to": "x" },
            "csrf-token": "abc",
            "list": [{ "api_secret": "s3cret", "name": "n" }],
            "client credentials": "k",
        }));
        let text = format!("{lines:?}");
        for secret in ["hunter2", "argon2", "BEGIN", "abc", "s3cret", "\"k\""] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(lines.contains(&("user.email".into(), "a@b.test".into())));
        assert!(lines.contains(&("password".into(), MASK.into())));
        assert!(lines.contains(&("list".into(), format!("{{api_secret: {MASK}, name: n}}"))));
        assert!(!is_secret_key("name") && !is_secret_key("fingerprint"));
    }
}
