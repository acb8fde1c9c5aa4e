//! The life of one image across a company's accounts (ISSUE 17): where it
//! came from (its chain of parents up to the root), what was built on it,
//! and where it is used (servers launched from it, accounts it is shared
//! with).
//!
//! A chain walks `provider_images.parent_id`, which Make Image writes (the
//! image of the server an image is made from). It is one recursive
//! statement each way. Descendants stay inside the company: an image is
//! followed only while one of the company's accounts owns it, so a public
//! image shows what this company built on it, never what others did.
//!
//! An image in a chain is named as the reader's account names it (its
//! record there), else with the name it was made or listed with. What the
//! reader's roles may see of another account is the page's to decide
//! (`web::images::page`): these queries return each record's ownership for
//! that, and the account ids rather than their names.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::accounts::Account;
use crate::domain::access::Ownership;

/// Deeper chains are not followed (a chain of 50 images made one from
/// another is far beyond any real one; the bound keeps a cycle harmless).
const MAX_DEPTH: i32 = 50;

/// An image in a chain, as the reader's account sees it.
#[derive(Debug, Clone, QueryableByName)]
pub struct ChainImage {
    /// Steps from the image the page is about: parents count up from 1,
    /// descendants too.
    #[diesel(sql_type = Int4)]
    pub depth: i32,
    #[diesel(sql_type = BigInt)]
    pub image_pk: i64,
    /// The image it was made from (for descendants: whose child it is).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub parent_pk: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub provider_image_id: Option<String>,
    /// The name it was made or listed with at the provider, if any.
    #[diesel(sql_type = Nullable<Text>)]
    pub provider_name: Option<String>,
    #[diesel(sql_type = Text)]
    pub state: String,
    /// Gone at the provider, or retired by its schedule (the rule of the
    /// SQL function `built_on_retired`).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub retired: bool,
    #[diesel(sql_type = Text)]
    pub owner_account_number: String,
    /// The company's account that owns it, if one does.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub owner_account_id: Option<i64>,
    /// The reader's account's record of it, if it has one.
    #[diesel(embed)]
    pub record: ChainRecord,
    /// The owning account's own record of it (when a company's account
    /// owns it): what the reader's role in that account would let them see.
    #[diesel(embed)]
    pub owners_record: OwnersRecord,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// The reader's account's record of a chain's image: its id (a link), name
/// and ownership.
#[derive(Debug, Clone, QueryableByName)]
pub struct ChainRecord {
    #[diesel(sql_type = Nullable<BigInt>, column_name = record_id)]
    pub id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>, column_name = record_name)]
    pub name: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>, column_name = record_owner_user)]
    pub owner_user: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>, column_name = record_owner_group)]
    pub owner_group: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>, column_name = record_budget_code)]
    pub budget_code: Option<i64>,
}

impl ChainRecord {
    /// Who owns the record, as the access decision reads it.
    pub fn ownership(&self) -> Ownership {
        Ownership { owner_user: self.owner_user, owner_group: self.owner_group, budget_code: self.budget_code }
    }
}

/// Who owns the owning account's record of a chain's image (all `None`
/// when it keeps none, or none owns it).
#[derive(Debug, Clone, QueryableByName)]
pub struct OwnersRecord {
    #[diesel(sql_type = Nullable<BigInt>, column_name = owners_owner_user)]
    pub owner_user: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>, column_name = owners_owner_group)]
    pub owner_group: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>, column_name = owners_budget_code)]
    pub budget_code: Option<i64>,
}

impl OwnersRecord {
    /// Who owns the record (nobody, when there is none), as the access
    /// decision reads it.
    pub fn ownership(&self) -> Ownership {
        Ownership { owner_user: self.owner_user, owner_group: self.owner_group, budget_code: self.budget_code }
    }
}

/// A [`ChainImage`] for each image of chain `c`; `$1` is the reader's
/// account, `$2` its company.
const CHAIN_IMAGES: &str = "
    SELECT c.depth, pi.id AS image_pk, pi.parent_id AS parent_pk, pi.provider_image_id,
        NULLIF(pi.name, '') AS provider_name, pi.state,
        (pi.state = 'DELETED' OR pi.retired_at IS NOT NULL) AS retired, pi.owner_account_number,
        owner.id AS owner_account_id,
        r.id AS record_id, r.name AS record_name, r.owner_user_id AS record_owner_user,
        r.owner_group_id AS record_owner_group, r.budget_code_id AS record_budget_code,
        o.owner_user_id AS owners_owner_user,
        o.owner_group_id AS owners_owner_group, o.budget_code_id AS owners_budget_code,
        pi.created_at
    FROM chain c JOIN provider_images pi ON pi.id = c.id
    LEFT JOIN LATERAL (
        SELECT a.id FROM accounts a
        WHERE a.company_id = $2 AND a.provider = pi.provider AND a.region = pi.region
          AND a.provider_account_number = pi.owner_account_number
        ORDER BY a.id LIMIT 1) owner ON true
    LEFT JOIN image_records r ON r.provider_image_id = pi.id AND r.account_id = $1
    LEFT JOIN image_records o ON o.provider_image_id = pi.id AND o.account_id = owner.id";

/// Whether the reader's company may know provider image `p`: one of its
/// accounts owns it or keeps a record of it (shared with it, or launched
/// from the catalog), or it is public. `$2` is the company.
const KNOWN: &str = "(
    (p.provider, p.region, p.owner_account_number) IN
        (SELECT provider, region, provider_account_number FROM accounts WHERE company_id = $2)
    OR p.is_public
    OR EXISTS (SELECT 1 FROM image_records r JOIN accounts a ON a.id = r.account_id
               WHERE r.provider_image_id = p.id AND a.company_id = $2))";

