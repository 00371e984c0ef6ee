//! `connect-wfm timeline`: the agents' day as one self-contained HTML page (inline SVG and CSS,
//! nothing from the network, no script): one row per agent, one bar per `agent_activity` piece
//! on a time axis with the 15-minute grid, `UNKNOWN` hatched, a legend of the WFM states, and
//! under each row the agent's stream-basis `agent_interval` totals per interval.
//!
//! [`layout`] is the pure part (where each bar goes), [`render`] writes the page from it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::agent::{AgentActivityRecord, AgentStateMapping, StreamAgentInterval};

/// Pixels per minute on the time axis.
const PX_PER_MINUTE: f64 = 8.0;
const ROW_HEIGHT: i64 = 16;
/// The row, its two lines of totals and a gap.
const ROW_PITCH: i64 = 48;
const LABEL_WIDTH: i64 = 250;
const TOP: i64 = 40;

/// One bar: a piece, placed on the axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Offsets from the page's start, milliseconds.
    pub from_ms: i64,
    pub to_ms: i64,
    pub state: String,
    pub unknown: bool,
}

/// One agent's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub instance_id: String,
    pub agent_id: String,
    /// What the row is labelled with: the agent id, or its login with `--agent-names`.
    pub label: String,
    /// In time order.
    pub bars: Vec<Bar>,
    /// (interval start, totals) of its stream-basis records.
    pub totals: Vec<(DateTime<Utc>, String)>,
}

/// The page's content, placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The first interval start drawn (the grid starts here).
    pub start: DateTime<Utc>,
    /// The last instant drawn, rounded up to the grid.
    pub end: DateTime<Utc>,
    pub rows: Vec<Row>,
    /// Every state drawn, sorted, for the legend.
    pub states: Vec<String>,
}

/// Where each piece goes: one row per agent (sorted by instance, then agent id), one bar per
/// piece (repeats by (segment_id, interval_start) drawn once), in time order.
pub fn layout(
    pieces: &[AgentActivityRecord],
    intervals: &[StreamAgentInterval],
    mapping: &AgentStateMapping,
    names: bool,
) -> Layout {
    let unknown = mapping.resolve_status(AgentStateMapping::UNKNOWN).event_id;
    let mut by_agent: BTreeMap<(&str, &str), Vec<&AgentActivityRecord>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for piece in pieces {
        if seen.insert((&piece.agent_id, &piece.segment_id, piece.interval_start)) {
            by_agent
                .entry((&piece.instance_id, &piece.agent_id))
                .or_default()
                .push(piece);
        }
    }
    let start = pieces
        .iter()
        .map(|p| p.interval_start)
        .min()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let last = pieces.iter().map(|p| p.end).max().unwrap_or(start);
    let grid = Duration::minutes(15);
    let mut end = start;
    while end < last {
        end += grid;
    }
    let mut states: Vec<String> = pieces.iter().map(|p| p.state.clone()).collect();
    states.sort();
    states.dedup();
    let rows = by_agent
        .into_iter()
        .map(|((instance_id, agent_id), mut mine)| {
            mine.sort_by_key(|p| (p.start, p.end));
            let login = mine.iter().rev().find_map(|p| p.agent_login.clone());
            let mut totals: Vec<(DateTime<Utc>, String)> = intervals
                .iter()
                .filter(|r| r.agent_id == agent_id && r.instance_id == instance_id)
                .map(|r| {
                    let first = format!("in {} idle {}", minutes(r.login_time_s), minutes(r.idle_time_s));
                    let second = if r.unknown_time_s > 0 {
                        format!("? {} nr {}", minutes(r.unknown_time_s), minutes(r.not_ready_time_s))
                    } else {
                        format!(
                            "con {} nr {}",
                            minutes(r.on_contact_time_s),
                            minutes(r.not_ready_time_s)
                        )
                    };
                    (r.interval_start, format!("{first}\n{second}"))
                })
                .collect();
            totals.sort();
            Row {
                instance_id: instance_id.to_owned(),
                agent_id: agent_id.to_owned(),
                label: match (names, login) {
                    (true, Some(login)) => login,
                    _ => agent_id.to_owned(),
                },
                bars: mine
                    .into_iter()
                    .map(|p| Bar {
                        from_ms: (p.start - start).num_milliseconds(),
                        to_ms: (p.end - start).num_milliseconds(),
                        state: p.state.clone(),
                        unknown: p.state == unknown,
                    })
                    .collect(),
                totals,
            }
        })
        .collect();
    Layout {
        start,
        end,
        rows,
        states,
    }
}

