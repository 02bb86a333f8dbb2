//! The server configuration from a JS object (the TOML configuration's fields, nested the
//! same way) through a table of its fields, not serde: serde's derived deserializer with
//! serde-wasm-bindgen was 23 KB of the gzipped browser module. A test checks the table
//! against the serde names the TOML configuration of `imps` uses.

use imps_engine::server::Config;

/// Where one field lives in [`Config`], by its type.
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    /// `true` or `false`.
    Bool(fn(&mut Config) -> &mut bool),
    /// A whole number up to `u32::MAX`.
    U32(fn(&mut Config) -> &mut u32),
    /// A whole number up to 2^53 (what a JS number holds exactly).
    U64(fn(&mut Config) -> &mut u64),
    /// A string.
    Text(fn(&mut Config) -> &mut String),
    /// A string, or `null` for none.
    OptText(fn(&mut Config) -> &mut Option<String>),
    /// `[host, port]`, or `null` for none.
    OptHostPort(fn(&mut Config) -> &mut Option<(String, u16)>),
}

/// Every field a configuration object may set, by its dotted path.
#[rustfmt::skip]
pub(crate) const FIELDS: &[(&str, Slot)] = &[
    ("domain", Slot::Text(|c| &mut c.domain)),
    ("server_key", Slot::OptText(|c| &mut c.server_key)),
    ("login.digest", Slot::Bool(|c| &mut c.login.digest)),
    ("login.open_registration", Slot::Bool(|c| &mut c.login.open_registration)),
    ("login.registrations_per_minute", Slot::U32(|c| &mut c.login.registrations_per_minute)),
    ("login.hash_memory_kib", Slot::U32(|c| &mut c.login.hash_memory_kib)),
    ("login.hash_iterations", Slot::U32(|c| &mut c.login.hash_iterations)),
    ("login.max_failures", Slot::U32(|c| &mut c.login.max_failures)),
    ("login.failure_window_secs", Slot::U32(|c| &mut c.login.failure_window_secs)),
    ("login.lockout_secs", Slot::U32(|c| &mut c.login.lockout_secs)),
    ("login.nonce_validity_secs", Slot::U32(|c| &mut c.login.nonce_validity_secs)),
    ("session.max_per_user", Slot::U32(|c| &mut c.session.max_per_user)),
    ("session.keep_alive_min_secs", Slot::U32(|c| &mut c.session.keep_alive_min_secs)),
    ("session.keep_alive_max_secs", Slot::U32(|c| &mut c.session.keep_alive_max_secs)),
    ("session.keep_alive_default_secs", Slot::U32(|c| &mut c.session.keep_alive_default_secs)),
    ("session.keep_alive_grace_secs", Slot::U32(|c| &mut c.session.keep_alive_grace_secs)),
    ("session.server_poll_min_secs", Slot::U32(|c| &mut c.session.server_poll_min_secs)),
    ("session.transaction_cache", Slot::U32(|c| &mut c.session.transaction_cache)),
    ("session.queue_limit", Slot::U32(|c| &mut c.session.queue_limit)),
    ("session.max_multi_trans", Slot::U32(|c| &mut c.session.max_multi_trans)),
    ("session.redelivery_secs", Slot::U32(|c| &mut c.session.redelivery_secs)),
    ("limits.max_message_bytes", Slot::U32(|c| &mut c.limits.max_message_bytes)),
    ("limits.max_depth", Slot::U32(|c| &mut c.limits.max_depth)),
    ("limits.max_elements", Slot::U32(|c| &mut c.limits.max_elements)),
    ("limits.max_text_bytes", Slot::U32(|c| &mut c.limits.max_text_bytes)),
    ("service_provider.name", Slot::Text(|c| &mut c.service_provider.name)),
    ("service_provider.description", Slot::OptText(|c| &mut c.service_provider.description)),
    ("service_provider.url", Slot::OptText(|c| &mut c.service_provider.url)),
    ("cir.stcp", Slot::OptHostPort(|c| &mut c.cir.stcp)),
    ("cir.shttp_base", Slot::OptText(|c| &mut c.cir.shttp_base)),
    ("contact_lists.max_lists", Slot::U32(|c| &mut c.contact_lists.max_lists)),
    ("contact_lists.max_contacts", Slot::U32(|c| &mut c.contact_lists.max_contacts)),
    ("presence.notify_interval_ms", Slot::U64(|c| &mut c.presence.notify_interval_ms)),
    ("presence.max_attribute_lists", Slot::U32(|c| &mut c.presence.max_attribute_lists)),
    ("presence.max_published_bytes", Slot::U32(|c| &mut c.presence.max_published_bytes)),
    ("block_lists.max_entries", Slot::U32(|c| &mut c.block_lists.max_entries)),
    ("im.max_content_bytes", Slot::U32(|c| &mut c.im.max_content_bytes)),
    ("im.max_retention_secs", Slot::U32(|c| &mut c.im.max_retention_secs)),
    ("im.max_stored_per_user", Slot::U32(|c| &mut c.im.max_stored_per_user)),
    ("groups.max_joined_users", Slot::U32(|c| &mut c.groups.max_joined_users)),
    ("groups.max_groups_per_user", Slot::U32(|c| &mut c.groups.max_groups_per_user)),
    ("groups.max_groups", Slot::U32(|c| &mut c.groups.max_groups)),
    ("groups.notice_interval_ms", Slot::U64(|c| &mut c.groups.notice_interval_ms)),
    ("groups.auto_delete_after_secs", Slot::U32(|c| &mut c.groups.auto_delete_after_secs)),
    ("invite.per_minute", Slot::U32(|c| &mut c.invite.per_minute)),
    ("invite.max_validity_secs", Slot::U32(|c| &mut c.invite.max_validity_secs)),
    ("invite.max_open_per_user", Slot::U32(|c| &mut c.invite.max_open_per_user)),
    ("search.max_findings", Slot::U32(|c| &mut c.search.max_findings)),
    ("search.max_page", Slot::U32(|c| &mut c.search.max_page)),
    ("search.max_open_per_session", Slot::U32(|c| &mut c.search.max_open_per_session)),
];

