//! Servers as the console shows them: the state a server is recorded in,
//! where a launch has got to, and what a user may do to a server in its
//! state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::access::{Action, Ownership, Resource, Rights, UnknownValue};
use super::cloud_init::{ConfigManagement, VolumeGroup};

/// A server's state, as the `servers.state` column records it (the column's
/// CHECK constraint admits exactly these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    Pending,
    Running,
    Pausing,
    Paused,
    Rebooting,
    Stopping,
    Terminated,
    Error,
}

impl ServerState {
    pub const ALL: [ServerState; 8] = [
        ServerState::Pending,
        ServerState::Running,
        ServerState::Pausing,
        ServerState::Paused,
        ServerState::Rebooting,
        ServerState::Stopping,
        ServerState::Terminated,
        ServerState::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Pending => "PENDING",
            ServerState::Running => "RUNNING",
            ServerState::Pausing => "PAUSING",
            ServerState::Paused => "PAUSED",
            ServerState::Rebooting => "REBOOTING",
            ServerState::Stopping => "STOPPING",
            ServerState::Terminated => "TERMINATED",
            ServerState::Error => "ERROR",
        }
    }

    /// Whether the server still exists at the provider, or is about to:
    /// every state but `TERMINATED` and `ERROR` (a launch that failed).
    pub fn alive(self) -> bool {
        !matches!(self, ServerState::Terminated | ServerState::Error)
    }

    /// Whether a server in this state adds to its budget code's run rate (see
    /// "Which servers bill" in [`super::budget`]).
    pub fn bills(self) -> bool {
        matches!(
            self,
            ServerState::Pending
                | ServerState::Running
                | ServerState::Rebooting
                | ServerState::Pausing
                | ServerState::Stopping
        )
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServerState {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|state| state.as_str() == s).ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// Rows read their stored state through this (`#[diesel(deserialize_as =
/// String)]`); a state the console does not know fails the query.
impl TryFrom<String> for ServerState {
    type Error = UnknownValue;

    fn try_from(stored: String) -> Result<Self, UnknownValue> {
        stored.parse()
    }
}

/// A server's progress, from the launch request to ready, or where it is
/// after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The console has the request; the provider does not have it yet.
    Requested,
    /// The provider is starting it.
    Pending,
    /// Running, status checks not passed yet.
    Running,
    /// Running and its status checks pass.
    Ready,
    Pausing,
    Paused,
    Rebooting,
    Stopping,
    Terminated,
    Failed,
}

impl Progress {
    /// From the stored state, whether the provider has an instance, and
    /// whether it has been ready.
    pub fn of(state: ServerState, has_instance: bool, ready: bool) -> Self {
        match state {
            ServerState::Pending if has_instance => Progress::Pending,
            ServerState::Pending => Progress::Requested,
            ServerState::Running if ready => Progress::Ready,
            ServerState::Running => Progress::Running,
            ServerState::Pausing => Progress::Pausing,
            ServerState::Paused => Progress::Paused,
            ServerState::Rebooting => Progress::Rebooting,
            ServerState::Stopping => Progress::Stopping,
            ServerState::Terminated => Progress::Terminated,
            ServerState::Error => Progress::Failed,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Progress::Requested => "requested",
            Progress::Pending => "pending",
            Progress::Running => "running",
            Progress::Ready => "ready",
            Progress::Pausing => "pausing",
            Progress::Paused => "paused",
            Progress::Rebooting => "rebooting",
            Progress::Stopping => "terminating",
            Progress::Terminated => "terminated",
            Progress::Failed => "failed",
        }
    }

    /// Steps of the launch done, of 4 (requested, pending, running, ready);
    /// `None` once the launch is over.
    pub fn launch_step(self) -> Option<u8> {
        match self {
            Progress::Requested => Some(1),
            Progress::Pending => Some(2),
            Progress::Running => Some(3),
            _ => None,
        }
    }

    /// Still changing: the page keeps asking for news.
    pub fn changing(self) -> bool {
        matches!(
            self,
            Progress::Requested
                | Progress::Pending
                | Progress::Running
                | Progress::Pausing
                | Progress::Rebooting
                | Progress::Stopping
        )
    }
}

