//! `/api/v1/key-pairs` and `/api/v1/firewalls`: list, create (a key pair's
//! private key is answered once), delete; a firewall with its inbound
//! rules, and adding and removing a rule; through `changes::keypairs`,
//! `changes::firewalls` and `changes::resources`, as their pages.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiUser;
use super::problem::ApiError;
use crate::changes::{self, resources::ProviderResource};
use crate::db::firewall_rules::RuleRow;
use crate::db::{self, firewalls::FirewallRow, keypairs::KeyPairRow};
use crate::domain::access::{Action, Resource};
use crate::domain::firewalls::{FirewallDescription, FirewallName, Rule};
use crate::domain::keypairs::{KeyPairName, PublicKey};
use crate::domain::resource::ResourceAction;
use crate::state::AppState;

/// A key pair of the token's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPair {
    pub id: i64,
    pub name: String,
    /// As the provider reports it; empty until an import is done.
    pub fingerprint: String,
    /// `PENDING`, `ACTIVE`, `DELETING` or `ERROR`.
    pub state: String,
    pub error: Option<String>,
}

impl From<KeyPairRow> for KeyPair {
    fn from(row: KeyPairRow) -> Self {
        KeyPair {
            id: row.id,
            name: row.name,
            fingerprint: row.fingerprint,
            state: row.state.as_str().into(),
            error: row.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPairList {
    pub items: Vec<KeyPair>,
}

/// The account's key pairs.
#[utoipa::path(get, operation_id = "list_key_pairs", path = "/api/v1/key-pairs", tag = "key pairs and firewalls",
    responses((status = 200, description = "The key pairs", body = KeyPairList)))]
#[get("/v1/key-pairs")]
pub async fn key_pairs(user: ApiUser, state: web::Data<AppState>) -> Result<web::Json<KeyPairList>, ApiError> {
    user.require(Resource::Keypair, Action::Access)?;
    let rows = db::keypairs::list(&mut *state.pool.get().await?, user.account.id).await?;
    Ok(web::Json(KeyPairList { items: rows.into_iter().map(KeyPair::from).collect() }))
}

/// A key pair to create (no `public_key`: the provider makes one and its
/// private key is answered once) or to import.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyPair {
    pub name: String,
    /// An OpenSSH public key (Ed25519 or RSA) to import.
    #[serde(default)]
    pub public_key: Option<String>,
}

/// A key pair made, with its private key: the only time it is given.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPairCreated {
    pub id: i64,
    pub name: String,
    pub fingerprint: String,
    /// PEM. The console does not keep it.
    pub private_key: String,
}

/// Create a key pair (201, with its private key), or import a public key
/// (202: it is ready once the provider has it).
#[utoipa::path(post, operation_id = "create_key_pair", path = "/api/v1/key-pairs", tag = "key pairs and firewalls", request_body = NewKeyPair,
    responses((status = 201, description = "Created; the private key is in the answer, once", body = KeyPairCreated),
              (status = 202, description = "Importing", body = KeyPair)))]
#[post("/v1/key-pairs")]
pub async fn create_key_pair(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<NewKeyPair>,
) -> Result<HttpResponse, ApiError> {
    user.require(Resource::Keypair, ResourceAction::Create.right())?;
    let name = KeyPairName::parse(&body.name);
    // Present, it is an import: an empty one is refused at its field, not taken for a create.
    let key = body.public_key.as_deref().map(PublicKey::parse);
    let actor = user.actor();
    match (name, key) {
        (Ok(name), None) => {
            let created =
                changes::keypairs::create(&state.pool, &actor, state.provider(&user.account).await, &name).await?;
            let answer = KeyPairCreated {
                id: created.id,
                name: created.name.as_str().to_owned(),
                fingerprint: created.fingerprint,
                private_key: created.private_key.pem().to_owned(),
            };
            Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(answer))
        }
        (Ok(name), Some(Ok(key))) => {
            let mut conn = state.pool.get().await?;
            let id = changes::keypairs::import(&mut conn, &actor, &state.jobs, &name, &key).await?;
            Ok(HttpResponse::Accepted().json(KeyPair::from(db::keypairs::find(&mut conn, user.account.id, id).await?)))
        }
        (name, key) => Err(ApiError::Invalid(name.err().into_iter().chain(key.and_then(Result::err)).collect())),
    }
}

/// What a delete did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceDeleted {
    pub name: String,
    /// Deleted at the provider through a job (else only its record: the
    /// provider never made it).
    pub at_provider: bool,
}

