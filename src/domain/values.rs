//! Values parsed at the edge, so that nothing invalid reaches [`super::decide`].

use std::fmt;

/// Why a value was refused; the text is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A user id: 1 to 128 characters, none of them a control character, and a safe path
/// segment: not `.` or `..` and without `/`, since share routes name the user in the path
/// (`/api/tasks/{id}/shares/{user_id}`) and a client or proxy may resolve or split those.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let chars = raw.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "a user id has 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidValue(
                "a user id may not contain control characters".into(),
            ));
        }
        if raw == "." || raw == ".." || raw.contains('/') {
            return Err(InvalidValue(
                "a user id must be usable as a path segment: not . or .. and without /".into(),
            ));
        }
        Ok(UserId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A task title: some visible text, at most 200 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        visible_line(raw, "title", Self::MAX_CHARS).map(Title)
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A team's name: some visible text, at most 100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamName(String);

impl TeamName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        visible_line(raw, "a team's name", Self::MAX_CHARS).map(TeamName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One line of text that shows something: not only invisible characters, at most `max`
/// characters, no control characters (line breaks included). `what` names it to the client.
fn visible_line(raw: &str, what: &str, max: usize) -> Result<String, InvalidValue> {
    if raw.chars().all(is_invisible) {
        return Err(InvalidValue(format!("{what} must not be empty")));
    }
    if raw.chars().count() > max {
        return Err(InvalidValue(format!(
            "{what} must be at most {max} characters"
        )));
    }
    if raw.chars().any(char::is_control) {
        return Err(InvalidValue(format!(
            "{what} may not contain control characters"
        )));
    }
    Ok(raw.to_owned())
}

/// A task description: at most 10,000 characters, possibly empty; lines and tabs, but no other
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InvalidValue(
                "description may not contain control characters other than line breaks and tabs"
                    .into(),
            ));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "description must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Description(raw.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `c` shows nothing: Unicode's White_Space and Default_Ignorable_Code_Point sets
/// (zero-width spaces and joiners, direction marks, the byte-order mark, the soft hyphen,
/// variation selectors, Hangul fillers, tag characters). A title of only these would look
/// empty in every list.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_must_have_visible_text_and_at_most_200_characters() {
        assert!(Title::parse("  \t ").is_err());
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert!(Title::parse(&"é".repeat(201)).is_err());
    }

    #[test]
    fn titles_of_only_invisible_characters_are_empty() {
        for invisible in [
            "\u{200B}",
            "\u{200B}\u{200D}\u{FEFF}",
            " \u{2060} ",
            "\u{3164}",
            "\u{00AD}",
        ] {
            assert!(Title::parse(invisible).is_err(), "{invisible:?}");
        }
        // Invisible characters inside visible text are the text's business.
        assert!(Title::parse("a\u{200D}b").is_ok());
        assert!(Title::parse("👩\u{200D}💻 ship it").is_ok());
    }

    #[test]
    fn no_control_character_reaches_a_title_or_a_description() {
        for control in ['\0', '\u{1}', '\u{1B}', '\u{7F}', '\u{85}', '\u{9F}'] {
            let text = format!("a{control}b");
            assert!(Title::parse(&text).is_err(), "title {text:?}");
            assert!(Description::parse(&text).is_err(), "description {text:?}");
        }
        assert!(Title::parse("a\nb").is_err());
        assert!(Description::parse("line one\r\nline two\twith a tab").is_ok());
    }

    #[test]
    fn user_ids_are_1_to_128_characters_without_control_characters() {
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
        assert!(UserId::parse(&"a".repeat(129)).is_err());
        assert!(UserId::parse("a\nb").is_err());
        assert!(UserId::parse("alice@example.com").is_ok());
    }

    #[test]
    fn user_ids_are_safe_path_segments() {
        for unsafe_id in [".", "..", "/", "a/b", "../alice", "alice/"] {
            assert!(UserId::parse(unsafe_id).is_err(), "{unsafe_id:?}");
        }
        for fine in ["...", ".alice", "a..b", "a.b", "a\\b"] {
            assert!(UserId::parse(fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn team_names_are_one_visible_line_of_at_most_100_characters() {
        assert!(TeamName::parse("\u{200B} ").is_err());
        assert!(TeamName::parse(&"é".repeat(100)).is_ok());
        assert!(TeamName::parse(&"é".repeat(101)).is_err());
        assert!(TeamName::parse("ops\nteam").is_err());
        assert_eq!(
            TeamName::parse("").unwrap_err().0,
            "a team's name must not be empty"
        );
    }

    #[test]
    fn descriptions_may_be_empty_but_not_longer_than_10000_characters() {
        assert!(Description::parse("").is_ok());
        assert!(Description::parse(&"x".repeat(10_001)).is_err());
    }
}
