//! whisper's annotations of non-speech (`[BLANK_AUDIO]`, `[MUSIC PLAYING]`, `(music)`,
//! `*applause*`, `♪`) are not words anyone said, so they never become transcript text.
//!
//! The engine asks whisper.cpp to suppress non-speech tokens (`suppress_nst`, the same token
//! set as OpenAI's `suppress_tokens=-1`), which stops most of them; whatever still comes out is
//! removed here, token by token, so the words and their times stay consistent with the text.

/// Characters that are annotations wherever they appear.
fn is_note(c: char) -> bool {
    matches!(c, '♪' | '♫' | '♬' | '♩')
}

/// Tracks whether the running text is inside an annotation (`[..]`, `(..)`, `*..*`).
#[derive(Debug, Default, Clone)]
pub struct TagFilter {
    closer: Option<char>,
}

impl TagFilter {
    /// The part of `piece` (the next token, or a whole text) outside annotations.
    pub fn feed(&mut self, piece: &str) -> String {
        let mut out = String::with_capacity(piece.len());
        for c in piece.chars() {
            match self.closer {
                Some(close) => {
                    if c == close {
                        self.closer = None;
                    }
                }
                None => match c {
                    '[' => self.closer = Some(']'),
                    '(' => self.closer = Some(')'),
                    '*' => self.closer = Some('*'),
                    c if is_note(c) => {}
                    c => out.push(c),
                },
            }
        }
        out
    }
}

/// `text` without annotations, spaces tidied; empty when nothing was said.
pub fn strip(text: &str) -> String {
    let kept = TagFilter::default().feed(text);
    let words: Vec<&str> = kept.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().any(char::is_alphanumeric) {
        joined
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_removed() {
        assert_eq!(strip("[BLANK_AUDIO]"), "");
        assert_eq!(strip(" [MUSIC PLAYING] "), "");
        assert_eq!(strip("(upbeat music)"), "");
        assert_eq!(strip("♪ ♪"), "");
        assert_eq!(strip("*applause* Thank you."), "Thank you.");
        assert_eq!(strip("So [inaudible] we go"), "So we go");
        assert_eq!(
            strip("And so, my fellow Americans"),
            "And so, my fellow Americans"
        );
        assert_eq!(strip(" - "), "");
    }

    #[test]
    fn tokens_inside_an_annotation_are_dropped() {
        let mut f = TagFilter::default();
        let kept: Vec<String> = [" [", "MUS", "IC", "]", " Hello", " world"]
            .iter()
            .map(|t| f.feed(t).trim().to_string())
            .collect();
        assert_eq!(kept, ["", "", "", "", "Hello", "world"]);
    }
}
