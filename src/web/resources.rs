//! What the Key Pairs and Firewalls pages share: their Delete dialog.

use actix_web::HttpRequest;

use super::dialog::Confirm;
use crate::auth::CurrentUser;
use crate::domain::refusal::Refusal;
use crate::domain::resource::Deletion;

/// The Delete dialog: the question, or the reason `decision` gives for
/// refusing. `what` is "key pair" or "firewall"; `list` the selector of the
/// page's list, which the answer replaces.
pub fn delete_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    (page, list, what): (&'static str, &str, &'static str),
    (id, name): (i64, &str),
    decision: Deletion,
    detail: String,
) -> Confirm {
    let mut dialog = Confirm::new(req, user, page, format!("{name}: Delete"));
    dialog.action_url = format!("{page}/{id}/delete");
    dialog.target = list.to_owned();
    dialog.submit = "Delete";
    dialog.danger = true;
    dialog.allowed = decision.allowed();
    if dialog.allowed {
        dialog.question = format!("Are you sure you want to delete {name}?");
        dialog.detail = Some(detail);
    } else {
        dialog.question = format!("{name} cannot be deleted now.");
        dialog.error = Some(Refusal::Undeletable { what, why: decision }.message());
    }
    dialog
}
