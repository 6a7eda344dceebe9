//! Detection section → boolean expression over atoms (one field test each). This step is
//! pure: it checks everything that can be wrong with a rule (modifiers, regexes, condition)
//! and leaves registering the atoms in the shared automata to the rule set.

use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;

use crate::condition::{self, Cond};
use crate::problem::{Code, Issue};
use crate::value::{self, AtomSpec, ItemSpec, Part, Pattern, Placeholders};
use crate::yaml::{Node, Pos, SNode};

/// A boolean expression over atom indices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Atom(u32),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Const(bool),
}

impl Expr {
    pub fn map_atoms(&self, f: &mut impl FnMut(u32) -> u32) -> Expr {
        match self {
            Expr::Atom(a) => Expr::Atom(f(*a)),
            Expr::Not(e) => Expr::Not(Box::new(e.map_atoms(f))),
            Expr::And(v) => Expr::And(v.iter().map(|e| e.map_atoms(f)).collect()),
            Expr::Or(v) => Expr::Or(v.iter().map(|e| e.map_atoms(f)).collect()),
            Expr::Const(b) => Expr::Const(*b),
        }
    }
}

/// One compiled field test, before registration.
#[derive(Debug, Clone)]
pub(crate) struct PreAtom {
    /// `None` for keyword (field-less) searches.
    pub field: Option<String>,
    pub spec: AtomSpec,
    /// The compiled regex for `re` atoms and for wildcard patterns that are not a plain
    /// prefix/suffix/substring.
    pub regex: Option<LazyRegex>,
}

/// A compiled detection: its atoms and the expression of its condition.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub atoms: Vec<PreAtom>,
    pub expr: Expr,
}

/// Size limits for one rule regex: enough for every SigmaHQ regex (the largest, Unicode
/// `\w{1,64}`, needs ~3 MiB of NFA), small enough that a hostile rule cannot take much memory.
const REGEX_NFA_LIMIT: usize = 8 << 20;
const REGEX_CACHE: usize = 512 << 10;

pub(crate) fn build_regex(pattern: &str, utf8: bool) -> Result<Regex, String> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .nfa_size_limit(Some(REGEX_NFA_LIMIT))
                .hybrid_cache_capacity(REGEX_CACHE)
                .utf8_empty(utf8),
        )
        .syntax(syntax::Config::new().utf8(utf8))
        .build(pattern)
        .map_err(|e| match e.syntax_error() {
            Some(se) => syntax_message(se),
            None => e.to_string(),
        })
}

