//! Write the HTML page of the textbook connection to standard output.
use synack_trace::{fixture, render_html, HtmlOptions};

fn main() {
    let page = render_html(
        &fixture::textbook(),
        &fixture::hosts(),
        &HtmlOptions {
            title: "synack: the textbook connection".into(),
            ..HtmlOptions::default()
        },
    );
    print!("{page}");
}