/// Seconds as `m:ss`.
fn minutes(seconds: i64) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// A colour per state: fixed ones for the common states, a hue from the name otherwise.
fn colour(state: &str) -> String {
    match state {
        "Available" => "#4caf50".into(),
        "LOGIN" => "#26a69a".into(),
        "Offline" => "#9e9e9e".into(),
        "UNKNOWN" => "#e53935".into(),
        s if s.ends_with("-ENDED") => "#ffb300".into(),
        s if s.contains("-CONNECTED_ONHOLD") || s.ends_with("-ONHOLD") => "#7e57c2".into(),
        s if s.contains("-CONNECTED") => "#1e88e5".into(),
        s if s.contains("-CONNECTING") || s.contains("-INCOMING") => "#64b5f6".into(),
        s => {
            let hue = s
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
                % 360;
            format!("hsl({hue},55%,55%)")
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page: self-contained HTML with one inline SVG.
pub fn render(layout: &Layout, title: &str) -> String {
    let span_minutes = (layout.end - layout.start).num_minutes().max(15);
    let width = LABEL_WIDTH + (span_minutes as f64 * PX_PER_MINUTE).ceil() as i64 + 20;
    let height = TOP + ROW_PITCH * layout.rows.len() as i64 + 10;
    let x = |ms: i64| LABEL_WIDTH as f64 + ms as f64 / 60_000.0 * PX_PER_MINUTE;
    let class: BTreeMap<&str, usize> = layout.states.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();

    let mut page = String::with_capacity(4096 + layout.rows.iter().map(|r| r.bars.len() * 40).sum::<usize>());
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font:13px system-ui,sans-serif;margin:16px;color:#222}}\
h1{{font-size:18px}}.legend span{{display:inline-block;margin:0 12px 6px 0}}\
.legend i{{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}}\
svg text{{font:11px system-ui,sans-serif}}.grid{{stroke:#ddd}}.hour{{stroke:#aaa}}.t{{fill:#555;font-size:10px}}",
        escape(title)
    );
    for (state, i) in &class {
        let _ = write!(page, ".s{i}{{fill:{}}}", colour(state));
    }
    page.push_str(".u{fill:url(#hatch)}</style></head><body>\n");
    let _ = writeln!(page, "<h1>{}</h1>", escape(title));
    let _ = writeln!(
        page,
        "<p>{} agents, {} to {} UTC; one bar per agent_activity piece; under each row its stream-basis agent_interval totals per interval (m:ss): in = logged in, idle, con = on contact, nr = not ready, ? = unknown.</p>",
        layout.rows.len(),
        layout.start.format("%Y-%m-%d %H:%M"),
        layout.end.format("%Y-%m-%d %H:%M")
    );
    page.push_str("<div class=\"legend\">");
    for (state, i) in &class {
        let hatch = if *state == "UNKNOWN" {
            " style=\"background:repeating-linear-gradient(45deg,#e53935 0 3px,#fff 3px 6px)\""
        } else {
            ""
        };
        let _ = write!(
            page,
            "<span><i class=\"s{i}\" style=\"background:{}\"{hatch}></i>{}</span>",
            colour(state),
            escape(state)
        );
    }
    page.push_str("</div>\n");
    let _ = writeln!(
        page,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
<rect width=\"6\" height=\"6\" fill=\"#fff\"/><rect width=\"3\" height=\"6\" fill=\"#e53935\"/></pattern></defs>"
    );
    // The 15-minute grid, an hour line and label every hour.
    let mut at = layout.start;
    while at <= layout.end {
        let px = x((at - layout.start).num_milliseconds());
        let hour = at.format("%M").to_string() == "00";
        let _ = write!(
            page,
            "<line class=\"{}\" x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{}\"/>",
            if hour { "hour" } else { "grid" },
            TOP - 6,
            height - 4
        );
        let _ = write!(
            page,
            "<text x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\"{}>{}</text>",
            TOP - 10,
            if hour { "" } else { " class=\"t\"" },
            at.format("%H:%M")
        );
        at += Duration::minutes(15);
    }
    page.push('\n');
    for (n, row) in layout.rows.iter().enumerate() {
        let y = TOP + ROW_PITCH * n as i64;
        let _ = write!(
            page,
            "<g><title>{} ({})</title><text x=\"4\" y=\"{}\">{}</text>",
            escape(&row.label),
            escape(&row.instance_id),
            y + 12,
            escape(&row.label)
        );
        // One path per state, one closed sub-path (a bar) per piece: a compact page.
        let mut paths: BTreeMap<(usize, bool), String> = BTreeMap::new();
        for bar in &row.bars {
            let (x0, x1) = (x(bar.from_ms), x(bar.to_ms));
            let d = paths.entry((class[bar.state.as_str()], bar.unknown)).or_default();
            let _ = write!(d, "M{x0:.2} {y}H{x1:.2}v{ROW_HEIGHT}H{x0:.2}z");
        }
        for ((i, unknown), d) in paths {
            let _ = write!(
                page,
                "<path class=\"{}\" d=\"{d}\"/>",
                if unknown { "u".to_owned() } else { format!("s{i}") }
            );
        }
        for (interval, text) in &row.totals {
            let px = x((*interval - layout.start).num_milliseconds()) + 2.0;
            for (line, part) in text.lines().enumerate() {
                let _ = write!(
                    page,
                    "<text class=\"t\" x=\"{px:.1}\" y=\"{}\">{}</text>",
                    y + ROW_HEIGHT + 11 + 12 * line as i64,
                    escape(part)
                );
            }
        }
        page.push_str("</g>\n");
    }
    page.push_str("</svg>\n</body></html>\n");
    page
}

#[cfg(test)]
mod tests {
    use connect_wfm_core::agent::{Activity, AgentState, OpenSegment, Segment, Watermark};

    use super::*;

    fn t(clock: &str) -> DateTime<Utc> {
        format!("2026-11-20T{clock}Z").parse().unwrap()
    }

    /// The pieces of an agent's day: each (state, start) runs until the next one starts; the
    /// last until `end`.
    fn day(agent: &str, steps: &[(&str, DateTime<Utc>)], end: DateTime<Utc>) -> Vec<AgentActivityRecord> {
        let mapping = AgentStateMapping::default();
        let mut pieces = Vec::new();
        for (i, (state, start)) in steps.iter().enumerate() {
            let until = steps.get(i + 1).map_or(end, |(_, s)| *s);
            let row = AgentState {
                stream_newest: None,
                agent_arn: format!("arn:aws:connect:us-east-1:1:instance/i-1/agent/{agent}"),
                agent_id: agent.into(),
                instance_id: "i-1".into(),
                agent_login: Some(format!("{agent}-login")),
                state: (*state).into(),
                reason: "r".into(),
                activity: Activity::Open,
                since: *start,
                contact: None,
                watermark: Watermark::new(*start, "w"),
                last_seen: *start,
                silent_since: None,
                last_silence: None,
                silenced_at: None,
                silenced_from: None,
                segment: Some(OpenSegment {
                    start: *start,
                    id: format!("{agent}-{i}"),
                }),
                silenced_segment: None,
                profile: None,
                excluded: false,
            };
            pieces.extend(
                Segment::current(&row)
                    .unwrap()
                    .close(until, &format!("{agent}-{}", i + 1), &mapping),
            );
        }
        pieces
    }

    #[test]
    fn the_bars_of_an_agent_tile_its_logged_in_time_in_order() {
        let pieces = day(
            "a",
            &[
                ("LOGIN", t("08:58:40")),
                ("Available", t("08:58:41")),
                ("VOICE-INBOUND-CONNECTED", t("09:07:20")),
                ("UNKNOWN", t("09:20:00")),
                ("Break", t("09:40:00")),
            ],
            t("10:02:00"),
        );
        let layout = layout(&pieces, &[], &AgentStateMapping::default(), false);
        assert_eq!((layout.start, layout.end), (t("08:45:00"), t("10:15:00")));
        let bars = &layout.rows[0].bars;
        assert_eq!(bars.len(), pieces.len(), "one bar per piece");
        assert_eq!(bars[0].from_ms, (t("08:58:40") - t("08:45:00")).num_milliseconds());
        for pair in bars.windows(2) {
            assert_eq!(pair[0].to_ms, pair[1].from_ms, "no gap, no overlap: {pair:?}");
        }
        assert_eq!(
            bars.last().unwrap().to_ms,
            (t("10:02:00") - t("08:45:00")).num_milliseconds()
        );
        assert!(bars.iter().filter(|b| b.unknown).all(|b| b.state == "UNKNOWN"));
        assert_eq!(
            bars.iter().filter(|b| b.unknown).count(),
            2,
            "UNKNOWN over the 09:30 line"
        );
        let page = render(&layout, "day");
        assert!(page.contains("class=\"u\""), "UNKNOWN drawn hatched");
        assert!(page.contains(">09:00</text>") && page.contains(">09:15</text>"));
        assert!(!page.contains("<script") && !page.contains("https://"));
    }

    #[test]
    fn ids_by_default_logins_only_when_asked() {
        let pieces = day("a", &[("Available", t("09:00:00"))], t("09:10:00"));
        let mapping = AgentStateMapping::default();
        let page = render(&layout(&pieces, &[], &mapping, false), "day");
        assert!(page.contains(">a</text>") && !page.contains("a-login"));
        let page = render(&layout(&pieces, &[], &mapping, true), "day");
        assert!(page.contains(">a-login</text>"));
    }

    #[test]
    fn a_page_for_a_thousand_agents_and_a_day_stays_small() {
        // 1,000 agents, each changing state every 5 minutes for 8 hours: 96,000 pieces.
        let mut pieces = Vec::new();
        let states = ["Available", "VOICE-INBOUND-CONNECTED", "VOICE-INBOUND-ENDED", "Break"];
        for agent in 0..1_000 {
            let id = format!("agent-{agent:04}");
            let steps: Vec<(&str, DateTime<Utc>)> = (0..96)
                .map(|n| {
                    (
                        states[n % states.len()],
                        t("08:00:00") + Duration::minutes(5 * n as i64),
                    )
                })
                .collect();
            pieces.extend(day(&id, &steps, t("16:00:00")));
        }
        let page = render(&layout(&pieces, &[], &AgentStateMapping::default(), false), "a day");
        let mb = page.len() as f64 / 1e6;
        println!("timeline of {} pieces: {mb:.1} MB", pieces.len());
        assert!(mb < 5.0, "{mb:.1} MB");
    }
}
