//! The launch dialog's user data against the real cloud-init (PRODUCT 3.4).
//!
//! Every combination of volume group (none, or each RAID level with a count it
//! allows), encrypt on and off, who encrypts (provider or LUKS) and
//! configuration management (none, script, Chef, Puppet, Ansible) is rendered
//! from the forms as posted, accepted by `cloud-init schema` (Debian's
//! cloud-init 22.4, which `make test` installs), and read back with PyYAML,
//! the parser cloud-init itself uses, to check what the instance will do:
//! cloud-init 22.4 lets unknown keys pass, so the schema alone would not
//! notice a misspelt module. No database is needed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

use serde_json::{Value, json};
use stratus_console::domain::cloud_init::{
    ConfigForm, ConfigManagement, Encryption, VolumeForm, VolumeGroup, user_data,
};

/// Everything that could go wrong between a textarea and the instance:
/// quotes, shell and YAML syntax, a cloud-config header, tabs, control
/// characters, characters PyYAML refuses or reads as line breaks, and no
/// final newline.
const SCRIPT: &str = "#!/bin/bash\n# ünïcödé ✓ 🚀\necho \"it's $HOME\" \\ `date` $(id) | tr -d '\\t'\n\
    printf 'a\tb'\nkey: value\n- item\n{json: [1, 2]}\n#cloud-config\n---\n\
    \u{7f}\u{85}\u{2028}\u{2029}\u{feff}\u{1b}[0m\u{9f}\u{fffe}\nexit 0";

const CHEF_SERVER: &str = "https://chef.example.com/organizations/acme";
const PUPPET_SERVER: &str = "puppet.example.com";
const REPOSITORY: &str = "git@github.com:acme/playbooks.git";
const PLAYBOOK: &str = "playbooks/site.yml";
const PARAMETERS: &str = "# a comment\ngreeting = it's \"quoted\": {x} [y] & *z #not a comment\nport=8080\n";

/// RAID level, count, file system, mount point: each level with a count it
/// allows, every file system, the largest group.
const GROUPS: [(&str, u8, &str, &str); 5] = [
    ("none", 1, "xfs", "/data"),
    ("0", 8, "ext4", "/srv/data"),
    ("1", 2, "ext3", "/var/lib/mysql"),
    ("5", 3, "ext2", "/data"),
    ("10", 4, "xfs", "/mnt/raid-10"),
];

const CONFIG_TYPES: [&str; 5] = ["none", "script", "chef", "puppet", "ansible"];

struct Case {
    name: String,
    volumes: Option<VolumeGroup>,
    encryption: Encryption,
    config: ConfigManagement,
}

fn volume_form(group: Option<(&str, u8, &str, &str)>, encrypt: bool) -> VolumeForm {
    let encrypt = if encrypt { "on" } else { "" }.to_owned();
    match group {
        None => VolumeForm { volumes: "none".into(), encrypt, ..VolumeForm::default() },
        Some((raid, count, file_system, mount_point)) => VolumeForm {
            volumes: "group".into(),
            volume_count: count.to_string(),
            volume_size_gb: "100".into(),
            raid_level: raid.into(),
            file_system: file_system.into(),
            mount_point: mount_point.into(),
            encrypt,
        },
    }
}

fn config_form(config_type: &str) -> ConfigForm {
    // Every field is filled, as a browser would post the hidden tabs too:
    // only the chosen type's fields may count.
    ConfigForm {
        config_type: config_type.into(),
        script: SCRIPT.into(),
        config_server: if config_type == "puppet" { PUPPET_SERVER } else { CHEF_SERVER }.into(),
        validation_client_name: String::new(),
        config_repository: REPOSITORY.into(),
        run_list: "recipe[nginx], role[web]\nrecipe[app::deploy@1.2.0]".into(),
        puppet_classes: "apache, apache::mod::ssl\nntp".into(),
        playbook: PLAYBOOK.into(),
        config_environment: "production".into(),
        config_parameters: PARAMETERS.into(),
    }
}

