pub mod wfm;
