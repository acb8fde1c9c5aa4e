//! The signed-in user in the current account, as an extractor: a handler
//! that takes a `CurrentUser` cannot run for an anonymous request.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web::Data};

use super::AuthError;
use super::csrf;
use super::session_store::{self, USER_ID};
use crate::changes::Actor;
use crate::db::{self, accounts::Account, accounts::ProviderState, users::User};
use crate::domain::access::{Action, Forbidden, Ownership, Resource, Rights};
use crate::state::AppState;

/// The session key of the current account's id.
pub const ACCOUNT_ID: &str = "account_id";

pub struct CurrentUser {
    pub user: User,
    /// The account whose data every page shows.
    pub account: Account,
    /// Every account the user may switch to, the current one included.
    pub accounts: Vec<Account>,
    /// The user's rights in the current account.
    pub rights: Rights,
    /// The current account's provider state, read in this request.
    pub provider: ProviderState,
    pub csrf_token: String,
    /// A message left by the previous request (after a POST-redirect-GET),
    /// taken when a full page is requested.
    pub flash: Option<String>,
    /// Everything the user may do, in every account: what
    /// [`CurrentUser::allows_in`] asks of the others.
    context: Arc<db::access::AuthContext>,
}

/// The session key of a message for the next page.
const FLASH: &str = "flash";

/// Leaves a message for the next full page (a POST that redirects).
pub fn flash_next(req: &HttpRequest, message: &str) -> Result<(), AuthError> {
    Ok(req.get_session().insert(FLASH, message)?)
}

impl CurrentUser {
    /// The one way a page or a change asks for a right: forbidden unless the
    /// user's role in the current account allows `action` on `resource`
    /// (`Rights::require`).
    pub fn require(&self, resource: Resource, action: Action) -> Result<(), Forbidden> {
        self.rights.require(resource, action)
    }

    /// The user acting in the current account, as the change functions take
    /// them.
    pub fn actor(&self) -> Actor<'_> {
        Actor { user: &self.user, account: &self.account, accounts: &self.accounts, rights: &self.rights }
    }

    /// Whether the user's role in account `account_id` allows `action` on
    /// this resource there: the one access decision ([`Rights::allows`]),
    /// asked in the current account or another the user can work in. Never
    /// in an account they cannot work in.
    pub fn allows_in(&self, account_id: i64, resource: Resource, action: Action, target: &Ownership) -> bool {
        if account_id == self.account.id {
            return self.rights.allows(resource, action, target);
        }
        self.account_name(account_id).is_some() && self.context.rights_in(account_id).allows(resource, action, target)
    }

    /// The name of account `id`, if the user can work in it; else `None`
    /// (never reveal other accounts).
    pub fn account_name(&self, id: i64) -> Option<&str> {
        self.accounts.iter().find(|a| a.id == id).map(|a| a.name.as_str())
    }

    /// The name of the user's account with this provider account number, if
    /// the user is a member of it; else `None` (never reveal other accounts).
    pub fn account_name_for_number(&self, number: &str) -> Option<&str> {
        self.accounts
            .iter()
            .find(|a| a.provider_account_number == number && a.provider == self.account.provider)
            .map(|a| a.name.as_str())
    }
}

/// A signed-in user who may have no account yet: what the pages that work
/// for the company as a whole (Cloud Accounts) take. Without an account the
/// rights are those the user's groups receive in a new account.
pub struct SignedIn {
    pub user: User,
    /// The current account, if the user has one.
    pub account: Option<Account>,
    pub accounts: Vec<Account>,
    pub rights: Rights,
    /// The current account's provider state (the default without one).
    pub provider: ProviderState,
    pub csrf_token: String,
    pub flash: Option<String>,
    context: Arc<db::access::AuthContext>,
}

impl SignedIn {
    pub fn require(&self, resource: Resource, action: Action) -> Result<(), Forbidden> {
        self.rights.require(resource, action)
    }
}

impl FromRequest for CurrentUser {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let SignedIn { user, account, accounts, rights, provider, csrf_token, flash, context } = load(&req).await?;
            let Some(account) = account else {
                // Someone who may connect an account is led to do so.
                return Err(if rights.may(Resource::Account, Action::Configure) {
                    AuthError::NoAccountYet
                } else {
                    AuthError::NoAccount
                });
            };
            Ok(CurrentUser { user, account, accounts, rights, provider, csrf_token, flash, context })
        })
    }
}

impl FromRequest for SignedIn {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load(&req).await })
    }
}

/// Each signed-in user's authorization context, kept by the process with
/// the access version of their company it was read at. The session lookup
/// reads the version now (`session_store::access_version`): while it is the
/// same, nothing that decides the user's rights has changed, and the page
/// view needs no second round trip; after any change, the next request
/// reads the context afresh.
#[derive(Default)]
pub struct AccessCache {
    contexts: Mutex<HashMap<i64, (i64, Arc<db::access::AuthContext>)>>,
}

