//! Rendering the cloud-config document from what was parsed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::config_management::*;
use super::volumes::*;
use super::*;
use crate::domain::ValidationError;

/// The md array, the LUKS mapping and the key file are named after this.
const DATA_NAME: &str = "stratus-data";
pub(super) const MD_DEVICE: &str = "/dev/md/stratus-data";
pub(super) const LUKS_DEVICE: &str = "/dev/mapper/stratus-data";
pub(super) const LUKS_KEY_DIR: &str = "/etc/luks";
pub(super) const LUKS_KEY: &str = "/etc/luks/stratus-data.key";
pub(super) const FIND_VOLUMES: &str = "/usr/local/sbin/stratus-find-volumes";
const VOLUME_LINK: &str = "/run/stratus/volume-";
pub(super) const USER_SCRIPT: &str = "/var/lib/stratus/user-script";
pub(super) const ANSIBLE_VARS: &str = "/etc/stratus/ansible-vars.json";
const ANSIBLE_CHECKOUT: &str = "/var/lib/stratus/ansible";
const PUPPET_FACTS: &str = "/etc/facter/facts.d/stratus.json";
const CHEF_OMNIBUS_URL: &str = "https://omnitruck.chef.io/install.sh";

/// Waits for the group's disks and links them as `/run/stratus/volume-N`
/// (see the module docs for why by size and emptiness). Constant: the count
/// and size arrive as arguments.
pub(super) const FIND_VOLUMES_SCRIPT: &str = r#"#!/bin/sh
# Written by Stratus Console.
# Usage: stratus-find-volumes COUNT SIZE_GB
# Waits until COUNT empty disks of exactly SIZE_GB GiB are attached and links
# them as /run/stratus/volume-1 ... volume-COUNT. The volumes were asked for
# as /dev/sdf, /dev/sdg, ... but appear as /dev/xvdf on Xen and as NVMe disks
# in discovery order on Nitro, so they are found by what they are: whole disks
# of that size with no partition, holder, mount or signature of any kind.
set -eu
count=$1
bytes=$(($2 * 1073741824))

empty_disks() {
    lsblk -dbnpo NAME,TYPE,SIZE | while read -r dev type size; do
        [ "$type" = disk ] && [ "$size" = "$bytes" ] || continue
        [ "$(lsblk -npo NAME "$dev" | wc -l)" -eq 1 ] || continue
        [ -z "$(lsblk -no MOUNTPOINT "$dev")" ] || continue
        # blkid -p exits 2 only when it probed the disk and found nothing.
        found=0
        blkid -p "$dev" >/dev/null 2>&1 || found=$?
        [ "$found" -eq 2 ] || continue
        case $(cat "/sys/block/${dev#/dev/}/device/model" 2>/dev/null || true) in
            *"Instance Storage"*) continue ;;
        esac
        echo "$dev"
    done
}

waited=0
while [ "$(empty_disks | wc -l)" -lt "$count" ]; do
    if [ "$waited" -ge 300 ]; then
        echo "stratus-find-volumes: $(empty_disks | wc -l) of $count empty disks of $2 GiB after ${waited}s" >&2
        exit 1
    fi
    sleep 5
    waited=$((waited + 5))
done
mkdir -p /run/stratus
i=0
for dev in $(empty_disks | head -n "$count"); do
    i=$((i + 1))
    ln -sfn "$dev" "/run/stratus/volume-$i"
done
"#;

/// The cloud-config document; empty parts are left out.
#[derive(Debug, Default, Serialize)]
struct CloudConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) packages: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) write_files: Vec<WriteFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) chef: Option<ChefModule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) puppet: Option<PuppetModule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) runcmd: Vec<Command>,
}

impl CloudConfig {
    pub(super) fn package(&mut self, name: &'static str) {
        if !self.packages.contains(&name) {
            self.packages.push(name);
        }
    }

    pub(super) fn run<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) {
        self.runcmd.push(Command::Exec(args.into_iter().map(Into::into).collect()));
    }

    /// `sh -c SCRIPT sh ARGS...`: the script is constant, the values arrive
    /// as `$1`, `$2`, … and are never parsed as shell.
    fn run_shell(&mut self, script: &'static str, args: &[&str]) {
        self.run(["sh", "-c", script, "sh"].into_iter().chain(args.iter().copied()));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.packages.is_empty()
            && self.write_files.is_empty()
            && self.chef.is_none()
            && self.puppet.is_none()
            && self.runcmd.is_empty()
    }
}

