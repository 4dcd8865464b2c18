//! The streaming policy for live captions: LocalAgreement-2 (Macháček, Dabre and Bojar,
//! "Turning Whisper into Real-Time Transcription System", 2023; the `whisper_streaming`
//! reference code).
//!
//! The audio not yet confirmed (the *buffer*, from [`Agreement::buffer_start_ms`] to the end
//! of what is recorded) is transcribed again each step as it grows. A word is committed once
//! two consecutive hypotheses agree on it: the longest common prefix of the previous step's
//! unconfirmed words and this step's is committed, with this step's times, and never
//! rewritten. The rest is the tail, shown apart and replaced by the next step. The committed
//! text before the buffer is the decoder's prompt. Once the buffer is longer than the trim
//! length it is cut after the last committed sentence end (or, lacking one, the last
//! committed word), so each step transcribes a bounded amount of audio.
//!
//! ECS-free and engine-free: words in, words out.

use super::protocol::Word;

/// Times move between hypotheses: a word after the aligned part that starts more than a
/// fifth of this before the last committed word was heard before.
pub const OVERLAP_SLACK_MS: u64 = 1000;
/// How much committed text (characters) the decoder is prompted with.
pub const PROMPT_CHARS: usize = 200;

/// A word as compared between hypotheses: lower case, letters and digits only.
fn key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The prefix of `heard` that is `done` heard again (the hypothesis words up to the last one
/// that lines up with a committed word), and whether the last committed word lines up. The
/// prefix is the one closest to `done` in words (fewest words changed, dropped or added;
/// of equals, the shortest), so a word heard changed ("asked" as "ask") still lines up, and a
/// committed word the hypothesis dropped is not lined up with the same word said again
/// later ("unless to be rather ... and rather selfish"), which would take every word between
/// for heard already.
fn aligned_prefix(done: &[String], heard: &[String]) -> (usize, bool) {
    let (cut, last_aligned, _) = closest_prefix(done, heard);
    (cut, last_aligned)
}

/// How many words at the start of `heard` are the end of `prompt` said again: at least
/// three, ending on its last word, at most one in four changed. The longest such end wins.
fn echoed(prompt: &[String], heard: &[String]) -> usize {
    for s in 0..prompt.len().saturating_sub(2) {
        let end = &prompt[s..];
        let (cut, last_aligned, changed) = closest_prefix(end, heard);
        if last_aligned && cut >= 3 && changed * 4 <= end.len() {
            return cut;
        }
    }
    0
}

/// [`aligned_prefix`], with the words changed, dropped or added to get there.
fn closest_prefix(done: &[String], heard: &[String]) -> (usize, bool, usize) {
    let (n, m) = (done.len(), heard.len());
    // ed[i][j]: the word edit distance of done[..i] and heard[..j].
    let mut ed = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in ed.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in ed[0].iter_mut().enumerate() {
        *cell = j;
    }
    for (i, a) in done.iter().enumerate() {
        for (j, b) in heard.iter().enumerate() {
            let change = ed[i][j] + usize::from(a != b);
            ed[i + 1][j + 1] = change.min(ed[i][j + 1] + 1).min(ed[i + 1][j] + 1);
        }
    }
    // The closest prefix, the shortest of equals (min_by_key keeps the first): whether the
    // word after it is a committed word heard changed is for the times to say (`unheard`).
    let cut = (0..=m).min_by_key(|&j| ed[n][j]).unwrap_or(0);
    let last_aligned =
        n > 0 && cut > 0 && done[n - 1] == heard[cut - 1] && ed[n][cut] == ed[n - 1][cut - 1];
    (cut, last_aligned, ed[n][cut])
}

/// A hypothesis up to where it starts saying itself again: whisper at times decodes a short
/// buffer as its sentence twice ("And so am I fellow Americans. And so am I fellow
/// Americans."). The first run of three words or more said again right after itself ends it.
fn cut_loop(mut words: Vec<Word>) -> Vec<Word> {
    let keys: Vec<String> = words.iter().map(|w| key(&w.text)).collect();
    for i in 0..keys.len() {
        for n in 3..=(keys.len() - i) / 2 {
            if keys[i..i + n] == keys[i + n..i + 2 * n] {
                words.truncate(i + n);
                return words;
            }
        }
    }
    words
}

/// Whether a word ends a sentence (`man.`, `why?"`, `(sic).)`).
pub(crate) fn ends_sentence(text: &str) -> bool {
    text.trim_end()
        .trim_end_matches(['"', '\'', ')', ']'])
        .ends_with(['.', '?', '!'])
}

/// The LocalAgreement-2 state of one live take.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Agreement {
    committed: Vec<Word>,
    tail: Vec<Word>,
    buffer_start_ms: u64,
}