async fn delete_resource<R: ProviderResource>(
    user: &ApiUser,
    state: &AppState,
    id: i64,
) -> Result<web::Json<ResourceDeleted>, ApiError> {
    let mut conn = state.pool.get().await?;
    let done = changes::resources::delete::<R>(&mut conn, &user.actor(), &state.jobs, id).await?;
    Ok(web::Json(ResourceDeleted { name: done.name, at_provider: done.at_provider }))
}

/// Delete a key pair (refused while live servers use it).
#[utoipa::path(delete, operation_id = "delete_key_pair", path = "/api/v1/key-pairs/{id}", tag = "key pairs and firewalls", params(("id" = i64, Path)),
    responses((status = 200, description = "Deleted", body = ResourceDeleted)))]
#[delete("/v1/key-pairs/{id}")]
pub async fn delete_key_pair(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ResourceDeleted>, ApiError> {
    delete_resource::<KeyPairRow>(&user, &state, id.into_inner()).await
}

/// A firewall (security group) of the token's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Firewall {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The provider's group id, once it has made it.
    pub provider_id: Option<String>,
    /// `PENDING`, `ACTIVE`, `DELETING` or `ERROR`.
    pub state: String,
    pub error: Option<String>,
}

impl From<FirewallRow> for Firewall {
    fn from(row: FirewallRow) -> Self {
        Firewall {
            id: row.id,
            name: row.name,
            description: row.description,
            provider_id: row.provider_id,
            state: row.state.as_str().into(),
            error: row.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FirewallList {
    pub items: Vec<Firewall>,
}

/// The account's firewalls.
#[utoipa::path(get, operation_id = "list_firewalls", path = "/api/v1/firewalls", tag = "key pairs and firewalls",
    responses((status = 200, description = "The firewalls", body = FirewallList)))]
#[get("/v1/firewalls")]
pub async fn firewalls(user: ApiUser, state: web::Data<AppState>) -> Result<web::Json<FirewallList>, ApiError> {
    user.require(Resource::Firewall, Action::Access)?;
    let rows = db::firewalls::list(&mut *state.pool.get().await?, user.account.id).await?;
    Ok(web::Json(FirewallList { items: rows.into_iter().map(Firewall::from).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFirewall {
    pub name: String,
    pub description: String,
}

/// Create a firewall: pending until the provider has made it.
#[utoipa::path(post, operation_id = "create_firewall", path = "/api/v1/firewalls", tag = "key pairs and firewalls", request_body = NewFirewall,
    responses((status = 202, description = "Being made", body = Firewall)))]
#[post("/v1/firewalls")]
pub async fn create_firewall(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Json<NewFirewall>,
) -> Result<HttpResponse, ApiError> {
    user.require(Resource::Firewall, ResourceAction::Create.right())?;
    let (name, description) = match (FirewallName::parse(&body.name), FirewallDescription::parse(&body.description)) {
        (Ok(name), Ok(description)) => (name, description),
        (name, description) => {
            return Err(ApiError::Invalid(name.err().into_iter().chain(description.err()).collect()));
        }
    };
    let mut conn = state.pool.get().await?;
    let id = changes::firewalls::create(&mut conn, &user.actor(), &state.jobs, &name, &description).await?;
    Ok(HttpResponse::Accepted().json(Firewall::from(db::firewalls::find(&mut conn, user.account.id, id).await?)))
}

/// Delete a firewall (refused while live servers use it).
#[utoipa::path(delete, operation_id = "delete_firewall", path = "/api/v1/firewalls/{id}", tag = "key pairs and firewalls", params(("id" = i64, Path)),
    responses((status = 200, description = "Deleted", body = ResourceDeleted)))]
#[delete("/v1/firewalls/{id}")]
pub async fn delete_firewall(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ResourceDeleted>, ApiError> {
    delete_resource::<FirewallRow>(&user, &state, id.into_inner()).await
}

/// An inbound rule of a firewall: what it lets in.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirewallRule {
    pub id: i64,
    /// `tcp`, `udp`, `icmp`, `all`, or the number of another protocol (a
    /// rule made at the provider).
    pub protocol: String,
    /// A port (`22`) or range (`8000-8080`); empty for all traffic and for
    /// ICMP (the summary names an ICMP type).
    pub ports: String,
    /// A CIDR block; or, for a rule made at the provider, a security group
    /// (`sg-…`) or prefix list (`pl-…`) id.
    pub source: String,
    /// In words: "TCP 22 from 10.0.0.0/8".
    pub summary: String,
    /// `PENDING` (being added), `ACTIVE`, `DELETING` (being removed) or
    /// `ERROR` (the provider refused it: remove it).
    pub state: String,
    pub error: Option<String>,
}

impl From<RuleRow> for FirewallRule {
    fn from(row: RuleRow) -> Self {
        let rule = row.rule();
        FirewallRule {
            id: row.id,
            protocol: rule.protocol_choice().to_owned(),
            ports: rule.ports_choice(),
            source: rule.source.clone(),
            summary: rule.summary(),
            state: row.state.as_str().into(),
            error: row.last_error,
        }
    }
}

/// A firewall with its inbound rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirewallDetail {
    #[serde(flatten)]
    pub firewall: Firewall,
    pub rules: Vec<FirewallRule>,
}

