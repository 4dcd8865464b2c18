//! Word error rate after normalisation in the spirit of Whisper's `EnglishTextNormalizer`
//! (openai-whisper `whisper/normalizers/english.py`), so that "Mr. Dashwood", "mister
//! Dashwood" and "MISTER DASHWOOD!" score the same, and a spelled number equals its digits.
//!
//! What it does, in Whisper's order: lower-case; drop text in brackets and parentheses
//! (annotations); drop hesitations (`uh`, `um`, `hmm`, ...); expand the contractions Whisper
//! expands (`won't`, `can't`, `n't`, `'re`, `'ll`, `'ve`, `'m`, `'d`, `let's`); spell out the
//! titles (`mr` -> `mister`, `mrs`, `dr`, `st`, ...); turn hyphens, punctuation and apostrophes
//! into spaces; `%` -> `percent`; numbers written as words become digits (`twenty one` ->
//! `21`, `one hundred and five` -> `105`), and `1,000` -> `1000`; British `-our`/`-ise`
//! spellings of common words -> American. Used by the test suite and the side-by-side
//! benchmark, so every tool is scored by the same code.

/// Word errors of `hypothesis` against `reference` after normalising both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WordErrors {
    /// Substitutions + insertions + deletions (the edit distance in words).
    pub edits: usize,
    /// Words in the normalised reference.
    pub reference_words: usize,
}

impl WordErrors {
    pub fn rate(self) -> f64 {
        self.edits as f64 / self.reference_words.max(1) as f64
    }
}

impl std::ops::Add for WordErrors {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            edits: self.edits + o.edits,
            reference_words: self.reference_words + o.reference_words,
        }
    }
}

impl std::iter::Sum for WordErrors {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
}

/// Word errors after normalisation.
pub fn word_errors(reference: &str, hypothesis: &str) -> WordErrors {
    let (r, h) = (normalize(reference), normalize(hypothesis));
    WordErrors {
        edits: edit_distance(&r, &h),
        reference_words: r.len(),
    }
}

/// The word error rate of one pair (0.0 = identical after normalisation).
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    word_errors(reference, hypothesis).rate()
}

fn edit_distance(r: &[String], h: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()]
}

const FILLERS: &[&str] = &[
    "hmm", "mm", "mhm", "mmm", "uh", "um", "ah", "eh", "er", "erm", "huh", "hm", "uhm",
];

const TITLES: &[(&str, &str)] = &[
    ("mr", "mister"),
    ("mrs", "missus"),
    ("ms", "miss"),
    ("dr", "doctor"),
    ("prof", "professor"),
    ("st", "saint"),
    ("jr", "junior"),
    ("sr", "senior"),
    ("capt", "captain"),
    ("gen", "general"),
    ("sen", "senator"),
    ("rev", "reverend"),
    ("hon", "honorable"),
];

const CONTRACTIONS: &[(&str, &str)] = &[
    ("won't", "will not"),
    ("can't", "can not"),
    ("cannot", "can not"),
    ("let's", "let us"),
    ("ain't", "aint"),
    ("y'all", "you all"),
    ("'cause", "because"),
];

const SUFFIXES: &[(&str, &str)] = &[
    ("n't", " not"),
    ("'re", " are"),
    ("'ll", " will"),
    ("'ve", " have"),
    ("'m", " am"),
    ("'d", " would"),
];

/// A few common British spellings (Whisper maps about 1,700).
const BRITISH: &[(&str, &str)] = &[
    ("colour", "color"),
    ("honour", "honor"),
    ("favour", "favor"),
    ("behaviour", "behavior"),
    ("neighbour", "neighbor"),
    ("labour", "labor"),
    ("humour", "humor"),
    ("rumour", "rumor"),
    ("harbour", "harbor"),
    ("endeavour", "endeavor"),
    ("centre", "center"),
    ("theatre", "theater"),
    ("metre", "meter"),
    ("realise", "realize"),
    ("recognise", "recognize"),
    ("organise", "organize"),
    ("apologise", "apologize"),
    ("civilise", "civilize"),
    ("travelled", "traveled"),
    ("travelling", "traveling"),
    ("grey", "gray"),
];

fn british(word: &str) -> String {
    for (uk, us) in BRITISH {
        if let Some(rest) = word.strip_prefix(uk)
            && matches!(
                rest,
                "" | "s" | "ed" | "ing" | "d" | "able" | "ite" | "ites" | "hood"
            )
        {
            return format!("{us}{rest}");
        }
    }
    word.to_string()
}

fn small_number(w: &str) -> Option<u64> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(i) = UNITS.iter().position(|u| *u == w) {
        return Some(i as u64);
    }
    TENS.iter()
        .position(|t| *t == w)
        .map(|i| (i as u64 + 2) * 10)
}

fn multiplier(w: &str) -> Option<u64> {
    match w {
        "hundred" => Some(100),
        "thousand" => Some(1_000),
        "million" => Some(1_000_000),
        "billion" => Some(1_000_000_000),
        _ => None,
    }
}

