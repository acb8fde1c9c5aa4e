//! Volume Configuration: a group of volumes joined (RAID), formatted, encrypted and mounted.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use super::config_management::*;
use super::*;
use crate::domain::ValidationError;

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
    pub(super) fn md_level(self) -> Option<&'static str> {
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
    pub(super) fn package(self) -> &'static str {
        match self {
            FileSystem::Xfs => "xfsprogs",
            FileSystem::Ext4 | FileSystem::Ext3 | FileSystem::Ext2 => "e2fsprogs",
        }
    }

    /// The `mkfs` command line before the device. mke2fs asks before writing
    /// to a whole disk on older releases; `-F` says yes.
    pub(super) fn mkfs(self) -> Vec<String> {
        let program = format!("mkfs.{}", self.as_str());
        match self {
            FileSystem::Xfs => vec![program],
            FileSystem::Ext4 | FileSystem::Ext3 | FileSystem::Ext2 => vec![program, "-F".into()],
        }
    }

    /// The fstab pass number: XFS checks itself at mount time, so 0.
    pub(super) fn fsck_pass(self) -> &'static str {
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
pub struct MountPoint(pub(super) String);

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
    pub(super) count: u8,
    pub(super) size_gb: u16,
    pub(super) raid: RaidLevel,
    pub(super) file_system: FileSystem,
    pub(super) mount_point: MountPoint,
    pub(super) encrypt: bool,
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

    pub(super) fn uses_luks(&self, encryption: Encryption) -> bool {
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
