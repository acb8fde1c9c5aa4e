//! What a user does to a server (the Servers page): pause, start, reboot,
//! terminate, and make an image of it.
//!
//! Every action is allowed by `domain::servers::may_act`, the rule that
//! builds the row's menu, and asked again inside the transaction that acts
//! on it. The server moves to the state it passes through (`PAUSING`,
//! `STOPPING`, ...) only if it is still at the version the page showed, and
//! that write, its audit event and its provider job are one transaction; the
//! job does the rest.

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::db::{self, servers::ServerRow};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Forbidden, Ownership, Resource, Rights};
use crate::domain::images::MadeImageName;
use crate::domain::refusal::Refusal;
use crate::domain::servers::{NotOffered, Progress, ServerAction, may_act};
use crate::jobs::JobSettings;
use crate::jobs::servers::{CreateImagePayload, ServerActionPayload, ServerCommand};

/// Who owns the server, as the access rights read it.
pub fn ownership(row: &ServerRow) -> Ownership {
    Ownership { owner_user: row.owner_user_id, owner_group: row.owner_group_id, budget_code: Some(row.budget_code_id) }
}

/// The server, if the user may see it (`SERVER Access` on it, as its list
/// asks): a server the list leaves out is not found either.
pub fn seen(rights: &Rights, row: ServerRow) -> Option<ServerRow> {
    in_reach(rights, &row).then_some(row)
}

fn in_reach(rights: &Rights, row: &ServerRow) -> bool {
    rights.allows(Resource::Server, Action::Access, &ownership(row))
}

/// Where the server is, from its row.
pub fn progress(row: &ServerRow) -> Progress {
    Progress::of(row.state, row.provider_instance_id.is_some(), row.ready_at.is_some())
}

/// Whether the actor may do `action` to the server now: a refusal when its
/// state stands in the way, forbidden when the role does.
pub fn check(actor: &Actor<'_>, row: &ServerRow, action: ServerAction) -> Result<(), ChangeError> {
    // A server the user may not see is not found, for a change as for a read.
    if !in_reach(actor.rights, row) {
        return Err(ChangeError::NotFound);
    }
    match may_act(actor.rights, &ownership(row), progress(row), action) {
        Ok(()) => Ok(()),
        Err(NotOffered::NotNow) => Err(Refusal::ServerNotNow {
            name: row.name.clone(),
            progress: progress(row).title(),
            action: action.title(),
        }
        .into()),
        Err(NotOffered::Role) => {
            Err(Forbidden::because(format!("Your role does not allow “{}” on this server.", action.title())).into())
        }
    }
}

fn instance_of(row: &ServerRow) -> Result<String, ChangeError> {
    row.provider_instance_id.clone().ok_or_else(|| Refusal::ServerNotAtProvider { name: row.name.clone() }.into())
}

/// Pause, Start, Reboot or Terminate server `id` of the actor's account,
/// seen at `version`; the server as it is now. Make Image is
/// [`make_image`].
pub async fn act(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    version: i32,
    action: ServerAction,
) -> Result<ServerRow, ChangeError> {
    let account = actor.account.id;
    let command = match action {
        ServerAction::Pause => ServerCommand::Pause,
        ServerAction::Start => ServerCommand::Start,
        ServerAction::Reboot => ServerCommand::Reboot,
        ServerAction::Terminate => ServerCommand::Terminate,
        ServerAction::MakeImage => return Err(ChangeError::NotFound),
    };
    let moving_to = action.moving_to().ok_or(ChangeError::NotFound)?;
    conn.transaction(async |conn| {
        let row = db::servers::find(conn, account, id).await?;
        check(actor, &row, action)?;
        let instance_id = instance_of(&row)?;
        if action == ServerAction::Start {
            within_hard_quota(conn, &row).await?;
        }
        if !db::servers::begin(conn, id, version, moving_to).await? {
            let now = db::servers::find(conn, account, id).await?;
            return Err(Refusal::ServerChanged { progress: progress(&now).title(), name: now.name }.into());
        }
        let changes = serde_json::json!({ "state": { "from": row.state.as_str(), "to": moving_to.as_str() } });
        db::audit_log::record(conn, &actor.event(action.path(), Resource::Server, id, changes)).await?;
        let job = ServerActionPayload { server_id: id, instance_id, command };
        db::jobs::enqueue(conn, &job.job(account, jobs.max_attempts, ownership(&row)).by(actor.user.id)).await?;
        Ok(db::servers::find(conn, account, id).await?)
    })
    .await
}