/// Runs of number words into digits ("and" inside a number, as in "one hundred and five").
fn numbers(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        // A number starts with a number word ("a thousand" stays words).
        if small_number(&words[i]).is_none() {
            out.push(words[i].clone());
            i += 1;
            continue;
        }
        let (mut total, mut current, mut j, mut last_small) = (0u64, 0u64, i, None::<u64>);
        while j < words.len() {
            let w = words[j].as_str();
            if let Some(n) = small_number(w) {
                // "twenty one" adds; "one two" is two numbers.
                match last_small {
                    Some(prev) if !(prev >= 20 && prev % 10 == 0 && n < 10) => break,
                    _ => {}
                }
                current += n;
                last_small = Some(n);
            } else if let Some(m) = multiplier(w) {
                if m == 100 {
                    current = current.max(1) * 100;
                } else {
                    total += current.max(1) * m;
                    current = 0;
                }
                last_small = None;
            } else if w == "and"
                && j + 1 < words.len()
                && small_number(&words[j + 1]).is_some()
                && (current >= 100 || total > 0)
            {
                last_small = None;
            } else {
                break;
            }
            j += 1;
        }
        out.push((total + current).to_string());
        i = j;
    }
    out
}

/// The normalised words of `text`.
pub fn normalize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    // Annotations in brackets or parentheses.
    let mut s = String::with_capacity(lower.len());
    let mut depth = 0usize;
    for c in lower.chars() {
        match c {
            '[' | '(' | '<' => depth += 1,
            ']' | ')' | '>' => depth = depth.saturating_sub(1),
            c if depth == 0 => s.push(c),
            _ => {}
        }
    }
    // Digit groups: 1,000 -> 1000.
    let chars: Vec<char> = s.chars().collect();
    let mut t = String::with_capacity(s.len());
    for (i, c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if *c == ',' && between_digits {
            continue;
        }
        if *c == '%' {
            t.push_str(" percent ");
            continue;
        }
        t.push(*c);
    }
    let mut words = Vec::new();
    for raw in t.split(|c: char| c.is_whitespace() || c == '-' || c == '—' || c == '–') {
        let w: String = raw
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
            .to_string();
        let w = w.trim_matches('\'');
        if w.is_empty() {
            continue;
        }
        let mut w = w.to_string();
        if let Some((_, full)) = CONTRACTIONS.iter().find(|(c, _)| *c == w) {
            w = (*full).to_string();
        } else if let Some((suf, full)) = SUFFIXES.iter().find(|(suf, _)| w.ends_with(suf)) {
            w = format!("{}{full}", &w[..w.len() - suf.len()]);
        }
        for piece in w.split(|c: char| !c.is_alphanumeric()) {
            if piece.is_empty() || FILLERS.contains(&piece) {
                continue;
            }
            let piece = match TITLES.iter().find(|(t, _)| *t == piece) {
                Some((_, full)) => (*full).to_string(),
                None => british(piece),
            };
            words.push(piece);
        }
    }
    numbers(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_whispers_english_normaliser() {
        assert_eq!(
            normalize("And so, my fellow Americans: ask not!"),
            ["and", "so", "my", "fellow", "americans", "ask", "not"]
        );
        assert_eq!(normalize("Mr. Dashwood"), normalize("mister dashwood"));
        assert_eq!(normalize("Mrs Dashwood's"), ["missus", "dashwood", "s"]);
        assert_eq!(normalize("well-known"), ["well", "known"]);
        assert_eq!(
            normalize("I can't, won't"),
            ["i", "can", "not", "will", "not"]
        );
        assert_eq!(normalize("twenty one years"), ["21", "years"]);
        assert_eq!(normalize("one hundred and five"), ["105"]);
        assert_eq!(normalize("two thousand and twenty"), ["2020"]);
        assert_eq!(
            normalize("1,000 people, 50%"),
            ["1000", "people", "50", "percent"]
        );
        assert_eq!(normalize("one two"), ["1", "2"]);
        assert_eq!(
            normalize("Um, the [MUSIC] colour (laughs)"),
            ["the", "color"]
        );
        assert_eq!(normalize("neighbourhood"), ["neighborhood"]);
        assert_eq!(normalize("a thousand"), ["a", "thousand"]);
    }

    #[test]
    fn counts_word_edits() {
        assert_eq!(wer("ask not what", "Ask not, what."), 0.0);
        let e = word_errors("and so my fellow americans", "and so my fellow american");
        assert_eq!((e.edits, e.reference_words), (1, 5));
        assert_eq!(wer("a b", ""), 1.0);
        assert_eq!(wer("", ""), 0.0);
        let total: WordErrors = [word_errors("a b", "a"), word_errors("c d", "c d")]
            .into_iter()
            .sum();
        assert_eq!((total.edits, total.reference_words), (1, 4));
    }
}
