//! Servers as the console shows them: where a launch has got to, and what
//! a user may do to a server in its state.

use super::access::{Action, Ownership, Resource, Rights};

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
    pub fn of(state: &str, has_instance: bool, ready: bool) -> Self {
        match state {
            "PENDING" if has_instance => Progress::Pending,
            "PENDING" => Progress::Requested,
            "RUNNING" if ready => Progress::Ready,
            "RUNNING" => Progress::Running,
            "PAUSING" => Progress::Pausing,
            "PAUSED" => Progress::Paused,
            "REBOOTING" => Progress::Rebooting,
            "STOPPING" => Progress::Stopping,
            "TERMINATED" => Progress::Terminated,
            _ => Progress::Failed,
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
    pub fn moving_to(self) -> Option<&'static str> {
        match self {
            ServerAction::Pause => Some("PAUSING"),
            ServerAction::Start => Some("PENDING"),
            ServerAction::Reboot => Some("REBOOTING"),
            ServerAction::Terminate => Some("STOPPING"),
            ServerAction::MakeImage => None,
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
    fn progress_follows_the_launch() {
        assert_eq!(Progress::of("PENDING", false, false), Progress::Requested);
        assert_eq!(Progress::of("PENDING", true, false), Progress::Pending);
        assert_eq!(Progress::of("RUNNING", true, false), Progress::Running);
        assert_eq!(Progress::of("RUNNING", true, true), Progress::Ready);
        assert_eq!(Progress::of("ERROR", false, false), Progress::Failed);
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
}
