//! The launch dialog's **Volume Configuration** and **Configuration
//! Management** tabs (PRODUCT 3.4), and the cloud-init user data they become.
//!
//! # Parsing
//! [`VolumeForm`] and [`ConfigForm`] carry the raw strings of the two tabs;
//! their `parse` turns them into [`VolumeGroup`] and [`ConfigManagement`], or
//! into one [`ValidationError`] per field that breaks a rule, named after the
//! form field so the page can show each message at its field. Everything
//! after the edge trusts the types: their fields are private and only a parse
//! builds them, because several values end up inside files that other programs
//! interpret (a Ruby `client.rb`, `puppet.conf`, `/etc/fstab`), so a value that
//! merely "looked fine" could inject code there.
//!
//! # Rendering
//! [`user_data`] writes one `#cloud-config` document. Choices and why:
//!
//! - **JSON, not hand-built YAML.** JSON is YAML, and cloud-init reads a
//!   `#cloud-config` header followed by JSON. serde_json is already here,
//!   while the YAML serializers are deprecated (serde_yaml), unsound and
//!   archived (serde_yml, RUSTSEC-2025-0068) or built on the unmaintained
//!   unsafe-libyaml (serde_norway, serde_yaml_ng; RUSTSEC-2024-0449). One gap
//!   is closed by hand: PyYAML, which cloud-init uses, refuses some characters
//!   that JSON leaves raw (DEL, C1 controls, U+FFFE/U+FFFF) and reads NEL,
//!   U+2028 and U+2029 as line breaks, so those are written as `\uXXXX`
//!   escapes, which JSON and YAML read alike ([`yaml_safe`]). The user's text
//!   therefore arrives byte for byte, whatever it contains.
//! - **Modules where cloud-init has them**: `packages` (mdadm, xfsprogs or
//!   e2fsprogs, cryptsetup, ansible and git), `write_files` (the disk finder,
//!   the user's script, Ansible's extra variables, Puppet's facts), `chef`
//!   (omnibus install, `client.rb`, first-boot JSON) and `puppet` (package
//!   install, `puppet.conf`). cloud-init runs `chef` and `puppet` *before*
//!   `runcmd`, so both are told not to run the agent (`exec: false`, and for
//!   Puppet `start_service: false`); `runcmd` runs it once the volumes are
//!   mounted, so a recipe that puts a database on `/data` finds `/data`.
//!   Ansible has no module in Debian's cloud-init 22.4 stage lists, so
//!   `ansible-pull` runs from `runcmd`.
//! - **`runcmd` is one shell script** whose first line is `set -e`: the steps
//!   run in order and the first failure stops the rest, so configuration
//!   management never runs against a half-built volume. Every step that takes
//!   a user value is an argument list (cloud-init quotes each argument); the
//!   only shell text is constant, and where a step needs a pipe or a
//!   substitution it is `sh -c` with the values passed as `$1`, `$2`, ….
//! - **Finding the volumes.** The provider attaches them as `/dev/sdf`,
//!   `/dev/sdg`, … ([`VolumeGroup::device_names`]), but the kernel names them
//!   as it likes: `/dev/xvdf` on Xen, `/dev/nvme1n1`, … in discovery order on
//!   Nitro. `/dev/disk/by-id` would need the EBS volume ids, which do not
//!   exist yet when the user data is written (the volumes are created with the
//!   instance), and reading the requested name from NVMe vendor data needs
//!   tools (nvme-cli, ebsnvme-id) that most images lack. So a small script
//!   waits, up to five minutes, until `count` whole disks of exactly the
//!   requested size are present that carry nothing at all (no partition, no
//!   holder, no signature of any kind, not instance storage), and links them
//!   as `/run/stratus/volume-1`, …. The root disk and anything in use never
//!   qualify, and every volume of the group has the same size.
//! - **RAID** is mdadm (`--level` 0, 1, 5 or 10, metadata 1.2), recorded in
//!   mdadm.conf. RAID "none" means exactly one volume: several disks without
//!   RAID would be several file systems with no mount point each, so the
//!   parse asks for RAID 0 to join them instead.
//! - **Encryption.** With [`Encryption::Provider`] the provider encrypts the
//!   volumes and the user data does nothing. With [`Encryption::Luks`] the
//!   instance makes its own key from `/dev/urandom` into
//!   `/etc/luks/stratus-data.key` (root only, on the root disk), formats the
//!   device with LUKS and records it in `/etc/crypttab`: no key ever travels
//!   in the user data, which any process on the instance can read back.
//! - **Mounting** is by file system UUID in `/etc/fstab` with `nofail`, so a
//!   reboot finds the volume whatever the kernel calls the disks then, and a
//!   missing volume does not stop the boot.
//! - **16 KB** is the provider's limit for user data (EC2's, before base64);
//!   a bigger document is refused at the field that made it big.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ValidationError;

/// The most user data a launch may carry, in bytes.
pub const MAX_USER_DATA_BYTES: usize = 16 * 1024;
/// The most volumes a volume group may have.
pub const MAX_VOLUMES: u8 = 8;
/// The largest volume, in GB (GiB, as the provider counts).
pub const MAX_VOLUME_SIZE_GB: u16 = 1000;

