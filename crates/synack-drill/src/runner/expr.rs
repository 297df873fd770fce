//! Reading syscall arguments: the integer, symbol and struct-field values of
//! a script's expressions, and how an expression is written back in a
//! difference.

use crate::ast::Expr;

pub(super) fn int_of(e: &Expr) -> Option<i64> {
    match e {
        Expr::Int(v) => Some(*v),
        Expr::Array(v) if v.len() == 1 => int_of(&v[0]),
        _ => None,
    }
}

/// An IP_TOS / IPV6_TCLASS value: a number or one of the `IPTOS_*` names of
/// FreeBSD's and Linux's `<netinet/ip.h>` (RFC 2474 4.2.2.1 class selectors,
/// RFC 2597 AF, RFC 3246 EF, RFC 1349 TOS bits).
pub(super) fn tos_of(e: &Expr) -> Option<i64> {
    if let Some(v) = int_of(e) {
        return Some(v);
    }
    let name = symbol_of(e)?;
    let dscp = |d: i64| Some(d << 2);
    match name {
        "IPTOS_LOWDELAY" => Some(0x10),
        "IPTOS_THROUGHPUT" => Some(0x08),
        "IPTOS_RELIABILITY" => Some(0x04),
        "IPTOS_MINCOST" => Some(0x02),
        "IPTOS_DSCP_EF" => dscp(46),
        _ => {
            let rest = name.strip_prefix("IPTOS_DSCP_")?;
            if let Some(n) = rest.strip_prefix("CS") {
                // RFC 2474 4.2.2.1: class selector n is DSCP n << 3.
                let n: i64 = n.parse().ok().filter(|n| (0..8).contains(n))?;
                dscp(n << 3)
            } else if let Some(xy) = rest.strip_prefix("AF") {
                // RFC 2597 6: AFxy is DSCP 8x + 2y.
                let b = xy.as_bytes();
                let (x, y) = match b {
                    [x @ b'1'..=b'4', y @ b'1'..=b'3'] => {
                        (i64::from(x - b'0'), i64::from(y - b'0'))
                    }
                    _ => return None,
                };
                dscp(8 * x + 2 * y)
            } else {
                None
            }
        }
    }
}

pub(super) fn has_symbol(e: &Expr, name: &str) -> bool {
    match e {
        Expr::Symbol(s) => s == name,
        Expr::BitOr(v) | Expr::Array(v) | Expr::Struct(v) => v.iter().any(|x| has_symbol(x, name)),
        _ => false,
    }
}

pub(super) fn symbol_of(e: &Expr) -> Option<&str> {
    match e {
        Expr::Symbol(s) => Some(s),
        Expr::Array(v) if v.len() == 1 => symbol_of(&v[0]),
        _ => None,
    }
}

pub(super) fn fmt_expr(e: &Expr) -> String {
    match e {
        Expr::Ellipsis => "...".into(),
        Expr::Int(v) => v.to_string(),
        Expr::Symbol(s) => s.clone(),
        Expr::Str(s) => format!("\"{s}\""),
        Expr::StrPrefix(s) => format!("\"{s}\"..."),
        Expr::BitOr(v) => v.iter().map(fmt_expr).collect::<Vec<_>>().join(" | "),
        Expr::Array(v) => format!(
            "[{}]",
            v.iter().map(fmt_expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Struct(v) => format!(
            "{{{}}}",
            v.iter().map(fmt_expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Field { lhs, rhs } => format!("{}={}", fmt_expr(lhs), fmt_expr(rhs)),
        Expr::Call { name, args } => {
            format!(
                "{name}({})",
                args.iter().map(fmt_expr).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// A struct field's integer value, e.g. `l_onoff` in `{l_onoff=1, l_linger=0}`.
pub(super) fn struct_field(e: &Expr, names: &[&str]) -> Option<i64> {
    let Expr::Struct(fields) = e else { return None };
    fields.iter().find_map(|f| match f {
        Expr::Field { lhs, rhs } => match lhs.as_ref() {
            Expr::Symbol(n) if names.contains(&n.as_str()) => int_of(rhs),
            _ => None,
        },
        _ => None,
    })
}
