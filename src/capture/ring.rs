//! The real-time path: the audio callback converts samples to f32 and pushes them into a
//! lock-free SPSC ring (ringbuf); the capture writer drains it.
//!
//! [`CallbackSink::push`] is everything a callback does. It never allocates, locks, logs or
//! does I/O: conversion goes through scratch sized before the stream starts, and an overrun
//! (the ring full because the reader fell behind) is only counted, in atomics, together with
//! the frame position where it happened. The reader logs and draws it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cpal::{FromSample, Sample};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Counters shared between the callback and everyone else (atomics only).
#[derive(Debug, Default)]
pub struct CaptureCounters {
    /// Frames the device delivered.
    pub frames_delivered: AtomicU64,
    /// Callbacks whose audio did not all fit in the ring.
    pub overruns: AtomicU64,
    /// Frames lost to overruns.
    pub frames_dropped: AtomicU64,
    /// Position (frames delivered before it) of the latest overrun.
    pub last_overrun_at: AtomicU64,
}

impl CaptureCounters {
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            frames_delivered: self.frames_delivered.load(Ordering::Acquire),
            overruns: self.overruns.load(Ordering::Acquire),
            frames_dropped: self.frames_dropped.load(Ordering::Acquire),
            last_overrun_at: self.last_overrun_at.load(Ordering::Acquire),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    pub frames_delivered: u64,
    pub overruns: u64,
    pub frames_dropped: u64,
    pub last_overrun_at: u64,
}

/// What the audio callback owns.
pub struct CallbackSink {
    prod: HeapProd<f32>,
    scratch: Box<[f32]>,
    channels: usize,
    counters: Arc<CaptureCounters>,
}

/// The drain side, owned by the capture writer thread.
pub struct RingReader {
    cons: HeapCons<f32>,
    channels: usize,
    counters: Arc<CaptureCounters>,
}

/// A ring holding `capacity_frames` frames of `channels` channels. `max_callback_frames` sizes
/// the conversion scratch (larger callbacks are converted in pieces, still without allocating).
pub fn ring(
    capacity_frames: usize,
    channels: u16,
    max_callback_frames: usize,
) -> (CallbackSink, RingReader) {
    let channels = usize::from(channels.max(1));
    let (prod, cons) = HeapRb::<f32>::new(capacity_frames.max(1) * channels).split();
    let counters = Arc::new(CaptureCounters::default());
    let scratch = vec![0.0f32; max_callback_frames.max(1) * channels].into_boxed_slice();
    (
        CallbackSink {
            prod,
            scratch,
            channels,
            counters: Arc::clone(&counters),
        },
        RingReader {
            cons,
            channels,
            counters,
        },
    )
}

impl CallbackSink {
    /// Converts interleaved samples of any cpal sample type to f32 and pushes them.
    #[inline]
    pub fn push<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let frames = (data.len() / self.channels) as u64;
        let mut lost: u64 = 0;
        for chunk in data.chunks(self.scratch.len()) {
            let n = chunk.len();
            for (dst, s) in self.scratch.iter_mut().zip(chunk) {
                *dst = f32::from_sample_(*s);
            }
            // Only whole frames go in, so a full ring never splits a frame between channels.
            let room = self.prod.vacant_len() / self.channels * self.channels;
            let fit = n.min(room);
            let pushed = self
                .prod
                .push_slice(self.scratch.get(..fit).unwrap_or_default());
            lost += (n - pushed) as u64;
        }
        let before = self
            .counters
            .frames_delivered
            .fetch_add(frames, Ordering::AcqRel);
        if lost > 0 {
            self.counters.overruns.fetch_add(1, Ordering::AcqRel);
            self.counters
                .frames_dropped
                .fetch_add(lost.div_ceil(self.channels as u64), Ordering::AcqRel);
            self.counters
                .last_overrun_at
                .store(before, Ordering::Release);
        }
    }

    pub fn counters(&self) -> &Arc<CaptureCounters> {
        &self.counters
    }
}

impl RingReader {
    /// Moves as many whole frames as are ready into `buf`; returns the samples moved.
    pub fn read(&mut self, buf: &mut [f32]) -> usize {
        let whole = (self.cons.occupied_len() / self.channels) * self.channels;
        let want = whole.min(buf.len() / self.channels * self.channels);
        self.cons.pop_slice(buf.get_mut(..want).unwrap_or_default())
    }

    /// Samples waiting in the ring.
    pub fn pending(&self) -> usize {
        self.cons.occupied_len()
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn counters(&self) -> &Arc<CaptureCounters> {
        &self.counters
    }

    /// Reads what is ready, sleeping (never spinning) in steps of `poll` while the ring is
    /// empty, for at most `timeout`. Returns the samples read (0 on timeout).
    pub fn read_blocking(&mut self, buf: &mut [f32], poll: Duration, timeout: Duration) -> usize {
        let mut waited = Duration::ZERO;
        loop {
            let n = self.read(buf);
            if n > 0 || waited >= timeout {
                return n;
            }
            std::thread::sleep(poll);
            waited += poll;
        }
    }
}
