//! Cell values of Connect reports: numbers, durations, percentages and interval timestamps,
//! parsed straight from the CSV bytes without allocating.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

/// Why a cell could not be read; the reader adds the file, line, column and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueError {
    NotANumber,
    NotADuration,
    /// Beyond what a count or duration can sensibly be (and beyond exact `f64` integers).
    OutOfRange,
    NotATimestamp,
}

/// Largest magnitude accepted: the sum of a few such values still fits an `i64`, and every
/// whole number below it is exact in an `f64`.
const MAX_MAGNITUDE: f64 = 9.0e15;

const POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Longest number text accepted (digits, sign, separators).
const MAX_NUMBER_LEN: usize = 40;

pub(crate) fn trim(cell: &[u8]) -> &[u8] {
    cell.trim_ascii()
}

/// Empty or `-`: the report has no value.
pub(crate) fn is_null(cell: &[u8]) -> bool {
    cell.is_empty() || cell == b"-"
}

/// A number: `12`, `12.0`, `-3`, `1,234`, `1,234.5`. Commas are accepted only as thousands
/// separators (`1,5` is an error, not 15 or 1.5). `None` for empty and `-`.
pub(crate) fn number(cell: &[u8]) -> Result<Option<f64>, ValueError> {
    let cell = trim(cell);
    if is_null(cell) {
        return Ok(None);
    }
    // Fast path: plain digits (the common case for counts and whole-second durations).
    if cell.len() <= 15 && cell.iter().all(u8::is_ascii_digit) {
        let n = cell.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        return checked(n as f64).map(Some);
    }
    // Fast path: `digits.digits` (percentages, averages). Both parts are exact in an f64 and
    // one IEEE division rounds correctly, so this equals what `str::parse` gives.
    if cell.len() <= 16 {
        if let Some(dot) = cell.iter().position(|&b| b == b'.') {
            let (int_part, frac_part) = (&cell[..dot], &cell[dot + 1..]);
            if !frac_part.is_empty()
                && int_part.iter().chain(frac_part).all(u8::is_ascii_digit)
                && int_part.len() + frac_part.len() <= 15
            {
                let mantissa = int_part
                    .iter()
                    .chain(frac_part)
                    .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                return checked(mantissa as f64 / POWERS_OF_TEN[frac_part.len()]).map(Some);
            }
        }
    }
    if cell.len() > MAX_NUMBER_LEN {
        return Err(ValueError::NotANumber);
    }
    let mut buf = [0u8; MAX_NUMBER_LEN];
    let mut len = 0;
    let mut rest = cell;
    if let Some((&sign @ (b'-' | b'+'), tail)) = rest.split_first() {
        buf[len] = sign;
        len += 1;
        rest = tail;
    }
    let (int_part, frac_part) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
        None => (rest, None),
    };
    if !valid_integer_part(int_part) {
        return Err(ValueError::NotANumber);
    }
    for &b in int_part.iter().filter(|&&b| b != b',') {
        buf[len] = b;
        len += 1;
    }
    if let Some(frac) = frac_part {
        if !frac.iter().all(u8::is_ascii_digit) || (int_part.is_empty() && frac.is_empty()) {
            return Err(ValueError::NotANumber);
        }
        buf[len] = b'.';
        len += 1;
        buf[len..len + frac.len()].copy_from_slice(frac);
        len += frac.len();
    } else if int_part.is_empty() {
        return Err(ValueError::NotANumber);
    }
    // Only ASCII digits, sign and '.' are in buf: valid UTF-8 and a valid float literal.
    let text = std::str::from_utf8(&buf[..len]).map_err(|_| ValueError::NotANumber)?;
    let value: f64 = text.parse().map_err(|_| ValueError::NotANumber)?;
    checked(value).map(Some)
}

/// Digits, optionally grouped by commas in threes (`1,234,567`); may be empty (`.5`).
fn valid_integer_part(part: &[u8]) -> bool {
    if !part.contains(&b',') {
        return part.iter().all(u8::is_ascii_digit);
    }
    let mut groups = part.split(|&b| b == b',');
    let first_ok = groups
        .next()
        .is_some_and(|g| (1..=3).contains(&g.len()) && g.iter().all(u8::is_ascii_digit));
    first_ok && groups.all(|g| g.len() == 3 && g.iter().all(u8::is_ascii_digit))
}