fn cases() -> Vec<Case> {
    let groups = std::iter::once(None).chain(GROUPS.into_iter().map(Some));
    let mut cases = Vec::new();
    for group in groups {
        for encrypt in [false, true] {
            for encryption in [Encryption::Provider, Encryption::Luks] {
                for config_type in CONFIG_TYPES {
                    let volumes = volume_form(group, encrypt).parse().expect("a valid volume form");
                    let config = config_form(config_type).parse().expect("a valid configuration form");
                    let name = format!(
                        "volumes-{}-encrypt-{encrypt}-{encryption:?}-{config_type}",
                        group.map_or("none".to_owned(), |(raid, count, ..)| format!("raid{raid}x{count}")),
                    );
                    cases.push(Case { name, volumes, encryption, config });
                }
            }
        }
    }
    cases
}

/// What cloud-init made of one document.
struct Checked {
    text: String,
    /// The document as PyYAML reads it.
    doc: Value,
}

fn require_cloud_init() {
    match Command::new("cloud-init").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!("`cloud-init --version` failed: {}", String::from_utf8_lossy(&output.stderr)),
        Err(error) if error.kind() == ErrorKind::NotFound => panic!(
            "cloud-init is not installed: `make test` installs Debian's cloud-init (or run `apt-get install cloud-init`)"
        ),
        Err(error) => panic!("cannot run cloud-init: {error}"),
    }
}

/// `cloud-init schema` accepts the file, and PyYAML reads it as the JSON we
/// meant; the error says what went wrong.
fn check(path: &Path, text: &str) -> Result<Value, String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let schema = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(path)
        .output()
        .map_err(|e| format!("running cloud-init: {e}"))?;
    if !schema.status.success() {
        return Err(format!(
            "cloud-init schema refused it ({}):\n{}{}",
            schema.status,
            String::from_utf8_lossy(&schema.stdout),
            String::from_utf8_lossy(&schema.stderr)
        ));
    }
    let read = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml\nwith open(sys.argv[1], encoding='utf-8') as f:\n    json.dump(yaml.safe_load(f), sys.stdout)",
        ])
        .arg(path)
        .output()
        .map_err(|e| format!("running python3: {e}"))?;
    if !read.status.success() {
        return Err(format!("PyYAML cannot read it: {}", String::from_utf8_lossy(&read.stderr)));
    }
    let doc: Value = serde_json::from_slice(&read.stdout).map_err(|e| format!("PyYAML's JSON: {e}"))?;
    let body = text.strip_prefix("#cloud-config\n").ok_or("no #cloud-config header")?;
    let meant: Value = serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if doc != meant {
        return Err(format!("PyYAML reads something else:\n{doc:#}\nthan was written:\n{meant:#}"));
    }
    Ok(doc)
}

