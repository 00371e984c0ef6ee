//! Files of contact records, as Firehose delivers Connect's CTRs to S3: records back to back
//! with no separator (what Firehose writes for Connect), or one per line, gzip-compressed or
//! not. Pure: the caller reads the object's bytes, this splits them into records.
//!
//! One bad record never spoils the file: a record that does not read as JSON (a truncated last
//! record, bytes in between) or that is not a contact record is an entry with the reason and
//! its offset, and reading goes on at the next record boundary (a `{` after a `}` or at the start
//! of a line), so the rest of the file flows.

use std::borrow::Cow;
use std::io::Read as _;
use std::ops::Range;

use serde_json::Value;

use super::ctr::{ContactRecord, MAX_CONTACT_RECORD_BYTES, contact_record_from_value};

/// The largest content of a CTR file once decompressed (Firehose buffers at most 128 MiB; a
/// gzip bomb must not take the function's memory).
pub const MAX_CTR_FILE_BYTES: usize = 512 << 20;

/// Why a file cannot be read at all (nothing of it flows).
#[derive(Debug, thiserror::Error)]
pub enum CtrFileError {
    /// Starts like gzip but does not decompress.
    #[error("not a readable gzip file: {0}")]
    Gzip(std::io::Error),
    /// Larger than [`MAX_CTR_FILE_BYTES`] once decompressed.
    #[error("larger than a contact-record file can be ({MAX_CTR_FILE_BYTES} bytes once decompressed)")]
    TooLarge,
}

/// One record of a file: where it starts and what it is.
#[derive(Debug, Clone)]
pub struct CtrFileEntry {
    /// Byte offset of the record in the file's content (after decompression for a gzip file).
    pub offset: usize,
    /// The record's bytes in the content.
    pub range: Range<usize>,
    /// The contact record, or why the bytes are not one.
    pub record: Result<ContactRecord, String>,
}

/// A file of contact records, split.
#[derive(Debug, Clone)]
pub struct CtrFile<'a> {
    /// Whether the object was gzip-compressed.
    pub gzip: bool,
    /// The content (decompressed); entries' ranges point into it.
    pub content: Cow<'a, [u8]>,
    /// Every record, in file order.
    pub entries: Vec<CtrFileEntry>,
}

impl CtrFile<'_> {
    /// The bytes of an entry.
    pub fn raw(&self, entry: &CtrFileEntry) -> &[u8] {
        &self.content[entry.range.clone()]
    }
}

/// Whether bytes start like a gzip stream (the magic number `1f 8b`).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The content of an object: decompressed when it is gzip (every member of a multi-member
/// stream), else the bytes as they are.
pub fn decompress(bytes: &[u8]) -> Result<Cow<'_, [u8]>, CtrFileError> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut content = Vec::with_capacity(bytes.len().saturating_mul(4).min(MAX_CTR_FILE_BYTES));
    let limit = MAX_CTR_FILE_BYTES as u64 + 1;
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit)
        .read_to_end(&mut content)
        .map_err(CtrFileError::Gzip)?;
    if content.len() > MAX_CTR_FILE_BYTES {
        return Err(CtrFileError::TooLarge);
    }
    Ok(Cow::Owned(content))
}

/// Whether an object holds contact records, by content: its first JSON value (after
/// decompression) is an object with a `ContactId` and no `AgentARN` (an agent event has both).
/// How `connect-wfm replay` tells a CTR file from a report.
pub fn looks_like_ctr_file(bytes: &[u8]) -> bool {
    let Ok(content) = decompress(bytes) else {
        return false;
    };
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&content);
    match serde_json::Deserializer::from_slice(content)
        .into_iter::<Value>()
        .next()
    {
        Some(Ok(Value::Object(first))) => first.contains_key("ContactId") && !first.contains_key("AgentARN"),
        _ => false,
    }
}

