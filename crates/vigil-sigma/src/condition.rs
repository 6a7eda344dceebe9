//! The condition grammar, parsed by hand (recursive descent with precedence climbing):
//!
//! ```text
//! expr     := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | primary
//! primary  := "(" expr ")" | ("1" | "any" | "all") "of" pattern | identifier
//! ```
//!
//! Precedence from loosest to tightest: `or`, `and`, `not`, `x of`, parentheses, as pySigma.
//! A hand-written parser keeps the error positions exact and costs ~150 lines; no parser
//! combinator crate is needed for six token kinds.

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Ident(String),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// `1 of pattern` / `any of pattern` (`them` is the pattern `them`).
    OneOf(String),
    /// `all of pattern`.
    AllOf(String),
}

/// A syntax error: byte offset in the condition and message.
#[derive(Debug, Clone, PartialEq)]
pub struct CondError {
    pub offset: usize,
    pub message: String,
    pub legacy: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
    Pipe,
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>, CondError> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            b'|' => {
                // Everything after a pipe is legacy aggregation syntax; stop lexing there.
                out.push((i, Tok::Pipe));
                break;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'*' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'-' | b'*'))
                {
                    i += 1;
                }
                out.push((start, Tok::Word(s[start..i].to_owned())));
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(CondError {
                    offset: i,
                    message: format!("unexpected character '{ch}' in condition"),
                    legacy: false,
                });
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    len: usize,
    _src: &'a str,
}