/// Refuses starting a paused server when its hourly rate, counted again,
/// would take its budget code to the hard quota, as a launch is refused:
/// a hard quota that pausing could dodge would guard nothing. Checked under
/// the code's lock, which launches billed to it take too.
async fn within_hard_quota(conn: &mut AsyncPgConnection, row: &ServerRow) -> Result<(), ChangeError> {
    let code = db::budget::lock(conn, row.budget_code_id).await?;
    let rate = db::servers::hourly_rate(conn, row.id).await?;
    let figures = db::budget::figures_for(conn, vec![code], chrono::Utc::now()).await?;
    let (code, figures) = figures.first().expect("figures_for answers for every code it is given");
    match figures.check_launch(&rate) {
        Ok(_) => Ok(()),
        Err(over) => Err(Refusal::StartPastHardQuota { code: code.name.clone(), over }.into()),
    }
}

/// An image being made: the server's row, the pending record in My images
/// and the job that asks the provider.
pub struct ImageMade {
    pub server: ServerRow,
    pub image_record_id: i64,
    pub job_id: i64,
}

/// The new image of [`make_image`]: its name, and the budget code and group
/// (of the actor's) it is owned by.
pub struct NewImage {
    pub name: MadeImageName,
    pub budget_code_id: i64,
    pub group_id: Option<i64>,
}

/// What is wrong with the budget code and group a new image is to be owned
/// by: each must be one of the user's. A group that is, is held (see
/// `db::launch::hold_group`) until the transaction ends.
pub async fn owner_errors(
    conn: &mut AsyncPgConnection,
    user: i64,
    budget_code_id: i64,
    group_id: Option<i64>,
) -> diesel::QueryResult<Vec<ValidationError>> {
    let mut errors = Vec::new();
    if !db::budget::codes_of_user(conn, user).await?.iter().any(|c| c.id == budget_code_id) {
        errors.push(ValidationError::new("budget_code_id", "Choose one of your budget codes."));
    }
    if let Some(group) = group_id
        && !db::launch::hold_group(conn, user, group).await?
    {
        errors.push(ValidationError::new("group_id", "Choose one of your groups, or none."));
    }
    Ok(errors)
}

/// Queues making an image of server `id`, and writes its record in My
/// images at once, as pending, in the same transaction (the flash says so;
/// a slow worker or provider must not leave the list empty meanwhile). The
/// `create_image` job fills in the provider's id, or marks it failed with
/// the provider's reason.
pub async fn make_image(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    image: &NewImage,
) -> Result<ImageMade, ChangeError> {
    let account = actor.account.id;
    let user = actor.user.id;
    conn.transaction(async |conn| {
        let row = db::servers::find(conn, account, id).await?;
        check(actor, &row, ServerAction::MakeImage)?;
        // The page offered the actor's codes and groups; asked again, as
        // either may have been withdrawn since.
        let mut errors = owner_errors(conn, user, image.budget_code_id, image.group_id).await?;
        db::images::lock_own_image_names(conn, actor.account).await?;
        if db::images::own_image_named(conn, actor.account, image.name.as_str()).await? {
            errors.push(ValidationError::new(
                "name",
                format!("The account already has an image named “{}”: choose another name.", image.name.as_str()),
            ));
        }
        if !errors.is_empty() {
            return Err(ChangeError::Invalid(errors));
        }
        let instance_id = instance_of(&row)?;
        let description = format!("Made from server {} ({})", row.name, row.product_id);
        let record = db::images::pending_image(
            conn,
            &db::images::PendingImage {
                account_id: account,
                server_id: row.id,
                name: image.name.as_str(),
                description: &description,
                owner_user_id: user,
                owner_group_id: image.group_id,
                budget_code_id: image.budget_code_id,
            },
        )
        .await?;
        let job = CreateImagePayload {
            server_id: row.id,
            instance_id,
            name: image.name.as_str().to_owned(),
            description,
            platform: row.platform.clone(),
            owner_user_id: user,
            owner_group_id: image.group_id,
            budget_code_id: image.budget_code_id,
            record_id: Some(record),
        };
        let job =
            db::jobs::enqueue(conn, &job.job(account, jobs.max_attempts, ownership(&row)).by(actor.user.id)).await?;
        let changes = serde_json::json!({
            "image_name": image.name.as_str(), "budget_code_id": image.budget_code_id, "group_id": image.group_id,
            "image_record_id": record,
        });
        db::audit_log::record(conn, &actor.event("make_image", Resource::Server, row.id, changes)).await?;
        Ok(ImageMade { server: row, image_record_id: record, job_id: job })
    })
    .await
}