/// Splits an object's bytes into contact records (see the module docs).
pub fn read_ctr_file(bytes: &[u8]) -> Result<CtrFile<'_>, CtrFileError> {
    let gzip = is_gzip(bytes);
    let content = decompress(bytes)?;
    let entries = split(&content);
    Ok(CtrFile { gzip, content, entries })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn split(content: &[u8]) -> Vec<CtrFileEntry> {
    let mut entries = Vec::new();
    let mut pos = if content.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    loop {
        while pos < content.len() && is_space(content[pos]) {
            pos += 1;
        }
        if pos == content.len() {
            break;
        }
        let mut values = serde_json::Deserializer::from_slice(&content[pos..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(value)) => {
                let end = pos + values.byte_offset();
                let record = if end - pos > MAX_CONTACT_RECORD_BYTES {
                    Err(format!(
                        "{} bytes: larger than a contact record can be ({MAX_CONTACT_RECORD_BYTES} bytes)",
                        end - pos
                    ))
                } else {
                    contact_record_from_value(value).map_err(|e| {
                        let e = e.to_string();
                        if e.starts_with("not a contact record") {
                            e
                        } else {
                            format!("not a contact record: {e}")
                        }
                    })
                };
                entries.push(CtrFileEntry {
                    offset: pos,
                    range: pos..end,
                    record,
                });
                pos = end;
            }
            Some(Err(e)) => {
                // Truncated: the content ended inside the record, so nothing follows it.
                let next = if e.is_eof() {
                    content.len()
                } else {
                    next_boundary(content, pos + 1).unwrap_or(content.len())
                };
                let end = next - content[pos..next].iter().rev().take_while(|b| is_space(**b)).count();
                let reason = if e.is_eof() {
                    format!("truncated: the content ends inside this record ({e})")
                } else {
                    format!("not JSON: {e}")
                };
                entries.push(CtrFileEntry {
                    offset: pos,
                    range: pos..end,
                    record: Err(reason),
                });
                pos = next;
            }
            None => break,
        }
    }
    entries
}

