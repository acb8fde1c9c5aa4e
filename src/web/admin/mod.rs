//! Administration pages: users, groups and roles with their access rights,
//! and budget codes. Each page is a module of its own; the changes they
//! make are in `changes::admin`, the rules they share (no escalation, last
//! administrator) in `domain::admin`. What the pages share is here: the
//! checkboxes of a form, where a change's error shows, and the list, add,
//! edit and delete flow of groups and roles, and the optimistic edit every
//! edit dialog shares ([`sent_version`], [`changed_meanwhile`]: the dialog
//! carries the version it was read at; when someone else saved first it
//! comes back with 409 and the current values): each of the two pages
//! implements [`NamedPage`] with what is its own (its list, its words, its
//! delete rule and change), and [`named_routes!`] writes its route handlers
//! with the paths the page gives.

pub mod accounts;
pub mod budget_codes;
pub mod groups;
pub mod roles;
pub mod users;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use crate::auth::CurrentUser;
use crate::changes::{self, Actor, ChangeError, admin::Named};
use crate::domain::ValidationError;
use crate::domain::access::Action;
use crate::domain::admin::{description, name};
use crate::domain::refusal::Refusal;
use crate::web::dialog::{self, Confirm, done};
use crate::web::error::{WebError, refusal_status};
use crate::web::layout::Frame;
use crate::web::respond::{added, form_again, page_or_list};
use crate::web::{AppState, is_htmx};

/// A checkbox of the groups or budget codes fieldset.
pub struct Choice {
    pub id: i64,
    pub name: String,
    pub checked: bool,
}

/// Every one of `all`, checked when in `checked`.
pub(super) fn choices(all: &[(i64, String)], checked: &[i64]) -> Vec<Choice> {
    all.iter().map(|(id, name)| Choice { id: *id, name: name.clone(), checked: checked.contains(id) }).collect()
}

/// Where a change's error shows in a form or dialog.
pub(super) enum Shown {
    /// At the form's fields (422).
    Fields(Vec<ValidationError>),
    /// Above the form: a rule refuses the change now, with its status.
    Refused(String, StatusCode),
}

/// Where `e` shows on a form with `fields`. Input no page's form can send
/// (an id that does not exist) is a 400; a refusal only a higher role could
/// overcome (403), and everything else that no form shows, is an error page.
pub(super) fn shown(e: ChangeError, fields: &[&str]) -> Result<Shown, WebError> {
    if let Some(errors) = e.field_errors() {
        if let Some(forged) = errors.iter().find(|e| !fields.contains(&e.field)) {
            return Err(WebError::BadRequest(forged.message.clone()));
        }
        return Ok(Shown::Fields(errors));
    }
    match e {
        ChangeError::Refused(refusal) if refusal_status(&refusal) != StatusCode::FORBIDDEN => {
            Ok(Shown::Refused(refusal.message(), refusal_status(&refusal)))
        }
        other => Err(other.into()),
    }
}

/// The version an edit dialog was read at. Every edit dialog sends it (a
/// hidden field), so a form without one was not made by a page: 400, and
/// nothing is written.
pub(super) fn sent_version(version: Option<i32>) -> Result<i32, WebError> {
    version.ok_or_else(|| WebError::BadRequest("The form has no version; reload the page and edit again.".into()))
}

/// What an edit dialog says above the current values (and their version)
/// when someone else saved first: the answer is 409, and saving again
/// replaces what the other administrator saved, knowingly.
pub(super) fn changed_meanwhile(what: &str) -> String {
    format!("Someone else changed this {what} meanwhile: here is what it holds now; save again to replace it.")
}

/// A name-and-description form (groups and roles) as typed, with its
/// messages.
#[derive(Default)]
pub struct NameForm {
    pub name: String,
    pub description: String,
    /// The version the edit dialog was read at (0 in the add form, which
    /// does not send it).
    pub version: i32,
    pub name_error: Option<String>,
    pub description_error: Option<String>,
    pub error: Option<String>,
}

