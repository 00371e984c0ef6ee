//! The contact table's items ↔ the stream basis's types, compactly (a write is billed by the KB,
//! so a leg, its filing and its summary are kept well under 1 KB): JSON with short keys, times
//! as epoch milliseconds (a string when finer), each input stamp and each string once in a
//! table the facts point into, and the instance id, known from the key, left out of queue ARNs.
//! A leg written by an earlier version (the whole [`Leg`] as JSON) is still read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use connect_wfm_core::contact::store::Filing;
use connect_wfm_core::contact::{
    CtrDurations, CtrFacts, EventFacts, Fact, IntervalKey, Leg, LegKey, LegSummary, Stamp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A time: epoch milliseconds, or RFC 3339 text when it has a finer part.
fn time(at: DateTime<Utc>) -> Value {
    if at.timestamp_subsec_nanos() % 1_000_000 == 0 {
        Value::from(at.timestamp_millis())
    } else {
        Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
    }
}

fn parse_time(value: &Value) -> Result<DateTime<Utc>, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| format!("bad time {n}")),
        Value::String(text) => text.parse().map_err(|e| format!("bad time {text}: {e}")),
        other => Err(format!("bad time {other}")),
    }
}

/// The tables a compact leg points into.
#[derive(Default)]
struct Tables {
    stamps: Vec<Stamp>,
    strings: Vec<String>,
    instance_id: String,
}

impl Tables {
    fn stamp(&mut self, stamp: &Stamp) -> usize {
        match self.stamps.iter().position(|s| s == stamp) {
            Some(i) => i,
            None => {
                self.stamps.push(stamp.clone());
                self.stamps.len() - 1
            }
        }
    }

    fn string(&mut self, text: &str) -> usize {
        // The instance id is known from the key: `instance/<id>/` is kept as `instance/~/`.
        let text = text.replace(&format!("instance/{}/", self.instance_id), "instance/~/");
        match self.strings.iter().position(|s| *s == text) {
            Some(i) => i,
            None => {
                self.strings.push(text);
                self.strings.len() - 1
            }
        }
    }

    fn text(&self, index: &Value) -> Result<String, String> {
        let text = index
            .as_u64()
            .and_then(|i| self.strings.get(i as usize))
            .ok_or_else(|| format!("bad string index {index}"))?;
        Ok(text.replace("instance/~/", &format!("instance/{}/", self.instance_id)))
    }

    fn stamp_at(&self, index: &Value) -> Result<Stamp, String> {
        index
            .as_u64()
            .and_then(|i| self.stamps.get(i as usize))
            .cloned()
            .ok_or_else(|| format!("bad stamp index {index}"))
    }
}

/// A leg in its stored form (see the module docs).
#[derive(Serialize, Deserialize)]
struct CompactLeg {
    /// Stamps: `[time, id]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    t: Vec<(Value, String)>,
    /// Strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    v: Vec<String>,
    /// Event facts: field → `[stamp, value]` (a string value as its index), `n` the newest time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    e: BTreeMap<String, Value>,
    /// The CTR's facts: field → value (strings as indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<BTreeMap<String, Value>>,
    /// Successors: contact id → time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    s: BTreeMap<String, Value>,
}

/// The leg in its stored form.
pub(crate) fn encode_leg(leg: &Leg) -> String {
    let mut tables = Tables {
        instance_id: leg.instance_id.clone(),
        ..Tables::default()
    };
    let mut e = BTreeMap::new();
    let ev = &leg.events;
    let mut text_fact = |tables: &mut Tables, name: &str, fact: &Option<Fact<String>>| {
        if let Some(f) = fact {
            let value = Value::from(vec![
                Value::from(tables.stamp(&f.stamp)),
                Value::from(tables.string(&f.value)),
            ]);
            e.insert(name.to_owned(), value);
        }
    };
    text_fact(&mut tables, "q", &ev.queue_arn);
    text_fact(&mut tables, "im", &ev.initiation_method);
    text_fact(&mut tables, "pc", &ev.previous_contact_id);
    text_fact(&mut tables, "ch", &ev.channel);
    for (name, fact) in [
        ("en", &ev.enqueued),
        ("co", &ev.connected),
        ("di", &ev.disconnected),
        ("it", &ev.initiated),
    ] {
        if let Some(f) = fact {
            e.insert(
                name.to_owned(),
                Value::from(vec![Value::from(tables.stamp(&f.stamp)), time(f.value)]),
            );
        }
    }
    if let Some(newest) = ev.newest {
        e.insert("n".to_owned(), time(newest));
    }
    let c = leg.ctr.as_ref().map(|ctr| {
        let mut c = BTreeMap::new();
        c.insert("lu".to_owned(), time(ctr.last_update));
        for (name, value) in [
            ("q", &ctr.queue_arn),
            ("im", &ctr.initiation_method),
            ("pc", &ctr.previous_contact_id),
            ("ch", &ctr.channel),
        ] {
            if let Some(text) = value {
                c.insert(name.to_owned(), Value::from(tables.string(text)));
            }
        }
        for (name, value) in [
            ("en", ctr.enqueued),
            ("co", ctr.connected),
            ("di", ctr.disconnected),
            ("it", ctr.initiated),
        ] {
            if let Some(at) = value {
                c.insert(name.to_owned(), time(at));
            }
        }
        for (name, value) in [("t", ctr.talk_s), ("h", ctr.hold_s), ("a", ctr.acw_s)] {
            if let Some(seconds) = value {
                c.insert(name.to_owned(), Value::from(seconds));
            }
        }
        c
    });
    let compact = CompactLeg {
        t: tables.stamps.iter().map(|s| (time(s.time), s.id.clone())).collect(),
        v: tables.strings,
        e,
        c,
        s: leg.successors.iter().map(|(id, at)| (id.clone(), time(*at))).collect(),
    };
    serde_json::to_string(&compact).expect("a compact leg serialises")
}