/// The message of a regex syntax error: its last line names the problem (the lines above
/// repeat the pattern with a caret).
fn syntax_message(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .last()
        .unwrap_or("invalid regular expression")
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

/// A regex built on first use. Building a `meta::Regex` (NFA, prefilters, lazy DFA setup)
/// was most of the time compiling the SigmaHQ rules, and most regexes are never reached
/// (their rule's trigger needles gate them), so rules compile with a syntax check only;
/// the build happens once, on the first event that needs it, shared by all threads.
///
/// Patterns whose build can fail past the syntax (counted repetitions, which can exceed
/// the NFA size limit) are built at compile time, so every error is still reported when
/// the rules compile.
#[derive(Debug, Clone)]
pub(crate) struct LazyRegex {
    pattern: String,
    utf8: bool,
    re: std::sync::OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// A rule's regex (`re` modifier).
    pub(crate) fn new(pattern: String, utf8: bool) -> Result<LazyRegex, String> {
        let eager = pattern.contains('{');
        LazyRegex::with(pattern, utf8, eager)
    }

    /// The regex of a wildcard pattern: escaped literals, `.` and `.*`, whose NFA grows
    /// with the pattern's length only.
    pub(crate) fn glob(pattern: String, utf8: bool) -> Result<LazyRegex, String> {
        LazyRegex::with(pattern, utf8, false)
    }

    fn with(pattern: String, utf8: bool, eager: bool) -> Result<LazyRegex, String> {
        let re = std::sync::OnceLock::new();
        if eager {
            // The forward NFA is where the size limit bites, and a fraction of a full
            // build; on failure the full build gives the error its usual message.
            let nfa = thompson::Compiler::new()
                .syntax(syntax::Config::new().utf8(utf8))
                .configure(
                    thompson::Config::new()
                        .nfa_size_limit(Some(REGEX_NFA_LIMIT))
                        .utf8(utf8),
                )
                .build(&pattern);
            if nfa.is_err() {
                let _ = re.set(Some(build_regex(&pattern, utf8)?));
            }
        } else {
            syntax::parse_with(&pattern, &syntax::Config::new().utf8(utf8))
                .map_err(|e| syntax_message(&e))?;
        }
        Ok(LazyRegex { pattern, utf8, re })
    }

    /// The regex; `None` only if its build failed after a clean syntax check, which then
    /// matches nothing.
    pub(crate) fn get(&self) -> Option<&Regex> {
        self.re
            .get_or_init(|| build_regex(&self.pattern, self.utf8).ok())
            .as_ref()
    }

    pub(crate) fn is_match(&self, hay: &[u8]) -> bool {
        self.get().is_some_and(|re| re.is_match(hay))
    }

    /// Whether the regex has been built.
    #[cfg(test)]
    pub(crate) fn is_built(&self) -> bool {
        self.re.get().is_some()
    }
}

/// A regex for a wildcard pattern matched against the whole value.
#[cfg(test)]
pub(crate) fn glob_regex(pat: &Pattern, cased: bool) -> Result<Regex, String> {
    let (re, utf8) = glob_pattern(pat, cased);
    build_regex(&re, utf8)
}

/// The regex text of a wildcard pattern matched against the whole value, and whether it
/// matches UTF-8 only.
pub(crate) fn glob_pattern(pat: &Pattern, cased: bool) -> (String, bool) {
    let mut re = String::from(if cased { "(?s)^" } else { "(?is)^" });
    let mut utf8 = true;
    for part in &pat.parts {
        match part {
            Part::Any => re.push_str(".*"),
            Part::One => re.push('.'),
            Part::Lit(bytes) => match std::str::from_utf8(bytes) {
                Ok(s) => re.push_str(&regex_syntax_escape(s)),
                Err(_) => {
                    utf8 = false;
                    for b in bytes {
                        re.push_str(&format!("(?-u:\\x{b:02X})"));
                    }
                }
            },
        }
    }
    re.push('$');
    (re, utf8)
}

fn regex_syntax_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        // The meta characters of regex-syntax (what `regex::escape` escapes).
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct Ctx<'a> {
    atoms: Vec<PreAtom>,
    placeholders: &'a Placeholders,
    warnings: &'a mut Vec<Issue>,
}