impl NameForm {
    /// The form as typed with `e` where it shows; the status to answer.
    pub(super) fn again(input: &NameInput, e: ChangeError) -> Result<(Self, StatusCode), WebError> {
        let mut form = Self {
            name: input.name.clone(),
            description: input.description.clone(),
            version: input.version.unwrap_or(0),
            ..Self::default()
        };
        let status = match shown(e, &["name", "description"])? {
            Shown::Fields(errors) => {
                let at = |field| errors.iter().find(|e| e.field == field).map(|e| e.message.clone());
                form.name_error = at("name");
                form.description_error = at("description");
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Shown::Refused(reason, status) => {
                form.error = Some(reason);
                status
            }
        };
        Ok((form, status))
    }
}

#[derive(Deserialize)]
pub struct NameInput {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    /// Only the edit dialog sends it.
    #[serde(default)]
    pub(super) version: Option<i32>,
}

impl NameInput {
    /// `(name, description)` when both pass the rules, else every field's
    /// problem; `what` names the thing in messages ("group name").
    pub(super) fn parse(&self, what: &str) -> Result<(String, String), ChangeError> {
        match (name("name", &self.name, what), description(&self.description)) {
            (Ok(name), Ok(description)) => Ok((name, description)),
            (name, description) => Err(ChangeError::Invalid(name.err().into_iter().chain(description.err()).collect())),
        }
    }
}

/// The edit dialog of a group or a role.
#[derive(Template)]
#[template(path = "admin/groups_edit.html", blocks = ["dialog"])]
pub(super) struct EditDialog {
    pub frame: Frame,
    pub modal: bool,
    pub title: String,
    pub action_url: String,
    pub target: String,
    pub back_url: &'static str,
    /// The name cannot be changed (a default role).
    pub name_locked: bool,
    pub form: NameForm,
    pub csrf_token: String,
}

impl EditDialog {
    pub(super) fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        dialog::respond(req, status, if is_htmx(req) { self.as_dialog().render() } else { self.render() })
    }
}

/// A part of the Groups or Roles page.
pub(super) enum Part {
    /// The whole page.
    Page,
    /// The add form alone.
    Form,
    /// The list alone.
    List,
}

/// The parts of the Groups or Roles page: askama makes the block methods
/// per type, so [`named_parts!`] writes this once for both.
pub(super) trait Parts {
    fn render_part(&self, part: Part) -> askama::Result<String>;
    /// The list then replaces its element out of band (after an add).
    fn set_oob(&mut self);
}

/// Implements [`Parts`] for the Groups or Roles page `$page` (a template
/// with the blocks `form` and `list` and an `oob` flag).
macro_rules! named_parts {
    ($page:ty) => {
        impl super::Parts for $page {
            fn render_part(&self, part: super::Part) -> askama::Result<String> {
                match part {
                    super::Part::Page => self.render(),
                    super::Part::Form => self.as_form().render(),
                    super::Part::List => self.as_list().render(),
                }
            }

            fn set_oob(&mut self) {
                self.oob = true;
            }
        }
    };
}
pub(super) use named_parts;

/// The group or role a dialog of the shared flow is about.
pub(super) struct Subject<'a> {
    pub id: i64,
    pub name: &'a str,
    pub description: &'a str,
    /// The name cannot be changed (a default role).
    pub name_locked: bool,
    /// What the edit dialog carries.
    pub version: i32,
}

/// The Groups or Roles page: groups and roles share their list, add, edit
/// and delete flow (below), and each page says here what is its own. Its
/// route handlers ([`named_routes!`]) call [`index`], [`create`], [`edit`],
/// [`update`], [`confirm_delete`] and [`delete`]; the paths stay on the pages.
pub(super) trait NamedPage: Parts + Sized {
    /// Groups or roles; its resource is the one whose rights the flow needs.
    const KIND: Named;
    /// The page's path: "/admin/groups".
    const PATH: &'static str;
    /// The id of the page's list element.
    const LIST: &'static str;
    /// What the Delete dialog says: after the name when the deletion is
    /// refused, and what a deletion takes with it.
    const DELETE_WORDS: (&'static str, &'static str);
    type Row;

    /// The page with `form` as its add form.
    async fn page(user: &CurrentUser, state: &AppState, form: NameForm) -> Result<Self, WebError>;

    /// The flash after adding `name`.
    fn added(name: &str) -> String;

    /// What the dialogs show of `row`.
    fn subject(row: &Self::Row) -> Subject<'_>;

