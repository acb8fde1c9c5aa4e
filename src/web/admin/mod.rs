//! Administration pages: users, groups and roles with their access rights,
//! and budget codes. Each page is a module of its own; the changes they
//! make are in `changes::admin`, the rules they share (no escalation, last
//! administrator) in `domain::admin`. What the pages share is here: the
//! checkboxes of a form, the name-and-description form and edit dialog of
//! groups and roles, and where a change's error shows.

pub mod budget_codes;
pub mod groups;
pub mod roles;
pub mod users;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError, admin::Named};
use crate::domain::ValidationError;
use crate::domain::admin::{description, name};
use crate::domain::refusal::Refusal;
use crate::web::dialog::{self, Confirm, done};
use crate::web::error::{WebError, refusal_status};
use crate::web::layout::Frame;
use crate::web::respond::{added, form_again};
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
/// (an id that does not exist) is a 400; an escalation, and everything else
/// that no form shows, is an error page.
pub(super) fn shown(e: ChangeError, fields: &[&str]) -> Result<Shown, WebError> {
    if let Some(errors) = e.field_errors() {
        if let Some(forged) = errors.iter().find(|e| !fields.contains(&e.field)) {
            return Err(WebError::BadRequest(forged.message.clone()));
        }
        return Ok(Shown::Fields(errors));
    }
    match e {
        ChangeError::Refused(refusal) if !matches!(refusal, Refusal::Escalation { .. }) => {
            Ok(Shown::Refused(refusal.message(), refusal_status(&refusal)))
        }
        other => Err(other.into()),
    }
}

/// A name-and-description form (groups and roles) as typed, with its
/// messages.
#[derive(Default)]
pub struct NameForm {
    pub name: String,
    pub description: String,
    pub name_error: Option<String>,
    pub description_error: Option<String>,
    pub error: Option<String>,
}

