//! Configuration management: a shell script, Chef, Puppet or Ansible, parsed from the form.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::*;
use crate::domain::ValidationError;

/// What configures the server after its first boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigManagement {
    None,
    Script(Script),
    Chef(Chef),
    Puppet(Puppet),
    Ansible(Ansible),
}

/// A shell script run once, as root, after the volumes are mounted.
///
/// Line endings become `\n` (a browser posts a textarea with `\r\n`, which a
/// shell reads as part of each command); everything else is kept byte for
/// byte. A script that starts with `#!` runs with that interpreter, any other
/// with `/bin/sh`. Rules: not blank, no NUL character, at most 16 KB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script(pub(super) String);

impl Script {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let text = raw.replace("\r\n", "\n").replace('\r', "\n");
        if text.trim().is_empty() {
            return Err(ValidationError::new("script", "Enter the script to run."));
        }
        if text.contains('\0') {
            return Err(ValidationError::new("script", "The script must not contain NUL characters."));
        }
        if text.len() > MAX_USER_DATA_BYTES {
            return Err(ValidationError::new(
                "script",
                format!("The script is {} KB; at most 16 KB is allowed.", text.len().div_ceil(1024)),
            ));
        }
        Ok(Script(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn has_shebang(&self) -> bool {
        self.0.starts_with("#!")
    }
}

/// Chef Infra Client settings.
///
/// - `server_url`: `https://` (or `http://`) URL of the Chef server, host
///   name or IPv4 address, optional port, a path of letters, digits and
///   `/._~-`; no user name, query or fragment.
/// - `validation_client_name`: letters, digits, `.`, `-`, `_`. When empty,
///   `ORG-validator` for a URL ending in `/organizations/ORG` (Chef Server's
///   naming), else `chef-validator`. The validator's key is never put in user
///   data (any process on the instance can read it there): the image carries
///   it at `/etc/chef/validation.pem`.
/// - `run_list`: items `recipe[cookbook]`, `recipe[cookbook::recipe]`,
///   `recipe[cookbook::recipe@1.2.3]`, `role[name]`, or a bare
///   `cookbook::recipe`; may be empty, which leaves the run list to the server.
/// - `environment`: letters, digits, `-`, `_`.
/// - `parameters`: node attributes; a dot nests them (`nginx.port=8080` is
///   `{"nginx": {"port": "8080"}}`), values are strings.
///
/// Chef is installed with Chef's omnibus installer, and Chef's license is
/// accepted on the user's behalf (chef-client refuses to run otherwise):
/// choosing Chef in the dialog is that acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chef {
    pub(super) server_url: String,
    pub(super) validation_client_name: String,
    pub(super) run_list: Vec<String>,
    pub(super) environment: Option<String>,
    pub(super) parameters: Vec<(String, String)>,
    pub(super) attributes: Map<String, Value>,
}

impl Chef {
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    pub fn validation_client_name(&self) -> &str {
        &self.validation_client_name
    }

    pub fn run_list(&self) -> &[String] {
        &self.run_list
    }

    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    pub fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }
}

/// Puppet agent settings.
///
/// - `server`: the Puppet server's host name (or IPv4 address).
/// - `classes`: Puppet class names (lower-case words joined by `::`).
/// - `environment`: lower-case letters, digits, `_`.
/// - `parameters`: strings.
///
/// Puppet has no agent-side way to choose classes, so classes and parameters
/// reach the server as external facts, `stratus_classes` (an array) and
/// `stratus_parameters` (a hash), in `/etc/facter/facts.d/stratus.json`; the
/// server's manifest includes them, e.g.
/// `if $facts['stratus_classes'] { include $facts['stratus_classes'] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puppet {
    pub(super) server: String,
    pub(super) classes: Vec<String>,
    pub(super) environment: Option<String>,
    pub(super) parameters: Vec<(String, String)>,
}

impl Puppet {
    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    pub fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }
}

/// `ansible-pull` settings.
///
/// - `repository`: a Git URL, `https://host/path`, `ssh://[user@]host/path` or
///   `user@host:path`. Not `http://` (anyone on the way could change what runs
///   as root), and no credentials in the URL (the user data is readable on
///   the instance). An SSH host key is accepted on first use.
/// - `playbook`: a path inside the repository ending in `.yml` or `.yaml`.
/// - `parameters`: extra variables (strings), passed as a root-only JSON file.
///
/// The playbook runs against `localhost` with a local connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ansible {
    pub(super) repository: String,
    pub(super) playbook: String,
    pub(super) parameters: Vec<(String, String)>,
}

impl Ansible {
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn playbook(&self) -> &str {
        &self.playbook
    }

    pub fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }

    pub(super) fn uses_ssh(&self) -> bool {
        !self.repository.starts_with("https://")
    }
}

