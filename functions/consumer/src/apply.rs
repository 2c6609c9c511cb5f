//! One order's transactions through the sequencer into the store: load, process, fetch
//! what the sequencer needs, commit each step conditionally; reload and redo on a lost race.
//! A transaction the store refuses for good is found (one input per step) and fails alone;
//! no step is started once the deadline is near, and a store call still running at the
//! deadline is abandoned: the steps committed before it stay progress.

use crate::error::ApplyError;
use crate::settings::Settings;
use convoy_core::sequencer::{process, Disposition, Known, Need, SeqError, Step};
use convoy_core::{OrderId, OrderState, Receipt, Seq, Transaction};
use convoy_store::{Head, OrderStore, StoreError};
use tokio::time::Instant;

/// What became of an order's inputs. `results` has one entry per input reached, in order:
/// committed with its disposition, or refused by the store alone (a permanent error; the
/// inputs after it went on). When `error` is set, the inputs past `results` were not
/// reached. Only the [`finished`](Applied::finished) inputs are done for good, though: see
/// [`drain_unfinished`](Applied::drain_unfinished).
#[derive(Debug, Default)]
pub struct Applied {
    pub results: Vec<Result<Disposition, ApplyError>>,
    /// Parked transactions drained, in `seq` order.
    pub drained: Vec<Seq>,
    /// The state after the last commit, or as loaded (`None` if nothing was loaded).
    pub state: Option<OrderState>,
    pub commits: usize,
    /// Reloads after a lost optimistic-lock race.
    pub retries: usize,
    /// Why the inputs past `results` were not reached (a transient failure, the deadline).
    pub error: Option<ApplyError>,
    /// Every input was reached, but a step after the last of them failed while parked
    /// transactions were still to drain (from `state.next_seq` on). Nothing else would
    /// resume that drain: the caller must have the last input delivered again.
    pub drain_unfinished: bool,
}

impl Applied {
    /// True when input `i` is finished for good: committed, and every drain it started
    /// committed too. With [`drain_unfinished`](Applied::drain_unfinished) the last input
    /// is not finished: its redelivery is a harmless duplicate that resumes the drain.
    pub fn finished(&self, i: usize) -> bool {
        let last = self.drain_unfinished && i + 1 == self.results.len();
        matches!(self.results.get(i), Some(Ok(_))) && !last
    }

    /// Stops with `error`; `state` is the order as last committed or loaded, if known.
    fn failed(mut self, error: ApplyError, state: Option<OrderState>) -> Self {
        if state.is_some() {
            self.state = state;
        }
        self.error = Some(error);
        self
    }
}

/// Applies `inputs` (all of order `id`, in arrival order) and drains what they unblock.
/// A failure once every input is reached leaves a drain unfinished, and says so. No step
/// starts within [`Settings::deadline_margin`] of `deadline`, and a store call (load,
/// fetch, commit) still running at `deadline` is abandoned with [`ApplyError::Deadline`].
pub async fn apply_order<S: OrderStore>(
    store: &S,
    id: &OrderId,
    inputs: &[Transaction],
    settings: &Settings,
    deadline: Instant,
) -> Applied {
    let mut applied = apply_steps(store, id, inputs, settings, deadline).await;
    // The loop below only goes on past the last input while a parked transaction is next.
    // With no inputs (a resume message), any failure leaves the drain unfinished.
    applied.drain_unfinished = applied.error.is_some() && applied.results.len() == inputs.len();
    applied
}

