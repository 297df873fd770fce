//! The small part of the POSIX shell language the scripts' backtick commands
//! and the corpus's helper files (`defaults.sh`) use: words with single and
//! double quotes, `\` line continuations, `#` comments, `;`, `&&` and
//! newlines between commands, `||` before one that runs only if the one
//! before failed, `|` between the stages of a pipeline, redirections
//! (`&>` too), and `$((...))` integer arithmetic. Nothing runs: the runner
//! maps each command onto the stack.

/// One command of a pipeline: its words, and where its standard output is
/// redirected to (a file other than `/dev/null`), if anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Simple {
    pub(super) words: Vec<String>,
    pub(super) stdout_to: Option<String>,
    /// It follows `||`: it runs only if the pipeline before it failed.
    pub(super) unless_ok: bool,
}

/// Commands joined by `|`.
pub(super) type Pipeline = Vec<Simple>;

/// The longest command text read (the corpus's longest helper is 2 KB).
const MAX_TEXT: usize = 64 * 1024;

/// Splits `text` into pipelines, in order; an error names what this subset
/// does not read (an unterminated quote, arithmetic it cannot evaluate).
pub(super) fn parse(text: &str) -> Result<Vec<Pipeline>, String> {
    if text.len() > MAX_TEXT {
        return Err(format!("a command of {} bytes", text.len()));
    }
    let mut out: Vec<Pipeline> = Vec::new();
    let mut pipe: Pipeline = Vec::new();
    let mut cmd = Simple::default();
    let mut redirect_next = false;
    let mut chars = text.chars().peekable();
    let mut word: Option<String> = None;
    // Ends the current word: it becomes a word or a redirection target.
    let end_word = |word: &mut Option<String>, cmd: &mut Simple, redirect_next: &mut bool| {
        if let Some(w) = word.take() {
            if std::mem::take(redirect_next) {
                if w != "/dev/null" {
                    cmd.stdout_to = Some(w);
                }
            } else {
                cmd.words.push(w);
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    word.get_or_insert_with(String::new).push(n);
                }
            }
            '#' if word.is_none() => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                end_word(&mut word, &mut cmd, &mut redirect_next);
                finish(&mut out, &mut pipe, &mut cmd, true);
            }
            '\'' | '"' => {
                let q = quoted(&mut chars, c)?;
                word.get_or_insert_with(String::new).push_str(&q);
            }
            '$' if chars.peek() == Some(&'(') => {
                let a = arithmetic(&mut chars)?;
                word.get_or_insert_with(String::new).push_str(&a);
            }
            ' ' | '\t' => end_word(&mut word, &mut cmd, &mut redirect_next),
            '\n' | ';' => {
                end_word(&mut word, &mut cmd, &mut redirect_next);
                finish(&mut out, &mut pipe, &mut cmd, true);
            }
            '&' if chars.peek() == Some(&'&') => {
                chars.next();
                end_word(&mut word, &mut cmd, &mut redirect_next);
                finish(&mut out, &mut pipe, &mut cmd, true);
            }
            '&' if chars.peek() == Some(&'>') => {
                // `&>`: standard output and error to the same file.
                chars.next();
                end_word(&mut word, &mut cmd, &mut redirect_next);
                redirect_next = true;
            }
            '|' if chars.peek() == Some(&'|') => {
                chars.next();
                end_word(&mut word, &mut cmd, &mut redirect_next);
                finish(&mut out, &mut pipe, &mut cmd, true);
                cmd.unless_ok = true;
            }
            '|' => {
                end_word(&mut word, &mut cmd, &mut redirect_next);
                finish(&mut out, &mut pipe, &mut cmd, false);
            }
            '>' => {
                // `N>` redirects descriptor N: the digit was no word.
                let fd = match word.as_deref() {
                    Some("1" | "2") => word.take(),
                    _ => {
                        end_word(&mut word, &mut cmd, &mut redirect_next);
                        None
                    }
                };
                if chars.peek() == Some(&'&') {
                    // `2>&1`: a descriptor copy, no file.
                    chars.next();
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                } else if fd.as_deref() == Some("2") {
                    // Standard error to a file: its name is read and dropped.
                    skip_blanks(&mut chars);
                    while chars.peek().is_some_and(|c| !c.is_whitespace()) {
                        chars.next();
                    }
                } else {
                    redirect_next = true;
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut cmd, &mut redirect_next);
    finish(&mut out, &mut pipe, &mut cmd, true);
    Ok(out)
}

type Chars<'s> = std::iter::Peekable<std::str::Chars<'s>>;

/// The rest of a quoted string opened by `quote`: single quotes keep every
/// character; double quotes take `\` escapes and expand arithmetic.
fn quoted(chars: &mut Chars<'_>, quote: char) -> Result<String, String> {
    let mut q = String::new();
    loop {
        match chars.next() {
            Some(c) if c == quote => break,
            Some('\\') if quote == '"' => q.extend(chars.next()),
            Some(n) => q.push(n),
            None => return Err(format!("an unterminated {quote} quote")),
        }
    }
    if quote == '"' {
        q = expand(&q)?;
    }
    Ok(q)
}

/// An unquoted `$(...)` (the `$` read): its text up to the matching `)`,
/// arithmetic expanded.
fn arithmetic(chars: &mut Chars<'_>) -> Result<String, String> {
    let mut rest = String::from("$");
    let mut depth = 0i32;
    for n in chars.by_ref() {
        rest.push(n);
        match n {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    expand(&rest)
}

fn skip_blanks(chars: &mut Chars<'_>) {
    while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
        chars.next();
    }
}

/// Ends the current command; with `end_pipeline`, the pipeline too.
fn finish(out: &mut Vec<Pipeline>, pipe: &mut Pipeline, cmd: &mut Simple, end_pipeline: bool) {
    let c = std::mem::take(cmd);
    if !c.words.is_empty() || c.stdout_to.is_some() {
        pipe.push(c);
    }
    if end_pipeline && !pipe.is_empty() {
        out.push(std::mem::take(pipe));
    }
}

/// Expands the `$((...))` arithmetic in a (double-quoted) word; other `$`
/// expansions stay as written.
fn expand(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("$((") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(j) = closing(after) else {
            return Err(format!("arithmetic `{rest}`"));
        };
        let v = Arith::new(&after[..j])
            .eval()
            .ok_or_else(|| format!("arithmetic `{}`", &after[..j]))?;
        out.push_str(&v.to_string());
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Where the `))` closing an arithmetic expansion starts in `s` (the text
/// after `$((`), counting the parentheses inside.
fn closing(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return s[i..].starts_with("))").then_some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Integer arithmetic: `+ - * / %`, parentheses, decimal and hex numbers.
/// Overflow and division by zero are errors (`None`).
struct Arith<'s> {
    s: &'s [u8],
    i: usize,
    depth: u32,
}

impl<'s> Arith<'s> {
    fn new(s: &'s str) -> Self {
        Arith {
            s: s.as_bytes(),
            i: 0,
            depth: 0,
        }
    }

    fn eval(mut self) -> Option<i64> {
        let v = self.sum()?;
        self.blanks();
        (self.i == self.s.len()).then_some(v)
    }

    fn blanks(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.blanks();
        self.s.get(self.i).copied()
    }

    fn sum(&mut self) -> Option<i64> {
        let mut v = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if op == b'+' {
                v.checked_add(r)?
            } else {
                v.checked_sub(r)?
            };
        }
        Some(v)
    }

    fn product(&mut self) -> Option<i64> {
        let mut v = self.atom()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.i += 1;
            let r = self.atom()?;
            v = match op {
                b'*' => v.checked_mul(r)?,
                b'/' => v.checked_div(r)?,
                _ => v.checked_rem(r)?,
            };
        }
        Some(v)
    }

    fn atom(&mut self) -> Option<i64> {
        match self.peek()? {
            b'(' => {
                self.depth += 1;
                if self.depth > 32 {
                    return None;
                }
                self.i += 1;
                let v = self.sum()?;
                (self.peek()? == b')').then_some(())?;
                self.i += 1;
                self.depth -= 1;
                Some(v)
            }
            b'-' => {
                self.i += 1;
                self.atom()?.checked_neg()
            }
            _ => {
                let start = self.i;
                while self.s.get(self.i).is_some_and(u8::is_ascii_alphanumeric) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                match t.strip_prefix("0x") {
                    Some(h) => i64::from_str_radix(h, 16).ok(),
                    None => t.parse().ok(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<Vec<String>>> {
        parse(text)
            .expect("parses")
            .into_iter()
            .map(|p| p.into_iter().map(|c| c.words).collect())
            .collect()
    }

    #[test]
    fn quotes_arithmetic_and_continuations() {
        let w = words(
            "sysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"\n\
             ../common/set_sysctls.py /proc/a=1 \\\n   /proc/b=2",
        );
        assert_eq!(
            w,
            vec![
                vec![vec![
                    "sysctl",
                    "-q",
                    "net.ipv4.tcp_rmem=4096 540000 15728640"
                ]],
                vec![vec!["../common/set_sysctls.py", "/proc/a=1", "/proc/b=2"]],
            ]
        );
    }

    #[test]
    fn comments_redirections_and_pipes() {
        let p = parse(
            "sysctl -q net.ipv4.tcp_ecn=1  # fully enabled\n\
             ip tcp_metrics flush all > /dev/null 2>&1\n\
             echo 3 > /sys/x; tc qdisc delete dev tun0 root 2>/dev/null && a | grep -c X",
        )
        .expect("parses");
        assert_eq!(p.len(), 5);
        assert_eq!(p[0][0].words, ["sysctl", "-q", "net.ipv4.tcp_ecn=1"]);
        assert_eq!(p[1][0].words, ["ip", "tcp_metrics", "flush", "all"]);
        assert_eq!(p[1][0].stdout_to, None);
        assert_eq!(p[2][0].words, ["echo", "3"]);
        assert_eq!(p[2][0].stdout_to.as_deref(), Some("/sys/x"));
        assert_eq!(
            p[3][0].words,
            ["tc", "qdisc", "delete", "dev", "tun0", "root"]
        );
        assert_eq!(p[4].len(), 2);
        assert_eq!(p[4][1].words, ["grep", "-c", "X"]);
    }

    #[test]
    fn or_lists_and_both_outputs_redirected() {
        let p =
            parse("sysctl -q a=0 b=10 &> /dev/null ||\\\n  ip tcp_metrics flush all &> /dev/null")
                .expect("parses");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0][0].words, ["sysctl", "-q", "a=0", "b=10"]);
        assert!(!p[0][0].unless_ok);
        assert_eq!(p[1][0].words, ["ip", "tcp_metrics", "flush", "all"]);
        assert!(p[1][0].unless_ok);
        assert_eq!(p[1][0].stdout_to, None);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse("echo \"open").is_err());
        assert!(parse("echo \"$((1/0))\"").is_err());
        assert!(parse("echo \"$((99999999999*99999999999))\"").is_err());
        assert_eq!(expand("a$((0x10 + 2*(3-1)))b"), Ok("a20b".into()));
    }
}
