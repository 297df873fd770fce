//! Exact-content snapshots of every view of the textbook connection.
//!
//! The expected outputs live in `tests/snapshots/`; they are the
//! specification of the views. After a deliberate change, rewrite them with
//! `SYNACK_BLESS=1 cargo test -p synack-trace` and review the diff.

mod common;

use common::snapshot;
use synack_trace::{
    fixture, render_jsonl, render_mermaid, render_svg, render_text, JsonOptions, Lang,
    MermaidOptions, SvgOptions, TextOptions,
};

#[test]
fn text_en() {
    let out = render_text(
        &fixture::textbook(),
        &fixture::hosts(),
        &TextOptions::default(),
    );
    snapshot("text_en.txt", &out);
}

#[test]
fn text_en_color() {
    let opts = TextOptions {
        color: true,
        ..TextOptions::default()
    };
    snapshot(
        "text_en_color.txt",
        &render_text(&fixture::textbook(), &fixture::hosts(), &opts),
    );
}

#[test]
fn text_zh() {
    let opts = TextOptions {
        lang: Lang::Zh,
        ..TextOptions::default()
    };
    snapshot(
        "text_zh.txt",
        &render_text(&fixture::textbook(), &fixture::hosts(), &opts),
    );
}

#[test]
fn text_zh_color() {
    let opts = TextOptions {
        lang: Lang::Zh,
        color: true,
        ..TextOptions::default()
    };
    snapshot(
        "text_zh_color.txt",
        &render_text(&fixture::textbook(), &fixture::hosts(), &opts),
    );
}

#[test]
fn text_absolute_ascii() {
    let opts = TextOptions {
        absolute: true,
        ascii: true,
        ..TextOptions::default()
    };
    snapshot(
        "text_absolute_ascii.txt",
        &render_text(&fixture::textbook(), &fixture::hosts(), &opts),
    );
}

#[test]
fn jsonl() {
    let out = render_jsonl(
        &fixture::textbook(),
        &fixture::hosts(),
        &JsonOptions::default(),
    );
    snapshot("trace.jsonl", &out);
}

#[test]
fn jsonl_explained_zh() {
    let opts = JsonOptions {
        explain: true,
        lang: Lang::Zh,
        ..JsonOptions::default()
    };
    snapshot(
        "trace_explain_zh.jsonl",
        &render_jsonl(&fixture::textbook(), &fixture::hosts(), &opts),
    );
}

#[test]
fn mermaid() {
    let out = render_mermaid(
        &fixture::textbook(),
        &fixture::hosts(),
        &MermaidOptions::default(),
    );
    snapshot("trace.mmd", &out);
}

#[test]
fn svg() {
    let out = render_svg(
        &fixture::textbook(),
        &fixture::hosts(),
        &SvgOptions::default(),
    );
    snapshot("trace.svg", &out);
}
