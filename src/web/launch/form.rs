//! The launch form: its fields as typed, its four tabs, the messages at
//! their fields, the choices it offers (`options`) and the cost panel.

use bigdecimal::BigDecimal;
use serde::Deserialize;

use super::LaunchImage;
use crate::auth::CurrentUser;
use crate::domain::ValidationError;
use crate::domain::budget::BudgetFigures;
use crate::domain::cloud_init::{ConfigForm, VolumeForm};
use crate::domain::launch::{Count, KEY_PAIR_FIELDS, LaunchInput, Options};
use crate::state::AppState;
use crate::web::error::WebError;

/// The form as typed; every field is parsed before use. It travels whole
/// with every step.
#[derive(Debug, Default, Deserialize)]
pub struct LaunchForm {
    /// `next`, `prev`, `launch`, or `tab:SLUG`.
    #[serde(default)]
    pub(super) step: String,
    /// The tab the form was on.
    #[serde(default)]
    pub(super) tab: String,
    #[serde(default)]
    pub(super) idempotency_key: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) label: String,
    #[serde(default)]
    pub(super) budget_code_id: String,
    #[serde(default)]
    pub(super) group_id: String,
    #[serde(default)]
    pub(super) zone: String,
    #[serde(default)]
    pub(super) product_id: String,
    #[serde(default)]
    pub(super) firewall_ids: Vec<String>,
    #[serde(default)]
    pub(super) count: String,
    /// `none`, `existing` or `new`.
    #[serde(default)]
    pub(super) key_choice: String,
    #[serde(default)]
    pub(super) key_pair: String,
    #[serde(default)]
    pub(super) new_key_name: String,
    #[serde(flatten)]
    pub(super) volumes: VolumeForm,
    #[serde(flatten)]
    pub(super) config: ConfigForm,
}

impl LaunchForm {
    /// The fields the launch's checks read.
    pub(super) fn input(&self) -> LaunchInput<'_> {
        LaunchInput {
            name: &self.name,
            count: &self.count,
            description: &self.description,
            label: &self.label,
            budget_code_id: &self.budget_code_id,
            group_id: &self.group_id,
            zone: &self.zone,
            product_id: &self.product_id,
            firewall_ids: &self.firewall_ids,
            key_choice: &self.key_choice,
            key_pair: &self.key_pair,
            volumes: &self.volumes,
            config: &self.config,
        }
    }
}

/// The four tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    General,
    KeyPair,
    Volumes,
    Config,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::General, Tab::KeyPair, Tab::Volumes, Tab::Config];

    pub fn slug(self) -> &'static str {
        match self {
            Tab::General => "general",
            Tab::KeyPair => "key-pair",
            Tab::Volumes => "volumes",
            Tab::Config => "config",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Tab::General => "General",
            Tab::KeyPair => "Key Pair",
            Tab::Volumes => "Volume Configuration",
            Tab::Config => "Configuration Management",
        }
    }

    pub(super) fn from_slug(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }

    pub(super) fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab a field is on.
    fn of_field(field: &str) -> Tab {
        match field {
            f if KEY_PAIR_FIELDS.contains(&f) => Tab::KeyPair,
            "volumes" | "volume_count" | "volume_size_gb" | "raid_level" | "file_system" | "mount_point"
            | "encrypt" => Tab::Volumes,
            "config_type"
            | "script"
            | "config_server"
            | "validation_client_name"
            | "config_repository"
            | "run_list"
            | "puppet_classes"
            | "playbook"
            | "config_environment"
            | "config_parameters" => Tab::Config,
            _ => Tab::General,
        }
    }
}

/// Messages at their fields.
#[derive(Debug, Default)]
pub struct Errors(pub(super) Vec<ValidationError>);

impl Errors {
    pub fn at(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    pub fn on(&self, tab: &Tab) -> bool {
        self.0.iter().any(|e| Tab::of_field(e.field) == *tab)
    }

    pub(super) fn first_tab(&self) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| self.on(t))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn only(&self, tab: Tab) -> Errors {
        Errors(self.0.iter().filter(|e| Tab::of_field(e.field) == tab).cloned().collect())
    }
}

pub(super) async fn options(state: &AppState, user: &CurrentUser, image: &LaunchImage) -> Result<Options, WebError> {
    let mut conn = state.pool.get().await?;
    Ok(crate::changes::launch::options(&mut conn, &user.actor(), &image.architecture, image.windows()).await?)
}

/// What the cost panel shows: the launch's hourly cost and the chosen
/// code's state once it runs.
pub struct Cost {
    pub hourly: Option<BigDecimal>,
    pub code: Option<String>,
    pub after: Option<BudgetFigures>,
}

impl Cost {
    pub(super) fn of(form: &LaunchForm, options: &Options) -> Self {
        let count = Count::parse(&form.count).map_or(1, Count::get);
        let hourly =
            options.products.iter().find(|p| p.id == form.product_id).map(|p| &p.rate * BigDecimal::from(count));
        let code = options.codes.iter().find(|c| c.id.to_string() == form.budget_code_id);
        let after = code.zip(hourly.as_ref()).map(|(c, rate)| c.figures.after_launch(rate));
        Self { hourly, code: code.map(|c| c.name.clone()), after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A problem is flagged on the tab that shows its message: each one
    /// the configuration's fields can have, whatever tool is chosen.
    #[test]
    fn every_problem_of_the_configuration_is_on_its_tab() {
        let junk = || "not a valid value! ;".to_owned();
        for config_type in ["script", "chef", "puppet", "ansible", "cfengine"] {
            let form = ConfigForm {
                config_type: config_type.into(),
                script: String::new(),
                config_server: junk(),
                validation_client_name: junk(),
                config_repository: junk(),
                run_list: junk(),
                puppet_classes: junk(),
                playbook: junk(),
                config_environment: junk(),
                config_parameters: junk(),
            };
            let errors = form.parse().expect_err(config_type);
            for e in &errors {
                assert_eq!(Tab::of_field(e.field), Tab::Config, "{config_type}: {}", e.field);
            }
        }
    }
}
