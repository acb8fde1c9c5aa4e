//! The job queue's table: enqueue, claim with `FOR UPDATE SKIP LOCKED`,
//! finish, retry with backoff, and recover jobs whose worker died.

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};

use super::keyset::{beyond, limited};
use super::schema::jobs;
use crate::domain::access::{JobSubject, JobsReach, Ownership, Reach};
use crate::domain::page::{Cursor, PAGE_SIZE, Page, PageRequest};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: i64,
    pub account_id: Option<i64>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub idempotency_key: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// What a completed job produced, or a note on how it went.
    pub result: Option<serde_json::Value>,
    /// The worker that claimed it last. Its outcome is recorded only while
    /// that claim holds (see [`requeue_stale`]).
    pub worker: Option<String>,
    /// The user who asked for it; `None` for the console's own work.
    pub requested_by: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob<'a> {
    pub account_id: Option<i64>,
    pub kind: &'a str,
    pub payload: serde_json::Value,
    pub max_attempts: i32,
    /// The user who asked; `None` for the console's own work.
    pub requested_by: Option<i64>,
    /// What it is about, and that resource's owner, group and budget code:
    /// who may read it ([`readable_by`]).
    pub subject: &'static str,
    pub owner_user_id: Option<i64>,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: Option<i64>,
}

impl<'a> NewJob<'a> {
    /// A job of `kind` about `subject`, asked by nobody yet ([`NewJob::by`]).
    pub fn new(
        account_id: i64,
        kind: &'a str,
        payload: serde_json::Value,
        max_attempts: i32,
        subject: JobSubject,
    ) -> Self {
        let (subject, owned) = match subject {
            JobSubject::Account => ("account", Ownership::default()),
            JobSubject::Image(owned) => ("image", owned),
            JobSubject::Server(owned) => ("server", owned),
            JobSubject::Keypair => ("keypair", Ownership::default()),
            JobSubject::Firewall => ("firewall", Ownership::default()),
        };
        Self {
            account_id: Some(account_id),
            kind,
            payload,
            max_attempts,
            requested_by: None,
            subject,
            owner_user_id: owned.owner_user,
            owner_group_id: owned.owner_group,
            budget_code_id: owned.budget_code,
        }
    }

    /// The same job, asked by `user`: they may read it whatever it is about.
    pub fn by(self, user: i64) -> Self {
        Self { requested_by: Some(user), ..self }
    }
}

/// Queues a job; returns its id.
pub async fn enqueue(conn: &mut AsyncPgConnection, job: &NewJob<'_>) -> QueryResult<i64> {
    diesel::insert_into(jobs::table).values(job).returning(jobs::id).get_result(conn).await
}

/// Queues a sync unless one of the kind is already queued or running for the
/// account; returns whether it queued one.
///
/// A queued sync has not read the provider yet, so it will see the change
/// that asks for it. A running one may have read it before that change (two
/// launches finish together: the sync the first asked for is running when
/// the second has its instance id), so it is marked to run again once it is
/// done (`rerun`, read by [`complete`] under the row's lock). If the running
/// sync finished in between, the insert is tried again; the loop ends within
/// a round or two, as every round either queues, marks, or finds the row
/// that finished gone from the index.
pub async fn enqueue_sync(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    kind: &str,
    max_attempts: i32,
) -> QueryResult<bool> {
    for _ in 0..4 {
        let inserted = diesel::insert_into(jobs::table)
            .values(&NewJob::new(account_id, kind, serde_json::json!({}), max_attempts, JobSubject::Account))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 1 {
            return Ok(true);
        }
        let pending = diesel::update(
            jobs::table
                .filter(jobs::account_id.eq(account_id))
                .filter(jobs::kind.eq(kind))
                .filter(jobs::state.eq_any(["QUEUED", "RUNNING"])),
        )
        .set(jobs::rerun.eq(jobs::rerun.or(jobs::state.eq("RUNNING"))))
        .execute(conn)
        .await?;
        if pending > 0 {
            return Ok(false);
        }
    }
    Ok(false)
}

