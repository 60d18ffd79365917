//! Every [`Config`] field by name, so a run's configuration can come from the
//! command line (`--set suspicion_mult=5`), from a TOML file with the same
//! field names, or from a named preset (memberlist's `DefaultLANConfig`,
//! `DefaultWANConfig`, `DefaultLocalConfig`, …).
//!
//! [`FIELDS`] is the one table: each field's name, how to parse and set it,
//! and how to show it. Files, presets, `--set`, the echo of what differs
//! from the default and `swim-sim fields` all go through it. Fields that only
//! a driver reads (addresses, buffer pools, the drivers' join retry) are
//! listed but refused, with the reason.
//!
//! ```
//! use swim_core::Config;
//! use swim_sim::settings;
//!
//! let mut config = Config::default();
//! settings::set(&mut config, "suspicion_mult", "5").unwrap();
//! settings::apply_toml(&mut config, "probe_timeout = \"200ms\"\ncompression = true").unwrap();
//! assert_eq!(settings::differences(&config), "probe_timeout=200ms suspicion_mult=5 compression=true");
//! assert!(settings::set(&mut config, "suspicion_mul", "5").unwrap_err().to_string().contains("suspicion_mult"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use swim_core::{Config, ConfigError, DelegateVersions};

/// A mistake in a setting, a configuration file or the resulting configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingError {
    /// No [`Config`] field has this name.
    UnknownField {
        /// The name given.
        field: String,
        /// The closest field name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// The field exists but the simulator cannot honour it.
    Refused {
        /// The field.
        field: &'static str,
        /// Why.
        why: &'static str,
    },
    /// The value does not parse as the field's type.
    BadValue {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What a value of the field looks like.
        expected: &'static str,
    },
    /// A `--set` argument without `=`.
    Syntax(String),
    /// Neither a preset name nor a file that can be read.
    NoSuchConfig {
        /// The name or path given.
        name: String,
        /// Why the file could not be read.
        error: String,
    },
    /// A file that is not TOML.
    Toml {
        /// The file.
        path: String,
        /// The parser's message (with line and column).
        error: String,
    },
    /// A mistake inside a file.
    InFile {
        /// The file.
        path: String,
        /// The mistake.
        error: Box<SettingError>,
    },
    /// The configuration as a whole is invalid ([`Config::validate`]).
    Invalid {
        /// The mistake.
        error: ConfigError,
        /// The configuration, as [`describe`] writes it.
        config: String,
    },
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingError::UnknownField { field, suggestion } => {
                write!(f, "unknown Config field {field:?}")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean {s}?)"),
                    None => f.write_str(" (`swim-sim fields` lists them)"),
                }
            }
            SettingError::Refused { field, why } => {
                write!(f, "{field} cannot be set in the simulator: {why}")
            }
            SettingError::BadValue { field, value, expected } => {
                write!(f, "bad value {value:?} for {field}: expected {expected}")
            }
            SettingError::Syntax(s) => write!(f, "{s:?} is not FIELD=VALUE"),
            SettingError::NoSuchConfig { name, error } => write!(
                f,
                "{name:?} is neither a preset ({}) nor a readable file: {error}",
                PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            ),
            SettingError::Toml { path, error } => write!(f, "{path} is not valid TOML: {}", error.trim_end()),
            SettingError::InFile { path, error } => write!(f, "in {path}: {error}"),
            SettingError::Invalid { error, config } => {
                write!(f, "invalid configuration: {error} (in {config})")
            }
        }
    }
}

impl std::error::Error for SettingError {}

/// Checks `config` ([`Config::validate`]), naming the configuration in the error.
pub fn validate(config: &Config) -> Result<(), SettingError> {
    config.validate().map_err(|error| SettingError::Invalid { error, config: describe(config) })
}