async fn firewall_detail(
    conn: &mut diesel_async::AsyncPgConnection,
    account_id: i64,
    id: i64,
) -> Result<FirewallDetail, ApiError> {
    let firewall = Firewall::from(db::firewalls::find(conn, account_id, id).await?);
    let rules = db::firewall_rules::list(conn, id).await?.into_iter().map(FirewallRule::from).collect();
    Ok(FirewallDetail { firewall, rules })
}

/// A firewall of the account, with its inbound rules.
#[utoipa::path(get, operation_id = "get_firewall", path = "/api/v1/firewalls/{id}", tag = "key pairs and firewalls", params(("id" = i64, Path)),
    responses((status = 200, description = "The firewall", body = FirewallDetail)))]
#[get("/v1/firewalls/{id}")]
pub async fn get_firewall(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<FirewallDetail>, ApiError> {
    user.require(Resource::Firewall, Action::Access)?;
    let mut conn = state.pool.get().await?;
    Ok(web::Json(firewall_detail(&mut conn, user.account.id, id.into_inner()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFirewallRule {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// For TCP and UDP: a port (`22`) or range (`8000-8080`); leave it out
    /// otherwise.
    #[serde(default)]
    pub ports: String,
    /// A CIDR block (`203.0.113.0/24`, `::/0`) or one address.
    pub source: String,
}

/// Let a rule in through a firewall: being added until the provider has it.
#[utoipa::path(post, operation_id = "add_firewall_rule", path = "/api/v1/firewalls/{id}/rules", tag = "key pairs and firewalls", params(("id" = i64, Path)), request_body = NewFirewallRule,
    responses((status = 202, description = "Being added", body = FirewallRule)))]
#[post("/v1/firewalls/{id}/rules")]
pub async fn add_firewall_rule(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<NewFirewallRule>,
) -> Result<HttpResponse, ApiError> {
    user.require(Resource::Firewall, ResourceAction::Create.right())?;
    let id = id.into_inner();
    let rule = Rule::parse(&body.protocol, &body.ports, &body.source).map_err(ApiError::Invalid)?;
    let mut conn = state.pool.get().await?;
    let rule_id = changes::firewalls::add_rule(&mut conn, &user.actor(), &state.jobs, id, &rule).await?;
    let added = db::firewall_rules::find(&mut conn, id, rule_id).await?;
    Ok(HttpResponse::Accepted().json(FirewallRule::from(added)))
}

/// What removing a rule did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleRemoved {
    /// In words: "TCP 22 from 10.0.0.0/8".
    pub summary: String,
    /// Taken out at the provider through a job (else only its record: the
    /// provider never had it).
    pub at_provider: bool,
}

/// Remove a rule from a firewall.
#[utoipa::path(delete, operation_id = "remove_firewall_rule", path = "/api/v1/firewalls/{id}/rules/{rule_id}", tag = "key pairs and firewalls", params(("id" = i64, Path), ("rule_id" = i64, Path)),
    responses((status = 200, description = "Removed, or being removed", body = RuleRemoved)))]
#[delete("/v1/firewalls/{id}/rules/{rule_id}")]
pub async fn remove_firewall_rule(
    user: ApiUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<web::Json<RuleRemoved>, ApiError> {
    let (id, rule_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let removed = changes::firewalls::remove_rule(&mut conn, &user.actor(), &state.jobs, id, rule_id).await?;
    Ok(web::Json(RuleRemoved { summary: removed.summary, at_provider: removed.at_provider }))
}