/// What can be done to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAction {
    Pause,
    Start,
    Reboot,
    Terminate,
    MakeImage,
}

impl ServerAction {
    pub fn title(self) -> &'static str {
        match self {
            ServerAction::Pause => "Pause",
            ServerAction::Start => "Start",
            ServerAction::Reboot => "Reboot",
            ServerAction::Terminate => "Terminate",
            ServerAction::MakeImage => "Make Image",
        }
    }

    /// The action's path under `/servers/{id}/`.
    pub fn path(self) -> &'static str {
        match self {
            ServerAction::Pause => "pause",
            ServerAction::Start => "start",
            ServerAction::Reboot => "reboot",
            ServerAction::Terminate => "terminate",
            ServerAction::MakeImage => "image",
        }
    }

    /// Whether it asks first (a dialog) or acts at once.
    pub fn needs_dialog(self) -> bool {
        matches!(self, ServerAction::Terminate | ServerAction::MakeImage)
    }
}

/// What this user may do to this server in its state. Reboot counts as
/// starting again (`SERVER Start`); PRODUCT lists no right of its own.
pub fn server_actions(rights: &Rights, server: &Ownership, progress: Progress) -> Vec<ServerAction> {
    let may = |action| rights.allows(Resource::Server, action, server);
    let mut actions = Vec::new();
    match progress {
        Progress::Ready | Progress::Running => {
            if may(Action::Pause) {
                actions.push(ServerAction::Pause);
            }
            if may(Action::Start) {
                actions.push(ServerAction::Reboot);
            }
        }
        Progress::Paused if may(Action::Start) => actions.push(ServerAction::Start),
        _ => {}
    }
    if matches!(progress, Progress::Ready | Progress::Running | Progress::Paused) && may(Action::Image) {
        actions.push(ServerAction::MakeImage);
    }
    if matches!(progress, Progress::Pending | Progress::Running | Progress::Ready | Progress::Paused)
        && may(Action::Terminate)
    {
        actions.push(ServerAction::Terminate);
    }
    actions
}

/// Why an action is not offered on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotOffered {
    /// Its state stands in the way: the role allows it in another state.
    NotNow,
    /// The role does not allow it on this server in any state.
    Role,
}

/// May this user do `action` to this server in its state? The same rule
/// that builds the row's menu ([`server_actions`]), with the reason on no.
pub fn may_act(
    rights: &Rights,
    server: &Ownership,
    progress: Progress,
    action: ServerAction,
) -> Result<(), NotOffered> {
    if server_actions(rights, server, progress).contains(&action) {
        return Ok(());
    }
    let some_time =
        [Progress::Ready, Progress::Paused].into_iter().any(|p| server_actions(rights, server, p).contains(&action));
    Err(if some_time { NotOffered::NotNow } else { NotOffered::Role })
}

impl ServerAction {
    /// The stored state a server moves to while the provider does the
    /// action; `None` for Make Image, which leaves the server as it is.
    pub fn moving_to(self) -> Option<ServerState> {
        match self {
            ServerAction::Pause => Some(ServerState::Pausing),
            ServerAction::Start => Some(ServerState::Pending),
            ServerAction::Reboot => Some(ServerState::Rebooting),
            ServerAction::Terminate => Some(ServerState::Stopping),
            ServerAction::MakeImage => None,
        }
    }
}

/// What a server keeps of its volume group (`servers.volume_config`, and the
/// launch's audit event): what its page tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptVolumes {
    pub count: u8,
    pub size_gb: u16,
    /// `none`, `0`, `1`, `5` or `10`.
    pub raid: String,
    pub file_system: String,
    pub mount_point: String,
    pub encrypt: bool,
}

impl KeptVolumes {
    pub fn of(group: &VolumeGroup) -> Self {
        Self {
            count: group.count(),
            size_gb: group.size_gb(),
            raid: group.raid().as_str().to_owned(),
            file_system: group.file_system().as_str().to_owned(),
            mount_point: group.mount_point().as_str().to_owned(),
            encrypt: group.encrypt(),
        }
    }

    /// "2 × 100 GB, RAID 1, xfs at /data, encrypted".
    pub fn summary(&self) -> String {
        let raid = if self.raid == "none" { String::new() } else { format!(", RAID {}", self.raid) };
        let encrypted = if self.encrypt { ", encrypted" } else { "" };
        format!("{} × {} GB{raid}, {} at {}{encrypted}", self.count, self.size_gb, self.file_system, self.mount_point)
    }
}