impl Ctx<'_> {
    fn push_item(&mut self, item: ItemSpec) -> Result<Expr, Issue> {
        if item.atoms.is_empty() {
            return Err(Issue::new(
                Code::BadSearchIdentifier,
                item.pos,
                "a detection item needs at least one value",
            ));
        }
        let mut exprs = Vec::with_capacity(item.atoms.len());
        for spec in item.atoms {
            let spec = match (&item.field, spec) {
                // Keywords are searched anywhere in a value.
                (None, AtomSpec::Str { pat, cased }) => AtomSpec::Str {
                    pat: pat.contains(),
                    cased,
                },
                (_, s) => s,
            };
            let regex = match &spec {
                AtomSpec::Regex(r) => Some(LazyRegex::new(r.clone(), true).map_err(|e| {
                    Issue::new(
                        Code::BadRegex,
                        item.pos,
                        format!("invalid regular expression '{r}': {e}"),
                    )
                })?),
                AtomSpec::Str { pat, cased } if needs_glob(pat) => {
                    let (re, utf8) = glob_pattern(pat, *cased);
                    Some(LazyRegex::glob(re, utf8).map_err(|e| {
                        Issue::new(
                            Code::BadRegex,
                            item.pos,
                            format!("wildcard pattern cannot be compiled: {e}"),
                        )
                    })?)
                }
                _ => None,
            };
            let idx = u32::try_from(self.atoms.len()).unwrap_or(u32::MAX);
            self.atoms.push(PreAtom {
                field: item.field.clone(),
                spec,
                regex,
            });
            exprs.push(Expr::Atom(idx));
        }
        let combined = if exprs.len() == 1 {
            exprs.remove(0)
        } else if item.all {
            Expr::And(exprs)
        } else {
            Expr::Or(exprs)
        };
        Ok(if item.negate {
            Expr::Not(Box::new(combined))
        } else {
            combined
        })
    }

    fn map(&mut self, entries: &[(SNode, SNode)]) -> Result<Expr, Issue> {
        let mut items = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let key = k.scalar_text().ok_or_else(|| {
                Issue::new(
                    Code::BadSearchIdentifier,
                    k.pos,
                    format!("a field name must be a string, not {}", k.kind()),
                )
            })?;
            let item = value::compile_item(&key, k.pos, v, self.placeholders, self.warnings)?;
            items.push(self.push_item(item)?);
        }
        Ok(match items.len() {
            0 => Expr::Const(true),
            1 => items.remove(0),
            _ => Expr::And(items),
        })
    }

    fn keyword(&mut self, v: &SNode) -> Result<Expr, Issue> {
        let spec = value::keyword_atom(v)?;
        self.push_item(ItemSpec {
            field: None,
            atoms: vec![spec],
            all: false,
            negate: false,
            pos: v.pos,
        })
    }

    fn search(&mut self, name: &str, v: &SNode) -> Result<Expr, Issue> {
        match &v.node {
            Node::Map(entries) => self.map(entries),
            Node::Seq(items) => {
                if items.is_empty() {
                    return Err(Issue::new(
                        Code::BadSearchIdentifier,
                        v.pos,
                        format!("search identifier '{name}' is an empty list"),
                    ));
                }
                let mut alts = Vec::with_capacity(items.len());
                for item in items {
                    alts.push(match &item.node {
                        Node::Map(entries) => self.map(entries)?,
                        Node::Seq(_) | Node::Null => {
                            return Err(Issue::new(
                                Code::BadSearchIdentifier,
                                item.pos,
                                format!("search identifier '{name}' has a list item that is {}, expected a map or a keyword", item.kind()),
                            ));
                        }
                        _ => self.keyword(item)?,
                    });
                }
                Ok(if alts.len() == 1 {
                    alts.remove(0)
                } else {
                    Expr::Or(alts)
                })
            }
            Node::Str(_) | Node::Int(_) | Node::UInt(_) | Node::Float(_) => self.keyword(v),
            Node::Null | Node::Bool(_) => Err(Issue::new(
                Code::BadSearchIdentifier,
                v.pos,
                format!(
                    "search identifier '{name}' is {}, expected a map, a list of maps or a list of keywords",
                    v.kind()
                ),
            )),
        }
    }
}

fn needs_glob(pat: &Pattern) -> bool {
    matches!(classify(pat), Shape::Glob)
}

/// The cheapest matcher for a pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// Whole-value equality (also the empty string).
    Eq(Vec<u8>),
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    Contains(Vec<u8>),
    /// Only `*`: any present, non-null value.
    AnyValue,
    Glob,
}

pub(crate) fn classify(pat: &Pattern) -> Shape {
    match pat.parts.as_slice() {
        [] => Shape::Eq(Vec::new()),
        [Part::Lit(b)] => Shape::Eq(b.clone()),
        [Part::Lit(b), Part::Any] => Shape::Prefix(b.clone()),
        [Part::Any, Part::Lit(b)] => Shape::Suffix(b.clone()),
        [Part::Any, Part::Lit(b), Part::Any] => Shape::Contains(b.clone()),
        parts if parts.iter().all(|p| *p == Part::Any) => Shape::AnyValue,
        _ => Shape::Glob,
    }
}