/// Parses a duration: a number and a unit, `ns`, `us`/`µs`, `ms`, `s`,
/// `m`/`min` or `h` (`500ms`, `1.5s`, `24h`); a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit.trim() {
        "ns" => v / 1e9,
        "us" | "µs" => v / 1e6,
        "ms" => v / 1e3,
        "s" | "" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?}")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {s:?}"))
}

/// Shows a duration so that [`parse_duration`] reads it back exactly.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() == 0 && s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if d.subsec_nanos() == 0 && s >= 60 && s.is_multiple_of(60) {
        format!("{}min", s / 60)
    } else if d.subsec_nanos() == 0 {
        format!("{s}s")
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_nanos().is_multiple_of(1000) {
        format!("{}us", d.as_micros())
    } else {
        format!("{}ns", d.as_nanos())
    }
}

/// A field type: how its values are written.
trait Value: Sized {
    /// What a value looks like, for error messages and `swim-sim fields`.
    const EXPECTED: &'static str;
    fn parse(s: &str) -> Option<Self>;
    fn show(&self) -> String;
}

impl Value for Duration {
    const EXPECTED: &'static str = "a duration such as 500ms, 1.5s, 2min or 24h";
    fn parse(s: &str) -> Option<Self> {
        parse_duration(s).ok()
    }
    fn show(&self) -> String {
        show_duration(*self)
    }
}