/// A leaf value of the configuration object, as JS gave it.
pub(crate) enum Given {
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// `null`.
    Null,
    /// `[host, port]` (an array of a string and a number).
    HostPort(Option<String>, Option<f64>),
    /// Anything else (an array of another shape, a function, …).
    Other,
}

/// Whether `path` names a section (`login`, …) rather than a field.
pub(crate) fn is_section(path: &str) -> bool {
    FIELDS.iter().any(|(p, _)| {
        p.strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Sets field `path` of `config` to `value`; the error names the field and what it takes.
pub(crate) fn set(config: &mut Config, path: &str, value: Given) -> Result<(), String> {
    let Some((_, slot)) = FIELDS.iter().find(|(p, _)| *p == path) else {
        return Err(format!("unknown field `{path}`"));
    };
    let whole = |n: f64, max: f64| (n.fract() == 0.0 && (0.0..=max).contains(&n)).then_some(n);
    match (*slot, value) {
        (Slot::Bool(f), Given::Bool(b)) => *f(config) = b,
        (Slot::U32(f), Given::Number(n)) if whole(n, f64::from(u32::MAX)).is_some() => {
            // In range and whole: the cast is exact.
            *f(config) = n as u32;
        }
        (Slot::U64(f), Given::Number(n)) if whole(n, 9_007_199_254_740_991.0).is_some() => {
            *f(config) = n as u64;
        }
        (Slot::Text(f), Given::Text(s)) => *f(config) = s,
        (Slot::OptText(f), Given::Text(s)) => *f(config) = Some(s),
        (Slot::OptText(f), Given::Null) => *f(config) = None,
        (Slot::OptHostPort(f), Given::HostPort(Some(host), Some(port)))
            if whole(port, f64::from(u16::MAX)).is_some() =>
        {
            *f(config) = Some((host, port as u16));
        }
        (Slot::OptHostPort(f), Given::Null) => *f(config) = None,
        (slot, _) => {
            let takes = match slot {
                Slot::Bool(_) => "true or false",
                Slot::U32(_) => "a whole number from 0 to 4294967295",
                Slot::U64(_) => "a whole number from 0 to 2^53 - 1",
                Slot::Text(_) => "a string",
                Slot::OptText(_) => "a string or null",
                Slot::OptHostPort(_) => "[host, port] or null",
            };
            return Err(format!("`{path}` takes {takes}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's paths, each set to a value no default has, as `imps` reads them from TOML:
    /// every field of the serde model is in the table (a field the table lacks keeps its
    /// default, which the comparison catches unless it is an `Option` left `None`), and each
    /// path reaches the field serde names so.
    #[test]
    fn the_table_names_every_field_as_the_toml_configuration_does() {
        let mut config = Config::default();
        let mut expected = Vec::new();
        for (i, (path, slot)) in FIELDS.iter().enumerate() {
            let n = 1000 + i as u32;
            let value = match slot {
                Slot::Bool(f) => toml::Value::Boolean(!*f(&mut Config::default())),
                Slot::U32(_) | Slot::U64(_) => toml::Value::Integer(i64::from(n)),
                Slot::Text(_) | Slot::OptText(_) => toml::Value::String(format!("v{n}")),
                Slot::OptHostPort(_) => toml::Value::Array(vec![
                    toml::Value::String(format!("h{n}")),
                    toml::Value::Integer(i64::from(n)),
                ]),
            };
            let given = match &value {
                toml::Value::Boolean(b) => Given::Bool(*b),
                toml::Value::Integer(x) => Given::Number(*x as f64),
                toml::Value::String(s) => Given::Text(s.clone()),
                _ => Given::HostPort(Some(format!("h{n}")), Some(f64::from(n))),
            };
            set(&mut config, path, given).unwrap();
            expected.push((path.to_string(), value));
        }
        let written = toml::Value::try_from(&config).unwrap();
        let mut leaves = Vec::new();
        collect(&written, String::new(), &mut leaves);
        leaves.sort_by(|a, b| a.0.cmp(&b.0));
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(leaves, expected);
        // And back: the configuration `imps` would read from the same TOML.
        let read: Config = written.try_into().unwrap();
        assert_eq!(read, config);
    }

    fn collect(v: &toml::Value, path: String, out: &mut Vec<(String, toml::Value)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    collect(v, p, out);
                }
            }
            leaf => out.push((path, leaf.clone())),
        }
    }

    #[test]
    fn wrong_types_and_unknown_fields_name_the_field() {
        let mut c = Config::default();
        assert_eq!(
            set(&mut c, "login.nope", Given::Bool(true)).unwrap_err(),
            "unknown field `login.nope`"
        );
        let e = set(&mut c, "login.digest", Given::Number(1.0)).unwrap_err();
        assert!(
            e.contains("login.digest") && e.contains("true or false"),
            "{e}"
        );
        for bad in [-1.0, 1.5, 4_294_967_296.0, f64::NAN] {
            assert!(set(&mut c, "im.max_content_bytes", Given::Number(bad)).is_err());
        }
        set(
            &mut c,
            "im.max_content_bytes",
            Given::Number(4_294_967_295.0),
        )
        .unwrap();
        assert_eq!(c.im.max_content_bytes, u32::MAX);
        assert!(
            set(
                &mut c,
                "cir.stcp",
                Given::HostPort(Some("h".into()), Some(70_000.0))
            )
            .is_err()
        );
        assert!(set(&mut c, "cir.stcp", Given::Other).is_err());
        set(
            &mut c,
            "service_provider.url",
            Given::Text("https://x".into()),
        )
        .unwrap();
        set(&mut c, "service_provider.url", Given::Null).unwrap();
        assert_eq!(c.service_provider.url, None);
        assert!(
            is_section("login") && is_section("cir") && !is_section("domain") && !is_section("log")
        );
    }
}
