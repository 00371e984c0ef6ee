//! Property: whatever the order, duplication and split into batches (SQS and Kinesis, several
//! runs with the store kept between them), the feed objects the handler leaves equal the records
//! of the whole slice, with the clock at the newest input (as `connect-wfm replay` runs it).

use base64::Engine as _;
use chrono::Utc;
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use connect_wfm_core::contact::store::{ContactStore as _, MemoryContactStore};
use connect_wfm_core::contact::{LegBook, decode_contact_input};
use connect_wfm_core::memory::MemoryFeedSink;
use connect_wfm_handlers::contacts::{
    Clock, KinesisBatch, Settings, SqsBatch, close_intervals_since, handle_kinesis, handle_sqs,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn run(inputs: &[(bool, String)], batch_sizes: &[usize]) -> Vec<(String, Value)> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let store = MemoryContactStore::default();
        let sink = MemoryFeedSink::default();
        let settings = Settings::default();
        let mut at = 0;
        let mut sizes = batch_sizes.iter().cycle();
        while at < inputs.len() {
            let size = (*sizes.next().unwrap()).min(inputs.len() - at);
            // A batch holds one kind: the contact events of the queue or the CTRs of the stream.
            let kind = inputs[at].0;
            let batch: Vec<&str> = inputs[at..]
                .iter()
                .take(size)
                .take_while(|(k, _)| *k == kind)
                .map(|(_, s)| s.as_str())
                .collect();
            at += batch.len();
            if kind {
                let records = batch
                    .iter()
                    .enumerate()
                    .map(|(i, b)| json!({ "messageId": format!("m{at}-{i}"), "body": b }))
                    .collect::<Vec<_>>();
                let outcome = handle_sqs(
                    &SqsBatch::from_records(records),
                    &store,
                    &sink,
                    &settings,
                    Clock::NewestInput,
                    Utc::now(),
                )
                .await;
                assert!(outcome.response.batch_item_failures.is_empty());
            } else {
                let records = batch
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        json!({ "eventID": format!("s:{at}{i}"), "kinesis": { "sequenceNumber": format!("{at}{i}"),
                            "data": base64::engine::general_purpose::STANDARD.encode(b) } })
                    })
                    .collect::<Vec<_>>();
                let outcome = handle_kinesis(
                    &KinesisBatch::from_records(records),
                    &store,
                    &sink,
                    &settings,
                    Clock::NewestInput,
                    Utc::now(),
                )
                .await;
                assert_eq!(outcome.failed_from(), None);
            }
        }
        let clock = store.progress().await.unwrap().unwrap();
        close_intervals_since(&store, &sink, &settings, None, clock)
            .await
            .unwrap();
        // Retractions (active false, every count 0) stand where a record was written and the
        // interval lost its contacts to later inputs; `connect-wfm intervals` has no record there.
        sink.keys()
            .into_iter()
            .filter(|k| k.contains("/stream/"))
            .map(|k| {
                let body = sink.get(&k).unwrap();
                (k, serde_json::from_slice::<Value>(&body).unwrap())
            })
            .filter(|(_, record)| {
                let retracted = record["active"] == json!(false);
                if retracted {
                    assert_eq!(
                        (&record["contacts_received"], &record["as_of"]),
                        (&json!(0), &Value::Null)
                    );
                }
                !retracted
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_order_duplication_and_batching_gives_the_records_of_the_whole_slice(
        seed in 1u64..1000,
        order in proptest::collection::vec(any::<u32>(), 1..400),
        repeats in proptest::collection::vec(0usize..300, 0..30),
        batch_sizes in proptest::collection::vec(1usize..12, 1..6),
    ) {
        let slice = simulate(&SliceSpec { seed, intervals: 3, contacts: 30, ..SliceSpec::default() });
        let mut inputs: Vec<(bool, String)> = slice
            .events
            .iter()
            .map(|e| (true, e.clone()))
            .chain(slice.records.iter().map(|r| (false, r.clone())))
            .collect();
        for r in &repeats {
            let again = inputs[r % inputs.len()].clone();
            inputs.push(again);
        }
        // A random permutation from the drawn keys.
        let mut keyed: Vec<(u32, usize, (bool, String))> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| (order[i % order.len()].wrapping_mul(i as u32 + 1), i, input))
            .collect();
        keyed.sort_by_key(|(k, i, _)| (*k, *i));
        let inputs: Vec<(bool, String)> = keyed.into_iter().map(|(_, _, input)| input).collect();

        let mut book = LegBook::default();
        for (_, input) in &inputs {
            book.apply(&decode_contact_input(input.as_bytes()).unwrap());
        }
        let mut expected: Vec<(String, Value)> = book
            .records_now(&Default::default())
            .into_iter()
            .map(|r| (r.feed_key(), serde_json::to_value(&r).unwrap()))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let got = run(&inputs, &batch_sizes);
        if got != expected {
            let gk: Vec<&String> = got.iter().map(|(k, _)| k).collect();
            let ek: Vec<&String> = expected.iter().map(|(k, _)| k).collect();
            eprintln!("objects written: {gk:?}\nrecords of the slice: {ek:?}");
            for ((k, a), (_, b)) in got.iter().zip(&expected) {
                if a != b { eprintln!("{k} differs: written {a}\n expected {b}"); }
            }
        }
        prop_assert_eq!(got, expected);
    }
}