#[derive(Debug, Serialize)]
struct WriteFile {
    pub(super) path: &'static str,
    pub(super) content: String,
    pub(super) permissions: &'static str,
}

/// A `runcmd` entry: constant shell text, or an argument list that
/// cloud-init quotes.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Command {
    Shell(&'static str),
    Exec(Vec<String>),
}

#[derive(Debug, Serialize)]
struct ChefModule {
    install_type: &'static str,
    omnibus_url: &'static str,
    chef_license: &'static str,
    pub(super) server_url: String,
    pub(super) validation_name: String,
    /// `system`: use the key the image carries, never one from user data.
    validation_cert: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) environment: Option<String>,
    pub(super) run_list: Vec<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(super) initial_attributes: Map<String, Value>,
    pub(super) exec: bool,
}

#[derive(Debug, Serialize)]
struct PuppetModule {
    pub(super) install: bool,
    pub(super) start_service: bool,
    pub(super) exec: bool,
    pub(super) conf: PuppetConf,
}

#[derive(Debug, Serialize)]
struct PuppetConf {
    pub(super) agent: BTreeMap<&'static str, String>,
}

/// The cloud-init user data for a launch: `None` when there is nothing to
/// do, else a `#cloud-config` document of at most 16 KB. `encryption` says
/// who encrypts a volume group that asks for it. A document over 16 KB is an
/// error at `script` (or `config_parameters` for the other types).
pub fn user_data(
    volumes: Option<&VolumeGroup>,
    encryption: Encryption,
    config: &ConfigManagement,
) -> Result<Option<String>, ValidationError> {
    let mut doc = CloudConfig::default();
    if let Some(group) = volumes {
        add_volume_group(&mut doc, group, encryption);
    }
    add_config_management(&mut doc, config);
    if doc.is_empty() {
        return Ok(None);
    }
    // Stop at the first failing step: see the module docs.
    doc.runcmd.insert(0, Command::Shell("set -e"));
    let json = serde_json::to_string_pretty(&doc).expect("a cloud-config document has only string keys");
    let text = format!("#cloud-config\n{}\n", yaml_safe(&json));
    if text.len() > MAX_USER_DATA_BYTES {
        let field = match config {
            ConfigManagement::Script(_) => "script",
            _ => "config_parameters",
        };
        return Err(ValidationError::new(
            field,
            format!("The user data is {} KB; at most 16 KB is allowed.", text.len().div_ceil(1024)),
        ));
    }
    Ok(Some(text))
}