const MAX_MOUNT_POINT_LEN: usize = 255;
const MAX_NAME_LEN: usize = 255;
const MAX_PARAMETER_NAME_LEN: usize = 64;

// ---------------------------------------------------------------------------
// Volume Configuration
// ---------------------------------------------------------------------------

/// How the volumes of a group are joined into one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaidLevel {
    /// No RAID: the group is a single volume.
    None,
    /// Striping: at least 2 volumes.
    Raid0,
    /// Mirroring: an even number of volumes, at least 2.
    Raid1,
    /// Striping with parity: at least 3 volumes.
    Raid5,
    /// Striped mirrors: an even number of volumes, at least 4.
    Raid10,
}

impl RaidLevel {
    pub const ALL: [RaidLevel; 5] =
        [RaidLevel::None, RaidLevel::Raid0, RaidLevel::Raid1, RaidLevel::Raid5, RaidLevel::Raid10];

    /// The form value: `none`, `0`, `1`, `5` or `10`.
    pub fn as_str(self) -> &'static str {
        match self {
            RaidLevel::None => "none",
            RaidLevel::Raid0 => "0",
            RaidLevel::Raid1 => "1",
            RaidLevel::Raid5 => "5",
            RaidLevel::Raid10 => "10",
        }
    }

    /// The name the dialog shows.
    pub fn title(self) -> &'static str {
        match self {
            RaidLevel::None => "None",
            RaidLevel::Raid0 => "RAID 0",
            RaidLevel::Raid1 => "RAID 1",
            RaidLevel::Raid5 => "RAID 5",
            RaidLevel::Raid10 => "RAID 10",
        }
    }

    /// Whether `count` volumes can form this level.
    pub fn allows(self, count: u8) -> bool {
        match self {
            RaidLevel::None => count == 1,
            RaidLevel::Raid0 => count >= 2,
            RaidLevel::Raid1 => count >= 2 && count.is_multiple_of(2),
            RaidLevel::Raid5 => count >= 3,
            RaidLevel::Raid10 => count >= 4 && count.is_multiple_of(2),
        }
    }

    fn check(self, count: u8) -> Result<Self, ValidationError> {
        if self.allows(count) {
            return Ok(self);
        }
        let message = match self {
            RaidLevel::None => {
                "Without RAID a volume group has 1 volume; choose RAID 0 to join several volumes into one."
            }
            RaidLevel::Raid0 => "RAID 0 needs at least 2 volumes.",
            RaidLevel::Raid1 => "RAID 1 needs an even number of volumes, at least 2.",
            RaidLevel::Raid5 => "RAID 5 needs at least 3 volumes.",
            RaidLevel::Raid10 => "RAID 10 needs an even number of volumes, at least 4.",
        };
        Err(ValidationError::new("raid_level", message))
    }

    /// mdadm's `--level`; `None` for a single volume, which needs no array.
    fn md_level(self) -> Option<&'static str> {
        match self {
            RaidLevel::None => None,
            RaidLevel::Raid0 => Some("0"),
            RaidLevel::Raid1 => Some("1"),
            RaidLevel::Raid5 => Some("5"),
            RaidLevel::Raid10 => Some("10"),
        }
    }
}

impl FromStr for RaidLevel {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RaidLevel::ALL
            .into_iter()
            .find(|level| level.as_str() == s.trim())
            .ok_or_else(|| ValidationError::new("raid_level", "Choose a RAID level: none, 0, 1, 5 or 10."))
    }
}

impl fmt::Display for RaidLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file system made on the volume group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSystem {
    Xfs,
    Ext4,
    Ext3,
    Ext2,
}

impl FileSystem {
    pub const ALL: [FileSystem; 4] = [FileSystem::Xfs, FileSystem::Ext4, FileSystem::Ext3, FileSystem::Ext2];

    /// The form value, also the `mkfs.` suffix and the fstab type.
    pub fn as_str(self) -> &'static str {
        match self {
            FileSystem::Xfs => "xfs",
            FileSystem::Ext4 => "ext4",
            FileSystem::Ext3 => "ext3",
            FileSystem::Ext2 => "ext2",
        }
    }

    /// The package that brings its `mkfs`.
    fn package(self) -> &'static str {
        match self {
            FileSystem::Xfs => "xfsprogs",
            FileSystem::Ext4 | FileSystem::Ext3 | FileSystem::Ext2 => "e2fsprogs",
        }
    }

    /// The `mkfs` command line before the device. mke2fs asks before writing
    /// to a whole disk on older releases; `-F` says yes.
    fn mkfs(self) -> Vec<String> {
        let program = format!("mkfs.{}", self.as_str());
        match self {
            FileSystem::Xfs => vec![program],
            FileSystem::Ext4 | FileSystem::Ext3 | FileSystem::Ext2 => vec![program, "-F".into()],
        }
    }

    /// The fstab pass number: XFS checks itself at mount time, so 0.
    fn fsck_pass(self) -> &'static str {
        match self {
            FileSystem::Xfs => "0",
            FileSystem::Ext4 | FileSystem::Ext3 | FileSystem::Ext2 => "2",
        }
    }
}