/// The longest literal run of a pattern: every match contains it (a prefilter needle).
pub(crate) fn longest_literal(pat: &Pattern) -> Option<&[u8]> {
    pat.parts
        .iter()
        .filter_map(|p| match p {
            Part::Lit(b) => Some(b.as_slice()),
            _ => None,
        })
        .max_by_key(|b| b.len())
}

/// Compiles a detection map (search identifiers and `condition`).
pub(crate) fn compile_detection(
    det: &SNode,
    placeholders: &Placeholders,
    warnings: &mut Vec<Issue>,
) -> Result<Detection, Issue> {
    let Node::Map(entries) = &det.node else {
        return Err(Issue::new(
            Code::WrongType,
            det.pos,
            "'detection' must be a map",
        ));
    };
    let mut ctx = Ctx {
        atoms: Vec::new(),
        placeholders,
        warnings,
    };
    let mut idents: Vec<(String, Expr)> = Vec::new();
    let mut condition: Option<&SNode> = None;
    for (k, v) in entries {
        let name = k.scalar_text().unwrap_or_default();
        if name == "condition" {
            condition = Some(v);
            continue;
        }
        // Sigma 1 `timeframe` inside detection is obsolete and ignored (correlations replace it).
        if name == "timeframe" {
            continue;
        }
        let expr = ctx.search(&name, v)?;
        idents.push((name, expr));
    }
    let Some(cond_node) = condition else {
        return Err(Issue::new(
            Code::MissingCondition,
            det.pos,
            "the detection has no 'condition'",
        ));
    };
    let conds: Vec<&SNode> = match &cond_node.node {
        Node::Seq(items) => items.iter().collect(),
        _ => vec![cond_node],
    };
    let mut alts = Vec::with_capacity(conds.len());
    for c in conds {
        let Some(text) = c.as_str() else {
            return Err(Issue::new(
                Code::WrongType,
                c.pos,
                format!(
                    "'condition' must be a string or a list of strings, not {}",
                    c.kind()
                ),
            ));
        };
        let parsed = condition::parse(text).map_err(|e| {
            let pos = offset_pos(c.pos, text, e.offset);
            let code = if e.legacy {
                Code::LegacyAggregation
            } else {
                Code::ConditionSyntax
            };
            Issue::new(code, pos, e.message)
        })?;
        alts.push(resolve(&parsed, &idents, c.pos, text)?);
    }
    let expr = if alts.len() == 1 {
        alts.remove(0)
    } else {
        Expr::Or(alts)
    };
    Ok(Detection {
        atoms: ctx.atoms,
        expr,
    })
}

/// The position of byte `offset` of a condition that starts at `pos`; exact for plain
/// one-line scalars, which nearly all conditions are.
fn offset_pos(pos: Pos, text: &str, offset: usize) -> Pos {
    if text.contains('\n') {
        return pos;
    }
    Pos {
        line: pos.line,
        column: pos.column.saturating_add(
            u32::try_from(text[..offset.min(text.len())].chars().count()).unwrap_or(0),
        ),
    }
}

fn resolve(c: &Cond, idents: &[(String, Expr)], pos: Pos, text: &str) -> Result<Expr, Issue> {
    let lookup_pos = |name: &str| offset_pos(pos, text, text.find(name).unwrap_or(0));
    Ok(match c {
        Cond::Ident(name) => idents
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
            .ok_or_else(|| {
                let known: Vec<&str> = idents.iter().map(|(n, _)| n.as_str()).collect();
                Issue::new(
                    Code::UnknownIdentifier,
                    lookup_pos(name),
                    format!("the condition names '{name}', which is not a search identifier (defined: {})", known.join(", ")),
                )
            })?,
        Cond::Not(inner) => Expr::Not(Box::new(resolve(inner, idents, pos, text)?)),
        Cond::And(v) => Expr::And(v.iter().map(|c| resolve(c, idents, pos, text)).collect::<Result<_, _>>()?),
        Cond::Or(v) => Expr::Or(v.iter().map(|c| resolve(c, idents, pos, text)).collect::<Result<_, _>>()?),
        Cond::OneOf(p) | Cond::AllOf(p) => {
            let matched: Vec<Expr> = idents
                .iter()
                .filter(|(n, _)| condition::pattern_matches(p, n))
                .map(|(_, e)| e.clone())
                .collect();
            if matched.is_empty() {
                return Err(Issue::new(
                    Code::PatternMatchesNothing,
                    lookup_pos(p),
                    format!("'{p}' matches no search identifier"),
                ));
            }
            if matches!(c, Cond::AllOf(_)) {
                Expr::And(matched)
            } else {
                Expr::Or(matched)
            }
        }
    })
}

