//! Bounds for text that ends up in admission responses. Image references, annotation values and
//! proof messages are written by users: without bounds they could make a response arbitrarily
//! large, and a line break inside one would forge another line of a denial.

use std::borrow::Cow;

/// What marks a cut.
const ELLIPSIS: &str = "…";

/// `text` cut to at most `max_bytes` bytes on a character boundary, the cut marked with `…`.
pub(crate) fn clip(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let mut end = max_bytes.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ELLIPSIS}", &text[..end]))
}

/// `text` with control characters (line breaks, tabs, terminal escapes) replaced by spaces.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

/// [`one_line`], then [`clip`].
pub(crate) fn bounded_line(text: &str, max_bytes: usize) -> String {
    clip(&one_line(text), max_bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_on_char_boundaries() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdefghij", 10), "abcdefghij");
        let cut = clip("abcdefghijk", 10);
        assert_eq!(cut, "abcdefg…");
        assert!(cut.len() <= 10);
        // `é` is two bytes: a cut through it moves back to the boundary before it.
        let cut = clip("ééééé", 6);
        assert_eq!(cut, "é…");
        assert!(cut.len() <= 6);
    }

    #[test]
    fn one_line_replaces_control_characters() {
        assert_eq!(one_line("a\nb\tc\u{1b}[31m"), "a b c [31m");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
    }
}
