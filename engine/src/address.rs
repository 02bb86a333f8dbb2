//! IMPS addresses (CSP-REFERENCE §1.3): `wv:user@domain`, contact lists and groups with a
//! resource part `wv:user/resource@domain`, server-owned groups `wv:/resource@domain`.
//!
//! Input rules (documented in the README): the `wv:` prefix is optional; addresses are
//! case-insensitive (kept lower-case); an address without `@domain` is on this server's
//! domain. The user part is 1–64 characters of `a-z 0-9 . _ - +` (a leading `+` is an
//! MSISDN); the resource part is 1–64 characters of `a-z 0-9 . _ - + ~`; the domain is
//! 1–253 characters of `a-z 0-9 . -`. `/` only separates the resource.

use std::borrow::Cow;
use std::fmt;

/// Longest user part.
pub const MAX_USER: usize = 64;
/// Longest resource part.
pub const MAX_RESOURCE: usize = 64;
/// Longest domain.
pub const MAX_DOMAIN: usize = 253;

/// A parsed address in canonical (lower-case) form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// User part (empty for server-owned resources such as `wv:/chat@domain`).
    pub user: String,
    /// Resource part (contact list or group name), if any.
    pub resource: Option<String>,
    /// Domain.
    pub domain: String,
}

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing to parse, or an empty part.
    Empty,
    /// A character outside the allowed set.
    BadCharacter,
    /// A part longer than allowed.
    TooLong,
    /// A resource where a plain user was expected (or none where one was required).
    WrongShape,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressError::Empty => "empty address part",
            AddressError::BadCharacter => "character not allowed in an address",
            AddressError::TooLong => "address part too long",
            AddressError::WrongShape => "wrong kind of address",
        })
    }
}

// The allowed characters are all ASCII, so the checks go byte by byte: any byte of a
// non-ASCII character is refused as the character would be.

fn user_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-' | b'+')
}

fn resource_char(c: u8) -> bool {
    user_char(c) || c == b'~'
}

fn domain_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-')
}