/// No `expand` placeholders (tests).
#[cfg(test)]
pub(crate) fn no_placeholders() -> &'static Placeholders {
    static EMPTY: std::sync::OnceLock<Placeholders> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Placeholders::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn det(y: &str) -> Result<Detection, Issue> {
        let d = parse_documents(y).expect("yaml");
        let mut w = Vec::new();
        compile_detection(
            d[0].get("detection").expect("detection"),
            no_placeholders(),
            &mut w,
        )
    }

    #[test]
    fn shapes() {
        assert_eq!(classify(&Pattern::parse("abc")), Shape::Eq(b"abc".to_vec()));
        assert_eq!(
            classify(&Pattern::parse("abc*")),
            Shape::Prefix(b"abc".to_vec())
        );
        assert_eq!(
            classify(&Pattern::parse("*abc")),
            Shape::Suffix(b"abc".to_vec())
        );
        assert_eq!(
            classify(&Pattern::parse("*abc*")),
            Shape::Contains(b"abc".to_vec())
        );
        assert_eq!(classify(&Pattern::parse("*")), Shape::AnyValue);
        assert_eq!(classify(&Pattern::parse("")), Shape::Eq(Vec::new()));
        assert_eq!(classify(&Pattern::parse("a*b")), Shape::Glob);
        assert_eq!(classify(&Pattern::parse("a?")), Shape::Glob);
        assert_eq!(
            longest_literal(&Pattern::parse("*ab*cdef?g")),
            Some(&b"cdef"[..])
        );
    }

    #[test]
    fn glob_regexes_escape_metacharacters() {
        let re = glob_regex(&Pattern::parse(r"C:\Win*\a.b?(x)"), false).expect("ok");
        assert!(re.is_match(r"c:\windows\A.Bz(X)"));
        assert!(!re.is_match(r"c:\windows\aXbz(x)"));
        let re = glob_regex(&Pattern::parse("a*b"), true).expect("ok");
        assert!(re.is_match("a\nxb"));
        assert!(!re.is_match("A\nxb"));
        // `?` is one character, not one byte.
        let re = glob_regex(&Pattern::parse("x?y"), false).expect("ok");
        assert!(re.is_match("xéy"));
        assert!(!re.is_match("xy"));
    }

    #[test]
    fn regexes_build_on_first_use_and_report_errors_at_compile_time() {
        let d =
            det("detection:\n  sel: {a|re: 'ab+c', b: 'x*y?z'}\n  condition: sel\n").expect("ok");
        let res: Vec<&LazyRegex> = d.atoms.iter().filter_map(|a| a.regex.as_ref()).collect();
        assert_eq!(res.len(), 2);
        assert!(res.iter().all(|r| !r.is_built()));
        assert!(res[0].is_match(b"xabbbc"));
        assert!(!res[0].is_match(b"ac"));
        assert!(res[1].is_match(b"X--Y!z"));
        assert!(res.iter().all(|r| r.is_built()));
        // Counted repetitions can exceed the size limit: checked at once.
        let d = det("detection:\n  sel: {a|re: '\\w{2,5}'}\n  condition: sel\n").expect("ok");
        assert!(
            d.atoms[0]
                .regex
                .as_ref()
                .is_some_and(|r| r.is_match(b"abc"))
        );
        let e = det("detection:\n  sel: {a|re: '\\w{1,5000}\\w{1,5000}'}\n  condition: sel\n")
            .expect_err("too big");
        assert_eq!(e.code, Code::BadRegex);
        // Syntax errors are found without building.
        let e = det("detection:\n  sel: {a|re: 'a(b'}\n  condition: sel\n").expect_err("syntax");
        assert_eq!(e.code, Code::BadRegex);
        assert!(e.message.contains("unclosed group"), "{}", e.message);
    }

    #[test]
    fn condition_forms() {
        let d = det("detection:\n  sel1: {a: 1}\n  sel2: {b: 2}\n  filter: {c: 3}\n  condition: 1 of sel* and not filter\n").expect("ok");
        assert_eq!(
            d.expr,
            Expr::And(vec![
                Expr::Or(vec![Expr::Atom(0), Expr::Atom(1)]),
                Expr::Not(Box::new(Expr::Atom(2)))
            ])
        );
        let d =
            det("detection:\n  a: {x: 1}\n  _b: {y: 2}\n  condition: all of them\n").expect("ok");
        assert_eq!(d.expr, Expr::And(vec![Expr::Atom(0)]));
        let d = det("detection:\n  a: {x: 1}\n  b: {y: 2}\n  condition: [a, b]\n").expect("ok");
        assert_eq!(d.expr, Expr::Or(vec![Expr::Atom(0), Expr::Atom(1)]));
    }

    #[test]
    fn search_identifier_shapes() {
        // List of maps = OR; map = AND; values = OR; keywords.
        let d = det("detection:\n  s:\n    - {a: 1, b: [2, 3]}\n    - {c: 4}\n  condition: s\n")
            .expect("ok");
        assert_eq!(
            d.expr,
            Expr::Or(vec![
                Expr::And(vec![
                    Expr::Atom(0),
                    Expr::Or(vec![Expr::Atom(1), Expr::Atom(2)])
                ]),
                Expr::Atom(3)
            ])
        );
        let d = det("detection:\n  k: [foo, 'ba*r']\n  condition: k\n").expect("ok");
        assert!(d.atoms.iter().all(|a| a.field.is_none()));
        let d = det("detection:\n  k:\n    '|all': [foo, bar]\n  condition: k\n").expect("ok");
        assert_eq!(d.expr, Expr::And(vec![Expr::Atom(0), Expr::Atom(1)]));
        let d = det("detection:\n  k: single\n  condition: k\n").expect("ok");
        assert_eq!(d.atoms.len(), 1);
    }

    #[test]
    fn errors() {
        let e =
            det("detection:\n  sel: {a: 1}\n  condition: sel and filter\n").expect_err("unknown");
        assert_eq!(e.code, Code::UnknownIdentifier);
        assert_eq!((e.pos.line, e.pos.column), (3, 22));
        let e = det("detection:\n  sel: {a: 1}\n  condition: 1 of filter*\n").expect_err("nothing");
        assert_eq!(e.code, Code::PatternMatchesNothing);
        let e = det("detection:\n  sel: {a: 1}\n").expect_err("no condition");
        assert_eq!(e.code, Code::MissingCondition);
        let e = det("detection:\n  sel: {a|re: '(?<=x)y'}\n  condition: sel\n")
            .expect_err("lookbehind");
        assert_eq!(e.code, Code::BadRegex);
        let e = det("detection:\n  sel: null\n  condition: sel\n").expect_err("null");
        assert_eq!(e.code, Code::BadSearchIdentifier);
        let e =
            det("detection:\n  sel: {a: 1}\n  condition: sel | count() > 3\n").expect_err("legacy");
        assert_eq!(e.code, Code::LegacyAggregation);
        let e = det("detection:\n  sel: {a: []}\n  condition: sel\n").expect_err("empty");
        assert_eq!(e.code, Code::BadSearchIdentifier);
    }
}
