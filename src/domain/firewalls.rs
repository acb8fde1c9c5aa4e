//! Firewalls (EC2 security groups): the rules for a new one's name and
//! description, as EC2 states them for a VPC: up to 255 characters of
//! `a-z A-Z 0-9`, spaces and `._-:/()#,@[]+=&;{}!$*`; a name may not start
//! with `sg-` (it would read as a group id) nor be `default` (every network
//! has that one). EC2 requires a description, so the console does too.
//! Surrounding spaces are trimmed. Whether the name is free in the account is
//! a question for the database, asked in the transaction that writes it.
//!
//! A firewall's inbound rules are [`Rule`]s: what it lets in, by protocol,
//! ports and source, as EC2 keeps them (`IpPermissions`). [`Rule::parse`]
//! reads a new one as a person writes it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// The name of the firewall every network has; it cannot be deleted.
pub const DEFAULT: &str = "default";

const MAX_CHARS: usize = 255;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c)
}

fn checked(raw: &str, field: &'static str, what: &str) -> Result<String, ValidationError> {
    let text = raw.trim();
    if text.is_empty() {
        let hint = if field == "description" { " The provider requires one." } else { "" };
        return Err(ValidationError::new(field, format!("Enter a {what}.{hint}")));
    }
    if text.chars().count() > MAX_CHARS {
        return Err(ValidationError::new(field, format!("A {what} has at most {MAX_CHARS} characters.")));
    }
    if let Some(bad) = text.chars().find(|&c| !allowed(c)) {
        let shown = if bad.is_control() { "a control character".to_owned() } else { format!("“{bad}”") };
        return Err(ValidationError::new(
            field,
            format!("A {what} may hold letters A–Z, digits, spaces and ._-:/()#,@[]+=&;{{}}!$*; not {shown}."),
        ));
    }
    Ok(text.to_owned())
}

/// The name of a new firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallName(String);

