//! Print the views of the textbook connection.
use synack_trace::{fixture, render_text, Lang, TextOptions};

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let opts = TextOptions {
        absolute: arg.contains("abs"),
        color: arg.contains("color"),
        ascii: arg.contains("ascii"),
        lang: if arg.contains("zh") {
            Lang::Zh
        } else {
            Lang::En
        },
        ..TextOptions::default()
    };
    print!(
        "{}",
        render_text(&fixture::textbook(), &fixture::hosts(), &opts)
    );
}