impl FromStr for FileSystem {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FileSystem::ALL
            .into_iter()
            .find(|fs| fs.as_str() == s.trim())
            .ok_or_else(|| ValidationError::new("file_system", "Choose a file system: xfs, ext4, ext3 or ext2."))
    }
}

impl fmt::Display for FileSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the volume group is mounted.
///
/// Rules: an absolute path of at most 255 characters, made of the POSIX
/// portable file name characters (letters, digits, `.`, `-`, `_`) and `/`;
/// no `.`, `..` or empty component; trailing slashes are dropped. Not `/`,
/// nothing in `/boot`, `/dev`, `/etc`, `/proc`, `/run` or `/sys`, and not one
/// of the directories the system lives in (`/bin`, `/home`, `/lib`, `/lib32`,
/// `/lib64`, `/libx32`, `/root`, `/sbin`, `/usr`, `/var`): mounting over those
/// hides the system, or the users' SSH keys. A directory below them, such as
/// `/var/lib/mysql` or `/usr/local`, is fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPoint(String);

impl MountPoint {
    const SYSTEM_TREES: [&'static str; 6] = ["boot", "dev", "etc", "proc", "run", "sys"];
    const SYSTEM_DIRS: [&'static str; 10] =
        ["bin", "home", "lib", "lib32", "lib64", "libx32", "root", "sbin", "usr", "var"];

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let error = |message: String| Err(ValidationError::new("mount_point", message));
        let raw = raw.trim();
        if raw.is_empty() {
            return error("Enter a mount point, such as /data.".into());
        }
        if !raw.starts_with('/') {
            return error("The mount point must be an absolute path such as /data.".into());
        }
        if raw.len() > MAX_MOUNT_POINT_LEN {
            return error(format!("The mount point may be at most {MAX_MOUNT_POINT_LEN} characters long."));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_')) {
            return error("The mount point may contain only letters, digits, “/”, “.”, “-” and “_”.".into());
        }
        let path = raw.trim_end_matches('/');
        if path.is_empty() {
            return error("The mount point cannot be “/” itself; choose a directory such as /data.".into());
        }
        let segments: Vec<&str> = path[1..].split('/').collect();
        if segments.iter().any(|s| matches!(*s, "" | "." | "..")) {
            return error("Write the mount point without “.”, “..” or “//”, such as /data.".into());
        }
        let top = segments[0];
        if Self::SYSTEM_TREES.contains(&top) {
            return error(format!("The mount point cannot be in /{top}: the system uses it."));
        }
        if segments.len() == 1 && Self::SYSTEM_DIRS.contains(&top) {
            return error(format!(
                "The mount point cannot be /{top}: the system uses it; choose a directory such as /data."
            ));
        }
        Ok(MountPoint(path.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MountPoint {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MountPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who encrypts an encrypted volume group: the provider (its capability
/// flag), or the instance itself with LUKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// The provider encrypts the volumes (EBS `Encrypted`); the user data does
    /// nothing about it.
    Provider,
    /// The instance formats the device with LUKS, with a key it makes itself.
    Luks,
}

/// A valid volume group: 1 to 8 volumes of 1 to 1000 GB, a RAID level that
/// fits the count, a file system, a mount point and whether to encrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeGroup {
    count: u8,
    size_gb: u16,
    raid: RaidLevel,
    file_system: FileSystem,
    mount_point: MountPoint,
    encrypt: bool,
}

impl VolumeGroup {
    /// Checks the count, the size and the RAID level against the count; the
    /// errors name the form fields `volume_count`, `volume_size_gb` and
    /// `raid_level`.
    pub fn new(
        count: u8,
        size_gb: u16,
        raid: RaidLevel,
        file_system: FileSystem,
        mount_point: MountPoint,
        encrypt: bool,
    ) -> Result<Self, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let count = errors.take(check_count(count));
        let size_gb = errors.take(check_size(size_gb));
        let raid = count.and_then(|count| errors.take(raid.check(count)));
        match (count, size_gb, raid) {
            (Some(count), Some(size_gb), Some(raid)) => {
                Ok(VolumeGroup { count, size_gb, raid, file_system, mount_point, encrypt })
            }
            _ => Err(errors.into_vec()),
        }
    }

    pub fn count(&self) -> u8 {
        self.count
    }

    pub fn size_gb(&self) -> u16 {
        self.size_gb
    }

    pub fn raid(&self) -> RaidLevel {
        self.raid
    }

    pub fn file_system(&self) -> FileSystem {
        self.file_system
    }

    pub fn mount_point(&self) -> &MountPoint {
        &self.mount_point
    }

    pub fn encrypt(&self) -> bool {
        self.encrypt
    }

    /// The device names of the provider's block device mapping, one per
    /// volume: `/dev/sdf`, `/dev/sdg`, … (at most `/dev/sdm`).
    pub fn device_names(&self) -> Vec<String> {
        (0..self.count).map(|i| format!("/dev/sd{}", char::from(b'f' + i))).collect()
    }

    /// Whether the launch must ask the provider to encrypt the volumes.
    pub fn encrypted_by_provider(&self, encryption: Encryption) -> bool {
        self.encrypt && encryption == Encryption::Provider
    }

    fn uses_luks(&self, encryption: Encryption) -> bool {
        self.encrypt && encryption == Encryption::Luks
    }
}

fn count_error() -> ValidationError {
    ValidationError::new("volume_count", format!("Enter a number of volumes from 1 to {MAX_VOLUMES}."))
}

fn size_error() -> ValidationError {
    ValidationError::new("volume_size_gb", format!("Enter a size from 1 to {MAX_VOLUME_SIZE_GB} GB."))
}

fn check_count(count: u8) -> Result<u8, ValidationError> {
    if (1..=MAX_VOLUMES).contains(&count) { Ok(count) } else { Err(count_error()) }
}

fn check_size(size_gb: u16) -> Result<u16, ValidationError> {
    if (1..=MAX_VOLUME_SIZE_GB).contains(&size_gb) { Ok(size_gb) } else { Err(size_error()) }
}

/// The Volume Configuration tab as posted.
///
/// `volumes` is `none` (or empty: the tab was left alone) or `group`; the
/// other fields count only for a group. `encrypt` is a checkbox: `on` (or
/// `true`) when ticked, absent when not.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VolumeForm {
    pub volumes: String,
    pub volume_count: String,
    pub volume_size_gb: String,
    /// `none`, `0`, `1`, `5` or `10`.
    pub raid_level: String,
    /// `xfs`, `ext4`, `ext3` or `ext2`.
    pub file_system: String,
    pub mount_point: String,
    pub encrypt: String,
}

impl VolumeForm {
    /// `None` when no volume group is wanted; else the group, or one error per
    /// field that breaks a rule.
    pub fn parse(&self) -> Result<Option<VolumeGroup>, Vec<ValidationError>> {
        match self.volumes.trim() {
            "" | "none" => return Ok(None),
            "group" => {}
            _ => return Err(vec![ValidationError::new("volumes", "Choose no volumes or a volume group.")]),
        }
        let mut errors = Errors::default();
        let count = errors.take(parse_number(&self.volume_count).ok_or_else(count_error).and_then(check_count));
        let size_gb = errors.take(parse_number(&self.volume_size_gb).ok_or_else(size_error).and_then(check_size));
        // The RAID level is checked against the count only once the count is known.
        let raid = errors.take(self.raid_level.parse::<RaidLevel>().and_then(|raid| match count {
            Some(count) => raid.check(count),
            None => Ok(raid),
        }));
        let file_system = errors.take(self.file_system.parse::<FileSystem>());
        let mount_point = errors.take(MountPoint::parse(&self.mount_point));
        let encrypt = errors.take(parse_checkbox("encrypt", &self.encrypt));
        let (Some(count), Some(size_gb), Some(raid), Some(file_system), Some(mount_point), Some(encrypt)) =
            (count, size_gb, raid, file_system, mount_point, encrypt)
        else {
            return Err(errors.into_vec());
        };
        VolumeGroup::new(count, size_gb, raid, file_system, mount_point, encrypt).map(Some)
    }
}

/// A whole number from a form field: digits only (`u8::from_str` would take
/// a leading `+`), and `None` when it does not fit `T`.
fn parse_number<T: FromStr>(raw: &str) -> Option<T> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn parse_checkbox(field: &'static str, raw: &str) -> Result<bool, ValidationError> {
    match raw.trim() {
        "" | "off" | "false" => Ok(false),
        "on" | "true" => Ok(true),
        _ => Err(ValidationError::new(field, "Tick the box or leave it empty.")),
    }
}

// ---------------------------------------------------------------------------
// Configuration Management
// ---------------------------------------------------------------------------

/// What configures the server after its first boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigManagement {
    None,
    Script(Script),
    Chef(Chef),
    Puppet(Puppet),
    Ansible(Ansible),
}

/// A shell script run once, as root, after the volumes are mounted.
///
/// Line endings become `\n` (a browser posts a textarea with `\r\n`, which a
/// shell reads as part of each command); everything else is kept byte for
/// byte. A script that starts with `#!` runs with that interpreter, any other
/// with `/bin/sh`. Rules: not blank, no NUL character, at most 16 KB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script(String);

impl Script {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let text = raw.replace("\r\n", "\n").replace('\r', "\n");
        if text.trim().is_empty() {
            return Err(ValidationError::new("script", "Enter the script to run."));
        }
        if text.contains('\0') {
            return Err(ValidationError::new("script", "The script must not contain NUL characters."));
        }
        if text.len() > MAX_USER_DATA_BYTES {
            return Err(ValidationError::new(
                "script",
                format!("The script is {} KB; at most 16 KB is allowed.", text.len().div_ceil(1024)),
            ));
        }
        Ok(Script(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn has_shebang(&self) -> bool {
        self.0.starts_with("#!")
    }
}

/// Chef Infra Client settings.
///
/// - `server_url`: `https://` (or `http://`) URL of the Chef server, host
///   name or IPv4 address, optional port, a path of letters, digits and
///   `/._~-`; no user name, query or fragment.
/// - `validation_client_name`: letters, digits, `.`, `-`, `_`. When empty,
///   `ORG-validator` for a URL ending in `/organizations/ORG` (Chef Server's
///   naming), else `chef-validator`. The validator's key is never put in user
///   data (any process on the instance can read it there): the image carries
///   it at `/etc/chef/validation.pem`.
/// - `run_list`: items `recipe[cookbook]`, `recipe[cookbook::recipe]`,
///   `recipe[cookbook::recipe@1.2.3]`, `role[name]`, or a bare
///   `cookbook::recipe`; may be empty, which leaves the run list to the server.
/// - `environment`: letters, digits, `-`, `_`.
/// - `parameters`: node attributes; a dot nests them (`nginx.port=8080` is
///   `{"nginx": {"port": "8080"}}`), values are strings.
///
/// Chef is installed with Chef's omnibus installer, and Chef's license is
/// accepted on the user's behalf (chef-client refuses to run otherwise):
/// choosing Chef in the dialog is that acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chef {
    server_url: String,
    validation_client_name: String,
    run_list: Vec<String>,
    environment: Option<String>,
    parameters: Vec<(String, String)>,
    attributes: Map<String, Value>,
}

impl Chef {
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    pub fn validation_client_name(&self) -> &str {
        &self.validation_client_name
    }

    pub fn run_list(&self) -> &[String] {
        &self.run_list
    }

    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    pub fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }
}

/// Puppet agent settings.
///
/// - `server`: the Puppet server's host name (or IPv4 address).
/// - `classes`: Puppet class names (lower-case words joined by `::`).
/// - `environment`: lower-case letters, digits, `_`.
/// - `parameters`: strings.
///
/// Puppet has no agent-side way to choose classes, so classes and parameters
/// reach the server as external facts, `stratus_classes` (an array) and
/// `stratus_parameters` (a hash), in `/etc/facter/facts.d/stratus.json`; the
/// server's manifest includes them, e.g.
/// `if $facts['stratus_classes'] { include $facts['stratus_classes'] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puppet {
    server: String,
    classes: Vec<String>,
    environment: Option<String>,
    parameters: Vec<(String, String)>,
}

impl Puppet {
    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    pub fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }
}

