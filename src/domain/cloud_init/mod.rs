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

mod config_management;
mod render;
#[cfg(test)]
mod tests;
mod volumes;

pub use config_management::*;
pub use render::user_data;
pub use volumes::*;

/// The most user data a launch may carry, in bytes.
pub const MAX_USER_DATA_BYTES: usize = 16 * 1024;
/// The most volumes a volume group may have.
pub const MAX_VOLUMES: u8 = 8;
/// The largest volume, in GB (GiB, as the provider counts).
pub const MAX_VOLUME_SIZE_GB: u16 = 1000;

const MAX_MOUNT_POINT_LEN: usize = 255;
const MAX_NAME_LEN: usize = 255;
const MAX_PARAMETER_NAME_LEN: usize = 64;