fn checked(value: f64) -> Result<f64, ValueError> {
    if value.is_finite() && value.abs() < MAX_MAGNITUDE {
        Ok(value)
    } else {
        Err(ValueError::OutOfRange)
    }
}

/// A percentage: `85.71%` or `85.71` → 85.71. `None` for empty and `-`.
pub(crate) fn percent(cell: &[u8]) -> Result<Option<f64>, ValueError> {
    let cell = trim(cell);
    match cell.strip_suffix(b"%") {
        Some(number_part) => number(number_part)?.map(Some).ok_or(ValueError::NotANumber),
        None => number(cell),
    }
}

/// A duration in seconds: a number (`125`, `125.4`) or, tolerated, `h:mm:ss` (`0:02:05`).
/// `None` for empty and `-`.
pub(crate) fn duration(cell: &[u8]) -> Result<Option<f64>, ValueError> {
    let cell = trim(cell);
    if !cell.contains(&b':') {
        return number(cell);
    }
    let mut parts = cell.split(|&b| b == b':');
    let (Some(h), Some(m), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ValueError::NotADuration);
    };
    let field = |digits: &[u8], max_len: usize| -> Option<u64> {
        (!digits.is_empty() && digits.len() <= max_len && digits.iter().all(u8::is_ascii_digit))
            .then(|| digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
    };
    match (field(h, 9), field(m, 2), field(s, 2)) {
        (Some(h), Some(m), Some(s)) if m < 60 && s < 60 => checked((h * 3600 + m * 60 + s) as f64).map(Some),
        _ => Err(ValueError::NotADuration),
    }
}

/// Rounds a parsed value to a whole number (half away from zero). Values are bounded by
/// [`MAX_MAGNITUDE`], so the conversion is exact.
pub(crate) fn whole(value: f64) -> i64 {
    // Most values are whole already; `round` is a libm call on the default x86-64 target.
    let truncated = value as i64;
    if truncated as f64 == value {
        truncated
    } else {
        value.round() as i64
    }
}

/// An interval timestamp, ISO 8601: `2026-11-20T10:15:00Z`, `2026-11-20T11:15:00+01:00`,
/// `+0100`, `+01`, fractional seconds, seconds omitted, a space instead of `T`, a trailing
/// ` UTC`; no offset means UTC. `None` for empty and `-`.
pub(crate) fn timestamp(cell: &[u8]) -> Result<Option<DateTime<Utc>>, ValueError> {
    let cell = trim(cell);
    if is_null(cell) {
        return Ok(None);
    }
    parse_timestamp(cell).map(Some).ok_or(ValueError::NotATimestamp)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + n)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0')))
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(hit);
        hit
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn rest(&self) -> &[u8] {
        &self.bytes[self.at.min(self.bytes.len())..]
    }
}

