//! The image page, `GET /images/{id}`: everything about one record of the
//! current account. The provider's facts, the account's metadata, sharing,
//! the image's lineage (the chain it was built on, up to its root, and what
//! the company built on it), where it is used (servers in every account of
//! the company, images made from it, accounts it is shared with) and its
//! history (the record's audit events).
//!
//! Another account's id is a 404, as everywhere; reading the page needs
//! `IMAGE Access`, as the list does. Of the company's other accounts the
//! page names only those the user can work in, and shows their images and
//! servers as the user's role there would show them (`IMAGE Access`,
//! `SERVER Access`, qualifiers included): what it may not show is counted,
//! never named.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::{ImageView, image_view};
use crate::auth::CurrentUser;
use crate::db::{self, lineage::ChainImage};
use crate::domain::access::{Action, Resource};
use crate::domain::images::{ImageAction, Source};
use crate::web::AppState;
use crate::web::audit_log::EventView;
use crate::web::error::WebError;
use crate::web::layout::{Frame, Moment};

/// Servers listed on the page; the counts above them cover them all.
const SERVERS_SHOWN: i64 = 50;
/// Events of the record's history shown on the page.
const HISTORY_SHOWN: i64 = 50;

/// An image of the lineage, ready to show.
pub struct ChainView {
    /// Steps below the page's image (descendants): indents the row.
    pub depth: i32,
    /// Kept in an account of the company where the user's role does not
    /// show it: only its place in the chain is shown (and `name` says why).
    pub hidden: bool,
    pub name: String,
    pub provider_image_id: String,
    /// The company's account that owns it, or the owner's account number.
    pub owner: String,
    /// A public image of the operator's provided publishers.
    pub provided: bool,
    /// Gone at the provider (its publisher or owner removed it), or retired
    /// by its schedule.
    pub retired: bool,
    pub state: String,
    /// Its page, when the current account keeps a record of it.
    pub href: Option<String>,
    pub created: Moment,
}

impl ChainView {
    fn new(image: ChainImage, user: &CurrentUser, provided_owners: &[String]) -> Self {
        let record = &image.record;
        // The current account's record, if the user's role here shows it.
        let kept = record.id.filter(|_| user.rights.allows(Resource::Image, Action::Access, &record.ownership()));
        let theirs = image.owners_record.ownership();
        // Another company's image, or a public one, is the provider's facts;
        // one of the company's accounts shows its own as the user's role
        // there would.
        let shown = kept.is_some()
            || image
                .owner_account_id
                .is_none_or(|account| user.allows_in(account, Resource::Image, Action::Access, &theirs));
        let owner = match image.owner_account_id {
            Some(account) => user.account_name(account).unwrap_or("another account of your company").to_owned(),
            None => image.owner_account_number.clone(),
        };
        let name = match (shown, kept) {
            (true, Some(_)) => record.name.clone(),
            (true, None) => image.provider_name.clone().or_else(|| image.provider_image_id.clone()),
            (false, _) => None,
        };
        Self {
            depth: image.depth,
            hidden: !shown,
            provided: provided_owners.contains(&image.owner_account_number),
            retired: image.retired,
            href: kept.map(|id| format!("/images/{id}")),
            name: name.unwrap_or_else(|| format!("An image of {owner} that your role there does not show you")),
            provider_image_id: if shown { image.provider_image_id.unwrap_or_default() } else { String::new() },
            owner,
            state: image.state.to_lowercase(),
            created: Moment::new(image.created_at),
        }
    }
}

/// A server launched from the image.
pub struct ServerUse {
    pub name: String,
    pub account: String,
    pub state: String,
    pub launched: Moment,
    /// Its row on the Servers page, when it is in the current account.
    pub href: Option<String>,
}

#[derive(Template)]
#[template(path = "images/show.html")]
struct ImagePage {
    frame: Frame,
    image: ImageView,
    source: &'static str,
    /// Who owns the image at the provider: one of the company's accounts, or
    /// the publisher's account number.
    owner_at_provider: String,
    /// The person who keeps this account's record.
    keeper: Option<String>,
    /// One of the operator's provided images.
    provided: bool,
    provider: db::images::ProviderFacts,
    provider_created: Moment,
    deprecated_at: Option<Moment>,
    deprecate_on: Option<chrono::NaiveDate>,
    retire_on: Option<chrono::NaiveDate>,
    /// The chain it was built on: the root first, its parent last.
    ancestors: Vec<ChainView>,
    /// The chain goes on above its first image, through an image the
    /// company may not know (another company's private image): unnamed.
    hidden_base: bool,
    descendants: Vec<ChainView>,
    /// Whether an image of its chain is retired: the seed's "imaging
    /// problems going forward", before they happen.
    built_on_retired: bool,
    servers: Vec<ServerUse>,
    /// Of the latest servers launched from it, those in accounts the user
    /// cannot work in, or that their role there does not show them.
    servers_unseen: usize,
    launches: db::lineage::Launches,
    last_launched: Option<Moment>,
    /// The accounts it is shared with, those the user can work in by name.
    shared_with: Vec<String>,
    /// And how many other accounts of the company.
    shared_elsewhere: usize,
    history: Vec<EventView>,
    /// The actions the user may take, as the list's menu offers them.
    actions: Vec<ImageAction>,
}