impl NameForm {
    /// The form as typed with `e` where it shows; the status to answer.
    pub(super) fn again(input: &NameInput, e: ChangeError) -> Result<(Self, StatusCode), WebError> {
        let mut form = Self { name: input.name.clone(), description: input.description.clone(), ..Self::default() };
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
    pub target: &'static str,
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

/// What the Groups or Roles page renders for the flow they share.
pub(super) enum Part {
    /// The whole page with this form.
    Page,
    /// The form alone.
    Form,
    /// After an add: the empty form and the list out of band.
    Added,
}

/// Writes `part` for the Groups or Roles page `$page` (a template with the
/// blocks `form` and `list` and an `oob` flag). askama makes the block
/// methods per type, so a macro writes this once for both.
macro_rules! named_parts {
    ($page:ty) => {
        impl $page {
            fn part(mut self, part: super::Part) -> askama::Result<String> {
                match part {
                    super::Part::Page => self.render(),
                    super::Part::Form => self.as_form().render(),
                    super::Part::Added => {
                        let form = self.as_form().render()?;
                        self.oob = true;
                        Ok(form + &self.as_list().render()?)
                    }
                }
            }
        }
    };
}
pub(super) use named_parts;

/// The page of groups or of roles: the create and edit flow they share.
pub(super) struct NamedPage {
    pub kind: Named,
    pub path: &'static str,
    /// The id of the list's element.
    pub list: &'static str,
}

impl NamedPage {
    /// The edit dialog of the group or role `(id, name)`.
    pub(super) fn edit_dialog(
        &self,
        req: &HttpRequest,
        user: &CurrentUser,
        (id, name): (i64, &str),
        name_locked: bool,
        form: NameForm,
    ) -> EditDialog {
        EditDialog {
            frame: Frame::new(user, self.path),
            modal: is_htmx(req),
            title: format!("{name}: Edit"),
            action_url: format!("{}/{id}", self.path),
            target: self.list,
            back_url: self.path,
            name_locked,
            form,
            csrf_token: user.csrf_token.clone(),
        }
    }

    /// Adds a group or role from the page's form; `message` says what was
    /// added (by name), `render` draws the page's parts.
    pub(super) async fn create<R>(
        &self,
        req: &HttpRequest,
        user: &CurrentUser,
        state: &AppState,
        input: &NameInput,
        message: impl FnOnce(&str) -> String,
        render: R,
    ) -> Result<HttpResponse, WebError>
    where
        R: AsyncFn(NameForm, Part) -> Result<String, WebError>,
    {
        let created = match input.parse(&format!("{} name", self.kind.what())) {
            Ok((name, description)) => {
                let mut conn = state.pool.get().await?;
                changes::admin::create(&mut conn, &user.actor(), self.kind, &name, &description).await.map(|_| name)
            }
            Err(e) => Err(e),
        };
        let name = match created {
            Ok(name) => name,
            Err(e) => {
                let (form, _) = NameForm::again(input, e)?;
                let (form, page) = if is_htmx(req) {
                    (render(form, Part::Form).await?, String::new())
                } else {
                    (String::new(), render(form, Part::Page).await?)
                };
                return form_again(req, || Ok(form), || Ok(page));
            }
        };
        added(req, self.path, &message(&name), async || {
            Ok((render(NameForm::default(), Part::Added).await?, String::new()))
        })
        .await
    }

    /// Renames the group or role `(id, name)`; `list` draws the list for
    /// htmx.
    pub(super) async fn update(
        &self,
        req: &HttpRequest,
        user: &CurrentUser,
        state: &AppState,
        (id, name, name_locked): (i64, &str, bool),
        input: &NameInput,
        list: impl AsyncFnOnce() -> Result<String, WebError>,
    ) -> Result<HttpResponse, WebError> {
        let what = self.kind.what();
        let saved = match input.parse(&format!("{what} name")) {
            Ok((new_name, description)) => {
                let mut conn = state.pool.get().await?;
                let actor = user.actor();
                changes::admin::update(&mut conn, &actor, self.kind, id, &new_name, &description)
                    .await
                    .map(|()| new_name)
            }
            Err(e) => Err(e),
        };
        match saved {
            Ok(new_name) => {
                let list = if is_htmx(req) { list().await? } else { String::new() };
                done(req, list, &format!("Saved {what} “{new_name}”"), self.path)
            }
            Err(e) => {
                let (form, status) = NameForm::again(input, e)?;
                self.edit_dialog(req, user, (id, name), name_locked, form).respond(req, status)
            }
        }
    }

    /// The Delete dialog of the group or role `(id, name)`: the question
    /// with `detail`, or why it `cannot` be deleted (the `refusal`).
    pub(super) fn delete_dialog(
        &self,
        req: &HttpRequest,
        user: &CurrentUser,
        (id, name): (i64, &str),
        refusal: Option<Refusal>,
        (cannot, detail): (&str, &str),
    ) -> Confirm {
        let mut dialog = Confirm::new(req, user, self.path, format!("{name}: Delete"));
        dialog.action_url = format!("{}/{id}/delete", self.path);
        dialog.target = self.list.into();
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

    /// The answer to a Delete: the list and a flash, or the dialog again
    /// with the reason it was refused.
    pub(super) async fn deleted(
        &self,
        req: &HttpRequest,
        result: Result<String, ChangeError>,
        dialog: impl FnOnce(Refusal) -> Confirm,
        list: impl AsyncFnOnce() -> Result<String, WebError>,
    ) -> Result<HttpResponse, WebError> {
        match result {
            Ok(name) => {
                let list = if is_htmx(req) { list().await? } else { String::new() };
                done(req, list, &format!("Deleted {} “{name}”", self.kind.what()), self.path)
            }
            Err(ChangeError::Refused(refusal)) => {
                let status = refusal_status(&refusal);
                dialog(refusal).respond(req, status)
            }
            Err(e) => Err(e.into()),
        }
    }
}
