//! One order's transactions through the sequencer into the store: load, process, fetch
//! what the sequencer needs, commit each step conditionally; reload and redo on a lost race.

use crate::error::ApplyError;
use crate::settings::Settings;
use convoy_core::sequencer::{process, Change, Disposition, Known, Need, SeqError, Step};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use convoy_store::{OrderStore, StoreError};

/// What became of an order's inputs. The first `dispositions.len()` inputs are committed;
/// when `error` is set, the input at that index and all later ones were not. Only the
/// first [`done`](Applied::done) are finished, though: see [`drain_unfinished`](Applied::drain_unfinished).
#[derive(Debug, Default)]
pub struct Applied {
    pub dispositions: Vec<Disposition>,
    /// Parked transactions drained, in `seq` order.
    pub drained: Vec<Seq>,
    /// The state after the last commit, or as loaded (`None` if nothing was loaded).
    pub state: Option<OrderState>,
    pub commits: usize,
    /// Reloads after a lost optimistic-lock race.
    pub retries: usize,
    pub error: Option<ApplyError>,
    /// Every input was committed, but a step after the last of them failed while parked
    /// transactions were still to drain (from `state.next_seq` on). Nothing else would
    /// resume that drain: the caller must have the last input delivered again.
    pub drain_unfinished: bool,
}

impl Applied {
    /// How many inputs are finished for good: committed, and every drain they started
    /// committed too. With [`drain_unfinished`](Applied::drain_unfinished) the last
    /// committed input is not finished: its redelivery is a harmless duplicate that
    /// resumes the drain.
    pub fn done(&self) -> usize {
        let committed = self.dispositions.len();
        if self.drain_unfinished {
            committed.saturating_sub(1)
        } else {
            committed
        }
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
/// A failure once every input is committed leaves a drain unfinished, and says so.
pub async fn apply_order<S: OrderStore>(
    store: &S,
    id: &OrderId,
    inputs: &[Transaction],
    settings: &Settings,
) -> Applied {
    let mut applied = apply_steps(store, id, inputs, settings).await;
    // The loop below only goes on past the last input while a parked transaction is next.
    applied.drain_unfinished =
        applied.error.is_some() && !inputs.is_empty() && applied.dispositions.len() == inputs.len();
    applied
}

/// The steps of [`apply_order`]: until every input is consumed and nothing is left to drain,
/// or the first failure.
async fn apply_steps<S: OrderStore>(
    store: &S,
    id: &OrderId,
    inputs: &[Transaction],
    settings: &Settings,
) -> Applied {
    let mut applied = Applied::default();
    let store_error = |source: StoreError| ApplyError::Store {
        order_id: id.to_string(),
        source,
    };
    'attempt: loop {
        let (mut state, mut version) = match store.load(id).await {
            Ok(Some((state, version))) => (state, Some(version)),
            Ok(None) => (OrderState::new(id.clone()), None),
            Err(e) => return applied.failed(store_error(e), None),
        };
        let mut known = Known::default();
        // After `TooManyParked`, the rest goes one input per step to find the one to fail.
        let mut one_at_a_time = false;
        loop {
            let rest = &inputs[applied.dispositions.len()..];
            if rest.is_empty() && !state.parked.contains(&state.next_seq) {
                applied.state = Some(state);
                return applied;
            }
            let window = if one_at_a_time {
                &rest[..rest.len().min(1)]
            } else {
                rest
            };
            let step = match process(&state, &known, window, settings.max_changes) {
                Ok(step) => step,
                Err(SeqError::Need(need)) => {
                    match resolve(store, id, &state, &need, &mut known, settings).await {
                        Ok(()) => continue,
                        Err(e) => return applied.failed(e, Some(state)),
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
            if step.consumed() == 0 && step.drained.is_empty() {
                return applied.failed(
                    ApplyError::Stalled {
                        order_id: id.to_string(),
                    },
                    Some(state),
                );
            }
            if !step.changes.is_empty() || step.state != state {
                match store.commit(id, version, &step).await {
                    Ok(v) => {
                        version = Some(v);
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
                    Err(e) => return applied.failed(store_error(e), Some(state)),
                }
            }
            remember(&mut known, &step);
            applied.dispositions.extend(step.dispositions);
            applied.drained.extend(step.drained);
            state = step.state;
        }
    }
}

/// What a committed step wrote is now a stored fact: later steps of this attempt must see it
/// (a conflict recorded in one step is not to be counted again in the next).
fn remember(known: &mut Known, step: &Step) {
    for change in &step.changes {
        match change {
            Change::Record(seq, p) => known.add_processed(*seq, p.fingerprint.clone()),
            Change::Park(t) => known.add_parked(t.clone()),
            Change::Conflict(seq, c) => known.add_conflict(*seq, c.fingerprint.clone(), true),
            Change::Unpark(_) => {}
        }
    }
}

/// Loads the fact the sequencer asked for. A parked transaction comes with the rest of its
/// contiguous run (one query for a whole drain).
async fn resolve<S: OrderStore>(
    store: &S,
    id: &OrderId,
    state: &OrderState,
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
        let run = state
            .parked
            .range(seq.get()..)
            .zip(seq.get()..)
            .take(settings.max_changes.max(1))
            .take_while(|(parked, expected)| parked == &expected)
            .count() as u64;
        let last = Seq::new(seq.get() + run.saturating_sub(1)).unwrap_or(*seq);
        let txns = store
            .fetch_parked(id, *seq, last)
            .await
            .map_err(store_error)?;
        if !txns.iter().any(|t| t.seq == *seq) {
            return Err(missing());
        }
        for t in txns {
            known.add_parked(t);
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