fn parse_timestamp(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let mut c = Cursor { bytes, at: 0 };
    let year = c.digits(4)?;
    c.eat(b'-').then_some(())?;
    let month = c.digits(2)?;
    c.eat(b'-').then_some(())?;
    let day = c.digits(2)?;
    (c.eat(b'T') || c.eat(b't') || c.eat(b' ')).then_some(())?;
    let hour = c.digits(2)?;
    c.eat(b':').then_some(())?;
    let minute = c.digits(2)?;
    let (mut second, mut nanos) = (0, 0);
    if c.eat(b':') {
        second = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let start = c.at;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                if c.at - start < 9 {
                    nanos = nanos * 10 + u32::from(c.bytes[c.at] - b'0');
                }
                c.at += 1;
            }
            let n = c.at - start;
            if n == 0 {
                return None;
            }
            nanos *= 10u32.pow(9 - n.min(9) as u32);
        }
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).filter(|_| second < 60)?;
    let local = NaiveDateTime::new(date, time);

    let offset_seconds: i64 = match c.rest().trim_ascii_start() {
        b"" | b"Z" | b"z" | b"UTC" | b"utc" | b"GMT" => 0,
        rest => {
            let mut o = Cursor { bytes: rest, at: 0 };
            let sign = match o.peek()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            o.at += 1;
            let hours = o.digits(2)?;
            let minutes = if o.rest().is_empty() {
                0
            } else {
                o.eat(b':');
                o.digits(2)?
            };
            if !o.rest().is_empty() || hours > 23 || minutes > 59 {
                return None;
            }
            sign * i64::from(hours * 3600 + minutes * 60)
        }
    };
    let utc = local.checked_sub_signed(TimeDelta::try_seconds(offset_seconds)?)?;
    Some(utc.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"12"), Ok(Some(12.0)));
        assert_eq!(number(b" 12.0 "), Ok(Some(12.0)));
        assert_eq!(number(b"1,234"), Ok(Some(1234.0)));
        assert_eq!(number(b"1,234,567.25"), Ok(Some(1234567.25)));
        assert_eq!(number(b"-3"), Ok(Some(-3.0)));
        assert_eq!(number(b".5"), Ok(Some(0.5)));
        assert_eq!(number(b"7."), Ok(Some(7.0)));
        assert_eq!(number(b""), Ok(None));
        assert_eq!(number(b"  -  "), Ok(None));
        for bad in [
            &b"abc"[..],
            b"1,5",
            b"12,34",
            b",123",
            b"1e5",
            b"NaN",
            b"inf",
            b"--1",
            b".",
            b"1.2.3",
            b"12 34",
            b"+",
            b"\xff",
        ] {
            assert_eq!(
                number(bad),
                Err(ValueError::NotANumber),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(number(b"99999999999999999999"), Err(ValueError::OutOfRange));
        assert_eq!(number(&[b'9'; 39]), Err(ValueError::OutOfRange));
        assert_eq!(number(&[b'9'; 41]), Err(ValueError::NotANumber));
    }

    #[test]
    fn decimal_fast_path_equals_the_standard_parse() {
        for text in [
            "61.54",
            "92.31",
            "0.1",
            "12.5",
            "85.71",
            "99999999.9999999",
            "0.000000000000001",
            "3.3333333",
        ] {
            assert_eq!(
                number(text.as_bytes()),
                Ok(Some(text.parse::<f64>().unwrap())),
                "{text}"
            );
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = format!("{}", x % 1_000_000_000_000_000);
            let cut = (x >> 60) as usize % digits.len();
            let text = format!("{}.{}", &digits[..cut], &digits[cut..]);
            assert_eq!(
                number(text.as_bytes()),
                Ok(Some(text.parse::<f64>().unwrap())),
                "{text}"
            );
        }
    }

    #[test]
    fn percentages_and_durations() {
        assert_eq!(percent(b"85.71%"), Ok(Some(85.71)));
        assert_eq!(percent(b"85.71 %"), Ok(Some(85.71)));
        assert_eq!(percent(b"100"), Ok(Some(100.0)));
        assert_eq!(percent(b"-"), Ok(None));
        assert_eq!(percent(b"%"), Err(ValueError::NotANumber));
        assert_eq!(percent(b"85%%"), Err(ValueError::NotANumber));
        assert_eq!(duration(b"125.5"), Ok(Some(125.5)));
        assert_eq!(duration(b"1:02:05"), Ok(Some(3725.0)));
        assert_eq!(duration(b"0:61:00"), Err(ValueError::NotADuration));
        assert_eq!(duration(b"02:05"), Err(ValueError::NotADuration));
        assert_eq!(whole(2.5), 3);
        assert_eq!(whole(2.49), 2);
    }

    #[test]
    fn timestamps_in_every_tolerated_shape() {
        let t = |s: &str| timestamp(s.as_bytes()).unwrap().unwrap();
        assert_eq!(t("2026-11-20T10:15:00Z"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20T11:15:00+01:00"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20T05:15:00-05:00"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20T15:45:00+0530"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20T11:15:00+01"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20 10:15:00"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20 10:15"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20 10:15:00 UTC"), ts("2026-11-20T10:15:00Z"));
        assert_eq!(t("2026-11-20T10:15:00.017Z"), ts("2026-11-20T10:15:00.017Z"));
        assert_eq!(t("2026-11-20T10:15:00.0170000001Z"), ts("2026-11-20T10:15:00.017Z"));
        assert_eq!(t("2026-11-20T23:30:00-05:00"), ts("2026-11-21T04:30:00Z"));
        assert_eq!(timestamp(b""), Ok(None));
        for bad in [
            "2026-11-20",
            "2026-13-20T10:15:00Z",
            "2026-11-31T10:15:00Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T10:15:60Z",
            "2026-11-20T10:15:00+25:00",
            "2026-11-20T10:15:00X",
            "2026-11-20T10:15:00.Z",
            "20261120T101500Z",
            "yesterday",
        ] {
            assert_eq!(timestamp(bad.as_bytes()), Err(ValueError::NotATimestamp), "{bad}");
        }
    }
}