impl ImagePage {
    fn children(&self) -> usize {
        self.descendants.iter().filter(|d| d.depth == 1).count()
    }

    /// The latest servers launched from it that the page looked at, shown
    /// or not.
    fn servers_fetched(&self) -> usize {
        self.servers.len() + self.servers_unseen
    }
}

#[get("/images/{id}")]
pub async fn show(user: CurrentUser, state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let account = &user.account;
    let mut conn = state.pool.get().await?;
    let row = db::images::find_record(&mut conn, account.id, id).await?;
    let row = crate::changes::images::seen(&user.rights, row).ok_or(WebError::NotFound)?;
    let pk = row.image_pk;
    let provider = db::images::provider_facts(&mut conn, pk).await?;
    let ancestors = db::lineage::ancestors(&mut conn, account, pk).await?;
    let descendants = db::lineage::descendants(&mut conn, account, pk).await?;
    let servers = db::lineage::servers(&mut conn, account, pk, SERVERS_SHOWN).await?;
    let launches = db::lineage::launches(&mut conn, account, pk).await?;
    let shared_with = db::lineage::shared_with(&mut conn, account, pk).await?;
    let history =
        db::audit_log::of_resource(&mut conn, account.id, Resource::Image.as_str(), &id.to_string(), HISTORY_SHOWN)
            .await?;
    drop(conn);

    // The chain stopped below an image the company may not know.
    let hidden_base = ancestors.last().map_or(provider.parent_id, |top| top.parent_pk).is_some();
    let provided = &state.provided_owners;
    let chain =
        |images: Vec<ChainImage>| images.into_iter().map(|i| ChainView::new(i, &user, provided)).collect::<Vec<_>>();
    let mut ancestors = chain(ancestors);
    ancestors.reverse();
    let source = match Source::from_stored(&row.source) {
        Some(Source::Own) => "Made or registered by this account",
        Some(Source::Shared) => "Shared with this account by its owner",
        Some(Source::PublicLaunched) => "A public image launched in this account",
        None => "Unknown",
    };
    let fetched = servers.len();
    let servers: Vec<ServerUse> = servers
        .into_iter()
        .filter_map(|s| {
            if !user.allows_in(s.account_id, Resource::Server, Action::Access, &s.ownership()) {
                return None;
            }
            Some(ServerUse {
                href: (s.account_id == account.id).then(|| format!("/servers/{}", s.id)),
                name: s.name,
                account: user.account_name(s.account_id).unwrap_or_default().to_owned(),
                state: s.state.to_lowercase(),
                launched: Moment::new(s.launched_at),
            })
        })
        .collect();
    let servers_unseen = fetched - servers.len();
    let (shared_with, elsewhere): (Vec<_>, Vec<_>) =
        shared_with.into_iter().partition(|&id| user.account_name(id).is_some());
    let shared_with = shared_with.into_iter().filter_map(|id| user.account_name(id).map(str::to_owned)).collect();
    let owner_at_provider = user
        .account_name_for_number(&row.owner_account_number)
        .map(str::to_owned)
        .or_else(|| row.owner_alias.clone())
        .unwrap_or_else(|| row.owner_account_number.clone());
    let keeper = match (&row.owner_given_name, &row.owner_family_name) {
        (Some(given), Some(family)) => Some(format!("{given} {family}")),
        _ => None,
    };
    let image = image_view(&user, row.clone());
    let page = ImagePage {
        frame: Frame::new(&user, "/images"),
        source,
        provided: provided.contains(&row.owner_account_number),
        owner_at_provider,
        keeper,
        provider_created: Moment::new(provider.created_at),
        provider,
        deprecated_at: row.deprecated_at.map(Moment::new),
        deprecate_on: row.deprecate_on,
        retire_on: row.retire_on,
        built_on_retired: ancestors.iter().any(|a| a.retired),
        ancestors,
        hidden_base,
        descendants: chain(descendants),
        servers,
        servers_unseen,
        last_launched: launches.last_launched_at.map(Moment::new),
        launches,
        shared_with,
        shared_elsewhere: elsewhere.len(),
        history: crate::web::audit_log::history_for(&user, history),
        actions: image.actions.clone(),
        image,
    };
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page.render()?))
}