/// The Configuration Management tab as posted.
///
/// `config_type` is `none` (or empty), `script`, `chef`, `puppet` or
/// `ansible`; only the fields of that type are read, so values left in the
/// other types' fields do not matter. `config_server` is the Chef server URL
/// or the Puppet server; `run_list` and `puppet_classes` are separated by
/// commas or new lines; `config_parameters` has one `name=value` a line
/// (blank lines and lines starting with `#` are skipped). A parameter name
/// starts with a letter or `_` and has letters, digits and `_`, at most 64
/// characters; a value is the rest of the line, trimmed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConfigForm {
    pub config_type: String,
    pub script: String,
    pub config_server: String,
    pub validation_client_name: String,
    pub config_repository: String,
    pub run_list: String,
    pub puppet_classes: String,
    pub playbook: String,
    pub config_environment: String,
    pub config_parameters: String,
}

impl ConfigForm {
    pub fn parse(&self) -> Result<ConfigManagement, Vec<ValidationError>> {
        match self.config_type.trim() {
            "" | "none" => Ok(ConfigManagement::None),
            "script" => Script::parse(&self.script).map(ConfigManagement::Script).map_err(|e| vec![e]),
            "chef" => self.chef().map(ConfigManagement::Chef),
            "puppet" => self.puppet().map(ConfigManagement::Puppet),
            "ansible" => self.ansible().map(ConfigManagement::Ansible),
            _ => {
                Err(vec![ValidationError::new("config_type", "Choose none, a shell script, Chef, Puppet or Ansible.")])
            }
        }
    }

    pub(super) fn chef(&self) -> Result<Chef, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let server_url = errors.take(parse_chef_server(&self.config_server));
        let client = errors.take(optional(&self.validation_client_name, |name| {
            if is_word(name, |b| b == b'.' || b == b'-' || b == b'_') {
                Ok(name.to_owned())
            } else {
                Err(ValidationError::new(
                    "validation_client_name",
                    "A client name has only letters, digits, “.”, “-” and “_”.",
                ))
            }
        }));
        let run_list = errors.take(parse_run_list(&self.run_list));
        let environment = errors.take(optional(&self.config_environment, |name| {
            if is_word(name, |b| b == b'-' || b == b'_') {
                Ok(name.to_owned())
            } else {
                Err(ValidationError::new(
                    "config_environment",
                    "A Chef environment name has only letters, digits, “-” and “_”.",
                ))
            }
        }));
        let parameters = errors.take(parse_parameters(&self.config_parameters, Nesting::Dotted).and_then(|params| {
            let attributes = nest(&params)?;
            Ok((params, attributes))
        }));
        let (Some(server_url), Some(client), Some(run_list), Some(environment), Some((parameters, attributes))) =
            (server_url, client, run_list, environment, parameters)
        else {
            return Err(errors.into_vec());
        };
        let validation_client_name = client.unwrap_or_else(|| default_validator(&server_url));
        Ok(Chef { server_url, validation_client_name, run_list, environment, parameters, attributes })
    }

    pub(super) fn puppet(&self) -> Result<Puppet, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let server = errors.take({
            let server = self.config_server.trim();
            if is_host_name(server) {
                Ok(server.to_owned())
            } else {
                Err(ValidationError::new(
                    "config_server",
                    "Enter the Puppet server's host name, such as puppet.example.com.",
                ))
            }
        });
        let classes = errors.take(parse_puppet_classes(&self.puppet_classes));
        let environment = errors.take(optional(&self.config_environment, |name| {
            if name.len() <= MAX_NAME_LEN
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                Ok(name.to_owned())
            } else {
                Err(ValidationError::new(
                    "config_environment",
                    "A Puppet environment name has only lower-case letters, digits and “_”.",
                ))
            }
        }));
        let parameters = errors.take(parse_parameters(&self.config_parameters, Nesting::Flat));
        let (Some(server), Some(classes), Some(environment), Some(parameters)) =
            (server, classes, environment, parameters)
        else {
            return Err(errors.into_vec());
        };
        Ok(Puppet { server, classes, environment, parameters })
    }

    pub(super) fn ansible(&self) -> Result<Ansible, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let repository = errors.take(parse_repository(&self.config_repository));
        let playbook = errors.take(parse_playbook(&self.playbook));
        let parameters = errors.take(parse_parameters(&self.config_parameters, Nesting::Flat));
        let (Some(repository), Some(playbook), Some(parameters)) = (repository, playbook, parameters) else {
            return Err(errors.into_vec());
        };
        Ok(Ansible { repository, playbook, parameters })
    }
}