/// The leg of `key` from its stored form (or from the whole leg JSON an earlier version wrote).
pub(crate) fn decode_leg(key: &LegKey, text: &str) -> Result<Leg, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if value.get("instance_id").is_some() {
        return serde_json::from_value(value).map_err(|e| e.to_string());
    }
    let compact: CompactLeg = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let mut tables = Tables {
        instance_id: key.instance_id.clone(),
        strings: compact.v,
        ..Tables::default()
    };
    for (at, id) in &compact.t {
        tables.stamps.push(Stamp {
            time: parse_time(at)?,
            id: id.clone(),
        });
    }
    let pair = |name: &str| -> Result<Option<(Stamp, &Value)>, String> {
        match compact.e.get(name) {
            None => Ok(None),
            Some(Value::Array(pair)) if pair.len() == 2 => Ok(Some((tables.stamp_at(&pair[0])?, &pair[1]))),
            Some(other) => Err(format!("bad fact {name}: {other}")),
        }
    };
    let text_fact = |name: &str| -> Result<Option<Fact<String>>, String> {
        pair(name)?
            .map(|(stamp, v)| {
                Ok(Fact {
                    stamp,
                    value: tables.text(v)?,
                })
            })
            .transpose()
    };
    let time_fact = |name: &str| -> Result<Option<Fact<DateTime<Utc>>>, String> {
        pair(name)?
            .map(|(stamp, v)| {
                Ok(Fact {
                    stamp,
                    value: parse_time(v)?,
                })
            })
            .transpose()
    };
    let events = EventFacts {
        queue_arn: text_fact("q")?,
        enqueued: time_fact("en")?,
        connected: time_fact("co")?,
        disconnected: time_fact("di")?,
        initiation_method: text_fact("im")?,
        initiated: time_fact("it")?,
        previous_contact_id: text_fact("pc")?,
        channel: text_fact("ch")?,
        newest: compact.e.get("n").map(parse_time).transpose()?,
    };
    let ctr = match &compact.c {
        None => None,
        Some(c) => {
            let text = |name: &str| c.get(name).map(|v| tables.text(v)).transpose();
            let at = |name: &str| c.get(name).map(parse_time).transpose();
            let seconds = |name: &str| c.get(name).and_then(Value::as_i64);
            Some(CtrFacts {
                last_update: parse_time(c.get("lu").ok_or("CTR without lu")?)?,
                queue_arn: text("q")?,
                enqueued: at("en")?,
                connected: at("co")?,
                disconnected: at("di")?,
                initiation_method: text("im")?,
                initiated: at("it")?,
                previous_contact_id: text("pc")?,
                channel: text("ch")?,
                talk_s: seconds("t"),
                hold_s: seconds("h"),
                acw_s: seconds("a"),
            })
        }
    };
    let mut successors = BTreeMap::new();
    for (id, at) in &compact.s {
        successors.insert(id.clone(), parse_time(at)?);
    }
    Ok(Leg {
        instance_id: key.instance_id.clone(),
        contact_id: key.contact_id.clone(),
        events,
        ctr,
        successors,
    })
}