    /// The row `id` of `company`.
    async fn find(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<Self::Row>;

    /// Why `row` cannot be deleted now, if it cannot (the rule is in
    /// `domain::admin`).
    async fn deletion(conn: &mut AsyncPgConnection, row: &Self::Row) -> QueryResult<Option<Refusal>>;

    /// Deletes the row `id` through its change; its name.
    async fn delete(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<String, ChangeError>;
}

/// Writes the route handlers of the shared flow for the Groups or Roles page
/// `$page`: `GET $list` the page, `POST $list` add, `GET $edit` the edit
/// dialog, `POST $update` save, `GET $delete` the Delete dialog and `POST
/// $delete` delete. A macro because actix's route attributes take their path
/// as a literal; the page writes its paths where it invokes it.
macro_rules! named_routes {
    ($page:ty { list: $list:literal, edit: $edit:literal, update: $update:literal, delete: $delete:literal $(,)? }) => {
        super::named_route!($page, get $list, index());
        super::named_route!($page, post $list, create(form: actix_web::web::Form<super::NameInput> => &form));
        super::named_route!($page, get $edit, edit(id: actix_web::web::Path<i64> => id.into_inner()));
        super::named_route!($page, post $update, update(
            id: actix_web::web::Path<i64> => id.into_inner(),
            form: actix_web::web::Form<super::NameInput> => &form
        ));
        super::named_route!($page, get $delete, confirm_delete(id: actix_web::web::Path<i64> => id.into_inner()));
        super::named_route!($page, post $delete, delete(id: actix_web::web::Path<i64> => id.into_inner()));
    };
}
pub(super) use named_routes;

/// One handler of [`named_routes!`]: `$method $path` calls the flow's
/// function `$name` for `$page` with the request, the user, the state and
/// what the extractors `$arg` pass.
macro_rules! named_route {
    ($page:ty, $method:ident $path:literal, $name:ident($($arg:ident: $extractor:ty => $pass:expr),*)) => {
        #[actix_web::$method($path)]
        pub async fn $name(
            req: actix_web::HttpRequest,
            user: $crate::auth::CurrentUser,
            state: actix_web::web::Data<$crate::web::AppState>,
            $($arg: $extractor),*
        ) -> Result<actix_web::HttpResponse, $crate::web::error::WebError> {
            super::$name::<$page>(&req, &user, &state, $($pass),*).await
        }
    };
}
pub(super) use named_route;

/// The row `id` of the user's company; 404 for another company's id.
async fn target<P: NamedPage>(state: &AppState, user: &CurrentUser, id: i64) -> Result<P::Row, WebError> {
    let mut conn = state.pool.get().await?;
    Ok(P::find(&mut conn, user.account.company_id, id).await?)
}

/// The list for an htmx answer; nothing for a plain form (it redirects).
pub(super) async fn list_for<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
) -> Result<String, WebError> {
    if !is_htmx(req) {
        return Ok(String::new());
    }
    Ok(P::page(user, state, NameForm::default()).await?.render_part(Part::List)?)
}

/// `GET {page}`: the page, or its list alone when htmx asks for it.
pub(super) async fn index<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
) -> Result<HttpResponse, WebError> {
    user.require(P::KIND.resource(), Action::Access)?;
    let page = P::page(user, state, NameForm::default()).await?;
    page_or_list(req, P::LIST, || page.render_part(Part::Page), || page.render_part(Part::List))
}

/// `POST {page}`: adds a group or role from the page's form; the form
/// again with its messages, or the empty form, the list and a flash.
pub(super) async fn create<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    input: &NameInput,
) -> Result<HttpResponse, WebError> {
    let kind = P::KIND;
    user.require(kind.resource(), Action::Configure)?;
    let created = match input.parse(&format!("{} name", kind.what())) {
        Ok((name, description)) => {
            let mut conn = state.pool.get().await?;
            changes::admin::create(&mut conn, &user.actor(), kind, &name, &description).await.map(|_| name)
        }
        Err(e) => Err(e),
    };
    let name = match created {
        Ok(name) => name,
        Err(e) => {
            let (form, _) = NameForm::again(input, e)?;
            let page = P::page(user, state, form).await?;
            return form_again(req, || page.render_part(Part::Form), || page.render_part(Part::Page));
        }
    };
    added(req, P::PATH, &P::added(&name), async || {
        let mut page = P::page(user, state, NameForm::default()).await?;
        let form = page.render_part(Part::Form)?;
        page.set_oob();
        Ok((form + &page.render_part(Part::List)?, String::new()))
    })
    .await
}

/// The edit dialog of `row` with `form`.
fn edit_dialog<P: NamedPage>(req: &HttpRequest, user: &CurrentUser, this: &Subject, form: NameForm) -> EditDialog {
    EditDialog {
        frame: Frame::new(user, P::PATH),
        modal: is_htmx(req),
        title: format!("{}: Edit", this.name),
        action_url: format!("{}/{}", P::PATH, this.id),
        target: format!("#{}", P::LIST),
        back_url: P::PATH,
        name_locked: this.name_locked,
        form,
        csrf_token: user.csrf_token.clone(),
    }
}

