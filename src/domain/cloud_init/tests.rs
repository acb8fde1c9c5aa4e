//! The rules of the launch's volumes and configuration management, and the documents they render.

use std::fmt;

use serde_json::Value;

use super::config_management::*;
use super::render::*;
use super::volumes::*;
use super::*;
use crate::domain::ValidationError;

fn group_form(count: &str, size: &str, raid: &str) -> VolumeForm {
    VolumeForm {
        volumes: "group".into(),
        volume_count: count.into(),
        volume_size_gb: size.into(),
        raid_level: raid.into(),
        file_system: "xfs".into(),
        mount_point: "/data".into(),
        encrypt: String::new(),
    }
}

fn fields(errors: &[ValidationError]) -> Vec<&'static str> {
    errors.iter().map(|e| e.field).collect()
}

fn only_error(result: Result<impl fmt::Debug, Vec<ValidationError>>) -> ValidationError {
    let errors = result.expect_err("the form is refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().expect("one error")
}

fn group(count: u8, raid: RaidLevel, encrypt: bool) -> VolumeGroup {
    let mount_point = MountPoint::parse("/data").expect("a valid mount point");
    VolumeGroup::new(count, 100, raid, FileSystem::Ext4, mount_point, encrypt).expect("a valid group")
}

fn config(config_type: &str, edit: impl FnOnce(&mut ConfigForm)) -> Result<ConfigManagement, Vec<ValidationError>> {
    let mut form = ConfigForm { config_type: config_type.into(), ..ConfigForm::default() };
    edit(&mut form);
    form.parse()
}

fn script(text: &str) -> ConfigManagement {
    ConfigManagement::Script(Script::parse(text).expect("a valid script"))
}

/// The document as data: the header checked, the JSON body parsed.
fn document(text: &str) -> Value {
    let body = text.strip_prefix("#cloud-config\n").expect("the cloud-config header");
    serde_json::from_str(body).expect("the body is JSON")
}

fn rendered(volumes: Option<&VolumeGroup>, encryption: Encryption, config: &ConfigManagement) -> Value {
    let text = user_data(volumes, encryption, config).expect("within 16 KB").expect("something to do");
    document(&text)
}

fn runcmd(doc: &Value) -> Vec<Vec<String>> {
    doc["runcmd"]
        .as_array()
        .expect("a runcmd list")
        .iter()
        .filter_map(|entry| entry.as_array())
        .map(|args| args.iter().map(|a| a.as_str().expect("string arguments").to_owned()).collect())
        .collect()
}

// Volume Configuration

#[test]
fn no_volume_group_is_none() {
    assert_eq!(VolumeForm::default().parse(), Ok(None));
    let form = VolumeForm { volumes: "none".into(), volume_count: "junk".into(), ..VolumeForm::default() };
    assert_eq!(form.parse(), Ok(None));
}

#[test]
fn an_unknown_volumes_choice_is_refused() {
    let form = VolumeForm { volumes: "many".into(), ..VolumeForm::default() };
    assert_eq!(only_error(form.parse()).field, "volumes");
}

#[test]
fn volume_count_is_1_to_8() {
    for count in ["0", "9", "", "two", "-1", "+2", "256"] {
        let error = only_error(group_form(count, "10", "0").parse());
        assert_eq!(error.field, "volume_count", "{count}");
        assert_eq!(error.message, "Enter a number of volumes from 1 to 8.");
    }
    assert!(group_form("1", "10", "none").parse().is_ok());
    assert_eq!(group_form(" 8 ", "10", "0").parse().map(|g| g.map(|g| g.count())), Ok(Some(8)));
}

#[test]
fn volume_size_is_1_to_1000_gb() {
    for size in ["0", "1001", "", "1.5", "65536"] {
        let error = only_error(group_form("1", size, "none").parse());
        assert_eq!((error.field, error.message.as_str()), ("volume_size_gb", "Enter a size from 1 to 1000 GB."));
    }
    for size in ["1", "1000"] {
        assert!(group_form("1", size, "none").parse().is_ok(), "{size}");
    }
}

#[test]
fn raid_levels_are_checked_against_the_count() {
    let cases: [(&str, &[u8], &[u8]); 5] = [
        ("none", &[1], &[2, 8]),
        ("0", &[2, 3, 8], &[1]),
        ("1", &[2, 4, 8], &[1, 3, 5]),
        ("5", &[3, 4, 8], &[1, 2]),
        ("10", &[4, 6, 8], &[1, 2, 3, 5, 7]),
    ];
    for (raid, allowed, refused) in cases {
        for count in allowed {
            assert!(group_form(&count.to_string(), "10", raid).parse().is_ok(), "RAID {raid} with {count}");
        }
        for count in refused {
            let error = only_error(group_form(&count.to_string(), "10", raid).parse());
            assert_eq!(error.field, "raid_level", "RAID {raid} with {count}");
        }
    }
    let message = |raid, count: &str| only_error(group_form(count, "10", raid).parse()).message;
    assert_eq!(message("5", "2"), "RAID 5 needs at least 3 volumes.");
    assert_eq!(message("0", "1"), "RAID 0 needs at least 2 volumes.");
    assert_eq!(message("1", "3"), "RAID 1 needs an even number of volumes, at least 2.");
    assert_eq!(message("10", "2"), "RAID 10 needs an even number of volumes, at least 4.");
    assert!(message("none", "2").contains("RAID 0"));
}

#[test]
fn an_unknown_raid_level_is_refused_and_a_bad_count_is_not_reported_twice() {
    assert_eq!(only_error(group_form("2", "10", "6").parse()).field, "raid_level");
    // A count out of range says so; the RAID level is not judged by it.
    assert_eq!(only_error(group_form("9", "10", "5").parse()).field, "volume_count");
}

#[test]
fn every_broken_field_gets_its_own_error() {
    let form = VolumeForm {
        volumes: "group".into(),
        volume_count: "0".into(),
        volume_size_gb: "0".into(),
        raid_level: "7".into(),
        file_system: "ntfs".into(),
        mount_point: "data".into(),
        encrypt: "maybe".into(),
    };
    let errors = form.parse().expect_err("all wrong");
    assert_eq!(
        fields(&errors),
        ["volume_count", "volume_size_gb", "raid_level", "file_system", "mount_point", "encrypt"]
    );
}

#[test]
fn file_systems_are_xfs_and_ext() {
    for fs in FileSystem::ALL {
        let form = VolumeForm { file_system: fs.as_str().into(), ..group_form("1", "1", "none") };
        assert_eq!(form.parse().map(|g| g.map(|g| g.file_system())), Ok(Some(fs)));
    }
    let form = VolumeForm { file_system: "btrfs".into(), ..group_form("1", "1", "none") };
    assert_eq!(only_error(form.parse()).message, "Choose a file system: xfs, ext4, ext3 or ext2.");
}

#[test]
fn encrypt_is_a_checkbox() {
    for (raw, expected) in [("", false), ("on", true), ("true", true), ("off", false)] {
        let form = VolumeForm { encrypt: raw.into(), ..group_form("1", "1", "none") };
        assert_eq!(form.parse().map(|g| g.map(|g| g.encrypt())), Ok(Some(expected)), "{raw}");
    }
}

#[test]
fn a_mount_point_is_an_absolute_plain_path() {
    for good in ["/data", "/srv/www", "/var/lib/mysql", "/usr/local", "/mnt/data-1_a.b", "/opt"] {
        assert_eq!(MountPoint::parse(good).map(|m| m.to_string()), Ok(good.to_owned()));
    }
    assert_eq!(MountPoint::parse(" /data/ ").map(|m| m.to_string()), Ok("/data".to_owned()));
    let message = |raw: &str| MountPoint::parse(raw).expect_err(raw).message;
    assert_eq!(message("data"), "The mount point must be an absolute path such as /data.");
    assert_eq!(message("./data"), "The mount point must be an absolute path such as /data.");
    assert_eq!(message(""), "Enter a mount point, such as /data.");
    for bad in ["/", "//", "/data/../etc", "/data/.", "/a//b", "/my data", "/da\tta", "/dätä", "/a;b"] {
        assert!(MountPoint::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(MountPoint::parse("/data\n/etc").map_err(|e| e.field), Err("mount_point"));
}

#[test]
fn a_mount_point_keeps_out_of_the_system() {
    for bad in ["/proc", "/proc/x", "/sys/kernel", "/dev", "/dev/sdf", "/boot", "/boot/efi", "/etc/luks", "/run/x"] {
        assert!(MountPoint::parse(bad).is_err(), "{bad}");
    }
    for bad in ["/usr", "/var", "/home", "/root", "/bin", "/lib64"] {
        assert!(MountPoint::parse(bad).is_err(), "{bad}");
    }
    for good in ["/processes", "/devices", "/home/data", "/var/data", "/bootstrap"] {
        assert!(MountPoint::parse(good).is_ok(), "{good}");
    }
}

#[test]
fn a_mount_point_is_at_most_255_characters() {
    let longest = format!("/{}", "a".repeat(254));
    assert!(MountPoint::parse(&longest).is_ok());
    let too_long = format!("/{}", "a".repeat(255));
    assert_eq!(
        MountPoint::parse(&too_long).map_err(|e| e.message),
        Err("The mount point may be at most 255 characters long.".to_owned())
    );
}

#[test]
fn device_names_follow_the_ec2_convention() {
    assert_eq!(group(1, RaidLevel::None, false).device_names(), ["/dev/sdf"]);
    assert_eq!(
        group(8, RaidLevel::Raid0, false).device_names(),
        ["/dev/sdf", "/dev/sdg", "/dev/sdh", "/dev/sdi", "/dev/sdj", "/dev/sdk", "/dev/sdl", "/dev/sdm"]
    );
}

#[test]
fn a_group_built_in_code_obeys_the_same_rules() {
    let mount_point = MountPoint::parse("/data").expect("valid");
    let errors = VolumeGroup::new(9, 0, RaidLevel::Raid5, FileSystem::Xfs, mount_point.clone(), false)
        .expect_err("out of range");
    assert_eq!(fields(&errors), ["volume_count", "volume_size_gb"]);
    let errors =
        VolumeGroup::new(2, 10, RaidLevel::Raid5, FileSystem::Xfs, mount_point, false).expect_err("RAID 5 of 2");
    assert_eq!(fields(&errors), ["raid_level"]);
}

#[test]
fn only_the_provider_encrypts_when_it_can() {
    assert!(group(1, RaidLevel::None, true).encrypted_by_provider(Encryption::Provider));
    assert!(!group(1, RaidLevel::None, true).encrypted_by_provider(Encryption::Luks));
    assert!(!group(1, RaidLevel::None, false).encrypted_by_provider(Encryption::Provider));
}

// Configuration Management

#[test]
fn no_configuration_management_is_none() {
    assert_eq!(ConfigForm::default().parse(), Ok(ConfigManagement::None));
    assert_eq!(config("none", |f| f.script = "ignored".into()), Ok(ConfigManagement::None));
    assert_eq!(only_error(config("salt", |_| {})).field, "config_type");
}

#[test]
fn a_script_is_kept_with_unix_line_endings() {
    let parsed = config("script", |f| f.script = "#!/bin/bash\r\necho hi\r\n".into());
    assert_eq!(parsed, Ok(script("#!/bin/bash\necho hi\n")));
    assert_eq!(Script::parse("echo 'é' \"$x\"\t\u{7f}").map(|s| s.0), Ok("echo 'é' \"$x\"\t\u{7f}".to_owned()));
    assert!(Script::parse("#!/usr/bin/env python3\nprint(1)").expect("valid").has_shebang());
    assert!(!Script::parse("echo hi").expect("valid").has_shebang());
}

#[test]
fn a_script_is_not_blank_and_has_no_nul() {
    assert_eq!(Script::parse(" \n\t").map_err(|e| e.message), Err("Enter the script to run.".to_owned()));
    assert_eq!(only_error(config("script", |_| {})).field, "script");
    assert_eq!(Script::parse("echo\0").map_err(|e| e.field), Err("script"));
}

#[test]
fn a_script_over_16_kb_is_refused() {
    let at_limit = "#".repeat(MAX_USER_DATA_BYTES);
    assert!(Script::parse(&at_limit).is_ok());
    let error = Script::parse(&"#".repeat(17 * 1024)).expect_err("17 KB");
    assert_eq!((error.field, error.message.as_str()), ("script", "The script is 17 KB; at most 16 KB is allowed."));
}

#[test]
fn user_data_over_16_kb_is_refused_at_the_field_that_filled_it() {
    // The script fits alone, not with the document around it.
    let big_script = script(&format!("#!/bin/sh\n{}", "#".repeat(MAX_USER_DATA_BYTES - 20)));
    let error = user_data(None, Encryption::Provider, &big_script).expect_err("too big");
    assert_eq!((error.field, error.message.as_str()), ("script", "The user data is 17 KB; at most 16 KB is allowed."));

    let parameters: String = (0..600).map(|i| format!("p{i}=some value of a parameter\n")).collect();
    let ansible = config("ansible", |f| {
        f.config_repository = "https://example.com/acme/playbooks.git".into();
        f.playbook = "site.yml".into();
        f.config_parameters = parameters;
    })
    .expect("valid");
    let error = user_data(None, Encryption::Provider, &ansible).expect_err("too big");
    assert_eq!(error.field, "config_parameters");
}

#[test]
fn user_data_of_nearly_16_kb_is_allowed() {
    let body = |n| script(&format!("#!/bin/sh\n{}", "#".repeat(n)));
    let overhead = user_data(None, Encryption::Provider, &body(0)).expect("fits").expect("some").len();
    let text =
        user_data(None, Encryption::Provider, &body(MAX_USER_DATA_BYTES - overhead)).expect("fits").expect("some");
    assert_eq!(text.len(), MAX_USER_DATA_BYTES);
    assert!(user_data(None, Encryption::Provider, &body(MAX_USER_DATA_BYTES - overhead + 1)).is_err());
}

#[test]
fn chef_server_urls_are_http_or_https() {
    let server = |url: &str| config("chef", |f| f.config_server = url.into());
    for good in ["https://chef.example.com", "http://10.0.0.5:4000/", "https://chef.example.com/organizations/acme"] {
        assert!(server(good).is_ok(), "{good}");
    }
    assert_eq!(
        only_error(server("ftp://chef.example.com")).message,
        "The Chef server URL must start with https:// or http://."
    );
    for bad in [
        "",
        "chef.example.com",
        "https://",
        "https://user:pw@chef.example.com",
        "https://chef.example.com/\"; system(\"id\") #",
        "https://chef.example.com/#{`id`}",
        "https://chef.example.com/?q=1",
        "https://-chef.example.com",
        "https://chef.example.com:0",
        "https://chef.example.com:65536",
        "https://chef .example.com",
    ] {
        assert_eq!(only_error(server(bad)).field, "config_server", "{bad}");
    }
}

#[test]
fn chef_settings_are_parsed() {
    let parsed = config("chef", |f| {
        f.config_server = "https://chef.example.com/organizations/acme".into();
        f.run_list = "recipe[nginx], role[web]\nrecipe[app::deploy@1.2.0]\n\napt".into();
        f.config_environment = "production".into();
        f.config_parameters = "# attributes\nnginx.port = 8080\nnginx.user=www\ngreeting=a=b\n".into();
    });
    let Ok(ConfigManagement::Chef(chef)) = parsed else { panic!("{parsed:?}") };
    assert_eq!(chef.server_url(), "https://chef.example.com/organizations/acme");
    assert_eq!(chef.validation_client_name(), "acme-validator");
    assert_eq!(chef.run_list(), ["recipe[nginx]", "role[web]", "recipe[app::deploy@1.2.0]", "apt"]);
    assert_eq!(chef.environment(), Some("production"));
    assert_eq!(chef.parameters()[2], ("greeting".to_owned(), "a=b".to_owned()));
    assert_eq!(
        Value::Object(chef.attributes.clone()),
        serde_json::json!({"nginx": {"port": "8080", "user": "www"}, "greeting": "a=b"})
    );
}

#[test]
fn the_chef_validator_defaults_to_chef_server_naming() {
    let validator = |url: &str, name: &str| match config("chef", |f| {
        f.config_server = url.into();
        f.validation_client_name = name.into();
    }) {
        Ok(ConfigManagement::Chef(chef)) => Some(chef.validation_client_name().to_owned()),
        _ => None,
    };
    assert_eq!(validator("https://chef.example.com", ""), Some("chef-validator".to_owned()));
    assert_eq!(validator("https://chef.example.com/organizations/acme/", ""), Some("acme-validator".to_owned()));
    assert_eq!(validator("https://chef.example.com", "my.validator"), Some("my.validator".to_owned()));
    assert_eq!(validator("https://chef.example.com", "bad\"name"), None);
}

#[test]
fn chef_run_list_items_are_recipes_or_roles() {
    let run_list = |items: &str| {
        config("chef", |f| {
            f.config_server = "https://chef.example.com".into();
            f.run_list = items.into();
        })
    };
    assert!(run_list("").is_ok());
    for bad in ["recipe[nginx", "role[web::x]", "recipe[]", "nginx@x", "recipe[a b]", "role[\"]"] {
        let error = only_error(run_list(bad));
        assert_eq!(error.field, "run_list", "{bad}");
        assert!(error.message.starts_with(&format!("“{bad}” is not a run list item")), "{}", error.message);
    }
}

#[test]
fn chef_environment_and_attributes_have_rules() {
    let chef = |environment: &str, parameters: &str| {
        config("chef", |f| {
            f.config_server = "https://chef.example.com".into();
            f.config_environment = environment.into();
            f.config_parameters = parameters.into();
        })
    };
    assert_eq!(only_error(chef("prod\"uction", "")).field, "config_environment");
    assert_eq!(only_error(chef("", "nginx=1\nnginx.port=2")).field, "config_parameters");
    assert_eq!(only_error(chef("", "nginx.port=2\nnginx=1")).field, "config_parameters");
    assert_eq!(only_error(chef("", "run_list=x")).field, "config_parameters");
    assert_eq!(only_error(chef("", "a..b=1")).field, "config_parameters");
    let errors = chef("bad env", "x").expect_err("two fields");
    assert_eq!(fields(&errors), ["config_environment", "config_parameters"]);
}

#[test]
fn parameters_are_name_value_lines() {
    let parse = |raw: &str| parse_parameters(raw, Nesting::Flat).map_err(|e| e.message);
    assert_eq!(
        parse(" a = 1 \n\n# note\n_b=x = y\r\nc=\n"),
        Ok(vec![("a".into(), "1".into()), ("_b".into(), "x = y".into()), ("c".into(), String::new())])
    );
    assert_eq!(parse("a=1\nnot a parameter"), Err("Line 2 is not name=value.".to_owned()));
    assert_eq!(parse("a=1\na=2"), Err("Line 2: “a” is given twice.".to_owned()));
    assert!(parse("1a=1").is_err());
    assert!(parse("a-b=1").is_err());
    assert!(parse("a.b=1").is_err());
    assert!(parse_parameters("a.b=1", Nesting::Dotted).is_ok());
    assert!(parse(&format!("{}=1", "a".repeat(64))).is_ok());
    assert!(parse(&format!("{}=1", "a".repeat(65))).is_err());
    assert!(parse("a=x\u{1b}y").is_err());
    assert!(parse("a=x\ty").is_ok());
}

#[test]
fn puppet_settings_are_parsed() {
    let parsed = config("puppet", |f| {
        f.config_server = "puppet.example.com".into();
        f.puppet_classes = "apache, apache::mod::ssl\n::ntp  base".into();
        f.config_environment = "production".into();
        f.config_parameters = "role=web".into();
    });
    let Ok(ConfigManagement::Puppet(puppet)) = parsed else { panic!("{parsed:?}") };
    assert_eq!(puppet.server(), "puppet.example.com");
    assert_eq!(puppet.classes(), ["apache", "apache::mod::ssl", "::ntp", "base"]);
    assert_eq!(puppet.environment(), Some("production"));
    assert_eq!(puppet.parameters(), [("role".to_owned(), "web".to_owned())]);
}

#[test]
fn puppet_settings_have_rules() {
    let puppet = |server: &str, classes: &str, environment: &str| {
        config("puppet", |f| {
            f.config_server = server.into();
            f.puppet_classes = classes.into();
            f.config_environment = environment.into();
        })
    };
    for bad in ["", "https://puppet.example.com", "puppet example", "puppet.example.com:8140", "-p.example.com"] {
        assert_eq!(only_error(puppet(bad, "", "")).field, "config_server", "{bad}");
    }
    for bad in ["Apache", "apache::", "1apache", "apache:mod", "apache-ssl"] {
        assert_eq!(only_error(puppet("puppet", bad, "")).field, "puppet_classes", "{bad}");
    }
    assert_eq!(only_error(puppet("puppet", "", "Production")).field, "config_environment");
    assert!(puppet("10.0.0.5", "", "test_1").is_ok());
}

#[test]
fn ansible_repositories_are_https_or_ssh() {
    let repository = |url: &str| {
        config("ansible", |f| {
            f.config_repository = url.into();
            f.playbook = "site.yml".into();
        })
    };
    for good in [
        "https://github.com/acme/playbooks.git",
        "https://git.example.com:8443/acme/playbooks",
        "ssh://git@github.com/acme/playbooks.git",
        "ssh://git.example.com:2222/~acme/playbooks.git",
        "git@github.com:acme/playbooks.git",
    ] {
        assert!(repository(good).is_ok(), "{good}");
    }
    assert!(only_error(repository("http://github.com/acme/p.git")).message.contains("https://"));
    assert!(only_error(repository("https://me:token@github.com/acme/p.git")).message.contains("credentials"));
    for bad in [
        "",
        "github.com/acme/p.git",
        "https://github.com",
        "https://github.com/",
        "git@github.com:",
        "git@github.com:-oProxyCommand=x",
        "ssh://me:pw@github.com/acme/p.git",
        "https://github.com/acme/p.git --upload-pack=x",
        "file:///etc",
    ] {
        assert_eq!(only_error(repository(bad)).field, "config_repository", "{bad}");
    }
}

#[test]
fn ansible_playbooks_are_yaml_files_inside_the_repository() {
    let playbook = |path: &str| {
        config("ansible", |f| {
            f.config_repository = "https://github.com/acme/playbooks.git".into();
            f.playbook = path.into();
        })
    };
    for good in ["site.yml", "playbooks/web.yaml", "a_b-c.d.yml"] {
        assert!(playbook(good).is_ok(), "{good}");
    }
    assert_eq!(only_error(playbook("")).message, "Enter the playbook to run, such as site.yml.");
    assert_eq!(
        only_error(playbook("site.json")).message,
        "The playbook must be a .yml or .yaml file, such as site.yml."
    );
    for bad in ["/etc/site.yml", "../site.yml", "a/../../site.yml", "./site.yml", "-e.yml", "my site.yml", "a//b.yml"] {
        assert!(only_error(playbook(bad)).message.contains("inside the repository"), "{bad}");
    }
}

// Rendering

#[test]
fn nothing_to_do_is_no_user_data() {
    assert_eq!(user_data(None, Encryption::Luks, &ConfigManagement::None), Ok(None));
}

#[test]
fn a_single_volume_is_formatted_and_mounted_without_raid() {
    let doc = rendered(Some(&group(1, RaidLevel::None, false)), Encryption::Luks, &ConfigManagement::None);
    let commands = runcmd(&doc);
    assert_eq!(doc["runcmd"][0], "set -e");
    assert_eq!(commands[0], [FIND_VOLUMES, "1", "100"]);
    assert!(commands.contains(&vec!["mkfs.ext4".into(), "-F".into(), "/run/stratus/volume-1".into()]));
    assert!(commands.contains(&vec!["mount".into(), "/data".into()]));
    assert!(!doc.to_string().contains("mdadm"));
    assert!(!doc.to_string().contains("cryptsetup"));
    assert_eq!(doc["packages"], serde_json::json!(["e2fsprogs"]));
    assert_eq!(doc["write_files"][0]["content"], FIND_VOLUMES_SCRIPT);
}

#[test]
fn a_raid_group_is_assembled_with_mdadm() {
    let doc = rendered(Some(&group(4, RaidLevel::Raid10, false)), Encryption::Provider, &ConfigManagement::None);
    let commands = runcmd(&doc);
    let mdadm = commands.iter().find(|c| c[0] == "mdadm").expect("an mdadm step");
    assert!(mdadm.contains(&"--level=10".to_owned()) && mdadm.contains(&"--raid-devices=4".to_owned()));
    assert!(mdadm.ends_with(&(1..=4).map(|i| format!("/run/stratus/volume-{i}")).collect::<Vec<_>>()));
    let fstab = commands.iter().find(|c| c.get(2).is_some_and(|s| s.contains("/etc/fstab"))).expect("an fstab step");
    assert_eq!(fstab[4..], [MD_DEVICE, "/data", "ext4", "2"]);
    assert!(fstab[2].contains("nofail"));
    assert_eq!(doc["packages"], serde_json::json!(["mdadm", "e2fsprogs"]));
}

#[test]
fn luks_makes_its_key_on_the_instance() {
    let encrypted = group(2, RaidLevel::Raid1, true);
    let doc = rendered(Some(&encrypted), Encryption::Luks, &ConfigManagement::None);
    let commands = runcmd(&doc);
    let key = commands.iter().find(|c| c.get(2).is_some_and(|s| s.contains("/dev/urandom"))).expect("a key step");
    assert_eq!(key[4], LUKS_KEY);
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with(&["cryptsetup".into(), "luksFormat".into()]) && c.last() == Some(&MD_DEVICE.into()))
    );
    assert!(commands.iter().any(|c| c[0].starts_with("mkfs") && c.last() == Some(&LUKS_DEVICE.into())));
    assert!(doc["packages"].as_array().expect("packages").contains(&"cryptsetup".into()));
    let files = doc["write_files"].as_array().expect("files");
    assert!(files.iter().all(|f| !f["path"].as_str().unwrap_or_default().starts_with(LUKS_KEY_DIR)));

    let provider = rendered(Some(&encrypted), Encryption::Provider, &ConfigManagement::None);
    assert!(!provider.to_string().contains("cryptsetup"));
    let plain = rendered(Some(&group(2, RaidLevel::Raid1, false)), Encryption::Luks, &ConfigManagement::None);
    assert!(!plain.to_string().contains("cryptsetup"));
}

#[test]
fn the_script_runs_after_the_volumes_with_its_interpreter() {
    let text = "#!/usr/bin/env bash\necho \"$HOME\" 'x' \\ `id`\n";
    let doc = rendered(Some(&group(1, RaidLevel::None, false)), Encryption::Provider, &script(text));
    let files = doc["write_files"].as_array().expect("files");
    let file = files.iter().find(|f| f["path"] == USER_SCRIPT).expect("the script file");
    assert_eq!(file["content"], text);
    assert_eq!(file["permissions"], "0700");
    let commands = runcmd(&doc);
    assert_eq!(commands.last().expect("steps"), &[USER_SCRIPT]);
    let without_shebang = rendered(None, Encryption::Provider, &script("echo hi"));
    assert_eq!(runcmd(&without_shebang), [["/bin/sh", USER_SCRIPT]]);
}

#[test]
fn characters_pyyaml_would_misread_are_escaped() {
    let text = "a\u{7f}b\u{85}c\u{2028}d\u{2029}e\u{feff}f\u{9f}g\u{1b}h\u{1f600}";
    let rendered_text = user_data(None, Encryption::Provider, &script(text)).expect("fits").expect("some");
    for raw in ['\u{7f}', '\u{85}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{9f}', '\u{1b}'] {
        assert!(!rendered_text.contains(raw), "{raw:?} left raw");
    }
    assert!(rendered_text.contains("\\u007f") && rendered_text.contains("\\u2028"));
    assert_eq!(document(&rendered_text)["write_files"][0]["content"], text);
}

#[test]
fn chef_is_configured_by_its_module_and_run_after_the_volumes() {
    let chef = config("chef", |f| {
        f.config_server = "https://chef.example.com".into();
        f.run_list = "recipe[nginx]".into();
        f.config_parameters = "nginx.port=80".into();
    })
    .expect("valid");
    let doc = rendered(Some(&group(1, RaidLevel::None, false)), Encryption::Provider, &chef);
    assert_eq!(doc["chef"]["run_list"], serde_json::json!(["recipe[nginx]"]));
    assert_eq!(doc["chef"]["initial_attributes"], serde_json::json!({"nginx": {"port": "80"}}));
    assert_eq!(doc["chef"]["validation_name"], "chef-validator");
    assert_eq!(doc["chef"]["exec"], false);
    assert!(doc["chef"].get("environment").is_none());
    assert_eq!(runcmd(&doc).last().expect("steps"), &["chef-client"]);
}

#[test]
fn puppet_gets_its_classes_as_facts() {
    let puppet = config("puppet", |f| {
        f.config_server = "puppet.example.com".into();
        f.puppet_classes = "apache".into();
        f.config_environment = "production".into();
        f.config_parameters = "role=web".into();
    })
    .expect("valid");
    let doc = rendered(None, Encryption::Provider, &puppet);
    assert_eq!(
        doc["puppet"]["conf"]["agent"],
        serde_json::json!({"server": "puppet.example.com", "environment": "production"})
    );
    assert_eq!(doc["puppet"]["start_service"], false);
    let facts = doc["write_files"][0]["content"].as_str().expect("facts");
    assert_eq!(
        serde_json::from_str::<Value>(facts).expect("JSON facts"),
        serde_json::json!({"stratus_classes": ["apache"], "stratus_parameters": {"role": "web"}})
    );
    assert_eq!(runcmd(&doc)[0][..2], ["puppet", "agent"]);
}

#[test]
fn ansible_pulls_the_playbook() {
    let ansible = |repository: &str, parameters: &str| {
        config("ansible", |f| {
            f.config_repository = repository.into();
            f.playbook = "site.yml".into();
            f.config_parameters = parameters.into();
        })
        .expect("valid")
    };
    let doc = rendered(None, Encryption::Provider, &ansible("https://github.com/acme/p.git", ""));
    assert_eq!(
        runcmd(&doc),
        [[
            "ansible-pull",
            "--url=https://github.com/acme/p.git",
            "--directory=/var/lib/stratus/ansible",
            "--inventory=localhost,",
            "site.yml"
        ]]
    );
    assert_eq!(doc["packages"], serde_json::json!(["ansible", "git"]));
    assert!(doc.get("write_files").is_none());

    let doc = rendered(None, Encryption::Provider, &ansible("git@github.com:acme/p.git", "env=prod"));
    let pull = &runcmd(&doc)[0];
    assert!(pull.contains(&"--accept-host-key".to_owned()));
    assert!(pull.contains(&format!("--extra-vars=@{ANSIBLE_VARS}")));
    assert_eq!(doc["write_files"][0]["permissions"], "0600");
}