/// `None` for a blank field, else what `parse` makes of the trimmed text.
fn optional<T>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<Option<T>, ValidationError> {
    match raw.trim() {
        "" => Ok(None),
        text => parse(text).map(Some),
    }
}

/// 1 to 255 ASCII letters and digits, plus the bytes `extra` allows.
fn is_word(s: &str, extra: impl Fn(u8) -> bool) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra(b))
}

/// A DNS name or an IPv4 address: labels of letters, digits and inner `-`.
fn is_host_name(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `host` or `host:port`.
fn is_authority(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            is_host_name(host)
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|port| port > 0)
        }
        None => is_host_name(s),
    }
}

/// A URL path of unreserved characters: nothing a shell, Ruby string or
/// config file would read specially, no query and no fragment.
fn is_url_path(s: &str) -> bool {
    s.len() <= 1024 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'~' | b'-'))
}

/// Splits `scheme://authority/path` after the scheme into authority and path
/// (the path keeps its leading `/`, and may be empty).
fn split_authority(rest: &str) -> (&str, &str) {
    rest.split_at(rest.find('/').unwrap_or(rest.len()))
}

fn parse_chef_server(raw: &str) -> Result<String, ValidationError> {
    let error = |message: &str| Err(ValidationError::new("config_server", message));
    let example = "Enter the Chef server's URL, such as https://chef.example.com/organizations/acme.";
    let raw = raw.trim();
    if raw.is_empty() {
        return error(example);
    }
    let Some(rest) = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://")) else {
        return error("The Chef server URL must start with https:// or http://.");
    };
    let (authority, path) = split_authority(rest);
    if authority.contains('@') {
        return error("Leave the user name and password out of the Chef server URL.");
    }
    if !is_authority(authority) || !is_url_path(path) {
        return error(example);
    }
    Ok(raw.to_owned())
}

/// Chef Server names an organization's validator `ORG-validator`.
fn default_validator(server_url: &str) -> String {
    let org = server_url
        .split_once("/organizations/")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .filter(|org| is_word(org, |b| b == b'-' || b == b'_'));
    match org {
        Some(org) => format!("{org}-validator"),
        None => "chef-validator".to_owned(),
    }
}

fn list_items(raw: &str, separator: impl Fn(char) -> bool) -> impl Iterator<Item = &str> {
    raw.split(separator).map(str::trim).filter(|item| !item.is_empty())
}

fn parse_run_list(raw: &str) -> Result<Vec<String>, ValidationError> {
    list_items(raw, |c| c == ',' || c == '\n' || c == '\r')
        .map(|item| {
            if is_run_list_item(item) {
                Ok(item.to_owned())
            } else {
                Err(ValidationError::new(
                    "run_list",
                    format!(
                        "“{item}” is not a run list item; write recipe[cookbook], recipe[cookbook::recipe] or role[name]."
                    ),
                ))
            }
        })
        .collect()
}

fn is_chef_name(s: &str) -> bool {
    is_word(s, |b| b == b'-' || b == b'_')
}

fn is_run_list_item(item: &str) -> bool {
    if let Some(role) = item.strip_prefix("role[").and_then(|rest| rest.strip_suffix(']')) {
        return is_chef_name(role);
    }
    let recipe = item.strip_prefix("recipe[").and_then(|rest| rest.strip_suffix(']')).unwrap_or(item);
    let (name, version) = match recipe.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (recipe, None),
    };
    let version_ok = version.is_none_or(|version| {
        version.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    });
    let name_ok = match name.split_once("::") {
        Some((cookbook, recipe)) => is_chef_name(cookbook) && is_chef_name(recipe),
        None => is_chef_name(name),
    };
    version_ok && name_ok
}