impl FirewallName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = checked(raw, "name", "name")?;
        if name.to_ascii_lowercase().starts_with("sg-") {
            return Err(ValidationError::new("name", "A name cannot start with “sg-”: that is how group ids begin."));
        }
        if name.eq_ignore_ascii_case(DEFAULT) {
            return Err(ValidationError::new("name", "“default” is the provider's own firewall; choose another name."));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The description of a new firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallDescription(String);

impl FirewallDescription {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        checked(raw, "description", "description").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One inbound rule of a firewall, in EC2's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// EC2's `IpProtocol`: "tcp", "udp", "icmp", "-1" (all traffic) or, in a
    /// rule synced from the provider, a protocol number.
    pub protocol: String,
    /// The port range (for ICMP: the type and code, -1 for all); `None`
    /// where the protocol has no ports (all traffic).
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// A CIDR block (`203.0.113.0/24`, `::/0`), or, in a rule synced from
    /// the provider, the id of a security group (`sg-…`) or prefix list
    /// (`pl-…`).
    pub source: String,
}

/// The protocols a new rule may name, as the form and the API write them.
pub const PROTOCOLS: [(&str, &str); 4] = [("tcp", "TCP"), ("udp", "UDP"), ("icmp", "ICMP"), ("all", "All traffic")];

const ALL_TRAFFIC: &str = "-1";
const ICMPV6: &str = "icmpv6";

impl Rule {
    /// A new rule as written: `protocol` one of [`PROTOCOLS`], `ports` a port
    /// ("22") or range ("8000-8080") for TCP and UDP and empty otherwise,
    /// `source` an address block ("203.0.113.0/24", "::/0") or one address.
    /// Every field's problem at once.
    pub fn parse(protocol: &str, ports: &str, source: &str) -> Result<Self, Vec<ValidationError>> {
        let source = address_block(source.trim()).map_err(|message| ValidationError::new("source", message));
        let ipv6 = source.as_ref().is_ok_and(|block| block.contains(':'));
        // ICMP from IPv6 addresses is ICMPv6 at the provider: ICMP rules
        // match IPv4 traffic only.
        let protocol = match protocol.trim() {
            "tcp" | "udp" => Ok(protocol.trim().to_owned()),
            "icmp" | "icmpv6" if ipv6 => Ok(ICMPV6.to_owned()),
            "icmp" => Ok("icmp".to_owned()),
            "icmpv6" => {
                Err(ValidationError::new("protocol", "ICMPv6 comes from IPv6 addresses; for IPv4, choose ICMP."))
            }
            "all" => Ok(ALL_TRAFFIC.to_owned()),
            _ => Err(ValidationError::new("protocol", "Choose TCP, UDP, ICMP or all traffic.")),
        };
        let ports = match protocol.as_deref() {
            Ok("tcp" | "udp") => port_range(ports.trim()).map(|(from, to)| (Some(from), Some(to))),
            Ok("icmp" | ICMPV6) if ports.trim().is_empty() => Ok((Some(-1), Some(-1))),
            Ok(_) if ports.trim().is_empty() => Ok((None, None)),
            Ok(_) => Err(ValidationError::new("ports", "ICMP and all traffic have no ports: leave Ports empty.")),
            Err(_) => Ok((None, None)),
        };
        match (protocol, ports, source) {
            (Ok(protocol), Ok((from_port, to_port)), Ok(source)) => Ok(Rule { protocol, from_port, to_port, source }),
            (protocol, ports, source) => {
                Err([protocol.err(), ports.err(), source.err()].into_iter().flatten().collect())
            }
        }
    }

    /// ICMP for IPv4 or IPv6 (`icmpv6`, number 58).
    fn is_icmp(&self) -> bool {
        matches!(self.protocol.as_str(), "icmp" | ICMPV6 | "58")
    }

    /// The protocol as the form and the API write it: "tcp", "udp",
    /// "icmp", "all", or the provider's number.
    /// ICMP from IPv6 addresses is written "icmp" too, as it was added.
    pub fn protocol_choice(&self) -> &str {
        match self.protocol.as_str() {
            ALL_TRAFFIC => "all",
            ICMPV6 | "58" => "icmp",
            other => other,
        }
    }

    /// "TCP", "ICMPv6", "All traffic", "Protocol 50".
    pub fn protocol_name(&self) -> String {
        if matches!(self.protocol.as_str(), ICMPV6 | "58") {
            return "ICMPv6".into();
        }
        match PROTOCOLS.iter().find(|(choice, _)| *choice == self.protocol_choice()) {
            Some((_, name)) => (*name).to_owned(),
            None => format!("Protocol {}", self.protocol),
        }
    }

    /// The ports as the form and the API write them: "22", "8000-8080";
    /// empty where the protocol has none, and for ICMP (whose type and code
    /// only the summary tells).
    pub fn ports_choice(&self) -> String {
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            _ if self.is_icmp() => String::new(),
            (_, None, _) | (_, _, None) => String::new(),
            (_, Some(from), Some(to)) if from == to => from.to_string(),
            (_, Some(from), Some(to)) => format!("{from}-{to}"),
        }
    }

    /// The ports in words: "22", "8000–8080", "all", "type 8".
    pub fn ports_text(&self) -> String {
        let icmp = self.is_icmp();
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            (_, Some(-1) | None, _) if icmp => "all types".into(),
            (_, Some(kind), Some(-1) | None) if icmp => format!("type {kind}"),
            (_, Some(kind), Some(code)) if icmp => format!("type {kind}, code {code}"),
            (_, Some(0), Some(65535)) | (_, None, _) | (_, _, None) => "all".into(),
            (_, Some(from), Some(to)) if from == to => from.to_string(),
            (_, Some(from), Some(to)) => format!("{from}–{to}"),
        }
    }

    /// The source in words: the block, "anywhere" for every address.
    pub fn source_text(&self) -> String {
        match self.source.as_str() {
            "0.0.0.0/0" => "anywhere (IPv4)".into(),
            "::/0" => "anywhere (IPv6)".into(),
            group if group.starts_with("sg-") => format!("firewall {group}"),
            list if list.starts_with("pl-") => format!("prefix list {list}"),
            block => block.to_owned(),
        }
    }

    /// "TCP 22 from 10.0.0.0/8", "All traffic from anywhere (IPv6)".
    pub fn summary(&self) -> String {
        let ports = match (self.protocol.as_str(), self.ports_text().as_str()) {
            ("tcp" | "udp", "all") => " all ports".to_owned(),
            (_, "all" | "all types") => String::new(),
            (_, ports) => format!(" {ports}"),
        };
        format!("{}{ports} from {}", self.protocol_name(), self.source_text())
    }
}