/// What a server keeps of its configuration management
/// (`servers.config_management`, and the launch's audit event): where and
/// what, never a script's text or a parameter's value, which may hold
/// secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum KeptConfig {
    Script { bytes: usize },
    Chef { server: String, run_list: Vec<String>, environment: Option<String>, parameters: Vec<String> },
    Puppet { server: String, classes: Vec<String>, environment: Option<String>, parameters: Vec<String> },
    Ansible { repository: String, playbook: String, parameters: Vec<String> },
}

impl KeptConfig {
    /// None for a launch without configuration management.
    pub fn of(config: &ConfigManagement) -> Option<Self> {
        let names = |parameters: &[(String, String)]| parameters.iter().map(|(k, _)| k.clone()).collect();
        Some(match config {
            ConfigManagement::None => return None,
            ConfigManagement::Script(script) => KeptConfig::Script { bytes: script.as_str().len() },
            ConfigManagement::Chef(chef) => KeptConfig::Chef {
                server: chef.server_url().to_owned(),
                run_list: chef.run_list().to_vec(),
                environment: chef.environment().map(str::to_owned),
                parameters: names(chef.parameters()),
            },
            ConfigManagement::Puppet(puppet) => KeptConfig::Puppet {
                server: puppet.server().to_owned(),
                classes: puppet.classes().to_vec(),
                environment: puppet.environment().map(str::to_owned),
                parameters: names(puppet.parameters()),
            },
            ConfigManagement::Ansible(ansible) => KeptConfig::Ansible {
                repository: ansible.repository().to_owned(),
                playbook: ansible.playbook().to_owned(),
                parameters: names(ansible.parameters()),
            },
        })
    }