/// `ansible-pull` settings.
///
/// - `repository`: a Git URL, `https://host/path`, `ssh://[user@]host/path` or
///   `user@host:path`. Not `http://` (anyone on the way could change what runs
///   as root), and no credentials in the URL (the user data is readable on
///   the instance). An SSH host key is accepted on first use.
/// - `playbook`: a path inside the repository ending in `.yml` or `.yaml`.
/// - `parameters`: extra variables (strings), passed as a root-only JSON file.
///
/// The playbook runs against `localhost` with a local connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ansible {
    repository: String,
    playbook: String,
    parameters: Vec<(String, String)>,
}

impl Ansible {
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn playbook(&self) -> &str {
        &self.playbook
    }

    pub fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }

    fn uses_ssh(&self) -> bool {
        !self.repository.starts_with("https://")
    }
}

/// The Configuration Management tab as posted.
///
/// `config_type` is `none` (or empty), `script`, `chef`, `puppet` or
/// `ansible`; only the fields of that type are read, so values left in the
/// other types' fields do not matter. `config_server` is the Chef server URL
/// or the Puppet server; `run_list` and `puppet_classes` are separated by
/// commas or new lines; `config_parameters` has one `name=value` a line
/// (blank lines and lines starting with `#` are skipped). A parameter name
/// starts with a letter or `_` and has letters, digits and `_`, at most 64
/// characters; a value is the rest of the line, trimmed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConfigForm {
    pub config_type: String,
    pub script: String,
    pub config_server: String,
    pub validation_client_name: String,
    pub config_repository: String,
    pub run_list: String,
    pub puppet_classes: String,
    pub playbook: String,
    pub config_environment: String,
    pub config_parameters: String,
}

