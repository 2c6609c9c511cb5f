//! Properties of the sequencer against a model: any delivery (copies, interleaving, FIFO
//! batches, steps) ends as each order's transactions applied once, in seq order.

use super::*;

/// An op with its fields, drawn so that many are valid and some are rejected.
fn arb_body() -> impl Strategy<Value = String> {
    let id = prop::sample::select(vec!["a", "b", "c"]);
    let amount = (-500i64..5000, 0u32..3)
        .prop_map(|(v, scale)| rust_decimal::Decimal::new(v, scale).to_string());
    prop_oneof![
        1 => prop::sample::select(vec!["EUR", "USD"]).prop_map(|c| format!(r#""op":"create","currency":"{c}""#)),
        4 => (id.clone(), amount.clone()).prop_map(|(i, a)| format!(r#""op":"add","txn_id":"{i}","amount":"{a}""#)),
        2 => (id, amount).prop_map(|(i, a)| format!(r#""op":"modify","txn_id":"{i}","amount":"{a}""#)),
        1 => prop::sample::select(vec!["pay", "ship", "complete", "cancel", "delete"]).prop_map(|o| format!(r#""op":"{o}""#)),
    ]
}

/// Orders, each a list of contents in seq order; the first is usually a create.
fn arb_orders() -> impl Strategy<Value = Vec<Vec<Transaction>>> {
    prop::collection::vec(
        (any::<bool>(), prop::collection::vec(arb_body(), 0..14)),
        1..6,
    )
    .prop_map(|orders| {
        orders
            .into_iter()
            .enumerate()
            .map(|(o, (create_first, mut bodies))| {
                if create_first {
                    bodies.insert(0, r#""op":"create","currency":"EUR""#.to_owned());
                }
                bodies
                    .iter()
                    .enumerate()
                    .map(|(i, b)| txn(&format!("O-{o}"), i as u64 + 1, b))
                    .collect()
            })
            .collect()
    })
}

/// The model: each order's transactions applied once, in seq order.
fn model(order: &[Transaction], id: &str) -> OrderView {
    model_voiding(order, id, &std::collections::BTreeSet::new())
}

/// The model with the `seq`s of `voided` voided instead of processed.
fn model_voiding(
    order: &[Transaction],
    id: &str,
    voided: &std::collections::BTreeSet<u64>,
) -> OrderView {
    let mut s = OrderState::new(OrderId::parse(id).unwrap());
    let mut items = BTreeMap::new();
    for t in order {
        if voided.contains(&t.seq.get()) {
            s.voided.push(t.seq.get());
            s.next_seq += 1;
            continue;
        }
        let item = t.content.txn_id().and_then(|i| items.get(i).copied());
        match s.apply(&t.content, item) {
            Ok(()) => {
                s.applied += 1;
                if let Some((i, a)) = t.content.item() {
                    items.insert(i.clone(), a);
                }
            }
            Err(_) => s.rejected += 1,
        }
        s.next_seq += 1;
    }
    OrderView::new(&s, &items, [])
}

/// Any delivery: per-order permutation with copies, interleaved, cut into FIFO batches.
fn arb_delivery() -> impl Strategy<Value = (Vec<Vec<Transaction>>, Vec<Transaction>, usize, usize)>
{
    arb_orders().prop_flat_map(|orders| {
        let all: Vec<Transaction> = orders.iter().flatten().cloned().collect();
        let n = all.len();
        (
            Just(orders),
            Just(all),
            prop::collection::vec(0..n.max(1), 0..6), // indexes to copy
            any::<prop::sample::Index>(),
            Just(()).prop_perturb(|_, mut rng| rng.next_u64()),
            1usize..=10,
            2usize..=100,
        )
            .prop_map(|(orders, all, copies, _, seed, batch, max_changes)| {
                let mut delivery = all.clone();
                for i in copies {
                    if let Some(t) = all.get(i) {
                        delivery.push(t.clone());
                    }
                }
                shuffle(&mut delivery, seed);
                (orders, delivery, batch, max_changes)
            })
    })
}

fn shuffle(v: &mut [Transaction], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
}

fn deliver(delivery: &[Transaction], batch: usize, max_changes: usize) -> OrderBook {
    let mut book = OrderBook::default();
    for chunk in delivery.chunks(batch) {
        let mut groups: BTreeMap<&OrderId, Vec<Transaction>> = BTreeMap::new();
        for t in chunk {
            groups.entry(&t.order_id).or_default().push(t.clone());
        }
        for txns in groups.values() {
            book.receive(txns, max_changes).unwrap();
        }
    }
    book
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_interleaving_reordering_and_duplication_gives_the_model(
        (orders, delivery, batch, max_changes) in arb_delivery()
    ) {
        let book = deliver(&delivery, batch, max_changes);
        let copies = delivery.len() - orders.iter().map(Vec::len).sum::<usize>();
        let mut dups = 0;
        for (o, order) in orders.iter().enumerate() {
            let id = format!("O-{o}");
            let want = model(order, &id);
            let Some(stored) = book.get(&OrderId::parse(&id).unwrap()) else {
                prop_assert!(order.is_empty());
                continue;
            };
            let mut got = OrderView::from(stored);
            dups += got.duplicates;
            got.duplicates = 0;
            prop_assert_eq!(got, want);
            prop_assert!(stored.parked.is_empty());
            prop_assert_eq!(stored.processed.len(), order.len());
        }
        // Every exact copy is seen as a duplicate: none is applied twice.
        prop_assert_eq!(dups as usize, copies);
    }

    #[test]
    fn redelivering_everything_again_changes_nothing_but_duplicates(
        (_orders, delivery, batch, max_changes) in arb_delivery()
    ) {
        let mut book = deliver(&delivery, batch, max_changes);
        let before: Vec<OrderView> = book.orders().map(OrderView::from).collect();
        for chunk in delivery.chunks(batch) {
            let mut groups: BTreeMap<&OrderId, Vec<Transaction>> = BTreeMap::new();
            for t in chunk {
                groups.entry(&t.order_id).or_default().push(t.clone());
            }
            for txns in groups.values() {
                let d = book.receive(txns, max_changes).unwrap();
                prop_assert!(d.iter().all(|d| *d == Disposition::Duplicate));
            }
        }
        let after: Vec<OrderView> = book.orders().map(OrderView::from).collect();
        for (mut b, mut a) in before.into_iter().zip(after) {
            prop_assert!(a.duplicates >= b.duplicates);
            a.duplicates = 0;
            b.duplicates = 0;
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn a_gap_holds_everything_after_it(
        orders in arb_orders(), seed: u64
    ) {
        // Withhold seq 1 of every order: nothing may be applied, all is parked.
        let mut rest: Vec<Transaction> = orders.iter().flatten().filter(|t| t.seq.get() > 1).cloned().collect();
        shuffle(&mut rest, seed);
        let book = deliver(&rest, 10, 99);
        for stored in book.orders() {
            prop_assert_eq!(stored.state.next_seq, 1);
            prop_assert_eq!(stored.state.applied + stored.state.rejected, 0);
            prop_assert_eq!(stored.state.parked_count as usize, stored.parked.len());
        }
    }

    #[test]
    fn voiding_lost_seqs_in_any_order_gives_the_model_without_them(
        orders in arb_orders(), seed: u64, max_changes in 2usize..12
    ) {
        // About a quarter of the seqs are lost; their voids are delivered among the rest,
        // so some come ahead of the sequence and some at it.
        let lost = |t: &Transaction| (seed.rotate_left(t.seq.get() as u32 * 7 + t.order_id.as_str().len() as u32) & 3) == 0;
        let mut delivery: Vec<Transaction> = orders
            .iter()
            .flatten()
            .map(|t| if lost(t) { void(t.order_id.as_str(), t.seq.get()) } else { t.clone() })
            .collect();
        shuffle(&mut delivery, seed);
        let mut book = deliver(&delivery, 10, max_changes);
        for (o, order) in orders.iter().enumerate() {
            let id = format!("O-{o}");
            let Some(stored) = book.get(&OrderId::parse(&id).unwrap()) else {
                prop_assert!(order.is_empty());
                continue;
            };
            let voided = order.iter().filter(|t| lost(t)).map(|t| t.seq.get()).collect();
            let want = model_voiding(order, &id, &voided);
            let got = OrderView::from(stored);
            prop_assert_eq!(got.applied + got.rejected + got.voided.len() as u64, got.next_seq - 1);
            prop_assert_eq!(&got, &want);
            prop_assert!(stored.parked.is_empty());
        }
        // The lost transactions turn up after all: each a conflict, nothing else changes.
        let late: Vec<Transaction> = orders.iter().flatten().filter(|t| lost(t)).cloned().collect();
        let before: Vec<OrderView> = book.orders().map(OrderView::from).collect();
        for t in &late {
            let d = book.receive(std::slice::from_ref(t), max_changes).unwrap();
            prop_assert_eq!(&d, &vec![Disposition::Conflict { counted: true }]);
        }
        let after: Vec<OrderView> = book.orders().map(OrderView::from).collect();
        let conflicts = |v: &[OrderView]| v.iter().map(|v| v.conflicts).sum::<u64>();
        prop_assert_eq!(conflicts(&after), conflicts(&before) + late.len() as u64);
        for (mut a, b) in after.into_iter().zip(before) {
            a.conflicts = b.conflicts;
            prop_assert_eq!(a, b);
        }
    }
}
