//! Header matching (feed.md): case-insensitive, trimmed, BOM removed, spaces collapsed; a
//! header with parentheses is found by its full name and also by its name without them.

use std::collections::BTreeMap;

use super::mapping::THRESHOLD_PLACEHOLDER;

const BOM: char = '\u{feff}';

/// Lowercase, without BOM, trimmed, runs of white space collapsed to one space.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name
        .split(|c: char| c.is_whitespace() || c == BOM)
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// A normalized name with every parenthesised part removed (nested ones too), re-normalized.
/// An unbalanced `(` drops the rest; a stray `)` is kept, so odd headers never panic.
fn without_parentheses(normalized: &str) -> String {
    let mut depth = 0usize;
    let mut kept = String::with_capacity(normalized.len());
    for c in normalized.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => kept.push(c),
            _ => {}
        }
    }
    normalize(&kept)
}

/// The display form of a header cell for messages: BOM removed, trimmed.
pub(crate) fn display_name(raw: &str) -> String {
    raw.trim_matches(|c: char| c.is_whitespace() || c == BOM).to_owned()
}

struct Cell {
    full: String,
    bare: String,
}

/// The header row, ready for lookups by configured names.
pub(crate) struct Header {
    cells: Vec<Cell>,
}

/// Columns of one service-level threshold, by template order: answered, abandoned, percent.
pub(crate) type ThresholdColumns = [Option<usize>; 3];

impl Header {
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let cells = names
            .into_iter()
            .map(|raw| {
                let full = normalize(raw);
                let bare = without_parentheses(&full);
                Cell { full, bare }
            })
            .collect();
        Self { cells }
    }

    /// Index of the column with one of these names, in order of preference. For each name an
    /// exact match beats a match without parentheses; among equal matches the first column wins
    /// (so a duplicated header name reads the leftmost column).
    pub(crate) fn find(&self, names: &[String]) -> Option<usize> {
        names.iter().find_map(|name| {
            let name = normalize(name);
            (!name.is_empty())
                .then(|| {
                    self.cells
                        .iter()
                        .position(|c| c.full == name)
                        .or_else(|| self.cells.iter().position(|c| c.bare == name))
                })
                .flatten()
        })
    }

    /// Another column with the same name as column `index` (after normalising), if any.
    pub(crate) fn duplicate_of(&self, index: usize) -> Option<usize> {
        let name = &self.cells.get(index)?.full;
        self.cells
            .iter()
            .enumerate()
            .find(|(i, c)| *i != index && &c.full == name)
            .map(|(i, _)| i)
    }

    /// Every threshold X found for the templates (each list holds the accepted names of one
    /// template, each with `{X}`), ascending, with the column of each template. Exact matches
    /// beat matches without parentheses; otherwise the first column wins.
    pub(crate) fn thresholds(&self, templates: [&[String]; 3]) -> BTreeMap<u32, ThresholdColumns> {
        let mut found: BTreeMap<u32, ThresholdColumns> = BTreeMap::new();
        for (slot, names) in templates.into_iter().enumerate() {
            for name in names {
                let name = normalize(name);
                let placeholder = THRESHOLD_PLACEHOLDER.to_lowercase();
                let Some((prefix, suffix)) = name.split_once(&placeholder) else {
                    continue;
                };
                for bare in [false, true] {
                    for (index, cell) in self.cells.iter().enumerate() {
                        let text = if bare { &cell.bare } else { &cell.full };
                        if let Some(seconds) = threshold_in(text, prefix, suffix) {
                            let columns = found.entry(seconds).or_default();
                            if columns[slot].is_none() {
                                columns[slot] = Some(index);
                            }
                        }
                    }
                }
            }
        }
        found
    }
}

/// The number X when `text` is `prefix` X `suffix` and X is all digits.
fn threshold_in(text: &str, prefix: &str, suffix: &str) -> Option<u32> {
    if text.len() <= prefix.len() + suffix.len() || !text.starts_with(prefix) || !text.ends_with(suffix) {
        return None;
    }
    let middle = text.get(prefix.len()..text.len() - suffix.len())?;
    if middle.is_empty() || !middle.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    middle.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalizes_bom_case_and_spaces() {
        assert_eq!(normalize("\u{feff}StartInterval"), "startinterval");
        assert_eq!(normalize("  Contacts \t  HANDLED \u{a0}"), "contacts handled");
        assert_eq!(without_parentheses("contacts handled (incoming)"), "contacts handled");
        assert_eq!(without_parentheses("a (b (c)) d"), "a d");
        assert_eq!(without_parentheses("a (b"), "a");
        assert_eq!(without_parentheses("a) b"), "a) b");
        assert_eq!(display_name("\u{feff} Queue "), "Queue");
    }

    #[test]
    fn finds_by_full_name_then_without_parentheses_first_wins() {
        let h = Header::new([
            "\u{feff}StartInterval",
            "Contacts handled (Incoming)",
            "contacts  HANDLED",
            "Queue",
            "Queue",
        ]);
        assert_eq!(h.find(&names(&["startinterval"])), Some(0));
        // The exact name beats the one found without its parentheses.
        assert_eq!(h.find(&names(&["Contacts handled"])), Some(2));
        assert_eq!(h.find(&names(&["Contacts handled (incoming)"])), Some(1));
        assert_eq!(h.find(&names(&["Queue"])), Some(3));
        assert_eq!(h.find(&names(&["Nope", "Queue"])), Some(3));
        assert_eq!(h.find(&names(&["Nope"])), None);
        let h = Header::new(["Contacts handled (Incoming)", "Contacts handled (Outbound)"]);
        assert_eq!(h.find(&names(&["Contacts handled"])), Some(0));
    }

    #[test]
    fn collects_thresholds_ascending() {
        let h = Header::new([
            "Service level 60 seconds",
            "Contacts answered in 20 seconds",
            "Contacts answered in 60 seconds (Voice)",
            "Contacts abandoned in 20 seconds",
            "Service level 20 seconds",
            "Service level  seconds",
            "Service level x seconds",
            "Service level 99999999999 seconds",
        ]);
        let t = names(&["Contacts answered in {X} seconds"]);
        let a = names(&["Contacts abandoned in {X} seconds"]);
        let s = names(&["Service level {X} seconds"]);
        let found: Vec<_> = h.thresholds([&t, &a, &s]).into_iter().collect();
        assert_eq!(
            found,
            vec![(20, [Some(1), Some(3), Some(4)]), (60, [Some(2), None, Some(0)])]
        );
    }
}