/// The kinds of job that change one image at the provider (its id is the
/// payload's `image_id`). Those of one image run in the order they were
/// queued: a share undone before its grant ran (or while the grant waits to
/// retry) must not be granted again after the revoke.
pub const IMAGE_CHANGES: [&str; 4] = [DEREGISTER_IMAGE, LAUNCH_PERMISSION, SET_DEPRECATION, SET_AVAILABILITY];

/// Lets a firewall rule in at the provider, or takes one out.
pub const AUTHORIZE_INGRESS: &str = "authorize_ingress";
pub const REVOKE_INGRESS: &str = "revoke_ingress";
/// Deletes a firewall (security group) at the provider.
pub const DELETE_SECURITY_GROUP: &str = "delete_security_group";
/// The jobs that change one firewall (keyed by the payload's
/// `firewall_id`) run in the order they were queued, as [`IMAGE_CHANGES`]
/// do: a rule removed while its adding waits to retry must not be added
/// again after the removal, and a firewall is deleted after the rule
/// changes asked before (which would fail on a group that is gone).
pub const FIREWALL_CHANGES: [&str; 3] = [AUTHORIZE_INGRESS, REVOKE_INGRESS, DELETE_SECURITY_GROUP];

/// Takes the next ready job for this worker, if any. Concurrent workers skip
/// the rows others hold, so no job is taken twice. A change to an image
/// waits while an earlier change to it is queued or running (see
/// [`IMAGE_CHANGES`]), and so does a change to a firewall
/// ([`FIREWALL_CHANGES`]); a claim that runs at the same instant sees the
/// earlier row as queued, so it waits too.
pub async fn claim(conn: &mut AsyncPgConnection, worker: &str) -> QueryResult<Option<Job>> {
    // Diesel's DSL cannot put a locking subquery in an UPDATE's filter.
    diesel::sql_query(
        "UPDATE jobs SET state = 'RUNNING', attempts = attempts + 1, started_at = now(), worker = $1
         WHERE id = (SELECT id FROM jobs WHERE state = 'QUEUED' AND run_after <= now()
                       -- A disabled account's jobs wait until it is enabled.
                       AND NOT EXISTS (SELECT 1 FROM accounts a
                                       WHERE a.id = jobs.account_id AND a.disabled_at IS NOT NULL)
                       AND NOT (jobs.kind = ANY($2) AND EXISTS (
                                SELECT 1 FROM jobs earlier
                                 WHERE earlier.account_id = jobs.account_id
                                   AND earlier.payload->>'image_id' = jobs.payload->>'image_id'
                                   AND earlier.id < jobs.id
                                   AND earlier.state IN ('QUEUED', 'RUNNING')
                                   AND earlier.kind = ANY($2)))
                       AND NOT (jobs.kind = ANY($3) AND EXISTS (
                                SELECT 1 FROM jobs earlier
                                 WHERE earlier.account_id = jobs.account_id
                                   AND earlier.payload->>'firewall_id' = jobs.payload->>'firewall_id'
                                   AND earlier.id < jobs.id
                                   AND earlier.state IN ('QUEUED', 'RUNNING')
                                   AND earlier.kind = ANY($3)))
                     ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, account_id, kind, payload, state, attempts, max_attempts, last_error, idempotency_key,
                   created_at, finished_at, result, worker, requested_by",
    )
    .bind::<diesel::sql_types::Text, _>(worker)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&IMAGE_CHANGES[..])
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&FIREWALL_CHANGES[..])
    .get_result(conn)
    .await
    .optional()
}

/// Records a job as done; a sync asked for again while it ran (`rerun`,
/// see [`enqueue_sync`]) goes back in the queue instead, to run at once in
/// the same row. The row is locked first, so a sync asked for at the same
/// moment either marks it before this reads the mark, or finds it finished
/// and queues a new one. Returns whether the job was queued again, or
/// [`Claim::Lost`].
pub async fn complete(
    conn: &mut AsyncPgConnection,
    job: &Job,
    result: Option<serde_json::Value>,
) -> QueryResult<Claim<bool>> {
    let id = job.id;
    conn.transaction(async |conn| {
        let Some(rerun) = held(conn, job).await? else { return Ok(Claim::Lost) };
        if rerun {
            diesel::update(jobs::table.find(id))
                .set((
                    jobs::state.eq("QUEUED"),
                    jobs::run_after.eq(now),
                    jobs::attempts.eq(0),
                    jobs::rerun.eq(false),
                    jobs::last_error.eq(None::<String>),
                    jobs::result.eq(result),
                ))
                .execute(conn)
                .await?;
        } else {
            diesel::update(jobs::table.find(id))
                .set((
                    jobs::state.eq("COMPLETE"),
                    jobs::finished_at.eq(now),
                    jobs::last_error.eq(None::<String>),
                    jobs::result.eq(result),
                ))
                .execute(conn)
                .await?;
        }
        Ok(Claim::Held(rerun))
    })
    .await
}