impl Agreement {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the audio to transcribe next starts (ms into the take).
    pub fn buffer_start_ms(&self) -> u64 {
        self.buffer_start_ms
    }

    /// Every committed word, in order.
    pub fn committed(&self) -> &[Word] {
        &self.committed
    }

    /// The unconfirmed words of the latest step.
    pub fn tail(&self) -> &[Word] {
        &self.tail
    }

    /// The committed text before the buffer (the audio after it is heard again), at most
    /// [`PROMPT_CHARS`] characters, whole words.
    pub fn prompt(&self) -> String {
        self.prompt_words()
            .map(|w| w.text.trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The committed words of the prompt.
    fn prompt_words(&self) -> impl Iterator<Item = &Word> {
        self.committed[self.prompt_start()..]
            .iter()
            .filter(|w| w.end_ms <= self.buffer_start_ms)
    }

    /// The index of the first committed word of the prompt (the words from it on are the
    /// prompt's and the buffer's).
    fn prompt_start(&self) -> usize {
        let Some(last) = self
            .committed
            .iter()
            .rposition(|w| w.end_ms <= self.buffer_start_ms)
        else {
            return 0;
        };
        let mut len = 0;
        let mut start = last + 1;
        for (i, w) in self.committed[..=last].iter().enumerate().rev() {
            let t = w.text.trim();
            if len + t.len() + 1 > PROMPT_CHARS {
                break;
            }
            len += t.len() + 1;
            start = i;
        }
        start
    }

    /// Takes one step's hypothesis (the buffer's words with their times in the take) and
    /// returns the words it commits.
    pub fn insert(&mut self, hypothesis: Vec<Word>) -> Vec<Word> {
        self.insert_stable(hypothesis, 0)
    }

    /// [`Self::insert`], and the words after the agreed ones that end by `stable_until_ms`
    /// are committed too, from this one hypothesis (see [`super::live::LivePolicy::Pauses`]):
    /// whisper heard enough audio after them for them not to change.
    pub fn insert_stable(&mut self, hypothesis: Vec<Word>, stable_until_ms: u64) -> Vec<Word> {
        // Heard twice, whatever the words: the previous hypothesis reached past a word for its
        // time to make it stable (the first decode of fresh audio, with no audio before it in
        // the buffer, is the one that gets a buffer's first words wrong). An utterance that
        // is over (`u64::MAX`) is committed whole.
        let stable_until_ms = if stable_until_ms == u64::MAX {
            stable_until_ms
        } else {
            stable_until_ms.min(self.tail.last().map_or(0, |w| w.end_ms))
        };
        let mut new = cut_loop(self.unheard(hypothesis));
        let agreed = self
            .tail
            .iter()
            .zip(&new)
            .take_while(|(a, b)| key(&a.text) == key(&b.text))
            .count();
        let stable = new[agreed..]
            .iter()
            .take_while(|w| w.end_ms <= stable_until_ms)
            .count();
        let rest = new.split_off(agreed + stable);
        self.tail = rest;
        self.committed.extend(new.iter().cloned());
        new
    }

    /// The part of a hypothesis after what is committed. The buffer is heard again from its
    /// start, so a hypothesis begins with the committed words inside the buffer, but their
    /// times move between steps (by more than a word at times) and a word may come back
    /// changed ("asked" as "ask"). So the committed words are found by their text: the
    /// hypothesis is cut after its prefix closest to them ([`aligned_prefix`]). When the last committed word is not among the aligned ones (it came
    /// back changed), up to two words right after the cut that start before it (less
    /// [`OVERLAP_SLACK_MS`] / 5) are it, and are dropped too.
    fn unheard(&self, hypothesis: Vec<Word>) -> Vec<Word> {
        let mut new: Vec<Word> = hypothesis
            .into_iter()
            .filter(|w| !key(&w.text).is_empty())
            .filter(|w| w.end_ms > self.buffer_start_ms)
            .collect();
        let Some(last) = self.committed.last() else {
            return new;
        };
        // Whisper at times says its prompt again before the buffer's words (the last
        // sentence echoed at the start): that is heard already.
        let prompt: Vec<String> = self.prompt_words().map(|w| key(&w.text)).collect();
        let mut heard: Vec<String> = new.iter().map(|w| key(&w.text)).collect();
        let echo = echoed(&prompt, &heard);
        new.drain(..echo);
        heard.drain(..echo);
        let done: Vec<String> = self
            .committed
            .iter()
            .filter(|w| w.end_ms > self.buffer_start_ms)
            .map(|w| key(&w.text))
            .collect();
        let (mut cut, last_aligned) = aligned_prefix(&done, &heard);
        // The last committed word came back changed: the next words that start before it
        // are it (and a split of it).
        let mut changed = 0;
        while !last_aligned
            && changed < 2
            && new
                .get(cut)
                .is_some_and(|w| w.start_ms + OVERLAP_SLACK_MS / 5 < last.start_ms)
        {
            cut += 1;
            changed += 1;
        }
        new.split_off(cut.min(new.len()))
    }

    /// Moves the buffer start past committed audio once the buffer (to `recorded_ms`) is
    /// longer than `max_ms`: to the end of the last committed sentence, else of the last
    /// committed word. Never past the committed end, so no unconfirmed word is dropped.
    pub fn trim(&mut self, recorded_ms: u64, max_ms: u64) {
        if recorded_ms.saturating_sub(self.buffer_start_ms) <= max_ms {
            return;
        }
        let cut = self
            .committed
            .iter()
            .rev()
            .find(|w| ends_sentence(&w.text) && w.end_ms > self.buffer_start_ms)
            .or_else(|| self.committed.last())
            .map(|w| w.end_ms);
        if let Some(cut) = cut.filter(|c| *c > self.buffer_start_ms) {
            self.buffer_start_ms = cut;
        }
    }

    /// Moves the buffer start forward to `ms` (nothing was heard before it), never past an
    /// unconfirmed word.
    pub fn skip_to(&mut self, ms: u64) {
        let limit = self.tail.first().map_or(u64::MAX, |w| w.start_ms);
        self.buffer_start_ms = self.buffer_start_ms.max(ms.min(limit));
    }

    /// The take ended: the tail is all there will be, so it is committed.
    pub fn finish(&mut self) -> Vec<Word> {
        let tail = std::mem::take(&mut self.tail);
        self.committed.extend(tail.iter().cloned());
        tail
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Words at 500 ms each from `start`.
    fn words(start: u64, text: &str) -> Vec<Word> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, t)| Word {
                start_ms: start + i as u64 * 500,
                end_ms: start + i as u64 * 500 + 400,
                text: format!(" {t}"),
                p: 0.9,
            })
            .collect()
    }

