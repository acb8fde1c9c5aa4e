//! What a line of text typed into a field may hold, beyond each field's own
//! rules.
//!
//! PostgreSQL refuses NUL in text, so a NUL that reached a query was a 500;
//! every field's parser refuses control characters. Names are shown in
//! lists, dialogs and audit events, where a character that cannot be seen
//! or that reverses the text after it lets one name pass for another
//! (U+202E before “gnp.exe” shows “exe.png”): names refuse those too, and U+FFFD, which
//! only ever stands for bytes that were not text.

use unicode_normalization::UnicodeNormalization as _;

use super::ValidationError;

/// A one-line name as it is stored and compared: each run of spaces made
/// one (names that differ only there look alike in any list) and its
/// characters composed (NFC: "é" typed as "e" and a combining accent is
/// the one "é"). For a name already checked for control characters.
pub fn canonical_name(value: &str) -> String {
    let spaced: Vec<&str> = value.split_whitespace().collect();
    spaced.join(" ").nfc().collect()
}

/// Invisible, direction-changing and replacement characters: zero-width
/// spaces and joiners, the soft hyphen, byte-order mark, bidirectional
/// marks, embeddings, overrides and isolates, interlinear annotation, and
/// U+FFFD.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{FFFD}'
    )
}

/// `value` as a message quotes it: in quotation marks, each character that
/// cannot be seen written as its code point (`U+0000`), and cut after 40
/// characters.
pub fn quoted(value: &str) -> String {
    let mut shown = String::from("“");
    for (i, c) in value.chars().enumerate() {
        if i == 40 {
            shown.push('…');
            break;
        }
        if c.is_control() || is_invisible(c) {
            shown.push_str(&format!("U+{:04X}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    shown.push('”');
    shown
}

/// Refuses a name (of `what`, in `field`) holding a character that cannot
/// be seen or that changes the direction of the text.
pub fn refuse_invisible(field: &'static str, value: &str, what: &str) -> Result<(), ValidationError> {
    match value.chars().find(|c| is_invisible(*c)) {
        Some(c) => Err(ValidationError::new(
            field,
            format!(
                "The {what} cannot contain invisible or direction-changing characters (it holds U+{:04X}).",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses text of several lines (of `what`, in `field`) holding a control
/// character other than a line break or a tab: NUL above all.
pub fn refuse_control_in_text(field: &'static str, value: &str, what: &str) -> Result<(), ValidationError> {
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ValidationError::new(field, format!("The {what} cannot contain control characters.")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_value_shows_what_cannot_be_seen_by_its_code_point() {
        assert_eq!(quoted("us-east-1\0"), "“us-east-1U+0000”");
        assert_eq!(quoted("\u{1}\u{1b}\u{7f}"), "“U+0001U+001BU+007F”");
        assert_eq!(quoted("a\u{200B}b"), "“aU+200Bb”");
        assert_eq!(quoted(&"x".repeat(50)), format!("“{}…”", "x".repeat(40)));
    }

    #[test]
    fn names_that_look_alike_are_stored_alike() {
        assert_eq!(canonical_name("Dup  Team"), "Dup Team");
        assert_eq!(canonical_name(" Ops \u{00A0} Budget "), "Ops Budget");
        assert_eq!(canonical_name("Cafe\u{0301}"), "Caf\u{00E9}");
        assert_eq!(canonical_name("Café"), "Café");
    }

    #[test]
    fn names_refuse_what_cannot_be_seen_and_keep_what_can() {
        for bad in ["\u{202E}gnp.exe", "a\u{200B}b", "\u{FEFF}x", "\u{FFFD}", "x\u{2066}y", "soft\u{AD}hyphen"] {
            let e = refuse_invisible("name", bad, "group name").unwrap_err();
            assert!(e.message.contains("invisible or direction-changing"), "{bad:?}: {e}");
        }
        for good in ["Acme Production", "Zoë Ñúñez", "日本語の名前", "web-frontend 2026.11", "😀 team"] {
            assert!(refuse_invisible("name", good, "name").is_ok(), "{good:?}");
        }
    }

    #[test]
    fn text_keeps_lines_and_tabs_and_refuses_nul() {
        assert!(refuse_control_in_text("description", "one\r\ntwo\tthree", "description").is_ok());
        for bad in ["\0", "a\0b", "\u{1b}[31m", "\u{7f}"] {
            assert!(refuse_control_in_text("description", bad, "description").is_err(), "{bad:?}");
        }
    }
}