/// Renders every case and checks each distinct document once (without
/// volumes, or without encryption, who encrypts changes nothing), several at
/// a time.
fn render_and_check(cases: &[Case], dir: &Path) -> Vec<Option<Checked>> {
    let texts: Vec<Option<String>> = cases
        .iter()
        .map(|case| {
            user_data(case.volumes.as_ref(), case.encryption, &case.config)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name))
        })
        .collect();
    let distinct: Vec<&String> = texts.iter().flatten().collect::<BTreeSet<_>>().into_iter().collect();
    let threads = thread::available_parallelism().map_or(4, |n| n.get()).min(16);
    let docs: BTreeMap<&String, Value> = thread::scope(|scope| {
        let workers: Vec<_> = distinct
            .chunks(distinct.len().div_ceil(threads))
            .enumerate()
            .map(|(worker, chunk)| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, text)| {
                            let path: PathBuf = dir.join(format!("document-{worker}-{i}.yaml"));
                            let doc = check(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                            (*text, doc)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    texts.iter().map(|text| text.as_ref().map(|text| Checked { doc: docs[text].clone(), text: text.clone() })).collect()
}

/// The `runcmd` entries that are argument lists.
fn commands(doc: &Value) -> Vec<Vec<String>> {
    doc["runcmd"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(Value::as_array)
                .map(|args| args.iter().map(|a| a.as_str().unwrap_or_default().to_owned()).collect())
                .collect()
        })
        .unwrap_or_default()
}

fn position(commands: &[Vec<String>], what: impl Fn(&[String]) -> bool) -> Option<usize> {
    commands.iter().position(|c| what(c))
}

fn packages(doc: &Value) -> Vec<&str> {
    doc["packages"].as_array().map(|p| p.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn file<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    doc["write_files"].as_array()?.iter().find(|f| f["path"] == path)
}

fn parameters() -> Value {
    json!({"greeting": "it's \"quoted\": {x} [y] & *z #not a comment", "port": "8080"})
}

fn assert_volumes(case: &Case, checked: &Checked) {
    let Checked { text, doc } = checked;
    let commands = commands(doc);
    let packages = packages(doc);
    let Some(group) = &case.volumes else {
        for absent in ["stratus-find-volumes", "mdadm", "mkfs", "cryptsetup", "/etc/fstab", "/etc/luks"] {
            assert!(!text.contains(absent), "{}: {absent} without volumes", case.name);
        }
        return;
    };
    let name = &case.name;
    let count = group.count().to_string();
    let find = position(&commands, |c| c[0] == "/usr/local/sbin/stratus-find-volumes").expect("the disk finder");
    assert_eq!(commands[find][1..], [count.as_str(), "100"], "{name}");
    assert!(file(doc, "/usr/local/sbin/stratus-find-volumes").is_some(), "{name}: the finder is written");

    let mdadm = position(&commands, |c| c[0] == "mdadm");
    if group.count() > 1 {
        let mdadm = &commands[mdadm.expect("an mdadm step")];
        assert!(mdadm.contains(&format!("--level={}", group.raid())), "{name}: {mdadm:?}");
        assert!(mdadm.contains(&format!("--raid-devices={count}")), "{name}: {mdadm:?}");
        assert!(packages.contains(&"mdadm"), "{name}");
    } else {
        assert!(!text.contains("mdadm"), "{name}: one volume needs no array");
    }

    let fs = group.file_system().as_str();
    let mkfs = position(&commands, |c| c[0] == format!("mkfs.{fs}")).expect("a mkfs step of the file system");
    assert!(packages.contains(&if fs == "xfs" { "xfsprogs" } else { "e2fsprogs" }), "{name}");
    let mount_point = group.mount_point().as_str();
    let fstab = position(&commands, |c| c[0] == "sh" && c[2].contains("/etc/fstab")).expect("an fstab step");
    assert!(commands[fstab][2].contains("nofail"), "{name}");
    assert_eq!(commands[fstab][5..7], [mount_point, fs], "{name}");
    let mount = position(&commands, |c| c == ["mount", mount_point]).expect("a mount step");
    assert!(find < mkfs && mkfs < fstab && fstab < mount, "{name}: steps out of order");

    let luks = group.encrypt() && case.encryption == Encryption::Luks;
    if luks {
        let key = position(&commands, |c| c.len() > 4 && c[2].contains("/dev/urandom")).expect("a key step");
        assert!(commands[key][4].starts_with("/etc/luks/"), "{name}: the key stays on the root disk");
        let format = position(&commands, |c| c.starts_with(&["cryptsetup".into(), "luksFormat".into()]))
            .expect("a luksFormat step");
        assert!(position(&commands, |c| c.len() > 2 && c[2].contains("/etc/crypttab")).is_some(), "{name}");
        assert!(key < format && format < mkfs, "{name}: encrypt before formatting");
        assert_eq!(commands[mkfs].last().map(String::as_str), Some("/dev/mapper/stratus-data"), "{name}");
        assert!(packages.contains(&"cryptsetup"), "{name}");
        let files = doc["write_files"].as_array().expect("files");
        assert!(files.iter().all(|f| !f["path"].as_str().unwrap_or_default().starts_with("/etc/luks")), "{name}");
    } else {
        assert!(!text.contains("cryptsetup") && !text.contains("/etc/luks"), "{name}: no LUKS");
    }
}

fn assert_config(case: &Case, checked: &Checked) {
    let Checked { text, doc } = checked;
    let name = &case.name;
    let commands = commands(doc);
    let last = commands.last().cloned().unwrap_or_default();
    let mount = position(&commands, |c| c[0] == "mount");
    let first_config_step = match &case.config {
        ConfigManagement::None => {
            assert!(doc.get("chef").is_none() && doc.get("puppet").is_none(), "{name}");
            assert!(!text.contains("ansible-pull") && !text.contains("user-script"), "{name}");
            None
        }
        ConfigManagement::Script(_) => {
            let script = file(doc, "/var/lib/stratus/user-script").expect("the script file");
            assert_eq!(script["content"].as_str().map(str::as_bytes), Some(SCRIPT.as_bytes()), "{name}: byte for byte");
            assert_eq!(script["permissions"], "0700", "{name}");
            assert_eq!(last, ["/var/lib/stratus/user-script"], "{name}");
            position(&commands, |c| c == last.as_slice())
        }
        ConfigManagement::Chef(_) => {
            let chef = &doc["chef"];
            assert_eq!(chef["run_list"], json!(["recipe[nginx]", "role[web]", "recipe[app::deploy@1.2.0]"]), "{name}");
            assert_eq!(chef["server_url"], CHEF_SERVER, "{name}");
            assert_eq!(chef["validation_name"], "acme-validator", "{name}");
            assert_eq!(chef["environment"], "production", "{name}");
            assert_eq!(chef["initial_attributes"], parameters(), "{name}");
            assert_eq!(chef["exec"], false, "{name}: chef-client runs after the volumes");
            assert_eq!(last, ["chef-client"], "{name}");
            position(&commands, |c| c == ["chef-client"])
        }
        ConfigManagement::Puppet(_) => {
            let puppet = &doc["puppet"];
            assert_eq!(
                puppet["conf"]["agent"],
                json!({"server": PUPPET_SERVER, "environment": "production"}),
                "{name}"
            );
            assert_eq!((&puppet["exec"], &puppet["start_service"]), (&json!(false), &json!(false)), "{name}");
            let facts = file(doc, "/etc/facter/facts.d/stratus.json").expect("the facts file");
            let facts: Value = serde_json::from_str(facts["content"].as_str().unwrap_or_default()).expect("JSON facts");
            assert_eq!(facts["stratus_classes"], json!(["apache", "apache::mod::ssl", "ntp"]), "{name}");
            assert_eq!(facts["stratus_parameters"], parameters(), "{name}");
            position(&commands, |c| c.starts_with(&["puppet".into(), "agent".into()]))
        }
        ConfigManagement::Ansible(_) => {
            assert_eq!(last[0], "ansible-pull", "{name}");
            assert!(last.contains(&format!("--url={REPOSITORY}")), "{name}: {last:?}");
            assert_eq!(last.last().map(String::as_str), Some(PLAYBOOK), "{name}");
            assert!(packages(doc).contains(&"ansible") && packages(doc).contains(&"git"), "{name}");
            let vars = file(doc, "/etc/stratus/ansible-vars.json").expect("the extra vars file");
            assert!(last.contains(&"--extra-vars=@/etc/stratus/ansible-vars.json".to_owned()), "{name}");
            let vars: Value = serde_json::from_str(vars["content"].as_str().unwrap_or_default()).expect("JSON vars");
            assert_eq!(vars, parameters(), "{name}");
            position(&commands, |c| c[0] == "ansible-pull")
        }
    };
    if let (Some(mount), Some(config)) = (mount, first_config_step) {
        assert!(mount < config, "{name}: configuration management runs after the volumes are mounted");
    }
}

#[test]
fn every_launch_combination_is_valid_cloud_config_that_does_what_was_asked() {
    require_cloud_init();
    let cases = cases();
    assert_eq!(cases.len(), 6 * 2 * 2 * 5);
    let dir = std::env::temp_dir().join(format!("stratus-cloud-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let results = render_and_check(&cases, &dir);
    // Left behind on failure on purpose: the files are what to look at.
    std::fs::remove_dir_all(&dir).expect("the temporary directory is removed");

    let mut checked = 0;
    for (case, result) in cases.iter().zip(&results) {
        let Some(result) = result else {
            assert!(
                case.volumes.is_none() && case.config == ConfigManagement::None,
                "{}: no user data although there is something to do",
                case.name
            );
            continue;
        };
        checked += 1;
        let keys: Vec<&str> = result.doc.as_object().expect("a mapping").keys().map(String::as_str).collect();
        for key in &keys {
            assert!(
                ["packages", "write_files", "chef", "puppet", "runcmd"].contains(key),
                "{}: unexpected key {key}",
                case.name
            );
        }
        assert_eq!(result.doc["runcmd"][0], "set -e", "{}: the first failing step stops the rest", case.name);
        assert!(result.text.len() <= 16 * 1024, "{}", case.name);
        assert_volumes(case, result);
        assert_config(case, result);
    }
    // Only "no volumes, no configuration" (in its 4 encryption variants) has nothing to do.
    assert_eq!(checked, cases.len() - 4);
}
