//! Rebuilds when a migration is added: `embed_migrations!` in `db` reads the
//! `migrations` directory at compile time, and cargo would not otherwise
//! notice a new one (diesel's documented build script).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