/// The steps of [`apply_order`]: until every input is reached and nothing is left to drain,
/// or the first failure that is not one input's alone.
async fn apply_steps<S: OrderStore>(
    store: &S,
    id: &OrderId,
    inputs: &[Transaction],
    settings: &Settings,
    deadline: Instant,
) -> Applied {
    let mut applied = Applied::default();
    let store_error = |source: StoreError| ApplyError::Store {
        order_id: id.to_string(),
        source,
    };
    let near = || Instant::now() + settings.deadline_margin >= deadline;
    let deadline_error = || ApplyError::Deadline {
        order_id: id.to_string(),
    };
    'attempt: loop {
        if near() {
            return applied.failed(deadline_error(), None);
        }
        let mut base: Option<Head> = match by(deadline, store.load(id)).await {
            Some(Ok(head)) => head,
            Some(Err(e)) => return applied.failed(store_error(e), None),
            None => return applied.failed(deadline_error(), None),
        };
        let mut state = base
            .as_ref()
            .map_or_else(|| OrderState::new(id.clone()), |b| b.state.clone());
        // The last step's facts are in its log item only, until the next commit.
        let mut known = base.as_ref().map(Head::known).unwrap_or_default();
        // Whether a parked transaction may be at next_seq (a drain cut short before).
        let mut may_drain = state.parked_count > 0;
        // After `TooManyParked`, the rest goes one input per step to find the one to fail.
        let mut one_at_a_time = false;
        // After a permanent refusal of a step, its inputs go one per step, each alone in its
        // step (two changes at most), to find the one the store refuses.
        let mut isolate = 0usize;
        loop {
            let rest = &inputs[applied.results.len()..];
            if rest.is_empty() && !may_drain {
                applied.state = Some(state);
                return applied;
            }
            let window = if one_at_a_time || isolate > 0 {
                &rest[..rest.len().min(1)]
            } else {
                rest
            };
            let max_changes = if isolate > 0 { 2 } else { settings.max_changes };
            let mut step = match process(&state, &known, window, max_changes) {
                Ok(step) => step,
                Err(SeqError::Need(need)) => {
                    if near() {
                        return applied.failed(deadline_error(), Some(state));
                    }
                    let fetched = resolve(store, id, &state, window, &need, &mut known, settings);
                    match by(deadline, fetched).await {
                        Some(Ok(())) => continue,
                        Some(Err(e)) => return applied.failed(e, Some(state)),
                        None => return applied.failed(deadline_error(), Some(state)),
                    }
                }
                Err(SeqError::TooManyParked { .. }) if window.len() > 1 => {
                    one_at_a_time = true;
                    continue;
                }
                Err(source) => {
                    return applied.failed(
                        ApplyError::Sequencer {
                            order_id: id.to_string(),
                            source,
                        },
                        Some(state),
                    )
                }
            };
            if rest.is_empty() && step.drained.is_empty() {
                // next_seq was not parked after all: nothing left to drain.
                applied.state = Some(state);
                return applied;
            }
            if step.consumed() == 0 && step.drained.is_empty() {
                return applied.failed(
                    ApplyError::Stalled {
                        order_id: id.to_string(),
                    },
                    Some(state),
                );
            }
            if !step.changes.is_empty() || step.state != state {
                if near() {
                    return applied.failed(deadline_error(), Some(state));
                }
                let Some(outcome) =
                    commit_step(store, id, base.as_ref(), &mut step, settings, deadline).await
                else {
                    // It may have landed: its inputs are not finished (they come back as
                    // duplicates if so), and the next load finds out.
                    return applied.failed(deadline_error(), Some(state));
                };
                match outcome {
                    Ok(head) => {
                        base = Some(head);
                        applied.commits += 1;
                    }
                    Err(e) if e.is_conflict() => {
                        if applied.retries >= settings.max_conflict_retries {
                            let attempts = applied.retries + 1;
                            return applied.failed(
                                ApplyError::Contended {
                                    order_id: id.to_string(),
                                    attempts,
                                    source: e,
                                },
                                Some(state),
                            );
                        }
                        applied.retries += 1;
                        tracing::info!(
                            order_id = %id,
                            retry = applied.retries,
                            "order changed under us; reloading"
                        );
                        tokio::time::sleep(settings.conflict_backoff * applied.retries as u32)
                            .await;
                        // Kept in case the reload fails: what we last committed or loaded.
                        applied.state = Some(state);
                        continue 'attempt;
                    }
                    Err(e)
                        if e.is_permanent() && step.consumed() == 1 && step.drained.is_empty() =>
                    {
                        // Everything the step writes is that input's: it fails alone and
                        // nothing was written. The rest goes on from the same state.
                        applied.results.push(Err(store_error(e)));
                        isolate = isolate.saturating_sub(1);
                        continue;
                    }
                    Err(e) if e.is_permanent() && isolate == 0 && step.consumed() > 0 => {
                        isolate = step.consumed();
                        tracing::warn!(
                            order_id = %id,
                            inputs = isolate,
                            error = %convoy_core::chain(&e),
                            "the store refuses a step; its inputs go one per step to find the culprit"
                        );
                        continue;
                    }
                    // A transient failure, or a refused drain-only step: no input to blame alone.
                    Err(e) => return applied.failed(store_error(e), Some(state)),
                }
            }
            known.remember(&step.changes);
            may_drain = step.more_to_drain;
            isolate = isolate.saturating_sub(step.consumed());
            applied
                .results
                .extend(step.dispositions.into_iter().map(Ok));
            applied.drained.extend(step.drained);
            state = step.state;
        }
    }
}

