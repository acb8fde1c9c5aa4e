//! The integration suite: one binary, so the app links once. Every test gets
//! its own database cloned from the migrated template, so they run in parallel
//! against a real PostgreSQL; browser tests drive a real headless Chromium.

mod accessibility;
mod admin_budget;
mod admin_roles;
mod admin_users;
mod api;
mod audit_log;
mod auth;
mod bad_input;
mod browser;
mod budget;
mod bulk;
mod cloud;
mod cloud_init;
mod empty_world;
mod firewalls;
mod harness;
mod image_actions;
mod image_use;
mod images;
mod jobs;
mod keypairs;
mod launch;
mod lineage;
mod markup;
mod onboarding;
mod outage;
mod races;
mod recycle_bin;
mod relabel;
mod rename;
mod servers;
mod site;