impl AccessCache {
    /// More users than this in one process: start again (each costs one
    /// read on their next request).
    const MAX_USERS: usize = 10_000;

    fn get(&self, user_id: i64, version: i64) -> Option<Arc<db::access::AuthContext>> {
        let contexts = self.contexts.lock().unwrap_or_else(PoisonError::into_inner);
        contexts.get(&user_id).filter(|(kept, _)| *kept == version).map(|(_, context)| context.clone())
    }

    /// Keeps `context`, read after the session lookup that returned
    /// `version`: it is at least as new as the version says.
    fn keep(&self, user_id: i64, version: i64, context: Arc<db::access::AuthContext>) {
        let mut contexts = self.contexts.lock().unwrap_or_else(PoisonError::into_inner);
        if contexts.len() >= Self::MAX_USERS && !contexts.contains_key(&user_id) {
            contexts.clear();
        }
        contexts.insert(user_id, (version, context));
    }
}

/// The user's authorization context: the one kept at `version`, the
/// access version of their company read in this request (by the session or
/// token lookup), or read now. `None` when the user no longer exists or is
/// not active.
pub async fn context_of<E>(
    state: &AppState,
    user_id: i64,
    version: Option<i64>,
) -> Result<Option<Arc<db::access::AuthContext>>, E>
where
    E: From<diesel::result::Error> + From<db::PoolError>,
{
    if let Some(context) = version.and_then(|version| state.access.get(user_id, version)) {
        return Ok(Some(context));
    }
    // Once more on a fresh connection if the pooled one broke (PostgreSQL
    // restarted).
    let read = db::outage::read::<_, E>(&state.pool, async |conn| db::access::auth_context(conn, user_id).await);
    let Some(context) = read.await?.filter(|context| context.user.is_active()) else {
        return Ok(None);
    };
    let context = Arc::new(context);
    if let Some(version) = version {
        state.access.keep(user_id, version, context.clone());
    }
    Ok(Some(context))
}

async fn load(req: &HttpRequest) -> Result<SignedIn, AuthError> {
    let session = req.get_session();
    let had_cookie = req.cookie(super::SESSION_COOKIE).is_some();
    let signed_out = AuthError::SignedOut { session_ended: had_cookie };
    let Some(user_id) = session.get::<i64>(USER_ID)? else {
        return Err(signed_out);
    };
    let state = req.app_data::<Data<AppState>>().expect("AppState is registered in Application::build");
    let Some(context) = context_of::<AuthError>(state, user_id, session_store::access_version()).await? else {
        session.purge();
        return Err(signed_out);
    };
    // The session's account while it opens the console to them, else the
    // first that does: an account where their role gives no console access
    // never locks them out of the others.
    let wanted = session.get::<i64>(ACCOUNT_ID).ok().flatten();
    let accounts = context.workable_accounts();
    let account = accounts.iter().find(|a| Some(a.id) == wanted).or_else(|| accounts.first()).cloned();
    let rights = match (&account, context.accounts.first()) {
        (Some(account), _) => context.rights_in(account.id),
        (None, Some(member_of)) => {
            let account =
                if context.accounts.len() == 1 { member_of.name.clone() } else { "any of your accounts".to_owned() };
            return Err(AuthError::NoConsoleAccess { account });
        }
        (None, None) => context.rights_in_new_account(),
    };
    if !rights.allows_some(Resource::Console, Action::Access) {
        return Err(AuthError::NoAccount);
    }
    // Read with the session, unless the session named another account (the
    // first request after the one it named stopped being the user's).
    let provider = match &account {
        None => ProviderState::default(),
        Some(account) => match session_store::provider_state(account.id) {
            Some(provider) => provider,
            None => {
                db::outage::read::<_, AuthError>(&state.pool, async |conn| {
                    db::accounts::provider_state(conn, account.id).await
                })
                .await?
            }
        },
    };
    let user = context.user.clone();
    let csrf_token = csrf::token(&session)?;
    let full_page = req.method() == actix_web::http::Method::GET && !crate::htmx::is_htmx(req);
    // Only a session that holds a flash is changed (and so written back):
    // `remove` marks the session changed even when the key is absent.
    let flash = if full_page && session.contains_key(FLASH) {
        session.remove_as::<String>(FLASH).and_then(Result::ok)
    } else {
        None
    };
    Ok(SignedIn { user, account, accounts, rights, provider, csrf_token, flash, context })
}

/// Starts a signed-in session: a new session id (no fixation), the user and
/// their first account.
pub fn sign_in(session: &Session, user_id: i64, account_id: Option<i64>) -> Result<(), AuthError> {
    session.renew();
    session.insert(USER_ID, user_id)?;
    if let Some(account_id) = account_id {
        session.insert(ACCOUNT_ID, account_id)?;
    }
    // A fresh token for the signed-in session.
    session.remove(csrf::SESSION_KEY);
    Ok(())
}