fn parse_puppet_classes(raw: &str) -> Result<Vec<String>, ValidationError> {
    list_items(raw, |c| c == ',' || c.is_whitespace())
        .map(|class| {
            let segments = class.strip_prefix("::").unwrap_or(class);
            let valid = class.len() <= MAX_NAME_LEN
                && segments.split("::").all(|segment| {
                    segment.starts_with(|c: char| c.is_ascii_lowercase())
                        && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            if valid {
                Ok(class.to_owned())
            } else {
                Err(ValidationError::new(
                    "puppet_classes",
                    format!(
                        "“{class}” is not a Puppet class; class names are lower-case words joined by “::”, such as apache::mod::ssl."
                    ),
                ))
            }
        })
        .collect()
}

fn parse_repository(raw: &str) -> Result<String, ValidationError> {
    let error = |message: &str| Err(ValidationError::new("config_repository", message));
    let raw = raw.trim();
    let example = "Enter a Git repository URL, such as https://github.com/acme/playbooks.git or git@github.com:acme/playbooks.git.";
    if raw.starts_with("http://") {
        return error(
            "Use https:// or SSH for the repository: over plain http:// anyone on the way could change what runs on the server.",
        );
    }
    let is_user = |user: &str| is_word(user, |b| b == b'.' || b == b'-' || b == b'_');
    let valid = if let Some(rest) = raw.strip_prefix("https://") {
        let (authority, path) = split_authority(rest);
        if authority.contains('@') {
            return error("Leave credentials out of the repository URL: anyone on the server can read the user data.");
        }
        is_authority(authority) && path.len() > 1 && is_url_path(path)
    } else if let Some(rest) = raw.strip_prefix("ssh://") {
        let (authority, path) = split_authority(rest);
        let host = match authority.split_once('@') {
            Some((user, host)) if is_user(user) => host,
            Some(_) => "",
            None => authority,
        };
        is_authority(host) && path.len() > 1 && is_url_path(path)
    } else if let Some((user, rest)) = raw.split_once('@')
        && let Some((host, path)) = rest.split_once(':')
    {
        is_user(user) && is_host_name(host) && !path.is_empty() && !path.starts_with('-') && is_url_path(path)
    } else {
        false
    };
    if valid { Ok(raw.to_owned()) } else { error(example) }
}

fn parse_playbook(raw: &str) -> Result<String, ValidationError> {
    let error = |message: &str| Err(ValidationError::new("playbook", message));
    let raw = raw.trim();
    if raw.is_empty() {
        return error("Enter the playbook to run, such as site.yml.");
    }
    if !(raw.ends_with(".yml") || raw.ends_with(".yaml")) {
        return error("The playbook must be a .yml or .yaml file, such as site.yml.");
    }
    let inside = raw.len() <= MAX_NAME_LEN
        && raw.split('/').all(|segment| {
            !matches!(segment, "" | "." | "..")
                && !segment.starts_with('-')
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if !inside {
        return error("The playbook must be a path inside the repository, such as site.yml or playbooks/web.yml.");
    }
    Ok(raw.to_owned())
}

/// Whether a parameter name may contain dots that nest it (Chef attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nesting {
    Flat,
    Dotted,
}

fn is_parameter_name(name: &str) -> bool {
    name.len() <= MAX_PARAMETER_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(super) fn parse_parameters(raw: &str, nesting: Nesting) -> Result<Vec<(String, String)>, ValidationError> {
    let error = |message: String| Err(ValidationError::new("config_parameters", message));
    let mut parameters: Vec<(String, String)> = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (index, line) in raw.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return error(format!("Line {number} is not name=value."));
        };
        let (name, value) = (name.trim(), value.trim());
        let name_ok = match nesting {
            Nesting::Flat => is_parameter_name(name),
            Nesting::Dotted => name.len() <= MAX_PARAMETER_NAME_LEN && name.split('.').all(is_parameter_name),
        };
        if !name_ok {
            let dots = if nesting == Nesting::Dotted { " (a “.” nests them, as in nginx.port)" } else { "" };
            return error(format!(
                "Line {number}: a name starts with a letter or “_” and has only letters, digits and “_”{dots}, at most {MAX_PARAMETER_NAME_LEN} characters."
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return error(format!("Line {number}: the value must not contain control characters."));
        }
        if !names.insert(name) {
            return error(format!("Line {number}: “{name}” is given twice."));
        }
        parameters.push((name.to_owned(), value.to_owned()));
    }
    Ok(parameters)
}

/// Chef attributes from dotted names; a name cannot be both a value and a
/// parent of other names, and `run_list` belongs to the run list field.
fn nest(parameters: &[(String, String)]) -> Result<Map<String, Value>, ValidationError> {
    let clash = |name: &str| {
        ValidationError::new(
            "config_parameters",
            format!("“{name}” clashes with another parameter: a name cannot hold a value and other names."),
        )
    };
    let mut root = Map::new();
    for (name, value) in parameters {
        if name == "run_list" || name.starts_with("run_list.") {
            return Err(ValidationError::new("config_parameters", "Set run_list in the run list field."));
        }
        let mut map = &mut root;
        let mut segments = name.split('.').peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_none() {
                if map.contains_key(segment) {
                    return Err(clash(name));
                }
                map.insert(segment.to_owned(), Value::String(value.clone()));
            } else {
                let Value::Object(inner) = map.entry(segment).or_insert_with(|| Value::Object(Map::new())) else {
                    return Err(clash(name));
                };
                map = inner;
            }
        }
    }
    Ok(root)
}

/// Collects the errors of fields parsed one after another, one per field.
#[derive(Default)]
pub(super) struct Errors(Vec<ValidationError>);

impl Errors {
    pub(super) fn take<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }

    pub(super) fn into_vec(self) -> Vec<ValidationError> {
        self.0
    }
}