    /// `script`, `chef`, `puppet` or `ansible`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeptConfig::Script { .. } => "script",
            KeptConfig::Chef { .. } => "chef",
            KeptConfig::Puppet { .. } => "puppet",
            KeptConfig::Ansible { .. } => "ansible",
        }
    }

    /// Where it comes from: the Chef or Puppet server, Ansible's
    /// repository (none for a script, which is carried whole).
    pub fn source(&self) -> Option<&str> {
        match self {
            KeptConfig::Chef { server, .. } | KeptConfig::Puppet { server, .. } => Some(server),
            KeptConfig::Ansible { repository, .. } => Some(repository),
            KeptConfig::Script { .. } => None,
        }
    }

    /// What it is and where it comes from, as the server's page names it
    /// (e.g. "Chef, from https://chef.example.com").
    pub fn summary(&self) -> String {
        let kind = match self {
            KeptConfig::Script { bytes } => return format!("A shell script of {bytes} bytes, run at first boot"),
            KeptConfig::Chef { .. } => "Chef",
            KeptConfig::Puppet { .. } => "Puppet",
            KeptConfig::Ansible { .. } => "Ansible",
        };
        format!("{kind}, from {}", self.source().unwrap_or_default())
    }

    /// What it runs: Chef's run list, Puppet's classes, Ansible's playbook
    /// (nothing for a script).
    pub fn runs(&self) -> &[String] {
        match self {
            KeptConfig::Chef { run_list, .. } => run_list,
            KeptConfig::Puppet { classes, .. } => classes,
            KeptConfig::Ansible { playbook, .. } => std::slice::from_ref(playbook),
            KeptConfig::Script { .. } => &[],
        }
    }

    pub fn environment(&self) -> Option<&str> {
        match self {
            KeptConfig::Chef { environment, .. } | KeptConfig::Puppet { environment, .. } => environment.as_deref(),
            KeptConfig::Script { .. } | KeptConfig::Ansible { .. } => None,
        }
    }

    /// The names of the parameters given (their values are not kept).
    pub fn parameters(&self) -> &[String] {
        match self {
            KeptConfig::Chef { parameters, .. }
            | KeptConfig::Puppet { parameters, .. }
            | KeptConfig::Ansible { parameters, .. } => parameters,
            KeptConfig::Script { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::{Grant, default_roles};

    fn rights_of(role: &str) -> Rights {
        let (_, _, rights) = default_roles().into_iter().find(|(n, _, _)| *n == role).unwrap();
        Rights::new(1, [1], [], rights.into_iter().map(|right| Grant { right, via_group: 1 }).collect())
    }

    #[test]
    fn server_states_round_trip_and_only_up_states_bill() {
        for state in ServerState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
            assert_eq!(ServerState::try_from(state.as_str().to_owned()), Ok(state));
        }
        assert!("running".parse::<ServerState>().is_err());
        assert_eq!(ServerState::try_from("running".to_owned()), Err(UnknownValue("running".to_owned())));
        let billing: Vec<_> = ServerState::ALL.into_iter().filter(|s| s.bills()).map(ServerState::as_str).collect();
        assert_eq!(billing, ["PENDING", "RUNNING", "PAUSING", "REBOOTING", "STOPPING"]);
        let alive: Vec<_> = ServerState::ALL.into_iter().filter(|s| s.alive()).map(ServerState::as_str).collect();
        assert_eq!(alive, ["PENDING", "RUNNING", "PAUSING", "PAUSED", "REBOOTING", "STOPPING"]);
    }

    #[test]
    fn progress_follows_the_launch() {
        assert_eq!(Progress::of(ServerState::Pending, false, false), Progress::Requested);
        assert_eq!(Progress::of(ServerState::Pending, true, false), Progress::Pending);
        assert_eq!(Progress::of(ServerState::Running, true, false), Progress::Running);
        assert_eq!(Progress::of(ServerState::Running, true, true), Progress::Ready);
        assert_eq!(Progress::of(ServerState::Error, false, false), Progress::Failed);
        assert!(Progress::Running.changing() && !Progress::Ready.changing() && !Progress::Failed.changing());
    }

    #[test]
    fn actions_follow_the_state_and_the_role() {
        use ServerAction::*;
        let server = Ownership::default();
        let manager = rights_of("CloudManager");
        assert_eq!(server_actions(&manager, &server, Progress::Ready), [Pause, Reboot, MakeImage, Terminate]);
        assert_eq!(server_actions(&manager, &server, Progress::Paused), [Start, MakeImage, Terminate]);
        assert_eq!(server_actions(&manager, &server, Progress::Requested), []);
        assert!(server_actions(&rights_of("CSR"), &server, Progress::Ready).is_empty());
        assert!(server_actions(&rights_of("Configurator"), &server, Progress::Ready).is_empty());
    }

    #[test]
    fn an_action_not_offered_says_whether_the_state_or_the_role_is_why() {
        let server = Ownership::default();
        let manager = rights_of("CloudManager");
        assert_eq!(may_act(&manager, &server, Progress::Ready, ServerAction::Pause), Ok(()));
        assert_eq!(may_act(&manager, &server, Progress::Paused, ServerAction::Pause), Err(NotOffered::NotNow));
        assert_eq!(may_act(&rights_of("CSR"), &server, Progress::Ready, ServerAction::Pause), Err(NotOffered::Role));
    }

    #[test]
    fn what_a_server_keeps_of_its_launch_reads_back_as_written_and_in_words() {
        let volumes = KeptVolumes {
            count: 1,
            size_gb: 50,
            raid: "none".into(),
            file_system: "ext4".into(),
            mount_point: "/var/lib/data".into(),
            encrypt: false,
        };
        assert_eq!(volumes.summary(), "1 × 50 GB, ext4 at /var/lib/data");
        let stored = serde_json::json!({
            "type": "puppet", "server": "puppet.acme.test", "classes": ["nginx"], "environment": null,
            "parameters": ["port"],
        });
        let config: KeptConfig = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(config.summary(), "Puppet, from puppet.acme.test");
        assert_eq!(
            (config.runs(), config.environment(), config.parameters()),
            (&["nginx".to_owned()][..], None, &["port".to_owned()][..])
        );
        assert_eq!(serde_json::to_value(&config).unwrap(), stored, "the shape the audit log has always kept");
        let script: KeptConfig = serde_json::from_value(serde_json::json!({ "type": "script", "bytes": 42 })).unwrap();
        assert_eq!(script.summary(), "A shell script of 42 bytes, run at first boot");
    }
}