/// "22" or "8000-8080" (an en dash too), each port 0 to 65535.
fn port_range(text: &str) -> Result<(i32, i32), ValidationError> {
    const HOW: &str = "Enter a port, like 22, or a range, like 8000-8080.";
    let port = |part: &str| {
        let part = part.trim();
        if part.is_empty() || part.len() > 5 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new("ports", HOW));
        }
        let port: i32 = part.parse().map_err(|_| ValidationError::new("ports", HOW))?;
        if port > 65535 { Err(ValidationError::new("ports", "Ports run from 0 to 65535.")) } else { Ok(port) }
    };
    let (from, to) = match text.split_once(['-', '–']) {
        Some((from, to)) => (port(from)?, port(to)?),
        None => {
            let one = port(text)?;
            (one, one)
        }
    };
    if from > to {
        return Err(ValidationError::new("ports", format!("A range runs from the lower port: write {to}-{from}.")));
    }
    Ok((from, to))
}

/// A CIDR block, as EC2 takes it: the first address of the block and its
/// prefix length. One address is the block of just that address (/32, /128).
fn address_block(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("Enter where traffic may come from: a block like 203.0.113.0/24, or 0.0.0.0/0 for anywhere.".into());
    }
    let shown = if text.chars().count() <= 60 && !text.chars().any(char::is_control) {
        format!("“{text}”")
    } else {
        "That".into()
    };
    let not_a_block = || format!("{shown} is not an address block: write one like 203.0.113.0/24, or one address.");
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address.parse().map_err(|_| not_a_block())?;
    let longest = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => longest,
        Some(digits) if !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            match digits.parse::<u8>() {
                Ok(prefix) if prefix <= longest => prefix,
                _ => return Err(format!("The number after “/” runs from 0 to {longest} for this address.")),
            }
        }
        Some(_) => return Err(not_a_block()),
    };
    let first = first_address(address, prefix);
    if first != address {
        return Err(format!("{shown} is not the start of its block: did you mean {first}/{prefix}?"));
    }
    Ok(format!("{address}/{prefix}"))
}