/// Whether a worker's claim on a job still holds when it records how the
/// job went. A claim whose lease ran out (the worker seemed lost) was queued
/// again, maybe taken up by another worker: the outcome is that one's to
/// record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Claim<T> {
    Held(T),
    Lost,
}

/// Locks the job if `job`'s claim on it holds (running, by the worker that
/// claimed it); its `rerun` mark.
async fn held(conn: &mut AsyncPgConnection, job: &Job) -> QueryResult<Option<bool>> {
    jobs::table
        .find(job.id)
        .filter(jobs::state.eq("RUNNING"))
        .filter(jobs::worker.is_not_distinct_from(job.worker.as_deref()))
        .select(jobs::rerun)
        .for_update()
        .get_result(conn)
        .await
        .optional()
}

/// Records a failure: queued again at `retry_at`, or ERROR when `None`.
pub async fn fail(
    conn: &mut AsyncPgConnection,
    job: &Job,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<Claim<()>> {
    let claimed = || {
        jobs::table
            .find(job.id)
            .filter(jobs::state.eq("RUNNING"))
            .filter(jobs::worker.is_not_distinct_from(job.worker.as_deref()))
    };
    let written = match retry_at {
        Some(at) => {
            diesel::update(claimed())
                // The retry reads the provider afresh: it sees what a rerun was asked for.
                .set((
                    jobs::state.eq("QUEUED"),
                    jobs::run_after.eq(at),
                    jobs::last_error.eq(error),
                    jobs::rerun.eq(false),
                ))
                .execute(conn)
                .await
        }
        None => {
            diesel::update(claimed())
                .set((jobs::state.eq("ERROR"), jobs::finished_at.eq(now), jobs::last_error.eq(error)))
                .execute(conn)
                .await
        }
    }?;
    Ok(if written == 1 { Claim::Held(()) } else { Claim::Lost })
}

/// The jobs [`requeue_stale`] found without a worker.
#[derive(Debug, Default)]
pub struct Stale {
    /// Queued again.
    pub requeued: usize,
    /// Failed: their worker was lost on every attempt they had. What they
    /// were about is the caller's to settle, in the same transaction.
    pub given_up: Vec<Job>,
}

/// Queues again the jobs whose worker started them before `before` and
/// never finished: its process died, or it outlived its lease, and whatever
/// it records later is ignored (its claim is lost, see [`Claim`]). A job
/// whose worker was lost on each of its attempts fails instead (a job that
/// brings its worker down must not run for ever).
pub async fn requeue_stale(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<Stale> {
    let stale = || jobs::table.filter(jobs::state.eq("RUNNING")).filter(jobs::started_at.lt(before));
    let given_up = diesel::update(stale().filter(jobs::attempts.ge(jobs::max_attempts)))
        .set((
            jobs::state.eq("ERROR"),
            jobs::finished_at.eq(now),
            jobs::last_error.eq("its worker stopped on every attempt: given up"),
        ))
        .returning(Job::as_returning())
        .get_results(conn)
        .await?;
    let requeued = diesel::update(stale())
        .set((jobs::state.eq("QUEUED"), jobs::run_after.eq(now), jobs::last_error.eq("the worker stopped; retrying")))
        .execute(conn)
        .await?;
    Ok(Stale { requeued, given_up })
}

impl Job {
    /// The job's place in its account's list ([`page_for_account`]).
    pub fn cursor(&self) -> Cursor {
        Cursor::by_time(self.id, self.created_at)
    }
}

type Condition = Box<dyn BoxableExpression<jobs::table, Pg, SqlType = Nullable<Bool>>>;

/// The jobs `reach` lets a user read: what [`JobsReach`] says, as SQL.
fn readable_by(reach: &JobsReach) -> Condition {
    let mut open = vec!["account"];
    open.extend(reach.keypairs.then_some("keypair"));
    open.extend(reach.firewalls.then_some("firewall"));
    let about = |subject: &'static str, owned: &Reach| -> Condition {
        let of_kind = jobs::subject.eq(subject).nullable();
        match owned {
            Reach::All => Box::new(of_kind),
            Reach::Within(within) => Box::new(of_kind.and(owned_within!(jobs, within))),
        }
    };
    Box::new(
        jobs::requested_by
            .eq(reach.requested_by)
            .or(jobs::subject.eq_any(open))
            .or(about("image", &reach.images))
            .or(about("server", &reach.servers)),
    )
}

/// A page of the account's jobs that `reach` lets the user read, newest
/// first (the index `jobs_account`: `account_id, created_at DESC, id DESC`).
pub async fn page_for_account(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    reach: &JobsReach,
    request: &PageRequest,
) -> QueryResult<Page<Job>> {
    let mut query = jobs::table
        .filter(jobs::account_id.eq(account_id))
        .filter(readable_by(reach))
        .select(Job::as_select())
        .into_boxed();
    // Newest first: forward pages walk down, the previous page walks up.
    let upwards = matches!(request, PageRequest::Before(_));
    if let PageRequest::After(cursor) | PageRequest::Before(cursor) = request {
        query = query.filter(beyond(
            jobs::created_at,
            jobs::id,
            diesel::IntoSql::into_sql::<diesel::sql_types::Timestamptz>(cursor.at.unwrap_or_default()),
            diesel::IntoSql::into_sql::<diesel::sql_types::BigInt>(cursor.id),
            upwards,
        ));
    }
    query = if upwards {
        query.order((jobs::created_at.asc(), jobs::id.asc()))
    } else {
        query.order((jobs::created_at.desc(), jobs::id.desc()))
    };
    let rows = limited(query, PAGE_SIZE + 1).load(conn).await?;
    Ok(Page::from_fetched(rows, request))
}

/// The job kind that deregisters an image. The queue knows it by name
/// because a sync must respect it (see [`deregistrations`]).
pub const DEREGISTER_IMAGE: &str = "deregister_image";
/// Grants or revokes launching an image (see [`IMAGE_CHANGES`]).
pub const LAUNCH_PERMISSION: &str = "launch_permission";
pub const SET_DEPRECATION: &str = "set_deprecation";
/// Disables a retired image at the provider, or enables a restored one.
pub const SET_AVAILABILITY: &str = "set_image_availability";

/// The provider image ids whose deregistration the account asked for and
/// that did not fail: a sync must not bring them back.
pub async fn deregistrations(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<Vec<String>> {
    of_kind(account_id, DEREGISTER_IMAGE).filter(jobs::state.ne("ERROR")).select(image_id_asked()).load(conn).await
}

/// The provider image ids whose making public or private the account asked
/// for and the provider has not been told yet (the job is queued or
/// running): until it has, the console's flag is the one that holds.
pub async fn public_flag_changes(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<Vec<String>> {
    unfinished(account_id, LAUNCH_PERMISSION)
        .filter(jobs::payload.retrieve_as_text("account_number").is_null())
        .select(image_id_asked())
        .load(conn)
        .await
}

/// The provider image ids the account asked to disable or enable that the
/// provider has not been told about yet (the job is queued or running).
pub async fn availability_changes(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<Vec<String>> {
    unfinished(account_id, SET_AVAILABILITY).select(image_id_asked()).load(conn).await
}

/// Whether the account asked again about the launch permission of
/// `image_id` for provider account `number` (`None`: everyone) after job
/// `job_id` asked: a later grant or revoke, in any state, whose outcome is
/// the one that holds.
pub async fn permission_asked_since(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    job_id: i64,
    image_id: &str,
    number: Option<&str>,
) -> QueryResult<bool> {
    let later = of_kind(account_id, LAUNCH_PERMISSION)
        .filter(jobs::id.gt(job_id))
        .filter(image_id_asked().eq(image_id))
        .filter(jobs::payload.retrieve_as_text("account_number").nullable().is_not_distinct_from(number));
    diesel::select(diesel::dsl::exists(later)).get_result(conn).await
}

/// The provider image id a job's payload names (`payload->>'image_id'`):
/// every image job's payload has one.
#[diesel::dsl::auto_type(no_type_alias)]
fn image_id_asked() -> _ {
    jobs::payload.retrieve_as_text("image_id")
}

/// The account's jobs of one kind.
#[diesel::dsl::auto_type]
fn of_kind(account_id: i64, kind: &'static str) -> _ {
    jobs::table.filter(jobs::account_id.eq(account_id)).filter(jobs::kind.eq(kind))
}

/// The account's queued and running jobs of one kind.
#[diesel::dsl::auto_type(no_type_alias)]
fn unfinished(account_id: i64, kind: &'static str) -> _ {
    let unfinished: [&'static str; 2] = ["QUEUED", "RUNNING"];
    let of_the_kind: of_kind = of_kind(account_id, kind);
    of_the_kind.filter(jobs::state.eq_any(unfinished))
}

/// Puts a job back in the queue to run again at `at` (work that follows
/// something until it settles), keeping one row for it; at once if it was
/// asked for again while it ran (`rerun`, see [`enqueue_sync`]).
pub async fn again(
    conn: &mut AsyncPgConnection,
    job: &Job,
    at: DateTime<Utc>,
    result: serde_json::Value,
) -> QueryResult<Claim<()>> {
    conn.transaction(async |conn| {
        let Some(rerun) = held(conn, job).await? else { return Ok(Claim::Lost) };
        let at = if rerun { Utc::now() } else { at };
        diesel::update(jobs::table.find(job.id))
            .set((
                jobs::state.eq("QUEUED"),
                jobs::run_after.eq(at),
                jobs::attempts.eq(0),
                jobs::rerun.eq(false),
                jobs::last_error.eq(None::<String>),
                jobs::result.eq(result),
            ))
            .execute(conn)
            .await?;
        Ok(Claim::Held(()))
    })
    .await
}

/// Queues a job under the caller's idempotency key (a form's, so the same
/// request posted twice queues it once); false when the key was used.
pub async fn enqueue_keyed(conn: &mut AsyncPgConnection, job: &NewJob<'_>, key: &str) -> QueryResult<bool> {
    let inserted = diesel::insert_into(jobs::table)
        .values((job, jobs::idempotency_key.eq(key)))
        .on_conflict(jobs::idempotency_key)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether a job with this idempotency key exists.
pub async fn key_used(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(jobs::table.filter(jobs::idempotency_key.eq(key)))).get_result(conn).await
}

/// Job `id` of the account, if `reach` lets the user read it; `NotFound`
/// for another account's, or one about what the user may not see.
pub async fn find(conn: &mut AsyncPgConnection, account_id: i64, reach: &JobsReach, id: i64) -> QueryResult<Job> {
    jobs::table
        .filter(jobs::account_id.eq(account_id))
        .filter(jobs::id.eq(id))
        .filter(readable_by(reach))
        .select(Job::as_select())
        .first(conn)
        .await
}

/// The jobs a launch queued under its idempotency key (`KEY/1..n`), in
/// order: `(job, server)`.
pub async fn launched_under(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    key: &str,
) -> QueryResult<Vec<(i64, Option<i64>)>> {
    let rows: Vec<(i64, String, serde_json::Value)> = jobs::table
        .filter(jobs::account_id.eq(account_id))
        .filter(jobs::idempotency_key.like(format!("{key}/%")))
        .select((jobs::id, jobs::idempotency_key, jobs::payload))
        .load(conn)
        .await?;
    let mut found: Vec<(u32, i64, Option<i64>)> = rows
        .into_iter()
        .filter_map(|(id, k, payload)| {
            let n = k.rsplit('/').next()?.parse().ok()?;
            Some((n, id, payload.get("server_id").and_then(serde_json::Value::as_i64)))
        })
        .collect();
    found.sort_unstable();
    Ok(found.into_iter().map(|(_, job, server)| (job, server)).collect())
}