impl ConfigForm {
    pub fn parse(&self) -> Result<ConfigManagement, Vec<ValidationError>> {
        match self.config_type.trim() {
            "" | "none" => Ok(ConfigManagement::None),
            "script" => Script::parse(&self.script).map(ConfigManagement::Script).map_err(|e| vec![e]),
            "chef" => self.chef().map(ConfigManagement::Chef),
            "puppet" => self.puppet().map(ConfigManagement::Puppet),
            "ansible" => self.ansible().map(ConfigManagement::Ansible),
            _ => {
                Err(vec![ValidationError::new("config_type", "Choose none, a shell script, Chef, Puppet or Ansible.")])
            }
        }
    }

    fn chef(&self) -> Result<Chef, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let server_url = errors.take(parse_chef_server(&self.config_server));
        let client = errors.take(optional(&self.validation_client_name, |name| {
            if is_word(name, |b| b == b'.' || b == b'-' || b == b'_') {
                Ok(name.to_owned())
            } else {
                Err(ValidationError::new(
                    "validation_client_name",
                    "A client name has only letters, digits, “.”, “-” and “_”.",
                ))
            }
        }));
        let run_list = errors.take(parse_run_list(&self.run_list));
        let environment = errors.take(optional(&self.config_environment, |name| {
            if is_word(name, |b| b == b'-' || b == b'_') {
                Ok(name.to_owned())
            } else {
                Err(ValidationError::new(
                    "config_environment",
                    "A Chef environment name has only letters, digits, “-” and “_”.",
                ))
            }
        }));
        let parameters = errors.take(parse_parameters(&self.config_parameters, Nesting::Dotted).and_then(|params| {
            let attributes = nest(&params)?;
            Ok((params, attributes))
        }));
        let (Some(server_url), Some(client), Some(run_list), Some(environment), Some((parameters, attributes))) =
            (server_url, client, run_list, environment, parameters)
        else {
            return Err(errors.into_vec());
        };
        let validation_client_name = client.unwrap_or_else(|| default_validator(&server_url));
        Ok(Chef { server_url, validation_client_name, run_list, environment, parameters, attributes })
    }

    fn puppet(&self) -> Result<Puppet, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let server = errors.take({
            let server = self.config_server.trim();
            if is_host_name(server) {
                Ok(server.to_owned())
            } else {
                Err(ValidationError::new(
                    "config_server",
                    "Enter the Puppet server's host name, such as puppet.example.com.",
                ))
            }
        });
        let classes = errors.take(parse_puppet_classes(&self.puppet_classes));
        let environment = errors.take(optional(&self.config_environment, |name| {
            if name.len() <= MAX_NAME_LEN
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                Ok(name.to_owned())
            } else {
                Err(ValidationError::new(
                    "config_environment",
                    "A Puppet environment name has only lower-case letters, digits and “_”.",
                ))
            }
        }));
        let parameters = errors.take(parse_parameters(&self.config_parameters, Nesting::Flat));
        let (Some(server), Some(classes), Some(environment), Some(parameters)) =
            (server, classes, environment, parameters)
        else {
            return Err(errors.into_vec());
        };
        Ok(Puppet { server, classes, environment, parameters })
    }

    fn ansible(&self) -> Result<Ansible, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let repository = errors.take(parse_repository(&self.config_repository));
        let playbook = errors.take(parse_playbook(&self.playbook));
        let parameters = errors.take(parse_parameters(&self.config_parameters, Nesting::Flat));
        let (Some(repository), Some(playbook), Some(parameters)) = (repository, playbook, parameters) else {
            return Err(errors.into_vec());
        };
        Ok(Ansible { repository, playbook, parameters })
    }
}