    fn text(ws: &[Word]) -> String {
        ws.iter()
            .map(|w| w.text.trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_word_is_committed_when_two_hypotheses_agree() {
        let mut a = Agreement::new();
        assert!(a.insert(words(0, "and so my")).is_empty());
        assert_eq!(text(a.tail()), "and so my");
        // The second hypothesis agrees on "and so", changes "my" to "my fellow".
        assert_eq!(text(&a.insert(words(0, "And so, my fellow"))), "And so, my");
        assert_eq!(text(a.tail()), "fellow");
        assert_eq!(
            text(&a.insert(words(0, "and so my fellow americans"))),
            "fellow"
        );
        assert_eq!(text(a.committed()), "And so, my fellow");
    }

    #[test]
    fn committed_words_heard_again_are_not_committed_twice() {
        let mut a = Agreement::new();
        a.insert(words(0, "ask not what"));
        a.insert(words(0, "ask not what your"));
        assert_eq!(text(a.committed()), "ask not what");
        // The buffer still starts at 0: the committed words come back first, their times
        // moved a little.
        let mut again = words(30, "ask not what your country");
        again.iter_mut().for_each(|w| w.p = 0.5);
        assert_eq!(text(&a.insert(again)), "your");
        assert_eq!(text(a.committed()), "ask not what your");
        assert_eq!(text(a.tail()), "country");
    }

    #[test]
    fn a_long_run_heard_again_with_later_times_is_not_committed_again() {
        let mut a = Agreement::new();
        let said = "a more amiable woman he might have been";
        a.insert(words(0, said));
        a.insert(words(0, said));
        assert_eq!(text(a.committed()), said);
        // Heard again 1.5 s later than before (its times drifted), then new words.
        let again = words(1500, &format!("{said} made still"));
        assert!(a.insert(again.clone()).is_empty());
        assert_eq!(text(a.tail()), "made still");
        assert_eq!(text(&a.insert(again)), "made still");
        assert_eq!(text(a.committed()), format!("{said} made still"));
    }

    #[test]
    fn a_committed_word_that_comes_back_changed_is_not_committed_again() {
        let mut a = Agreement::new();
        let first = words(0, "fellow americans asked not");
        a.insert(first.clone());
        a.insert(first);
        // "asked" is heard as "ask" now, and "not" 200 ms later than it was committed.
        let mut again = words(0, "fellow americans ask not what your");
        again[3].start_ms += 200;
        again[3].end_ms += 200;
        assert!(a.insert(again.clone()).is_empty());
        assert_eq!(text(a.tail()), "what your");
        assert_eq!(text(&a.insert(again)), "what your");
        assert_eq!(text(a.committed()), "fellow americans asked not what your");
    }

    #[test]
    fn a_changing_hypothesis_commits_nothing_until_it_settles() {
        let mut a = Agreement::new();
        a.insert(words(0, "the quick"));
        assert!(a.insert(words(0, "a quick")).is_empty());
        assert!(a.insert(words(0, "the quick brown")).is_empty());
        assert_eq!(
            text(&a.insert(words(0, "the quick brown fox"))),
            "the quick brown"
        );
    }

    #[test]
    fn trimming_cuts_after_a_committed_sentence_and_the_prompt_is_what_was_cut() {
        let mut a = Agreement::new();
        let first = words(0, "one two three. four five");
        a.insert(first.clone());
        a.insert(first);
        assert_eq!(a.buffer_start_ms(), 0);
        a.trim(10_000, 15_000);
        assert_eq!(a.buffer_start_ms(), 0, "short buffers are kept whole");
        assert_eq!(a.prompt(), "");
        a.trim(20_000, 15_000);
        // "three." ends at 1400 ms.
        assert_eq!(a.buffer_start_ms(), 1400);
        assert_eq!(a.prompt(), "one two three.");
        // Without a sentence end, the last committed word.
        let mut b = Agreement::new();
        b.insert(words(0, "no sentence end here"));
        b.insert(words(0, "no sentence end here"));
        b.trim(20_000, 15_000);
        assert_eq!(b.buffer_start_ms(), 1900);
    }

    #[test]
    fn a_committed_word_the_hypothesis_dropped_does_not_swallow_the_words_to_its_repeat() {
        let mut a = Agreement::new();
        a.insert(words(0, "unless to be rather"));
        a.insert(words(0, "unless to be rather"));
        assert_eq!(text(a.committed()), "unless to be rather");
        // Heard again without the first "rather": the words up to the second one are new.
        let h = words(
            0,
            "unless to be cold hearted and rather selfish is to be ill",
        );
        a.insert(h.clone());
        assert_eq!(
            text(&a.insert(h)),
            "cold hearted and rather selfish is to be ill"
        );
    }

    #[test]
    fn the_prompt_said_again_before_the_buffer_is_not_committed_again() {
        let mut a = Agreement::new();
        let said = "she was ill disposed. he might have been";
        a.insert(words(0, said));
        a.insert(words(0, said));
        // The buffer is cut after "disposed." (it ends at 1900 ms): the prompt is that
        // sentence, the buffer holds "he might have been".
        a.trim(30_000, 15_000);
        assert_eq!(a.prompt(), "she was ill disposed.");
        // Whisper says the prompt again at the start of the buffer, then the buffer's words
        // and new ones.
        let echo = words(2000, "she was ill disposed. he might have been made still");
        assert!(a.insert(echo.clone()).is_empty());
        assert_eq!(text(a.tail()), "made still");
        assert_eq!(text(&a.insert(echo)), "made still");
        assert_eq!(text(a.committed()), format!("{said} made still"));
        // And at the end of the take, too.
        a.insert(words(
            2000,
            "she was ill disposed. he might have been made still more",
        ));
        assert_eq!(text(&a.finish()), "more");
    }

    #[test]
    fn the_end_of_the_take_commits_the_tail() {
        let mut a = Agreement::new();
        a.insert(words(0, "thank you"));
        assert_eq!(text(&a.finish()), "thank you");
        assert!(a.tail().is_empty());
        assert_eq!(text(a.committed()), "thank you");
    }

    #[test]
    fn punctuation_only_tokens_are_ignored() {
        let mut a = Agreement::new();
        let mut h = words(0, "hello world");
        h.push(Word {
            start_ms: 1000,
            end_ms: 1000,
            text: ".".into(),
            p: 0.9,
        });
        a.insert(h.clone());
        assert_eq!(text(&a.insert(h)), "hello world");
    }

    #[test]
    fn words_heard_long_enough_ago_are_committed_from_one_hypothesis() {
        let mut a = Agreement::new();
        // Words at 0-400, 500-900, 1000-1400, 1500-1900 ms. The first hypothesis of fresh
        // audio commits nothing by time.
        assert!(
            a.insert_stable(words(0, "and so my fellow"), 1_500)
                .is_empty()
        );
        // The second agrees on "and so" and changed "my": stable by its time (it ends by
        // 1,500 ms and the first hypothesis reached past it); "fellow" does not.
        assert_eq!(
            text(&a.insert_stable(words(0, "and so mine fellow"), 1_500)),
            "and so mine"
        );
        assert_eq!(text(a.tail()), "fellow");
        // The next agrees on "fellow"; "americans" goes past what the previous one reached.
        assert_eq!(
            text(&a.insert_stable(words(0, "and so mine fellow americans"), 2_500)),
            "fellow"
        );
        assert_eq!(text(a.tail()), "americans");
        // Everything, once the utterance is over.
        assert_eq!(
            text(&a.insert_stable(words(0, "and so mine fellow americans"), u64::MAX)),
            "americans"
        );
        assert_eq!(text(a.committed()), "and so mine fellow americans");
        assert!(a.tail().is_empty());
    }

    #[test]
    fn a_hypothesis_that_says_itself_again_is_cut_where_it_starts_over() {
        let said = words(
            0,
            "and so am i fellow americans and so am i fellow americans",
        );
        assert_eq!(text(&cut_loop(said)), "and so am i fellow americans");
        let natural = words(0, "no no no I said no");
        assert_eq!(text(&cut_loop(natural.clone())), text(&natural));
    }
}
