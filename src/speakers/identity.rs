//! A recording's voices matched to the speakers the library remembers, by the cosine
//! similarity of their voiceprints: one-to-one, the most similar pairs first. A voice at
//! least [`MATCH`] similar is that speaker; one at least [`MAYBE`] is offered, not imposed.
//!
//! Calibrated on the shared recordings: the same two people in two stretches of a meeting
//! give 0.83-0.85, different people in one meeting 0.10-0.11, and the meeting's people
//! against a telephone call's at most 0.2 below their own match (tests in `speakers`).

use super::campplus::cosine;
use super::diarize::Voice;
use super::sql::KnownSpeaker;

pub const MATCH: f32 = 0.6;
pub const MAYBE: f32 = 0.45;

/// What a voice was recognised as.
#[derive(Debug, Clone, PartialEq)]
pub enum Recognised {
    /// That remembered speaker.
    Known { name: String, similarity: f32 },
    /// Perhaps that speaker: the user decides.
    Maybe { name: String, similarity: f32 },
    /// Nobody the library knows.
    New,
}

/// Each voice (in order) recognised among `known`.
pub fn recognise(voices: &[Voice], known: &[KnownSpeaker]) -> Vec<Recognised> {
    let mut pairs: Vec<(f32, usize, usize)> = voices
        .iter()
        .enumerate()
        .flat_map(|(v, voice)| {
            known
                .iter()
                .enumerate()
                .map(move |(k, ks)| (cosine(&voice.mean, &ks.voiceprint), v, k))
        })
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![Recognised::New; voices.len()];
    let mut taken = vec![false; known.len()];
    for &(s, v, k) in &pairs {
        if s >= MATCH && out[v] == Recognised::New && !taken[k] {
            out[v] = Recognised::Known {
                name: known[k].name.clone(),
                similarity: s,
            };
            taken[k] = true;
        }
    }
    for &(s, v, k) in &pairs {
        if s >= MAYBE && out[v] == Recognised::New && !taken[k] {
            out[v] = Recognised::Maybe {
                name: known[k].name.clone(),
                similarity: s,
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speakers::campplus::DIM;

    fn v(dir: usize) -> Vec<f32> {
        let mut x = vec![0.0; DIM];
        x[dir] = 1.0;
        x
    }

    fn known(name: &str, voiceprint: Vec<f32>) -> KnownSpeaker {
        KnownSpeaker {
            id: 0,
            name: name.into(),
            voiceprint,
            windows: 1,
            updated_at: 0,
        }
    }

    #[test]
    fn voices_match_one_to_one_and_a_near_match_is_only_offered() {
        let voice = |speaker: &str, mean: Vec<f32>| Voice {
            speaker: speaker.into(),
            mean,
            windows: 3,
        };
        let mut half = v(2);
        half[3] = 1.0; // cosine 0.707 with v(2), 0.707 with v(3)
        let mut near = v(4);
        near[5] = 0.6; // cosine 0.51 with v(5): offered
        let voices = [
            voice("SPEAKER_01", v(0)),
            voice("SPEAKER_02", v(1)),
            voice("SPEAKER_03", half),
            voice("SPEAKER_04", near),
        ];
        let library = [known("Ann", v(1)), known("Bob", v(2)), known("Cy", v(5))];
        let r = recognise(&voices, &library);
        assert_eq!(r[0], Recognised::New);
        assert!(matches!(&r[1], Recognised::Known { name, .. } if name == "Ann"));
        assert!(matches!(&r[2], Recognised::Known { name, .. } if name == "Bob"));
        assert!(matches!(&r[3], Recognised::Maybe { name, .. } if name == "Cy"));
        assert!(
            recognise(&voices, &[])
                .iter()
                .all(|x| *x == Recognised::New)
        );
    }
}