/// `None` for a blank field, else what `parse` makes of the trimmed text.
fn optional<T>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<Option<T>, ValidationError> {
    match raw.trim() {
        "" => Ok(None),
        text => parse(text).map(Some),
    }
}

/// 1 to 255 ASCII letters and digits, plus the bytes `extra` allows.
fn is_word(s: &str, extra: impl Fn(u8) -> bool) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra(b))
}

/// A DNS name or an IPv4 address: labels of letters, digits and inner `-`.
fn is_host_name(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `host` or `host:port`.
fn is_authority(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            is_host_name(host)
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|port| port > 0)
        }
        None => is_host_name(s),
    }
}

/// A URL path of unreserved characters: nothing a shell, Ruby string or
/// config file would read specially, no query and no fragment.
fn is_url_path(s: &str) -> bool {
    s.len() <= 1024 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'~' | b'-'))
}

/// Splits `scheme://authority/path` after the scheme into authority and path
/// (the path keeps its leading `/`, and may be empty).
fn split_authority(rest: &str) -> (&str, &str) {
    rest.split_at(rest.find('/').unwrap_or(rest.len()))
}

fn parse_chef_server(raw: &str) -> Result<String, ValidationError> {
    let error = |message: &str| Err(ValidationError::new("config_server", message));
    let example = "Enter the Chef server's URL, such as https://chef.example.com/organizations/acme.";
    let raw = raw.trim();
    if raw.is_empty() {
        return error(example);
    }
    let Some(rest) = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://")) else {
        return error("The Chef server URL must start with https:// or http://.");
    };
    let (authority, path) = split_authority(rest);
    if authority.contains('@') {
        return error("Leave the user name and password out of the Chef server URL.");
    }
    if !is_authority(authority) || !is_url_path(path) {
        return error(example);
    }
    Ok(raw.to_owned())
}

/// Chef Server names an organization's validator `ORG-validator`.
fn default_validator(server_url: &str) -> String {
    let org = server_url
        .split_once("/organizations/")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .filter(|org| is_word(org, |b| b == b'-' || b == b'_'));
    match org {
        Some(org) => format!("{org}-validator"),
        None => "chef-validator".to_owned(),
    }
}

fn list_items(raw: &str, separator: impl Fn(char) -> bool) -> impl Iterator<Item = &str> {
    raw.split(separator).map(str::trim).filter(|item| !item.is_empty())
}

fn parse_run_list(raw: &str) -> Result<Vec<String>, ValidationError> {
    list_items(raw, |c| c == ',' || c == '\n' || c == '\r')
        .map(|item| {
            if is_run_list_item(item) {
                Ok(item.to_owned())
            } else {
                Err(ValidationError::new(
                    "run_list",
                    format!(
                        "“{item}” is not a run list item; write recipe[cookbook], recipe[cookbook::recipe] or role[name]."
                    ),
                ))
            }
        })
        .collect()
}

fn is_chef_name(s: &str) -> bool {
    is_word(s, |b| b == b'-' || b == b'_')
}

