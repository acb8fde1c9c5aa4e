//! Static assets, embedded in the binary and served under fingerprinted URLs
//! (`/static/{hash}/{file}`) that browsers may cache for a year.
//!
//! htmx comes from the npm package pinned in `package-lock.json` (installed
//! by `make`, never committed); our own CSS and JS live in `static/`.

use std::borrow::Cow;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Own;

#[derive(RustEmbed)]
#[folder = "node_modules/htmx.org/dist/"]
#[include = "htmx.min.js"]
struct Htmx;

fn file(name: &str) -> Option<rust_embed::EmbeddedFile> {
    Own::get(name).or_else(|| Htmx::get(name))
}

/// The fingerprinted URLs of the assets pages link to.
pub struct Urls {
    pub css: String,
    pub app_js: String,
    pub htmx_js: String,
    pub icon: String,
    /// The flag, tag and icon labels' symbols (`Label::symbol` names one).
    pub labels: String,
}

fn fingerprinted(name: &str) -> String {
    let embedded = file(name).unwrap_or_else(|| panic!("asset {name} is embedded at build time"));
    let hash = hex::encode(&embedded.metadata.sha256_hash()[..8]);
    format!("/static/{hash}/{name}")
}

pub static URLS: LazyLock<Urls> = LazyLock::new(|| Urls {
    css: fingerprinted("app.css"),
    app_js: fingerprinted("app.js"),
    htmx_js: fingerprinted("htmx.min.js"),
    icon: fingerprinted("icon.svg"),
    labels: fingerprinted("labels.svg"),
});

#[get("/static/{hash}/{name}")]
pub async fn serve(path: web::Path<(String, String)>) -> HttpResponse {
    let (hash, name) = path.into_inner();
    let Some(embedded) = file(&name) else {
        return HttpResponse::NotFound().finish();
    };
    // An old fingerprint still gets the current file, but must not be cached
    // for long: it names content that no longer exists.
    let current = hex::encode(&embedded.metadata.sha256_hash()[..8]) == hash;
    let cache = if current { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    let body: Cow<'static, [u8]> = embedded.data;
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime.essence_str().to_owned()))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body.into_owned())
}