/// The first address of `address`'s block of `prefix` bits.
fn first_address(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: Vec<ValidationError>) -> Vec<(&'static str, String)> {
        errors.into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn a_rule_is_read_as_written_and_told_in_words() {
        let ssh = Rule::parse("tcp", " 22 ", "10.0.0.0/8").unwrap();
        assert_eq!((ssh.from_port, ssh.to_port, ssh.source.as_str()), (Some(22), Some(22), "10.0.0.0/8"));
        assert_eq!(ssh.summary(), "TCP 22 from 10.0.0.0/8");
        let range = Rule::parse("udp", "8000 – 8080", "2001:db8::/32").unwrap();
        assert_eq!((range.ports_choice(), range.ports_text()), ("8000-8080".into(), "8000–8080".into()));
        let one = Rule::parse("tcp", "443", "203.0.113.5").unwrap();
        assert_eq!(one.source, "203.0.113.5/32");
        assert_eq!(Rule::parse("tcp", "0-65535", "::").unwrap().summary(), "TCP all ports from ::/128");
        let all = Rule::parse("all", "", "0.0.0.0/0").unwrap();
        assert_eq!((all.protocol.as_str(), all.from_port, all.protocol_choice()), ("-1", None, "all"));
        assert_eq!(all.summary(), "All traffic from anywhere (IPv4)");
        let ping = Rule::parse("icmp", "", "0.0.0.0/0").unwrap();
        assert_eq!((ping.from_port, ping.to_port), (Some(-1), Some(-1)));
        assert_eq!((ping.summary(), ping.ports_choice()), ("ICMP from anywhere (IPv4)".into(), String::new()));
        let ping6 = Rule::parse("icmp", "", "::/0").unwrap();
        assert_eq!((ping6.protocol.as_str(), ping6.protocol_choice()), ("icmpv6", "icmp"));
        assert_eq!(ping6.summary(), "ICMPv6 from anywhere (IPv6)");
        assert_eq!(
            Rule::parse("icmpv6", "", "2001:db8::/32").unwrap(),
            Rule { source: "2001:db8::/32".into(), ..ping6 }
        );
        let echo = Rule { protocol: "icmp".into(), from_port: Some(8), to_port: Some(-1), source: "pl-1".into() };
        assert_eq!((echo.summary(), echo.ports_choice()), ("ICMP type 8 from prefix list pl-1".into(), String::new()));
        let synced = Rule { protocol: "50".into(), from_port: None, to_port: None, source: "sg-0abc".into() };
        assert_eq!(synced.summary(), "Protocol 50 from firewall sg-0abc");
    }

    #[test]
    fn a_rule_that_cannot_be_made_says_why_at_each_field() {
        assert_eq!(
            fields(Rule::parse("gre", "", "").unwrap_err()),
            [
                ("protocol", "Choose TCP, UDP, ICMP or all traffic.".to_owned()),
                (
                    "source",
                    "Enter where traffic may come from: a block like 203.0.113.0/24, or 0.0.0.0/0 for anywhere."
                        .to_owned()
                )
            ]
        );
        let message = |protocol, ports, source| Rule::parse(protocol, ports, source).unwrap_err().remove(0).message;
        assert_eq!(message("tcp", "", "::/0"), "Enter a port, like 22, or a range, like 8000-8080.");
        assert_eq!(message("tcp", "+22", "::/0"), "Enter a port, like 22, or a range, like 8000-8080.");
        assert_eq!(message("tcp", "70000", "::/0"), "Ports run from 0 to 65535.");
        assert_eq!(message("udp", "90-80", "::/0"), "A range runs from the lower port: write 80-90.");
        assert_eq!(message("icmp", "8", "::/0"), "ICMP and all traffic have no ports: leave Ports empty.");
        assert_eq!(message("icmpv6", "", "10.0.0.0/8"), "ICMPv6 comes from IPv6 addresses; for IPv4, choose ICMP.");
        assert_eq!(
            message("tcp", "22", "10.0.0.1/8"),
            "“10.0.0.1/8” is not the start of its block: did you mean 10.0.0.0/8?"
        );
        assert_eq!(message("tcp", "22", "10.0.0.0/33"), "The number after “/” runs from 0 to 32 for this address.");
        assert_eq!(
            message("tcp", "22", "10.0.0.0/+8"),
            "“10.0.0.0/+8” is not an address block: write one like 203.0.113.0/24, or one address."
        );
        assert!(message("tcp", "22", "web\0").starts_with("That is not an address block"));
        assert!(message("tcp", "22", "10.0.0.0/8\u{0}").starts_with("That is not"));
    }

    #[test]
    fn names_follow_the_ec2_rules() {
        assert_eq!(FirewallName::parse("  web (public) ").unwrap().as_str(), "web (public)");
        assert!(FirewallName::parse("db:5432/tcp@vpc-1 [a+b]").is_ok());
        assert!(FirewallName::parse(&"w".repeat(255)).is_ok());
        assert!(FirewallName::parse(&"w".repeat(256)).unwrap_err().message.contains("at most 255"));
        assert!(FirewallName::parse("SG-web").unwrap_err().message.contains("cannot start with “sg-”"));
        assert!(FirewallName::parse("Default").unwrap_err().message.contains("provider's own"));
        assert!(FirewallName::parse("web\"x").unwrap_err().message.contains("not “\"”"));
        assert!(FirewallName::parse("wéb").is_err());
        assert_eq!(FirewallName::parse(" ").unwrap_err().message, "Enter a name.");
    }

    #[test]
    fn a_description_is_required() {
        let missing = FirewallDescription::parse("").unwrap_err();
        assert_eq!(
            (missing.field, missing.message.as_str()),
            ("description", "Enter a description. The provider requires one.")
        );
        assert_eq!(FirewallDescription::parse(" HTTP from anywhere ").unwrap().as_str(), "HTTP from anywhere");
        assert!(FirewallDescription::parse("tab\there").unwrap_err().message.contains("a control character"));
    }
}