impl Address {
    /// Parses any address; `default_domain` applies when there is no `@domain`.
    pub fn parse(input: &str, default_domain: &str) -> Result<Address, AddressError> {
        let trimmed = input.trim();
        // Most addresses come in canonical form: lower-cased only when they are not.
        let s: Cow<'_, str> = if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(trimmed.to_ascii_lowercase())
        } else {
            Cow::Borrowed(trimmed)
        };
        let s = s.strip_prefix("wv:").unwrap_or(&s);
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let (local, domain): (&str, Cow<'_, str>) = match s.rsplit_once('@') {
            Some((l, d)) => (l, Cow::Borrowed(d)),
            None => (s, Cow::Owned(default_domain.to_ascii_lowercase())),
        };
        let (user, resource) = match local.split_once('/') {
            Some((u, r)) => (u, Some(r)),
            None => (local, None),
        };
        if domain.is_empty() {
            return Err(AddressError::Empty);
        }
        if domain.len() > MAX_DOMAIN {
            return Err(AddressError::TooLong);
        }
        if !domain.bytes().all(domain_char) || domain.starts_with('.') || domain.ends_with('.') {
            return Err(AddressError::BadCharacter);
        }
        if user.len() > MAX_USER {
            return Err(AddressError::TooLong);
        }
        if !user.bytes().all(user_char) {
            return Err(AddressError::BadCharacter);
        }
        if let Some(r) = resource {
            if r.is_empty() {
                return Err(AddressError::Empty);
            }
            if r.len() > MAX_RESOURCE {
                return Err(AddressError::TooLong);
            }
            if !r.bytes().all(resource_char) {
                return Err(AddressError::BadCharacter);
            }
        } else if user.is_empty() {
            return Err(AddressError::Empty);
        }
        Ok(Address {
            user: user.to_owned(),
            resource: resource.map(str::to_owned),
            domain: domain.into_owned(),
        })
    }

    /// Whether `input` is already the canonical user id of a user on `domain`: then
    /// `Address::parse_user(input, _)` gives that user on `domain`, whose `user_id()` is
    /// `input` itself (checked without building the address).
    pub(crate) fn is_canonical_user(input: &str, domain: &str) -> bool {
        let Some((user, d)) = input
            .strip_prefix("wv:")
            .and_then(|rest| rest.rsplit_once('@'))
        else {
            return false;
        };
        d == domain
            && !d.is_empty()
            && d.len() <= MAX_DOMAIN
            && d.bytes().all(domain_char)
            && !d.starts_with('.')
            && !d.ends_with('.')
            && !user.is_empty()
            && user.len() <= MAX_USER
            && user.bytes().all(user_char)
    }

    /// Parses a plain user id (no resource part).
    pub fn parse_user(input: &str, default_domain: &str) -> Result<Address, AddressError> {
        let a = Address::parse(input, default_domain)?;
        if a.resource.is_some() || a.user.is_empty() {
            return Err(AddressError::WrongShape);
        }
        Ok(a)
    }

    /// The canonical user id of the owner: `wv:user@domain`.
    pub fn user_id(&self) -> String {
        let mut id = String::with_capacity(4 + self.user.len() + self.domain.len());
        id.push_str("wv:");
        id.push_str(&self.user);
        id.push('@');
        id.push_str(&self.domain);
        id
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Some(r) => write!(f, "wv:{}/{}@{}", self.user, r, self.domain),
            None => write!(f, "wv:{}@{}", self.user, self.domain),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn canonical_forms() {
        let d = "example.org";
        assert_eq!(
            Address::parse_user("wv:Alice@Example.ORG", d)
                .unwrap()
                .to_string(),
            "wv:alice@example.org"
        );
        assert_eq!(
            Address::parse_user("alice", d).unwrap().to_string(),
            "wv:alice@example.org"
        );
        assert_eq!(
            Address::parse_user("wv:alice", d).unwrap().to_string(),
            "wv:alice@example.org"
        );
        assert_eq!(
            Address::parse_user("+358401234", d).unwrap().user,
            "+358401234"
        );
        let list = Address::parse("wv:john/My_friends@smith.com", d).unwrap();
        assert_eq!(list.to_string(), "wv:john/my_friends@smith.com");
        assert_eq!(list.user_id(), "wv:john@smith.com");
        let g = Address::parse("wv:/chat@x.org", d).unwrap();
        assert_eq!((g.user.as_str(), g.resource.as_deref()), ("", Some("chat")));
    }

    #[test]
    fn canonical_user_ids_are_recognised_as_parsing_would() {
        let domains = ["example.org", "x", "Example.org", ".x", "x.", ""];
        let users = [
            "wv:alice@example.org",
            "wv:Alice@example.org",
            "alice@example.org",
            "wv:alice",
            "wv:alice@x",
            "wv:a.b_c-d+e@x",
            "wv:a/b@x",
            "wv:@x",
            "wv:a@b@x",
            " wv:a@x",
            "wv:a@x ",
            "wv:a b@x",
            "wv:a@Example.org",
            "wv:a@.x",
            "wv:a@x.",
            "wv:a@",
            "wv:\u{e9}@x",
            "WV:a@x",
        ];
        let long_user = format!("wv:{}@x", "a".repeat(65));
        let long_domain = format!("wv:a@{}", "x".repeat(254));
        for d in domains
            .iter()
            .copied()
            .chain([long_domain.get(5..).unwrap_or("")])
        {
            for u in users
                .iter()
                .copied()
                .chain([long_user.as_str(), long_domain.as_str()])
            {
                let parsed = Address::parse_user(u, d)
                    .ok()
                    .filter(|a| a.domain == d && a.user_id() == u);
                assert_eq!(
                    Address::is_canonical_user(u, d),
                    parsed.is_some(),
                    "{u:?} on {d:?}"
                );
            }
        }
    }

    #[test]
    fn refusals() {
        let d = "x";
        assert_eq!(Address::parse_user("", d), Err(AddressError::Empty));
        assert_eq!(Address::parse_user("wv:", d), Err(AddressError::Empty));
        assert_eq!(
            Address::parse_user("a b", d),
            Err(AddressError::BadCharacter)
        );
        assert_eq!(Address::parse_user("a/b", d), Err(AddressError::WrongShape));
        assert_eq!(
            Address::parse_user(&"a".repeat(65), d),
            Err(AddressError::TooLong)
        );
        assert_eq!(Address::parse_user("a@", d), Err(AddressError::Empty));
        assert_eq!(Address::parse("wv:/@x", d), Err(AddressError::Empty));
    }
}
