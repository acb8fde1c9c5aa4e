//! The launch dialog ("NAME: Launch"): its askama view, the tabs it shows
//! and the first form it opens with.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::LaunchImage;
use super::form::{Cost, Errors, LaunchForm, Tab, options};
use crate::auth::CurrentUser;
use crate::changes::launch::encryption;
use crate::domain::access::{Action, Resource};
use crate::domain::cloud_init::Encryption;
use crate::domain::images::Label;
use crate::domain::launch::Options;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::{html, is_htmx};

/// A key pair just made for this launch: its private key, offered once.
pub struct NewKey {
    pub name: String,
    pub download: String,
}

#[derive(Template)]
#[template(path = "launch/dialog.html", blocks = ["form", "cost", "keys"])]
pub(super) struct LaunchDialog {
    pub(super) frame: Frame,
    pub(super) image: LaunchImage,
    pub(super) form: LaunchForm,
    pub(super) options: Options,
    pub(super) errors: Errors,
    pub(super) tab: Tab,
    pub(super) cost: Cost,
    pub(super) new_key: Option<NewKey>,
    pub(super) csrf_token: String,
    /// The provider encrypts volumes itself (else LUKS).
    pub(super) provider_encryption: bool,
    /// The user may create a key pair here (`KEYPAIR Configure`): else the
    /// dialog does not offer one.
    pub(super) may_create_key: bool,
}

impl LaunchDialog {
    fn tabs(&self) -> Vec<TabView> {
        Tab::ALL.into_iter().map(|t| TabView { tab: t, current: t == self.tab, invalid: self.errors.on(&t) }).collect()
    }

    fn has_prev(&self) -> bool {
        self.tab.index() > 0
    }

    fn has_next(&self) -> bool {
        self.tab.index() + 1 < Tab::ALL.len()
    }

    fn firewall_checked(&self, id: &i64) -> bool {
        self.form.firewall_ids.iter().any(|f| *f == id.to_string())
    }

    fn labels(&self) -> &'static [Label] {
        &Label::ALL
    }
}

pub struct TabView {
    pub tab: Tab,
    pub current: bool,
    pub invalid: bool,
}

impl LaunchDialog {
    pub(super) async fn new(
        state: &AppState,
        user: &CurrentUser,
        image: LaunchImage,
        form: LaunchForm,
        errors: Errors,
        tab: Tab,
    ) -> Result<Self, WebError> {
        let options = options(state, user, &image).await?;
        Ok(Self::with_options(user, image, form, options, errors, tab))
    }

    /// The dialog for options already loaded.
    pub(super) fn with_options(
        user: &CurrentUser,
        image: LaunchImage,
        form: LaunchForm,
        options: Options,
        errors: Errors,
        tab: Tab,
    ) -> Self {
        let cost = Cost::of(&form, &options);
        Self {
            frame: Frame::new(user, "/images"),
            image,
            form,
            options,
            errors,
            tab,
            cost,
            new_key: None,
            csrf_token: user.csrf_token.clone(),
            provider_encryption: encryption(&user.account) == Encryption::Provider,
            may_create_key: user.rights.may(Resource::Keypair, Action::Configure),
        }
    }

    pub(super) fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        let body = if is_htmx(req) { self.as_form().render() } else { self.render() };
        html(status, body)
    }
}

/// A first form: sensible choices the user can change.
pub(super) fn defaults(image: &LaunchImage, options: &Options) -> LaunchForm {
    let name: String = image
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ' '))
        .take(90)
        .collect();
    let name = if name.trim().is_empty() { "server".to_owned() } else { name.trim().to_owned() };
    LaunchForm {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        name,
        count: "1".into(),
        budget_code_id: options.codes.first().map(|c| c.id.to_string()).unwrap_or_default(),
        product_id: options.products.iter().find(|p| p.unfit.is_none()).map(|p| p.id.clone()).unwrap_or_default(),
        firewall_ids: options
            .firewalls
            .iter()
            .filter(|(_, n, _)| n == "default")
            .map(|(id, _, _)| id.to_string())
            .collect(),
        key_choice: if image.windows() && !options.key_pairs.is_empty() { "existing".into() } else { "none".into() },
        key_pair: options.key_pairs.first().cloned().unwrap_or_default(),
        ..LaunchForm::default()
    }
}

impl LaunchDialog {
    /// The dialog element around the form, for the modal slot.
    pub(super) fn as_dialog_html(&self) -> askama::Result<String> {
        Ok(format!(
            r#"<dialog class="modal modal-wide" aria-labelledby="dialog-title">{}</dialog>"#,
            self.as_form().render()?
        ))
    }
}