/// A filing in its stored form: `i` and `l` the intervals as `[queue id, start epoch s]`, `w`
/// waiting (`p`, whether the version before waited, written by earlier versions, is ignored).
#[derive(Default, Serialize, Deserialize)]
struct CompactFiling {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    i: Vec<(String, i64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    l: Vec<(String, i64)>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    w: bool,
}

/// The filing in its stored form (`None` when there is nothing to say).
pub(crate) fn encode_filing(filing: &Filing) -> Option<String> {
    if filing == &Filing::default() {
        return None;
    }
    let pairs = |keys: &[IntervalKey]| {
        keys.iter()
            .map(|k| (k.queue_id.clone(), k.interval_start.timestamp()))
            .collect()
    };
    let compact = CompactFiling {
        i: pairs(&filing.intervals),
        l: pairs(&filing.left),
        w: filing.waiting,
    };
    Some(serde_json::to_string(&compact).expect("a filing serialises"))
}

/// The filing of a leg of `instance_id` from its stored form.
pub(crate) fn decode_filing(instance_id: &str, text: &str) -> Result<Filing, String> {
    let compact: CompactFiling = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let keys = |pairs: Vec<(String, i64)>| -> Result<Vec<IntervalKey>, String> {
        pairs
            .into_iter()
            .map(|(queue_id, start)| {
                Ok(IntervalKey {
                    instance_id: instance_id.to_owned(),
                    queue_id,
                    interval_start: DateTime::from_timestamp(start, 0).ok_or_else(|| format!("bad start {start}"))?,
                })
            })
            .collect()
    };
    Ok(Filing {
        intervals: keys(compact.i)?,
        left: keys(compact.l)?,
        waiting: compact.w,
    })
}

/// A summary in its stored form: `e`, `c`, `d` the instants, `x` continued, `r` the CTR's
/// `[talk, hold, acw]`, `n` the newest input time (instance, queue and contact are in the key).
#[derive(Serialize, Deserialize)]
struct CompactSummary {
    e: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    x: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<(Option<i64>, Option<i64>, Option<i64>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<Value>,
}

/// The summary in its stored form.
pub(crate) fn encode_summary(summary: &LegSummary) -> String {
    let compact = CompactSummary {
        e: time(summary.enqueued),
        c: summary.connected.map(time),
        d: summary.disconnected.map(time),
        x: summary.continued,
        r: summary.ctr.map(|c| (c.talk_s, c.hold_s, c.acw_s)),
        n: summary.newest.map(time),
    };
    serde_json::to_string(&compact).expect("a summary serialises")
}

/// The summary of a leg of `key` in queue `queue_id` from its stored form.
pub(crate) fn decode_summary(key: &LegKey, queue_id: &str, text: &str) -> Result<LegSummary, String> {
    let compact: CompactSummary = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(LegSummary {
        instance_id: key.instance_id.clone(),
        contact_id: key.contact_id.clone(),
        queue_id: queue_id.to_owned(),
        enqueued: parse_time(&compact.e)?,
        connected: compact.c.as_ref().map(parse_time).transpose()?,
        disconnected: compact.d.as_ref().map(parse_time).transpose()?,
        continued: compact.x,
        ctr: compact
            .r
            .map(|(talk_s, hold_s, acw_s)| CtrDurations { talk_s, hold_s, acw_s }),
        newest: compact.n.as_ref().map(parse_time).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use connect_wfm_core::contact::sim::{SliceSpec, simulate};
    use connect_wfm_core::contact::{LegBook, decode_contact_input};

    use super::*;

    fn slice_legs() -> Vec<Leg> {
        let slice = simulate(&SliceSpec {
            seed: 3,
            intervals: 4,
            contacts: 100,
            ..SliceSpec::default()
        });
        let mut book = LegBook::default();
        for input in slice.inputs() {
            book.apply(&decode_contact_input(input).unwrap());
        }
        book.legs.into_values().collect()
    }

    #[test]
    fn legs_filings_and_summaries_round_trip_and_stay_small() {
        let legs = slice_legs();
        let mut largest = 0;
        for leg in &legs {
            let text = encode_leg(leg);
            largest = largest.max(text.len());
            assert_eq!(&decode_leg(&leg.key(), &text).unwrap(), leg);
            // The whole leg JSON of an earlier version is still read.
            assert_eq!(
                &decode_leg(&leg.key(), &serde_json::to_string(leg).unwrap()).unwrap(),
                leg
            );
            let clock = "2026-11-20T12:00:00Z".parse().unwrap();
            let filing = Filing {
                intervals: leg.intervals(clock),
                left: leg.intervals(clock),
                waiting: true,
            };
            let stored = encode_filing(&filing).unwrap();
            assert_eq!(decode_filing(&leg.instance_id, &stored).unwrap(), filing);
            if let Some(summary) = leg.summary() {
                let text = encode_summary(&summary);
                assert!(text.len() < 120, "{text}");
                assert_eq!(decode_summary(&leg.key(), &summary.queue_id, &text).unwrap(), summary);
            }
        }
        // The largest leg of the slice (callbacks, queue transfers, a CTR) with room for the
        // item's keys and filing under 1 KB.
        assert!(largest < 800, "{largest}");
        assert_eq!(encode_filing(&Filing::default()), None);
    }

    #[test]
    fn times_finer_than_a_millisecond_are_kept() {
        let at: DateTime<Utc> = "2026-11-20T10:00:00.123456789Z".parse().unwrap();
        assert_eq!(parse_time(&time(at)).unwrap(), at);
        let at: DateTime<Utc> = "2026-11-20T10:00:00.123Z".parse().unwrap();
        assert_eq!(time(at), Value::from(at.timestamp_millis()));
    }
}