/// The first record boundary at or after `from`: a `{` whose previous byte other than blanks is
/// a `}` (records back to back) or a line break (one record per line). Inside valid JSON a `}`
/// is never followed by a `{` (a comma comes between), so a boundary starts a record.
fn next_boundary(content: &[u8], from: usize) -> Option<usize> {
    (from..content.len()).find(|&i| {
        content[i] == b'{'
            && content[..i]
                .iter()
                .rev()
                .find(|b| !matches!(b, b' ' | b'\t' | b'\r'))
                .is_some_and(|b| matches!(b, b'}' | b'\n'))
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use serde_json::json;

    use super::*;

    fn ctr(i: u32) -> Value {
        json!({
            "AWSContactTraceRecordFormatVersion": "2017-03-10",
            "ContactId": format!("c-{i}"),
            "InstanceARN": "arn:aws:connect:us-east-1:1:instance/i",
            "Channel": "VOICE",
            "InitiationMethod": "INBOUND",
            "LastUpdateTimestamp": "2026-11-20T10:05:00Z",
            "DisconnectTimestamp": "2026-11-20T10:04:00Z",
            "Queue": {"ARN": "arn:aws:connect:us-east-1:1:instance/i/queue/q", "Name": "Sales",
                      "EnqueueTimestamp": "2026-11-20T10:00:00Z", "DequeueTimestamp": null},
            "Agent": null,
            "Attributes": {"nested": {"a": [1, {"b": "}{"}]}}
        })
    }

    fn ids(file: &CtrFile<'_>) -> Vec<Result<String, String>> {
        file.entries
            .iter()
            .map(|e| e.record.as_ref().map(|r| r.contact_id.clone()).map_err(Clone::clone))
            .collect()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn back_to_back(n: u32) -> String {
        (1..=n).map(|i| ctr(i).to_string()).collect()
    }

    #[test]
    fn records_back_to_back_without_a_separator_are_each_a_record() {
        let text = back_to_back(3);
        let file = read_ctr_file(text.as_bytes()).unwrap();
        assert!(!file.gzip);
        assert_eq!(ids(&file), [Ok("c-1".into()), Ok("c-2".into()), Ok("c-3".into())]);
        let first = ctr(1).to_string();
        assert_eq!(file.entries[1].offset, first.len());
        assert_eq!(file.raw(&file.entries[0]), first.as_bytes());
    }

    #[test]
    fn newline_delimited_and_pretty_records_read_the_same() {
        let lines: String = (1..=3).map(|i| format!("{}\r\n", ctr(i))).collect();
        let pretty: String = (1..=3)
            .map(|i| serde_json::to_string_pretty(&ctr(i)).unwrap() + "\n")
            .collect();
        for text in [lines, pretty] {
            let file = read_ctr_file(text.as_bytes()).unwrap();
            assert_eq!(ids(&file), [Ok("c-1".into()), Ok("c-2".into()), Ok("c-3".into())]);
            assert_eq!(file.entries[0].offset, 0);
        }
    }

    #[test]
    fn a_gzip_file_is_read_decompressed_with_offsets_in_its_content() {
        let text = back_to_back(2);
        let compressed = gzip(text.as_bytes());
        assert!(looks_like_ctr_file(&compressed));
        let file = read_ctr_file(&compressed).unwrap();
        assert!(file.gzip);
        assert_eq!(ids(&file), [Ok("c-1".into()), Ok("c-2".into())]);
        assert_eq!(file.entries[1].offset, ctr(1).to_string().len());
        // Firehose may concatenate gzip members: every one is read.
        let mut members = gzip(ctr(1).to_string().as_bytes());
        members.extend(gzip(ctr(2).to_string().as_bytes()));
        assert_eq!(
            ids(&read_ctr_file(&members).unwrap()),
            [Ok("c-1".into()), Ok("c-2".into())]
        );
        let mut broken = compressed.clone();
        broken.truncate(compressed.len() / 2);
        assert!(matches!(read_ctr_file(&broken), Err(CtrFileError::Gzip(_))));
    }

    #[test]
    fn a_truncated_last_record_is_one_bad_entry_and_the_rest_flows() {
        let full = back_to_back(3);
        let cut = &full[..full.len() - 40];
        let file = read_ctr_file(cut.as_bytes()).unwrap();
        let found = ids(&file);
        assert_eq!(found[..2], [Ok("c-1".into()), Ok("c-2".into())]);
        let reason = found[2].as_ref().unwrap_err();
        assert!(reason.starts_with("truncated: "), "{reason}");
        let offset = 2 * ctr(1).to_string().len();
        assert_eq!(file.entries[2].offset, offset);
        assert_eq!(file.raw(&file.entries[2]), &cut.as_bytes()[offset..]);
    }

    #[test]
    fn a_broken_record_in_the_middle_is_skipped_to_the_next_record() {
        let (a, c) = (ctr(1).to_string(), ctr(3).to_string());
        for (text, bad) in [
            // Back to back: the broken record runs to the next `}{`.
            (
                format!("{a}{{\"ContactId\": \"c-2\", oops}}{c}"),
                "{\"ContactId\": \"c-2\", oops}",
            ),
            // One per line: to the next line.
            (
                format!("{a}\n{{\"ContactId\": \"c-2\"\n{c}\n"),
                "{\"ContactId\": \"c-2\"",
            ),
            (format!("{a}\ngarbage here\n{c}"), "garbage here"),
        ] {
            let file = read_ctr_file(text.as_bytes()).unwrap();
            let found = ids(&file);
            assert_eq!(found.len(), 3, "{text}: {found:?}");
            assert_eq!((&found[0], &found[2]), (&Ok("c-1".into()), &Ok("c-3".into())), "{text}");
            assert!(found[1].as_ref().unwrap_err().starts_with("not JSON: "), "{found:?}");
            assert_eq!(file.raw(&file.entries[1]), bad.as_bytes(), "{text}");
        }
    }

    #[test]
    fn a_record_that_is_not_a_ctr_is_an_entry_with_the_reason() {
        let mut no_time = ctr(2);
        no_time["LastUpdateTimestamp"] = Value::Null;
        let text = format!(
            "{}{}{}[1,2]{}",
            ctr(1),
            json!({"AgentARN": "a", "EventType": "HEART_BEAT"}),
            no_time,
            ctr(3)
        );
        let file = read_ctr_file(text.as_bytes()).unwrap();
        let found = ids(&file);
        assert_eq!(found.len(), 5, "{found:?}");
        assert_eq!((&found[0], &found[4]), (&Ok("c-1".into()), &Ok("c-3".into())));
        assert_eq!(found[1], Err("not a contact record: missing field `ContactId`".into()));
        assert_eq!(
            found[2],
            Err("not a contact record: missing field `LastUpdateTimestamp`".into())
        );
        assert_eq!(
            found[3],
            Err("not a contact record: a JSON array, expected an object".into())
        );
    }

    #[test]
    fn empty_files_have_no_records_and_content_is_sniffed() {
        for empty in [&b""[..], b"\n \n", b"\xEF\xBB\xBF"] {
            assert!(read_ctr_file(empty).unwrap().entries.is_empty());
        }
        assert!(looks_like_ctr_file(back_to_back(2).as_bytes()));
        assert!(!looks_like_ctr_file(b"StartInterval,EndInterval,Queue\n"));
        assert!(!looks_like_ctr_file(br#"{"AgentARN":"a","ContactId":"c"}"#));
        assert!(!looks_like_ctr_file(b"\x1f\x8b not gzip"));
    }
}