/// `GET {page}/{id}/edit`: the edit dialog.
pub(super) async fn edit<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
) -> Result<HttpResponse, WebError> {
    user.require(P::KIND.resource(), Action::Configure)?;
    let row = target::<P>(state, user, id).await?;
    edit_dialog::<P>(req, user, &P::subject(&row), current_form::<P>(&row)).respond(req, StatusCode::OK)
}

/// The edit form holding what `row` holds now, at its version.
fn current_form<P: NamedPage>(row: &P::Row) -> NameForm {
    let this = P::subject(row);
    NameForm {
        name: this.name.to_owned(),
        description: this.description.to_owned(),
        version: this.version,
        ..NameForm::default()
    }
}

/// `POST {page}/{id}`: renames the group or role over the version the
/// dialog was read at; the list and a flash, the dialog again with its
/// messages, or (409) with what the row holds now when someone else saved
/// first.
pub(super) async fn update<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    input: &NameInput,
) -> Result<HttpResponse, WebError> {
    let kind = P::KIND;
    user.require(kind.resource(), Action::Configure)?;
    let row = target::<P>(state, user, id).await?;
    let version = sent_version(input.version)?;
    let what = kind.what();
    let id = P::subject(&row).id;
    let saved = match input.parse(&format!("{what} name")) {
        Ok((new_name, description)) => {
            let mut conn = state.pool.get().await?;
            let actor = user.actor();
            changes::admin::update(&mut conn, &actor, kind, id, version, &new_name, &description)
                .await
                .map(|()| new_name)
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(new_name) => {
            let list = list_for::<P>(req, user, state).await?;
            done(req, list, &format!("Saved {what} “{new_name}”"), P::PATH)
        }
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let current = target::<P>(state, user, id).await?;
            let form = NameForm { error: Some(changed_meanwhile(what)), ..current_form::<P>(&current) };
            edit_dialog::<P>(req, user, &P::subject(&current), form).respond(req, StatusCode::CONFLICT)
        }
        Err(e) => {
            let (form, status) = NameForm::again(input, e)?;
            edit_dialog::<P>(req, user, &P::subject(&row), form).respond(req, status)
        }
    }
}

/// The Delete dialog of `row`: the question, or why it cannot be deleted
/// (the `refusal`).
fn delete_dialog<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    row: &P::Row,
    refusal: Option<Refusal>,
) -> Confirm {
    let Subject { id, name, .. } = P::subject(row);
    let (cannot, detail) = P::DELETE_WORDS;
    let mut dialog = Confirm::new(req, user, P::PATH, format!("{name}: Delete"));
    dialog.action_url = format!("{}/{id}/delete", P::PATH);
    dialog.target = format!("#{}", P::LIST);
    dialog.submit = "Delete";
    dialog.danger = true;
    if let Some(refusal) = refusal {
        dialog.allowed = false;
        dialog.question = format!("{name} {cannot}");
        dialog.error = Some(refusal.message());
    } else {
        dialog.question = format!("Are you sure you want to delete {name}?");
        dialog.detail = Some(detail.to_owned());
    }
    dialog
}

/// `GET {page}/{id}/delete`: the Delete dialog.
pub(super) async fn confirm_delete<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
) -> Result<HttpResponse, WebError> {
    user.require(P::KIND.resource(), Action::Delete)?;
    let row = target::<P>(state, user, id).await?;
    let refusal = P::deletion(&mut *state.pool.get().await?, &row).await?;
    delete_dialog::<P>(req, user, &row, refusal).respond(req, StatusCode::OK)
}

/// `POST {page}/{id}/delete`: deletes; the list and a flash, or the dialog
/// again with the reason it was refused.
pub(super) async fn delete<P: NamedPage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
) -> Result<HttpResponse, WebError> {
    user.require(P::KIND.resource(), Action::Delete)?;
    let row = target::<P>(state, user, id).await?;
    let mut conn = state.pool.get().await?;
    let deleted = P::delete(&mut conn, &user.actor(), P::subject(&row).id).await;
    drop(conn);
    match deleted {
        Ok(name) => {
            let list = list_for::<P>(req, user, state).await?;
            done(req, list, &format!("Deleted {} “{name}”", P::KIND.what()), P::PATH)
        }
        Err(ChangeError::Refused(refusal)) => {
            let status = refusal_status(&refusal);
            delete_dialog::<P>(req, user, &row, Some(refusal)).respond(req, status)
        }
        Err(e) => Err(e.into()),
    }
}