/// How many times a paying step takes a new receipt because a batch sealed the receipts
/// past the time of the last (each new one is paid at the seal or later, so one is enough
/// unless the seal moves again meanwhile).
const SEALED_RETRIES: usize = 3;

/// Commits `step`. A step that applies a payment first takes its receipt (the next number,
/// paid now); when a batch has sealed the receipts past that time meanwhile, it takes
/// another, paid no earlier than the seal: the payment goes to a window not read yet.
/// `None` when the deadline came first (a commit then abandoned may have landed).
async fn commit_step<S: OrderStore>(
    store: &S,
    id: &OrderId,
    base: Option<&Head>,
    step: &mut Step,
    settings: &Settings,
    deadline: Instant,
) -> Option<Result<Head, StoreError>> {
    let mut not_before = 0;
    let mut sealed = 0;
    loop {
        if step.pays() {
            // The payment's place in the receipt sequence, committed with it.
            let number = match by(deadline, store.take_receipt()).await? {
                Ok(number) => number,
                Err(e) => return Some(Err(e)),
            };
            let paid_at = settings.clock.now_millis().max(not_before);
            step.receipt = Some(Receipt { number, paid_at });
        }
        match by(deadline, store.commit(id, base, step)).await? {
            Err(StoreError::Sealed { through, .. }) if sealed < SEALED_RETRIES => {
                sealed += 1;
                tracing::info!(
                    order_id = %id,
                    through,
                    "a batch read the receipts past this payment's time; paying it after"
                );
                not_before = through;
            }
            outcome => return Some(outcome),
        }
    }
}

/// `call`'s outcome, or `None` if it is still running at `deadline` (it is dropped).
async fn by<T>(deadline: Instant, call: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline, call).await.ok()
}

/// Loads the fact the sequencer asked for. A parked transaction comes with the rest of its
/// contiguous run (one query for a whole drain); an item with the others the step's
/// transactions may need (one round of reads side by side).
async fn resolve<S: OrderStore>(
    store: &S,
    id: &OrderId,
    state: &OrderState,
    window: &[Transaction],
    need: &Need,
    known: &mut Known,
    settings: &Settings,
) -> Result<(), ApplyError> {
    let store_error = |source| ApplyError::Store {
        order_id: id.to_string(),
        source,
    };
    let missing = || ApplyError::MissingFact {
        order_id: id.to_string(),
        need: format!("{need:?}"),
    };
    if let Need::Parked(seq) = need {
        // A drain takes the parked run after `seq`: as many as one step may hold.
        let span = settings.max_changes.max(1) as u64;
        let last = Seq::new(seq.get().saturating_add(span - 1).min(Seq::MAX)).unwrap_or(*seq);
        let txns = store
            .fetch_parked(id, *seq, last)
            .await
            .map_err(store_error)?;
        for t in txns {
            known.add_parked(t);
        }
        // Parked items below next_seq are drained history, never parked again.
        for s in seq.get().max(state.next_seq)..=last.get() {
            if let Ok(s) = Seq::new(s) {
                known.add_not_parked(s);
            }
        }
        return Ok(());
    }
    if let Need::Item(first) = need {
        // Every item the step may ask for next is read side by side, in one round trip
        // instead of one per transaction (a drain of `add`s asks for each in turn).
        let mut ids = known.unknown_items(window);
        ids.retain(|x| x != first);
        ids.insert(0, first.clone());
        ids.truncate(settings.max_changes.max(1));
        let needs: Vec<Need> = ids.into_iter().map(Need::Item).collect();
        let reads = needs.iter().map(|n| store.fetch(id, n));
        for fact in futures::future::try_join_all(reads)
            .await
            .map_err(store_error)?
        {
            fact.ok_or_else(missing)?.add_to(known);
        }
        return Ok(());
    }
    match store.fetch(id, need).await.map_err(store_error)? {
        Some(fact) => {
            fact.add_to(known);
            Ok(())
        }
        None => Err(missing()),
    }
}
