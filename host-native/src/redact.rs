//! Redaction of user data in logs (DESIGN §3.12): every user id and session id that reaches
//! a log line goes through this module.

use std::fmt;

/// A user id shown with only its first character and its domain: `wv:a***@localhost`.
pub struct User<'a>(pub &'a str);

impl fmt::Display for User<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&user(self.0))
    }
}

/// Redacts a user id: keeps the `wv:` prefix, the first character of the user part and the
/// domain; a resource part (`/list`) is hidden too.
pub fn user(id: &str) -> String {
    let (prefix, rest) = match id.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("wv:") => ("wv:", id.get(3..).unwrap_or("")),
        _ => ("", id),
    };
    let (local, domain) = match rest.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (rest, None),
    };
    let first: String = local.chars().take(1).collect();
    let mut out = format!("{prefix}{first}***");
    if let Some(d) = domain {
        out.push('@');
        out.extend(d.chars().filter(|c| !c.is_control()).take(253));
    }
    out
}

/// Redacts a bearer token such as a session id: its first four characters then `…`.
pub fn token(t: &str) -> String {
    let head: String = t.chars().take(4).filter(|c| !c.is_control()).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_redacted() {
        assert_eq!(user("wv:alice@localhost"), "wv:a***@localhost");
        assert_eq!(user("WV:Bob@example.org"), "wv:B***@example.org");
        assert_eq!(user("carol"), "c***");
        assert_eq!(user("wv:alice/friends@localhost"), "wv:a***@localhost");
        assert_eq!(user(""), "***");
        assert_eq!(User("wv:x@y").to_string(), "wv:x***@y");
    }

    #[test]
    fn tokens_are_redacted() {
        assert_eq!(token("0123456789abcdef"), "0123…");
        assert_eq!(token("ab"), "ab…");
    }
}
