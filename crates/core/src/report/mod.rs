//! Connect scheduled historical reports (CSV) to interval records.

mod mapping;

pub use mapping::ReportMapping;