fn is_keyword(w: &str) -> bool {
    matches!(w, "and" | "or" | "not" | "of")
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.len, |(o, _)| *o)
    }
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn error<T>(&self, message: impl Into<String>) -> Result<T, CondError> {
        Err(CondError {
            offset: self.offset(),
            message: message.into(),
            legacy: false,
        })
    }

    fn expr(&mut self, depth: usize) -> Result<Cond, CondError> {
        if depth > 64 {
            return self.error("condition nests more than 64 levels");
        }
        let mut items = vec![self.and(depth)?];
        while self.peek_word("or") {
            self.at += 1;
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Cond, CondError> {
        let mut items = vec![self.unary(depth)?];
        while self.peek_word("and") {
            self.at += 1;
            items.push(self.unary(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Cond, CondError> {
        if self.peek_word("not") {
            self.at += 1;
            if depth > 64 {
                return self.error("condition nests more than 64 levels");
            }
            return Ok(Cond::Not(Box::new(self.unary(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Cond, CondError> {
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                self.at += 1;
                let inner = self.expr(depth + 1)?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.error("expected ')'");
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Tok::Word(w)) if matches!(w.as_str(), "1" | "any" | "all")
                && matches!(self.toks.get(self.at + 1), Some((_, Tok::Word(x))) if x == "of") =>
            {
                self.at += 2;
                match self.peek().cloned() {
                    Some(Tok::Word(p)) if !is_keyword(&p) => {
                        self.at += 1;
                        Ok(if w == "all" {
                            Cond::AllOf(p)
                        } else {
                            Cond::OneOf(p)
                        })
                    }
                    _ => self.error(format!("expected a pattern after '{w} of'")),
                }
            }
            Some(Tok::Word(w)) if is_keyword(&w) => {
                self.error(format!("expected a search identifier, found '{w}'"))
            }
            Some(Tok::Word(w)) => {
                if w.contains('*') {
                    return self.error(format!(
                        "wildcard identifier '{w}' is only allowed after '1 of' or 'all of'"
                    ));
                }
                self.at += 1;
                Ok(Cond::Ident(w))
            }
            Some(Tok::RParen) => self.error("unexpected ')'"),
            Some(Tok::Pipe) => Err(CondError {
                offset: self.offset(),
                message: "legacy aggregation ('| count() ...', '| near') is not Sigma 2; write a correlation rule".into(),
                legacy: true,
            }),
            None => self.error("condition ends too early"),
        }
    }
}

/// Parses one condition string.
pub fn parse(s: &str) -> Result<Cond, CondError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err(CondError {
            offset: 0,
            message: "empty condition".into(),
            legacy: false,
        });
    }
    let mut p = Parser {
        toks,
        at: 0,
        len: s.len(),
        _src: s,
    };
    let c = p.expr(0)?;
    match p.peek() {
        None => Ok(c),
        Some(Tok::Pipe) => Err(CondError {
            offset: p.offset(),
            message: "legacy aggregation ('| count() ...', '| near') is not Sigma 2; write a correlation rule".into(),
            legacy: true,
        }),
        Some(Tok::Word(w)) => {
            let w = w.clone();
            p.error(format!("unexpected '{w}' (missing 'and' or 'or'?)"))
        }
        Some(_) => p.error("unexpected ')'"),
    }
}

/// True when `name` matches a selector pattern (`*` = any characters, whole name).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == "them" {
        return !name.starts_with('_');
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Cond {
        Cond::Ident(s.into())
    }

    #[test]
    fn precedence_not_and_or() {
        assert_eq!(
            parse("a or b and not c").expect("ok"),
            Cond::Or(vec![
                id("a"),
                Cond::And(vec![id("b"), Cond::Not(Box::new(id("c")))])
            ])
        );
        assert_eq!(
            parse("not a and b").expect("ok"),
            Cond::And(vec![Cond::Not(Box::new(id("a"))), id("b")])
        );
        assert_eq!(
            parse("(a or b) and c").expect("ok"),
            Cond::And(vec![Cond::Or(vec![id("a"), id("b")]), id("c")])
        );
        assert_eq!(
            parse("not not a").expect("ok"),
            Cond::Not(Box::new(Cond::Not(Box::new(id("a")))))
        );
        assert_eq!(
            parse("a and b and c").expect("ok"),
            Cond::And(vec![id("a"), id("b"), id("c")])
        );
    }

    #[test]
    fn selectors() {
        assert_eq!(parse("1 of sel*").expect("ok"), Cond::OneOf("sel*".into()));
        assert_eq!(
            parse("any of sel*").expect("ok"),
            Cond::OneOf("sel*".into())
        );
        assert_eq!(
            parse("all of them").expect("ok"),
            Cond::AllOf("them".into())
        );
        assert_eq!(
            parse("all of sel_* and not 1 of filter_*").expect("ok"),
            Cond::And(vec![
                Cond::AllOf("sel_*".into()),
                Cond::Not(Box::new(Cond::OneOf("filter_*".into())))
            ])
        );
        // An identifier named "all" or "1" still parses without "of".
        assert_eq!(parse("all").expect("ok"), id("all"));
    }

    #[test]
    fn identifiers_with_dashes_and_digits() {
        assert_eq!(
            parse("sel-1 and 2nd_sel").expect("ok"),
            Cond::And(vec![id("sel-1"), id("2nd_sel")])
        );
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse("a and (b or c").expect_err("unclosed");
        assert_eq!(e.offset, 13);
        assert_eq!(e.message, "expected ')'");
        let e = parse("a b").expect_err("juxtaposed");
        assert_eq!(e.offset, 2);
        let e = parse("a and").expect_err("dangling");
        assert_eq!(e.message, "condition ends too early");
        let e = parse("sel | count() > 5").expect_err("legacy");
        assert!(e.legacy);
        assert_eq!(parse("sel*").expect_err("wildcard").offset, 0);
        assert_eq!(parse("a & b").expect_err("char").offset, 2);
        assert!(parse("").is_err());
        assert!(parse("1 of").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&s).is_err());
        let s = format!("{}a", "not ".repeat(10_000));
        assert!(parse(&s).is_err());
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("sel*", "selection"));
        assert!(pattern_matches("*_img", "sel_img"));
        assert!(!pattern_matches("sel*", "filter"));
        assert!(pattern_matches("them", "filter"));
        assert!(!pattern_matches("them", "_private"));
        assert!(pattern_matches("a*b*c", "axxbyyc"));
        assert!(!pattern_matches("sel", "selection"));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "[a-z01 ()|*_-]{0,60}") {
            let _ = parse(&s);
        }

        #[test]
        fn printed_trees_reparse(ids in proptest::collection::vec("[a-z]{1,4}", 1..6), ops in proptest::collection::vec(0u8..3, 0..6)) {
            let ids: Vec<String> = ids.into_iter().filter(|i| !is_keyword(i)).collect();
            proptest::prop_assume!(!ids.is_empty());
            let mut s = ids[0].clone();
            for (i, id) in ids.iter().enumerate().skip(1) {
                let op = ops.get(i).copied().unwrap_or(0);
                s = match op {
                    0 => format!("{s} and {id}"),
                    1 => format!("({s}) or not {id}"),
                    _ => format!("not ({s}) and {id}"),
                };
            }
            proptest::prop_assert!(parse(&s).is_ok(), "{}", s);
        }
    }
}
