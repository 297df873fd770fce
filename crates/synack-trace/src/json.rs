//! JSON lines.
use crate::{HostInfo, Lang, TraceEntry};
/// Options of [`render_jsonl`].
#[derive(Debug, Clone, Default)]
pub struct JsonOptions {
    /// Absolute numbers.
    pub absolute: bool,
    /// Lang.
    pub lang: Lang,
}
/// JSON lines.
pub fn render_jsonl(_e: &[TraceEntry], _h: &[HostInfo<'_>], _o: &JsonOptions) -> String {
    String::new()
}