/// The images `image_pk` was built on, its parent first, up to the root or
/// to the first image the reader's company may not know (another company's
/// private image, and all it was built on, stay unnamed; the last image
/// returned then has a `parent_pk`).
pub async fn ancestors(conn: &mut AsyncPgConnection, reader: &Account, image_pk: i64) -> QueryResult<Vec<ChainImage>> {
    diesel::sql_query(format!(
        "WITH RECURSIVE chain (id, depth) AS (
             SELECT parent_id, 1 FROM provider_images WHERE id = $3 AND parent_id IS NOT NULL
             UNION ALL
             SELECT p.parent_id, c.depth + 1 FROM chain c JOIN provider_images p ON p.id = c.id
             WHERE p.parent_id IS NOT NULL AND c.depth < {MAX_DEPTH} AND {KNOWN}
         )
         {CHAIN_IMAGES}
         WHERE EXISTS (SELECT 1 FROM provider_images p WHERE p.id = pi.id AND {KNOWN})
         ORDER BY c.depth"
    ))
    .bind::<BigInt, _>(reader.id)
    .bind::<BigInt, _>(reader.company_id)
    .bind::<BigInt, _>(image_pk)
    .load(conn)
    .await
}

/// The images built on `image_pk` by the reader's company, at any depth,
/// each after its parent (depth first; siblings in the order the console
/// recorded them).
pub async fn descendants(
    conn: &mut AsyncPgConnection,
    reader: &Account,
    image_pk: i64,
) -> QueryResult<Vec<ChainImage>> {
    diesel::sql_query(format!(
        "WITH RECURSIVE company AS (
             SELECT provider, region, provider_account_number FROM accounts WHERE company_id = $2
         ), chain (id, depth, path) AS (
             SELECT p.id, 1, ARRAY[p.id] FROM provider_images p
             WHERE p.parent_id = $3
               AND (p.provider, p.region, p.owner_account_number) IN (SELECT * FROM company)
             UNION ALL
             SELECT p.id, c.depth + 1, c.path || p.id FROM chain c JOIN provider_images p ON p.parent_id = c.id
             WHERE c.depth < {MAX_DEPTH}
               AND (p.provider, p.region, p.owner_account_number) IN (SELECT * FROM company)
         )
         {CHAIN_IMAGES}
         ORDER BY c.path"
    ))
    .bind::<BigInt, _>(reader.id)
    .bind::<BigInt, _>(reader.company_id)
    .bind::<BigInt, _>(image_pk)
    .load(conn)
    .await
}

/// A server launched from the image, in one of the company's accounts.
#[derive(Debug, Clone, QueryableByName)]
pub struct UsingServer {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = BigInt)]
    pub account_id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub launched_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub owner_user_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub owner_group_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub budget_code_id: i64,
}

impl UsingServer {
    /// Who owns the server, as the access decision reads it.
    pub fn ownership(&self) -> Ownership {
        Ownership {
            owner_user: self.owner_user_id,
            owner_group: self.owner_group_id,
            budget_code: Some(self.budget_code_id),
        }
    }
}

/// How much the company has launched from the image.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct Launches {
    /// Servers ever launched from it by the console.
    #[diesel(sql_type = BigInt)]
    pub launches: i64,
    /// Of those, the ones not terminated (nor failed for good).
    #[diesel(sql_type = BigInt)]
    pub alive: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_launched_at: Option<DateTime<Utc>>,
}

/// The servers in the company's accounts launched from `image_pk`, the
/// newest first (at most `limit`).
pub async fn servers(
    conn: &mut AsyncPgConnection,
    reader: &Account,
    image_pk: i64,
    limit: i64,
) -> QueryResult<Vec<UsingServer>> {
    diesel::sql_query(
        "SELECT s.id, s.name, s.state, s.account_id, s.launched_at, s.owner_user_id, s.owner_group_id,
                s.budget_code_id
         FROM servers s JOIN accounts a ON a.id = s.account_id
         WHERE s.provider_image_id = $1 AND a.company_id = $2
         ORDER BY s.launched_at DESC, s.id DESC
         LIMIT $3",
    )
    .bind::<BigInt, _>(image_pk)
    .bind::<BigInt, _>(reader.company_id)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// The company's launches from `image_pk`.
pub async fn launches(conn: &mut AsyncPgConnection, reader: &Account, image_pk: i64) -> QueryResult<Launches> {
    diesel::sql_query(
        "SELECT count(*) AS launches,
                count(*) FILTER (WHERE s.state NOT IN ('TERMINATED', 'ERROR')) AS alive,
                max(s.launched_at) AS last_launched_at
         FROM servers s JOIN accounts a ON a.id = s.account_id
         WHERE s.provider_image_id = $1 AND a.company_id = $2",
    )
    .bind::<BigInt, _>(image_pk)
    .bind::<BigInt, _>(reader.company_id)
    .get_result(conn)
    .await
}

/// The company's accounts that hold `image_pk` as shared with them, by
/// name.
pub async fn shared_with(conn: &mut AsyncPgConnection, reader: &Account, image_pk: i64) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Holder {
        #[diesel(sql_type = BigInt)]
        account_id: i64,
    }
    let holders: Vec<Holder> = diesel::sql_query(
        "SELECT r.account_id FROM image_records r JOIN accounts a ON a.id = r.account_id
         WHERE r.provider_image_id = $1 AND r.source = 'shared' AND a.company_id = $2
         ORDER BY a.name, a.id",
    )
    .bind::<BigInt, _>(image_pk)
    .bind::<BigInt, _>(reader.company_id)
    .load(conn)
    .await?;
    Ok(holders.into_iter().map(|h| h.account_id).collect())
}