fn add_volume_group(doc: &mut CloudConfig, group: &VolumeGroup, encryption: Encryption) {
    let links: Vec<String> = (1..=group.count).map(|i| format!("{VOLUME_LINK}{i}")).collect();
    doc.write_files.push(WriteFile { path: FIND_VOLUMES, content: FIND_VOLUMES_SCRIPT.into(), permissions: "0755" });
    doc.run([FIND_VOLUMES.to_owned(), group.count.to_string(), group.size_gb.to_string()]);

    let mut device = links[0].as_str();
    if let Some(level) = group.raid.md_level() {
        doc.package("mdadm");
        // `--run` answers mdadm's questions (e.g. RAID 1 metadata) with yes.
        let mut create: Vec<String> =
            ["mdadm", "--create", MD_DEVICE, "--run", "--metadata=1.2"].into_iter().map(String::from).collect();
        create.push(format!("--name={DATA_NAME}"));
        create.push(format!("--level={level}"));
        create.push(format!("--raid-devices={}", group.count));
        create.extend(links.iter().cloned());
        doc.run(create);
        doc.run_shell(
            r#"conf=/etc/mdadm/mdadm.conf; [ -d /etc/mdadm ] || conf=/etc/mdadm.conf; mdadm --detail --scan >> "$conf""#,
            &[],
        );
        device = MD_DEVICE;
    }

    if group.uses_luks(encryption) {
        doc.package("cryptsetup");
        doc.run(["install", "-d", "-m", "0700", LUKS_KEY_DIR]);
        doc.run_shell(r#"umask 077 && head -c 64 /dev/urandom > "$1" && chmod 0400 "$1""#, &[LUKS_KEY]);
        doc.run(["cryptsetup", "luksFormat", "--batch-mode", "--key-file", LUKS_KEY, device]);
        doc.run(["cryptsetup", "open", "--key-file", LUKS_KEY, device, DATA_NAME]);
        doc.run_shell(
            r#"uuid=$(cryptsetup luksUUID "$2") && echo "$1 UUID=$uuid $3 luks,nofail" >> /etc/crypttab"#,
            &[DATA_NAME, device, LUKS_KEY],
        );
        device = LUKS_DEVICE;
    }

    let fs = group.file_system;
    doc.package(fs.package());
    doc.run(fs.mkfs().into_iter().chain([device.to_owned()]));
    let mount_point = group.mount_point.as_str();
    doc.run(["mkdir", "-p", mount_point]);
    doc.run_shell(
        r#"uuid=$(blkid -c /dev/null -s UUID -o value "$1") && [ -n "$uuid" ] && echo "UUID=$uuid $2 $3 defaults,nofail 0 $4" >> /etc/fstab"#,
        &[device, mount_point, fs.as_str(), fs.fsck_pass()],
    );
    doc.run(["mount", mount_point]);
}

fn add_config_management(doc: &mut CloudConfig, config: &ConfigManagement) {
    match config {
        ConfigManagement::None => {}
        ConfigManagement::Script(script) => {
            doc.write_files.push(WriteFile { path: USER_SCRIPT, content: script.0.clone(), permissions: "0700" });
            if script.has_shebang() {
                doc.run([USER_SCRIPT]);
            } else {
                doc.run(["/bin/sh", USER_SCRIPT]);
            }
        }
        ConfigManagement::Chef(chef) => {
            doc.chef = Some(ChefModule {
                install_type: "omnibus",
                omnibus_url: CHEF_OMNIBUS_URL,
                chef_license: "accept",
                server_url: chef.server_url.clone(),
                validation_name: chef.validation_client_name.clone(),
                validation_cert: "system",
                environment: chef.environment.clone(),
                run_list: chef.run_list.clone(),
                initial_attributes: chef.attributes.clone(),
                exec: false,
            });
            // client.rb names the first-boot JSON, so this applies the run list.
            doc.run(["chef-client"]);
        }
        ConfigManagement::Puppet(puppet) => {
            let mut agent = BTreeMap::from([("server", puppet.server.clone())]);
            if let Some(environment) = &puppet.environment {
                agent.insert("environment", environment.clone());
            }
            doc.puppet =
                Some(PuppetModule { install: true, start_service: false, exec: false, conf: PuppetConf { agent } });
            if !puppet.classes.is_empty() || !puppet.parameters.is_empty() {
                let facts = serde_json::json!({
                    "stratus_classes": puppet.classes,
                    "stratus_parameters": object(&puppet.parameters),
                });
                doc.write_files.push(WriteFile {
                    path: PUPPET_FACTS,
                    content: format!("{facts:#}\n"),
                    permissions: "0600",
                });
            }
            doc.run(["puppet", "agent", "--onetime", "--no-daemonize", "--verbose", "--waitforcert", "60"]);
            doc.run(["puppet", "resource", "service", "puppet", "ensure=running", "enable=true"]);
        }
        ConfigManagement::Ansible(ansible) => {
            doc.package("ansible");
            doc.package("git");
            let mut pull = vec![
                "ansible-pull".to_owned(),
                format!("--url={}", ansible.repository),
                format!("--directory={ANSIBLE_CHECKOUT}"),
                "--inventory=localhost,".to_owned(),
            ];
            if ansible.uses_ssh() {
                pull.push("--accept-host-key".to_owned());
            }
            if !ansible.parameters.is_empty() {
                let vars = Value::Object(object(&ansible.parameters));
                doc.write_files.push(WriteFile {
                    path: ANSIBLE_VARS,
                    content: format!("{vars:#}\n"),
                    permissions: "0600",
                });
                pull.push(format!("--extra-vars=@{ANSIBLE_VARS}"));
            }
            pull.push(ansible.playbook.clone());
            doc.run(pull);
        }
    }
}

fn object(parameters: &[(String, String)]) -> Map<String, Value> {
    parameters.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect()
}

/// JSON that PyYAML reads as the same data: the characters YAML 1.1 does not
/// allow raw (DEL, the C1 controls, U+FFFE, U+FFFF), or reads as line breaks
/// (NEL, U+2028, U+2029), or may take for a byte order mark (U+FEFF), become
/// `\uXXXX` escapes. serde_json leaves them raw, and they can only occur
/// inside strings, where the escape means the same character in both
/// languages.
pub(super) fn yaml_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}