/// Types written as Rust's `FromStr` and `Display` write them.
macro_rules! plain_values {
    ($($t:ty => $expected:literal),* $(,)?) => {$(
        impl Value for $t {
            const EXPECTED: &'static str = $expected;
            fn parse(s: &str) -> Option<Self> {
                s.trim().parse().ok()
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

plain_values!(usize => "a whole number", u32 => "a whole number below 2^32", bool => "true or false");

impl Value for String {
    const EXPECTED: &'static str = "any text";
    fn parse(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
    fn show(&self) -> String {
        self.clone()
    }
}

/// The secret key, in hex.
impl Value for Vec<u8> {
    const EXPECTED: &'static str = "hex bytes (32, 48 or 64 hex digits)";
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if !s.len().is_multiple_of(2) || !s.is_ascii() {
            return None;
        }
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
    }
    fn show(&self) -> String {
        self.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The tags: `key=value` pairs separated by commas.
impl Value for BTreeMap<String, String> {
    const EXPECTED: &'static str = "key=value pairs separated by commas (or a TOML table)";
    fn parse(s: &str) -> Option<Self> {
        s.split(',')
            .filter(|kv| !kv.trim().is_empty())
            .map(|kv| kv.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .collect()
    }
    fn show(&self) -> String {
        self.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }
}

impl Value for DelegateVersions {
    const EXPECTED: &'static str = "serf, memberlist or MIN,MAX,CURRENT";
    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "serf" => Some(DelegateVersions::SERF),
            "memberlist" => Some(DelegateVersions::MEMBERLIST),
            s => match s.split(',').map(|x| x.trim().parse().ok()).collect::<Option<Vec<u8>>>()?[..] {
                [min, max, current] => Some(DelegateVersions { min, max, current }),
                _ => None,
            },
        }
    }
    fn show(&self) -> String {
        match *self {
            DelegateVersions::SERF => "serf".into(),
            DelegateVersions::MEMBERLIST => "memberlist".into(),
            DelegateVersions { min, max, current } => format!("{min},{max},{current}"),
        }
    }
}

/// How a field can be set.
#[derive(Clone, Copy)]
enum Access {
    /// Parses the value into the field (`None`: it does not parse), and says
    /// what a value looks like.
    Set { set: fn(&mut Config, &str) -> Option<()>, expected: fn() -> &'static str },
    /// Not in the simulator, for this reason.
    Refused(&'static str),
}

/// One [`Config`] field: its name, how to set it and how to show it.
#[derive(Clone, Copy)]
pub struct Field {
    /// The field's name, as in [`Config`].
    pub name: &'static str,
    access: Access,
    show: fn(&Config) -> String,
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Field {
    /// The field's value in `config`, written as a setting would write it.
    pub fn show(&self, config: &Config) -> String {
        (self.show)(config)
    }

    /// What a value looks like, or why the field cannot be set.
    pub fn syntax(&self) -> Result<&'static str, &'static str> {
        match self.access {
            Access::Set { expected, .. } => Ok(expected()),
            Access::Refused(why) => Err(why),
        }
    }

    /// Sets the field in `config` from `value`.
    pub fn set(&self, config: &mut Config, value: &str) -> Result<(), SettingError> {
        match self.access {
            Access::Set { set, expected } => set(config, value).ok_or_else(|| SettingError::BadValue {
                field: self.name,
                value: value.to_string(),
                expected: expected(),
            }),
            Access::Refused(why) => Err(SettingError::Refused { field: self.name, why }),
        }
    }
}

fn expected_of<T: Value>(_: fn(&Config) -> &T) -> &'static str {
    T::EXPECTED
}

macro_rules! fields {
    (settable: [$($f:ident),* $(,)?], refused: [$($r:ident => $why:expr),* $(,)?] $(,)?) => {
        &[
            $(Field {
                name: stringify!($f),
                access: Access::Set {
                    set: |c, s| {
                        c.$f = Value::parse(s)?;
                        Some(())
                    },
                    expected: || expected_of(|c: &Config| &c.$f),
                },
                show: |c| c.$f.show(),
            },)*
            $(Field { name: stringify!($r), access: Access::Refused($why), show: |c| format!("{:?}", c.$r) },)*
        ]
    };
}

const ADDRESS: &str = "the simulator gives every node its own address (127.x.y.z:7946, from its index)";
const DRIVER: &str = "it sizes a driver's buffers, and the simulator drives the cores itself";

/// Every [`Config`] field (a test checks the list against `Config`'s own).
pub static FIELDS: &[Field] = fields! {
    settable: [
        protocol_interval,
        probe_timeout,
        indirect_checks,
        udp_buffer_size,
        secret_key,
        encryption_enabled,
        gossip_verify_incoming,
        gossip_verify_outgoing,
        max_gossip_queue_depth,
        gossip_interval,
        gossip_nodes,
        gossip_to_the_dead_time,
        dead_node_reclaim_time,
        retransmit_mult,
        suspicion_mult,
        suspicion_max_timeout_mult,
        awareness_max_multiplier,
        push_pull_interval,
        reconnect_interval,
        reconnect_timeout,
        tcp_timeout,
        tcp_fallback_probe,
        lifeguard_local_health,
        lifeguard_dynamic_suspicion,
        lifeguard_buddy_system,
        direct_refutation,
        label,
        compression,
        tags,
        delegate_versions,
        max_event_queue,
        max_outgoing_queue,
        event_buffer,
        query_timeout_mult,
        query_size_limit,
        query_response_size_limit,
        coordinates,
        name_conflict_resolution,
    ],
    refused: [
        bind_addr => ADDRESS,
        bind_port => ADDRESS,
        advertise_addr => ADDRESS,
        node_name => "the simulator names the nodes n0, n1, …",
        send_buffer_count => DRIVER,
        recv_buffer_count => DRIVER,
        join_timeout => "it bounds a driver's join retries; simulated nodes join through the core",
        handoff_queue_depth => "it sizes a driver's handler queue; simulated nodes have no handlers",
        send_queue_depth => "it sizes a driver's direct-send queue; simulated nodes send no direct messages",
        max_inbound_stream_bytes => "it bounds a driver's TCP buffers; simulated streams are delivered whole",
        cidrs_allowed => "every simulated node has a 127.x.y.z address; an allow-list would only refuse all or none",
    ],
};

/// The field named `name`.
pub fn field(name: &str) -> Result<&'static Field, SettingError> {
    let name = name.trim();
    FIELDS.iter().find(|f| f.name == name).ok_or_else(|| SettingError::UnknownField {
        field: name.to_string(),
        suggestion: FIELDS
            .iter()
            .map(|f| (edit_distance(f.name, name), f.name))
            .filter(|&(d, f)| d <= 3 || (name.len() >= 4 && (f.starts_with(name) || name.starts_with(f))))
            .min()
            .map(|(_, n)| n),
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Sets the field named `name` in `config` from `value`.
pub fn set(config: &mut Config, name: &str, value: &str) -> Result<(), SettingError> {
    field(name)?.set(config, value)
}

/// Sets a field from `FIELD=VALUE`.
pub fn set_pair(config: &mut Config, pair: &str) -> Result<(), SettingError> {
    let (name, value) = pair.split_once('=').ok_or_else(|| SettingError::Syntax(pair.to_string()))?;
    set(config, name, value)
}

/// The fields of `config` that differ from [`Config::default()`], as
/// `(field, value)` in the table's order (`node_name` never: the simulator
/// sets it per node).
pub fn changed(config: &Config) -> Vec<(&'static str, String)> {
    let default = Config::default();
    FIELDS
        .iter()
        .filter(|f| f.name != "node_name")
        .filter_map(|f| {
            let v = f.show(config);
            (v != f.show(&default)).then_some((f.name, v))
        })
        .collect()
}

/// [`changed`] as one line, `field=value` separated by spaces (`defaults`
/// when nothing differs).
pub fn differences(config: &Config) -> String {
    let diff = changed(config);
    if diff.is_empty() {
        return "defaults".into();
    }
    diff.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// `Config::default()`, or `Config::default() with` the [`differences`].
pub fn describe(config: &Config) -> String {
    match changed(config).is_empty() {
        true => "Config::default()".into(),
        false => format!("Config::default() with {}", differences(config)),
    }
}

/// A named configuration.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Its name, as `--config` and `compare` take it.
    pub name: &'static str,
    /// What it is.
    pub about: &'static str,
    /// The configuration.
    pub config: fn() -> Config,
}

/// memberlist's `DefaultLANConfig` as far as a swim [`Config`] can say it:
/// [`Config::lan`]'s timings (swim's defaults already); memberlist compresses
/// every packet by default, has no reconnect of failed members (that is
/// Serf's), and advertises delegate versions 0..=0.
pub fn memberlist_lan() -> Config {
    as_memberlist(Config::lan())
}

/// memberlist's `DefaultWANConfig`: [`Config::wan`] as [`memberlist_lan`].
pub fn memberlist_wan() -> Config {
    as_memberlist(Config::wan())
}

/// memberlist's `DefaultLocalConfig`: [`Config::local`] as [`memberlist_lan`].
pub fn memberlist_local() -> Config {
    as_memberlist(Config::local())
}

/// `timings` with what plain memberlist does besides: compression on, no
/// reconnect, memberlist's delegate versions.
fn as_memberlist(timings: Config) -> Config {
    Config {
        compression: true,
        reconnect_interval: Duration::ZERO,
        delegate_versions: DelegateVersions::MEMBERLIST,
        ..timings
    }
}

/// The named configurations.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "default",
        about: "swim's Config::default() (memberlist's DefaultLANConfig timings)",
        config: Config::default,
    },
    Preset {
        name: "wan",
        about: "Config::wan(): memberlist's DefaultWANConfig timings",
        config: Config::wan,
    },
    Preset {
        name: "local",
        about: "Config::local(): memberlist's DefaultLocalConfig timings",
        config: Config::local,
    },
    Preset {
        name: "memberlist-lan",
        about: "memberlist's DefaultLANConfig: compression on, no reconnect of failed members",
        config: memberlist_lan,
    },
    Preset { name: "memberlist-wan", about: "memberlist's DefaultWANConfig", config: memberlist_wan },
    Preset { name: "memberlist-local", about: "memberlist's DefaultLocalConfig", config: memberlist_local },
    Preset {
        name: "fast",
        about: "the simulator tests' fast protocol (200 ms probes, 50 ms gossip)",
        config: crate::fast_config,
    },
    Preset {
        name: "lifeguard-off",
        about: "Config::default() with Lifeguard's local health, dynamic suspicion and buddy system off",
        config: lifeguard_off,
    },
];

/// The seed's defaults with every Lifeguard extension off (SWIM as in the
/// paper, plus memberlist's nacks and TCP fallback).
fn lifeguard_off() -> Config {
    Config {
        lifeguard_local_health: false,
        lifeguard_dynamic_suspicion: false,
        lifeguard_buddy_system: false,
        ..Config::default()
    }
}

/// The preset named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Applies a preset or a TOML file to `config`: a preset sets the fields in
/// which it differs from [`Config::default()`], a file the fields it names.
pub fn load(config: &mut Config, preset_or_path: &str) -> Result<(), SettingError> {
    if let Some(p) = preset(preset_or_path) {
        for (name, value) in changed(&(p.config)()) {
            set(config, name, &value)?;
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(preset_or_path)
        .map_err(|e| SettingError::NoSuchConfig { name: preset_or_path.to_string(), error: e.to_string() })?;
    apply_toml(config, &text).map_err(|e| match e {
        SettingError::Toml { error, .. } => SettingError::Toml { path: preset_or_path.to_string(), error },
        e => SettingError::InFile { path: preset_or_path.to_string(), error: Box::new(e) },
    })
}

/// Applies TOML text, `field = value` per line, to `config`. Durations are
/// strings (`"500ms"`); numbers, booleans and strings as usual; `tags` a
/// table; `delegate_versions` `"serf"`, `"memberlist"` or `[min, max, current]`.
pub fn apply_toml(config: &mut Config, text: &str) -> Result<(), SettingError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| SettingError::Toml { path: "TOML".into(), error: e.to_string() })?;
    for (name, value) in &table {
        set(config, name, &toml_text(value))?;
    }
    Ok(())
}

/// A TOML value as the text a `--set` would give.
fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => a.iter().map(toml_text).collect::<Vec<_>>().join(","),
        toml::Value::Table(t) => {
            t.iter().map(|(k, v)| format!("{k}={}", toml_text(v))).collect::<Vec<_>>().join(",")
        }
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
    }
}

/// Every field: name, default, and what a value looks like (or why it
/// cannot be set); then the presets. What `swim-sim fields` prints.
pub fn fields_help() -> String {
    let default = Config::default();
    let mut s = String::from("| field | default | value |\n| --- | --- | --- |\n");
    for f in FIELDS {
        let what = match f.syntax() {
            Ok(e) => e.to_string(),
            Err(why) => format!("not in the simulator: {why}"),
        };
        s += &format!("| {} | {} | {what} |\n", f.name, f.show(&default));
    }
    s += "\npresets (--config NAME, compare NAME):\n";
    for p in PRESETS {
        s += &format!("  {:<17} {}\n      {}\n", p.name, p.about, differences(&(p.config)()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top-level field names of `Config`, from its `Debug` output.
    fn config_field_names() -> Vec<String> {
        format!("{:#?}", Config::default())
            .lines()
            .filter_map(|l| l.strip_prefix("    ").filter(|l| !l.starts_with(' ')))
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_string()))
            .collect()
    }

    #[test]
    fn the_table_knows_every_config_field() {
        let names = config_field_names();
        assert!(names.len() > 30, "{names:?}");
        for name in &names {
            assert!(field(name).is_ok(), "Config has a field {name} the settings table does not know");
        }
        assert_eq!(FIELDS.len(), names.len(), "the table has a field Config does not");
    }

    #[test]
    fn every_settable_field_reads_back_what_it_shows() {
        // Change every settable field, then set each from its shown value onto
        // the default: the result must equal the changed config.
        let odd = Config {
            protocol_interval: Duration::from_millis(1500),
            probe_timeout: Duration::from_micros(250_500),
            indirect_checks: 5,
            udp_buffer_size: 9000,
            secret_key: vec![0xab; 16],
            encryption_enabled: true,
            gossip_verify_incoming: false,
            gossip_verify_outgoing: false,
            max_gossip_queue_depth: 7,
            gossip_interval: Duration::from_nanos(123_456_789),
            gossip_nodes: 9,
            gossip_to_the_dead_time: Duration::from_secs(120),
            dead_node_reclaim_time: Duration::from_secs(3600 * 5),
            retransmit_mult: 3,
            suspicion_mult: 6,
            suspicion_max_timeout_mult: 2,
            awareness_max_multiplier: 3,
            push_pull_interval: Duration::ZERO,
            reconnect_interval: Duration::from_secs(61),
            reconnect_timeout: Duration::from_secs(7200),
            tcp_timeout: Duration::from_secs(2),
            tcp_fallback_probe: false,
            lifeguard_local_health: false,
            lifeguard_dynamic_suspicion: false,
            lifeguard_buddy_system: false,
            direct_refutation: false,
            label: "blue".into(),
            compression: true,
            tags: [("role".to_string(), "web".to_string()), ("dc".into(), "a".into())].into(),
            delegate_versions: DelegateVersions { min: 1, max: 4, current: 3 },
            max_event_queue: 10,
            max_outgoing_queue: 11,
            event_buffer: 12,
            query_timeout_mult: 13,
            query_size_limit: 14,
            query_response_size_limit: 15,
            coordinates: false,
            name_conflict_resolution: false,
            ..Config::default()
        };
        let diff = changed(&odd);
        let refused = FIELDS.iter().filter(|f| f.syntax().is_err()).count();
        assert_eq!(diff.len(), FIELDS.len() - refused, "every settable field changed: {diff:?}");
        let mut back = Config::default();
        for (name, value) in &diff {
            set(&mut back, name, value).unwrap();
        }
        assert_eq!(back, odd);
    }

    #[test]
    fn mistakes_name_the_field_and_the_value() {
        let mut c = Config::default();
        let e = set(&mut c, "suspicion_mul", "5").unwrap_err();
        assert_eq!(
            e,
            SettingError::UnknownField { field: "suspicion_mul".into(), suggestion: Some("suspicion_mult") }
        );
        let e = set(&mut c, "suspicion_multiplier", "5").unwrap_err().to_string();
        assert!(e.contains("did you mean suspicion_mult?"), "{e}");
        let e = set_pair(&mut c, "probe_timeout=fast").unwrap_err().to_string();
        assert!(e.contains("probe_timeout") && e.contains("\"fast\"") && e.contains("duration"), "{e}");
        let e = set(&mut c, "bind_port", "1").unwrap_err().to_string();
        assert!(e.contains("bind_port cannot be set in the simulator"), "{e}");
        assert!(matches!(set_pair(&mut c, "suspicion_mult"), Err(SettingError::Syntax(_))));
        assert_eq!(c, Config::default(), "nothing set by a mistake");
        let e = apply_toml(&mut c, "suspicion_mult = \"x\"").unwrap_err().to_string();
        assert!(e.contains("suspicion_mult") && e.contains("\"x\""), "{e}");
        let e = apply_toml(&mut c, "suspicion_mult = ").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn toml_tables_and_arrays() {
        let mut c = Config::default();
        apply_toml(&mut c, "delegate_versions = [1, 2, 2]\n[tags]\nrole = \"web\"\n").unwrap();
        assert_eq!(c.delegate_versions, DelegateVersions { min: 1, max: 2, current: 2 });
        assert_eq!(c.tags.get("role").map(String::as_str), Some("web"));
    }

    #[test]
    fn presets_are_valid_and_settable() {
        for p in PRESETS {
            let config = (p.config)();
            assert!(config.validate().is_ok(), "{}", p.name);
            let mut back = Config::default();
            load(&mut back, p.name).unwrap();
            assert_eq!(back, config, "{}", p.name);
        }
        assert_eq!(
            differences(&memberlist_lan()),
            "reconnect_interval=0s compression=true delegate_versions=memberlist"
        );
    }
}