fn is_run_list_item(item: &str) -> bool {
    if let Some(role) = item.strip_prefix("role[").and_then(|rest| rest.strip_suffix(']')) {
        return is_chef_name(role);
    }
    let recipe = item.strip_prefix("recipe[").and_then(|rest| rest.strip_suffix(']')).unwrap_or(item);
    let (name, version) = match recipe.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (recipe, None),
    };
    let version_ok = version.is_none_or(|version| {
        version.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    });
    let name_ok = match name.split_once("::") {
        Some((cookbook, recipe)) => is_chef_name(cookbook) && is_chef_name(recipe),
        None => is_chef_name(name),
    };
    version_ok && name_ok
}

fn parse_puppet_classes(raw: &str) -> Result<Vec<String>, ValidationError> {
    list_items(raw, |c| c == ',' || c.is_whitespace())
        .map(|class| {
            let segments = class.strip_prefix("::").unwrap_or(class);
            let valid = class.len() <= MAX_NAME_LEN
                && segments.split("::").all(|segment| {
                    segment.starts_with(|c: char| c.is_ascii_lowercase())
                        && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            if valid {
                Ok(class.to_owned())
            } else {
                Err(ValidationError::new(
                    "puppet_classes",
                    format!(
                        "“{class}” is not a Puppet class; class names are lower-case words joined by “::”, such as apache::mod::ssl."
                    ),
                ))
            }
        })
        .collect()
}

fn parse_repository(raw: &str) -> Result<String, ValidationError> {
    let error = |message: &str| Err(ValidationError::new("config_repository", message));
    let raw = raw.trim();
    let example = "Enter a Git repository URL, such as https://github.com/acme/playbooks.git or git@github.com:acme/playbooks.git.";
    if raw.starts_with("http://") {
        return error(
            "Use https:// or SSH for the repository: over plain http:// anyone on the way could change what runs on the server.",
        );
    }
    let is_user = |user: &str| is_word(user, |b| b == b'.' || b == b'-' || b == b'_');
    let valid = if let Some(rest) = raw.strip_prefix("https://") {
        let (authority, path) = split_authority(rest);
        if authority.contains('@') {
            return error("Leave credentials out of the repository URL: anyone on the server can read the user data.");
        }
        is_authority(authority) && path.len() > 1 && is_url_path(path)
    } else if let Some(rest) = raw.strip_prefix("ssh://") {
        let (authority, path) = split_authority(rest);
        let host = match authority.split_once('@') {
            Some((user, host)) if is_user(user) => host,
            Some(_) => "",
            None => authority,
        };
        is_authority(host) && path.len() > 1 && is_url_path(path)
    } else if let Some((user, rest)) = raw.split_once('@')
        && let Some((host, path)) = rest.split_once(':')
    {
        is_user(user) && is_host_name(host) && !path.is_empty() && !path.starts_with('-') && is_url_path(path)
    } else {
        false
    };
    if valid { Ok(raw.to_owned()) } else { error(example) }
}

fn parse_playbook(raw: &str) -> Result<String, ValidationError> {
    let error = |message: &str| Err(ValidationError::new("playbook", message));
    let raw = raw.trim();
    if raw.is_empty() {
        return error("Enter the playbook to run, such as site.yml.");
    }
    if !(raw.ends_with(".yml") || raw.ends_with(".yaml")) {
        return error("The playbook must be a .yml or .yaml file, such as site.yml.");
    }
    let inside = raw.len() <= MAX_NAME_LEN
        && raw.split('/').all(|segment| {
            !matches!(segment, "" | "." | "..")
                && !segment.starts_with('-')
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if !inside {
        return error("The playbook must be a path inside the repository, such as site.yml or playbooks/web.yml.");
    }
    Ok(raw.to_owned())
}

/// Whether a parameter name may contain dots that nest it (Chef attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nesting {
    Flat,
    Dotted,
}

fn is_parameter_name(name: &str) -> bool {
    name.len() <= MAX_PARAMETER_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_parameters(raw: &str, nesting: Nesting) -> Result<Vec<(String, String)>, ValidationError> {
    let error = |message: String| Err(ValidationError::new("config_parameters", message));
    let mut parameters: Vec<(String, String)> = Vec::new();
    for (index, line) in raw.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return error(format!("Line {number} is not name=value."));
        };
        let (name, value) = (name.trim(), value.trim());
        let name_ok = match nesting {
            Nesting::Flat => is_parameter_name(name),
            Nesting::Dotted => name.len() <= MAX_PARAMETER_NAME_LEN && name.split('.').all(is_parameter_name),
        };
        if !name_ok {
            let dots = if nesting == Nesting::Dotted { " (a “.” nests them, as in nginx.port)" } else { "" };
            return error(format!(
                "Line {number}: a name starts with a letter or “_” and has only letters, digits and “_”{dots}, at most {MAX_PARAMETER_NAME_LEN} characters."
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return error(format!("Line {number}: the value must not contain control characters."));
        }
        if parameters.iter().any(|(known, _)| known == name) {
            return error(format!("Line {number}: “{name}” is given twice."));
        }
        parameters.push((name.to_owned(), value.to_owned()));
    }
    Ok(parameters)
}

/// Chef attributes from dotted names; a name cannot be both a value and a
/// parent of other names, and `run_list` belongs to the run list field.
fn nest(parameters: &[(String, String)]) -> Result<Map<String, Value>, ValidationError> {
    let clash = |name: &str| {
        ValidationError::new(
            "config_parameters",
            format!("“{name}” clashes with another parameter: a name cannot hold a value and other names."),
        )
    };
    let mut root = Map::new();
    for (name, value) in parameters {
        if name == "run_list" || name.starts_with("run_list.") {
            return Err(ValidationError::new("config_parameters", "Set run_list in the run list field."));
        }
        let mut map = &mut root;
        let mut segments = name.split('.').peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_none() {
                if map.contains_key(segment) {
                    return Err(clash(name));
                }
                map.insert(segment.to_owned(), Value::String(value.clone()));
            } else {
                let Value::Object(inner) = map.entry(segment).or_insert_with(|| Value::Object(Map::new())) else {
                    return Err(clash(name));
                };
                map = inner;
            }
        }
    }
    Ok(root)
}

/// Collects the errors of fields parsed one after another, one per field.
#[derive(Default)]
struct Errors(Vec<ValidationError>);

impl Errors {
    fn take<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }

    fn into_vec(self) -> Vec<ValidationError> {
        self.0
    }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// The md array, the LUKS mapping and the key file are named after this.
const DATA_NAME: &str = "stratus-data";
const MD_DEVICE: &str = "/dev/md/stratus-data";
const LUKS_DEVICE: &str = "/dev/mapper/stratus-data";
const LUKS_KEY_DIR: &str = "/etc/luks";
const LUKS_KEY: &str = "/etc/luks/stratus-data.key";
const FIND_VOLUMES: &str = "/usr/local/sbin/stratus-find-volumes";
const VOLUME_LINK: &str = "/run/stratus/volume-";
const USER_SCRIPT: &str = "/var/lib/stratus/user-script";
const ANSIBLE_VARS: &str = "/etc/stratus/ansible-vars.json";
const ANSIBLE_CHECKOUT: &str = "/var/lib/stratus/ansible";
const PUPPET_FACTS: &str = "/etc/facter/facts.d/stratus.json";
const CHEF_OMNIBUS_URL: &str = "https://omnitruck.chef.io/install.sh";

/// Waits for the group's disks and links them as `/run/stratus/volume-N`
/// (see the module docs for why by size and emptiness). Constant: the count
/// and size arrive as arguments.
const FIND_VOLUMES_SCRIPT: &str = r#"#!/bin/sh
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
    packages: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    write_files: Vec<WriteFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chef: Option<ChefModule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    puppet: Option<PuppetModule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runcmd: Vec<Command>,
}

impl CloudConfig {
    fn package(&mut self, name: &'static str) {
        if !self.packages.contains(&name) {
            self.packages.push(name);
        }
    }

    fn run<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) {
        self.runcmd.push(Command::Exec(args.into_iter().map(Into::into).collect()));
    }

    /// `sh -c SCRIPT sh ARGS...`: the script is constant, the values arrive
    /// as `$1`, `$2`, … and are never parsed as shell.
    fn run_shell(&mut self, script: &'static str, args: &[&str]) {
        self.run(["sh", "-c", script, "sh"].into_iter().chain(args.iter().copied()));
    }

    fn is_empty(&self) -> bool {
        self.packages.is_empty()
            && self.write_files.is_empty()
            && self.chef.is_none()
            && self.puppet.is_none()
            && self.runcmd.is_empty()
    }
}

#[derive(Debug, Serialize)]
struct WriteFile {
    path: &'static str,
    content: String,
    permissions: &'static str,
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
    server_url: String,
    validation_name: String,
    /// `system`: use the key the image carries, never one from user data.
    validation_cert: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<String>,
    run_list: Vec<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    initial_attributes: Map<String, Value>,
    exec: bool,
}

#[derive(Debug, Serialize)]
struct PuppetModule {
    install: bool,
    start_service: bool,
    exec: bool,
    conf: PuppetConf,
}

#[derive(Debug, Serialize)]
struct PuppetConf {
    agent: BTreeMap<&'static str, String>,
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
fn yaml_safe(json: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        for bad in ["/proc", "/proc/x", "/sys/kernel", "/dev", "/dev/sdf", "/boot", "/boot/efi", "/etc/luks", "/run/x"]
        {
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
        assert_eq!(
            (error.field, error.message.as_str()),
            ("script", "The user data is 17 KB; at most 16 KB is allowed.")
        );

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
        for good in ["https://chef.example.com", "http://10.0.0.5:4000/", "https://chef.example.com/organizations/acme"]
        {
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
        for bad in
            ["/etc/site.yml", "../site.yml", "a/../../site.yml", "./site.yml", "-e.yml", "my site.yml", "a//b.yml"]
        {
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
        let fstab =
            commands.iter().find(|c| c.get(2).is_some_and(|s| s.contains("/etc/fstab"))).expect("an fstab step");
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
                .any(|c| c.starts_with(&["cryptsetup".into(), "luksFormat".into()])
                    && c.last() == Some(&MD_DEVICE.into()))
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
}
