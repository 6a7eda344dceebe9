//! Sigma values: strings with wildcards (pySigma's `SigmaString` escaping), and the value
//! modifier pipeline that turns `field|mod|mod: values` into typed atom specifications.
//!
//! The modifiers are applied left to right, as pySigma does: `wide|base64offset|contains`
//! first encodes the value as UTF-16LE, then base64-encodes it at three offsets, then wraps
//! each variant in wildcards.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ipnet::IpNet;

use crate::problem::{Code, Issue};
use crate::yaml::{Node, Pos, SNode};

/// One piece of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes (UTF-8 unless an encoding modifier produced UTF-16 or the like).
    Lit(Vec<u8>),
    /// `*`: any sequence, possibly empty.
    Any,
    /// `?`: exactly one character.
    One,
}

/// A Sigma string: literal parts and wildcards; adjacent literals are merged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern {
    pub parts: Vec<Part>,
}

impl Pattern {
    /// Parses a rule string with pySigma's escaping: `\` escapes only `*`, `?` and `\`; a `\`
    /// before any other character (or at the end) is a literal backslash.
    pub fn parse(s: &str) -> Pattern {
        let mut p = Pattern::default();
        let mut escaped = false;
        let mut buf = [0u8; 4];
        for c in s.chars() {
            if escaped {
                if !matches!(c, '*' | '?' | '\\') {
                    p.push_lit(b"\\");
                }
                p.push_lit(c.encode_utf8(&mut buf).as_bytes());
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '*' {
                p.parts.push(Part::Any);
            } else if c == '?' {
                p.parts.push(Part::One);
            } else {
                p.push_lit(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        if escaped {
            p.push_lit(b"\\");
        }
        p
    }

    pub fn literal(bytes: &[u8]) -> Pattern {
        let mut p = Pattern::default();
        p.push_lit(bytes);
        p
    }

    fn push_lit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(Part::Lit(last)) = self.parts.last_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.parts.push(Part::Lit(bytes.to_vec()));
        }
    }

    fn push(&mut self, part: Part) {
        match part {
            Part::Lit(b) => self.push_lit(&b),
            other => self.parts.push(other),
        }
    }

    pub fn has_wildcards(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Lit(_)))
    }

    /// The bytes of a pattern without wildcards.
    pub fn literal_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Lit(b) = p {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// `contains`: `*v*`, without doubling a wildcard already there.
    pub fn contains(mut self) -> Pattern {
        if !matches!(self.parts.first(), Some(Part::Any)) {
            self.parts.insert(0, Part::Any);
        }
        if !matches!(self.parts.last(), Some(Part::Any)) {
            self.parts.push(Part::Any);
        }
        self
    }

    pub fn startswith(mut self) -> Pattern {
        if !matches!(self.parts.last(), Some(Part::Any)) {
            self.parts.push(Part::Any);
        }
        self
    }

    pub fn endswith(mut self) -> Pattern {
        if !matches!(self.parts.first(), Some(Part::Any)) {
            self.parts.insert(0, Part::Any);
        }
        self
    }

    /// Replaces every literal part by `f(part)`, keeping the wildcards.
    pub fn map_literals(&self, f: impl Fn(&[u8]) -> Vec<u8>) -> Pattern {
        let mut out = Pattern::default();
        for p in &self.parts {
            match p {
                Part::Lit(b) => out.push_lit(&f(b)),
                other => out.push(other.clone()),
            }
        }
        out
    }
}

/// Comparison operators of `gt`/`gte`/`lt`/`lte` (and equality for time parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

impl CmpOp {
    pub fn test(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
            CmpOp::Eq => a == b,
        }
    }
}

/// Where a field reference or string operator anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrOp {
    Eq,
    Prefix,
    Suffix,
    Contains,
}

/// Parts of a timestamp the time modifiers compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// What one value of a detection item tests.
#[derive(Debug, Clone, PartialEq)]
pub enum AtomSpec {
    /// String match with wildcards; case-insensitive unless `cased`.
    Str {
        pat: Pattern,
        cased: bool,
    },
    /// A regular expression (flags already inlined), searched anywhere in the value.
    Regex(String),
    Cidr(Vec<IpNet>),
    Cmp {
        op: CmpOp,
        value: f64,
    },
    Time {
        part: TimePart,
        op: CmpOp,
        value: f64,
    },
    /// `exists: true|false`.
    Exists(bool),
    /// `null`: the field is absent, null or empty.
    Null,
    /// `fieldref`: compares with another field of the same event.
    FieldRef {
        field: String,
        op: StrOp,
        cased: bool,
    },
}

/// One detection item after its modifiers: a field (none for keywords), its values as atoms,
/// how the values combine, and whether the whole item is negated (`neq`).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSpec {
    pub field: Option<String>,
    pub atoms: Vec<AtomSpec>,
    pub all: bool,
    pub negate: bool,
    pub pos: Pos,
}

/// User-supplied values for `%name%` placeholders of the `expand` modifier.
pub type Placeholders = std::collections::HashMap<String, Vec<String>>;

/// The most alternatives one value may expand to (windash products, expand lists).
pub const MAX_ALTERNATIVES: usize = 4096;

/// The most values one detection item may have after expansion. Literal lists are cheap
/// (they share one automaton), so this is far above SigmaHQ's largest list (4,432 hashes).
pub const MAX_VALUES: usize = 100_000;

#[derive(Debug, Clone)]
enum Val {
    Pat { pat: Pattern, raw: Option<String> },
    Num { text: String, num: f64 },
    Bool(bool),
    Null,
    Re(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    Re,
    Cidr,
    Cmp(CmpOp),
    Exists,
    FieldRef,
    Time(TimePart, CmpOp),
}

/// Builds the item for `key: value` of a detection map (`key` is `Field|mod|...`, possibly
/// with an empty field for keyword `|all` lists).
pub(crate) fn compile_item(
    key: &str,
    key_pos: Pos,
    value: &SNode,
    placeholders: &Placeholders,
    warnings: &mut Vec<Issue>,
) -> Result<ItemSpec, Issue> {
    let mut segs = key.split('|');
    let field = segs.next().unwrap_or("").to_owned();
    let modifiers: Vec<&str> = segs.collect();
    let values: Vec<&SNode> = match &value.node {
        Node::Seq(items) => items.iter().collect(),
        _ => vec![value],
    };
    let mut vals = Vec::with_capacity(values.len());
    for v in &values {
        vals.push(match &v.node {
            Node::Str(s) => Val::Pat {
                pat: Pattern::parse(s),
                raw: Some(s.clone()),
            },
            Node::Int(i) => Val::Num {
                text: i.to_string(),
                num: *i as f64,
            },
            Node::UInt(u) => Val::Num {
                text: u.to_string(),
                num: *u as f64,
            },
            Node::Float(f) => Val::Num {
                text: f.to_string(),
                num: *f,
            },
            Node::Bool(b) => Val::Bool(*b),
            Node::Null => Val::Null,
            Node::Seq(_) | Node::Map(_) => {
                return Err(Issue::new(
                    Code::BadSearchIdentifier,
                    v.pos,
                    format!("the value of '{key}' contains {}, expected strings, numbers, booleans or null", v.kind()),
                ));
            }
        });
    }
    let field = if field.is_empty() { None } else { Some(field) };
    apply_modifiers(
        field,
        &modifiers,
        vals,
        key,
        key_pos,
        placeholders,
        warnings,
    )
}

/// A keyword (field-less) value: matched as a substring of any string of the event.
pub(crate) fn keyword_atom(v: &SNode) -> Result<AtomSpec, Issue> {
    let text = match &v.node {
        Node::Str(s) => {
            return Ok(AtomSpec::Str {
                pat: Pattern::parse(s).contains(),
                cased: false,
            });
        }
        Node::Int(i) => i.to_string(),
        Node::UInt(u) => u.to_string(),
        Node::Float(f) => f.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Null | Node::Seq(_) | Node::Map(_) => {
            return Err(Issue::new(
                Code::BadSearchIdentifier,
                v.pos,
                format!(
                    "a keyword list item is {}, expected a string or a number",
                    v.kind()
                ),
            ));
        }
    };
    Ok(AtomSpec::Str {
        pat: Pattern::literal(text.as_bytes()).contains(),
        cased: false,
    })
}

fn apply_modifiers(
    field: Option<String>,
    modifiers: &[&str],
    mut vals: Vec<Val>,
    key: &str,
    pos: Pos,
    placeholders: &Placeholders,
    warnings: &mut Vec<Issue>,
) -> Result<ItemSpec, Issue> {
    let err = |code: Code, msg: String| Issue::new(code, pos, msg);
    let mut kind = Kind::Plain;
    let mut all = false;
    let mut negate = false;
    let mut cased = false;
    let mut str_op = StrOp::Eq;
    let (mut re_i, mut re_m, mut re_s) = (false, false, false);

    for &m in modifiers {
        match m {
            "contains" | "startswith" | "endswith" => {
                let op = match m {
                    "contains" => StrOp::Contains,
                    "startswith" => StrOp::Prefix,
                    _ => StrOp::Suffix,
                };
                str_op = if str_op == StrOp::Eq || str_op == op {
                    op
                } else {
                    StrOp::Contains
                };
                if kind == Kind::Plain {
                    for v in &mut vals {
                        to_pattern(v);
                        // The raw text stays: a later `fieldref` needs the plain name.
                        if let Val::Pat { pat, .. } = v {
                            let p = std::mem::take(pat);
                            *pat = match op {
                                StrOp::Contains => p.contains(),
                                StrOp::Prefix => p.startswith(),
                                _ => p.endswith(),
                            };
                        }
                    }
                } else if kind == Kind::Re {
                    for v in &mut vals {
                        if let Val::Re(r) = v {
                            match op {
                                StrOp::Prefix => *r = format!("^(?:{r})"),
                                StrOp::Suffix => *r = format!("(?:{r})$"),
                                _ => {}
                            }
                        }
                    }
                } else if kind != Kind::FieldRef {
                    return Err(err(
                        Code::BadModifierCombination,
                        format!("'{m}' cannot follow the modifiers before it in '{key}'"),
                    ));
                }
            }
            "all" => all = true,
            "neq" => negate = true,
            "cased" => cased = true,
            "base64" | "base64offset" => {
                let mut out = Vec::new();
                for v in vals {
                    let v = match v {
                        Val::Num { text, .. } => Val::Pat {
                            pat: Pattern::literal(text.as_bytes()),
                            raw: None,
                        },
                        v => v,
                    };
                    let Val::Pat { pat, .. } = v else {
                        return Err(err(
                            Code::BadModifierCombination,
                            format!("'{m}' needs string values in '{key}'"),
                        ));
                    };
                    if pat.has_wildcards() {
                        return Err(err(
                            Code::BadModifierCombination,
                            format!("'{m}' cannot encode a value with wildcards in '{key}'"),
                        ));
                    }
                    let bytes = pat.literal_bytes();
                    if m == "base64" {
                        out.push(Val::Pat {
                            pat: Pattern::literal(B64.encode(&bytes).as_bytes()),
                            raw: None,
                        });
                    } else {
                        for variant in base64_offsets(&bytes) {
                            out.push(Val::Pat {
                                pat: Pattern::literal(variant.as_bytes()),
                                raw: None,
                            });
                        }
                    }
                }
                vals = out;
            }
            "wide" | "utf16le" | "utf16be" | "utf16" => {
                for v in &mut vals {
                    to_pattern(v);
                    let Val::Pat { pat, raw } = v else {
                        return Err(err(
                            Code::BadModifierCombination,
                            format!("'{m}' needs string values in '{key}'"),
                        ));
                    };
                    let encoded = pat.map_literals(|b| utf16(b, m == "utf16be"));
                    *pat = if m == "utf16" {
                        let mut p = Pattern::literal(&[0xFF, 0xFE]);
                        for part in encoded.parts {
                            p.push(part);
                        }
                        p
                    } else {
                        encoded
                    };
                    *raw = None;
                }
            }
            "windash" => {
                let mut out = Vec::new();
                for v in vals {
                    let mut v = v;
                    to_pattern(&mut v);
                    let Val::Pat { pat, .. } = v else {
                        return Err(err(
                            Code::BadModifierCombination,
                            format!("'windash' needs string values in '{key}'"),
                        ));
                    };
                    let variants = windash(&pat).ok_or_else(|| {
                        err(
                            Code::TooManyAlternatives,
                            format!("'windash' expands a value of '{key}' to more than {MAX_ALTERNATIVES} variants"),
                        )
                    })?;
                    out.extend(variants.into_iter().map(|pat| Val::Pat { pat, raw: None }));
                }
                vals = out;
            }
            "re" => {
                if kind != Kind::Plain {
                    return Err(err(
                        Code::BadModifierCombination,
                        format!("'re' cannot follow the modifiers before it in '{key}'"),
                    ));
                }
                for v in &mut vals {
                    let re = match v {
                        Val::Pat { raw: Some(raw), .. } => raw.clone(),
                        Val::Num { text, .. } => text.clone(),
                        _ => {
                            return Err(err(
                                Code::BadModifierCombination,
                                format!(
                                    "'re' needs plain string values in '{key}' (no modifier may transform them first)"
                                ),
                            ));
                        }
                    };
                    *v = Val::Re(re);
                }
                kind = Kind::Re;
            }
            "i" | "ignorecase" | "m" | "multiline" | "s" | "dotall" => {
                if kind != Kind::Re {
                    return Err(err(
                        Code::BadModifierCombination,
                        format!("regular expression flag '{m}' without 're' before it in '{key}'"),
                    ));
                }
                match m {
                    "i" | "ignorecase" => re_i = true,
                    "m" | "multiline" => re_m = true,
                    _ => re_s = true,
                }
            }
            "cidr" => kind = set_kind(kind, Kind::Cidr, m, key, pos)?,
            "gt" | "gte" | "lt" | "lte" => {
                let op = match m {
                    "gt" => CmpOp::Gt,
                    "gte" => CmpOp::Gte,
                    "lt" => CmpOp::Lt,
                    _ => CmpOp::Lte,
                };
                kind = match kind {
                    Kind::Time(part, CmpOp::Eq) => Kind::Time(part, op),
                    k => set_kind(k, Kind::Cmp(op), m, key, pos)?,
                };
            }
            "minute" | "hour" | "day" | "week" | "month" | "year" => {
                let part = match m {
                    "minute" => TimePart::Minute,
                    "hour" => TimePart::Hour,
                    "day" => TimePart::Day,
                    "week" => TimePart::Week,
                    "month" => TimePart::Month,
                    _ => TimePart::Year,
                };
                kind = set_kind(kind, Kind::Time(part, CmpOp::Eq), m, key, pos)?;
            }
            "exists" => kind = set_kind(kind, Kind::Exists, m, key, pos)?,
            "fieldref" => kind = set_kind(kind, Kind::FieldRef, m, key, pos)?,
            "expand" => {
                let mut out = Vec::new();
                for v in vals {
                    match v {
                        Val::Pat { pat, .. } => {
                            for p in expand(&pat, placeholders).map_err(|msg| {
                                let code = if msg.starts_with("too many") {
                                    Code::TooManyAlternatives
                                } else {
                                    Code::UnresolvedPlaceholder
                                };
                                err(code, format!("{msg} in '{key}'"))
                            })? {
                                out.push(Val::Pat { pat: p, raw: None });
                            }
                        }
                        other => out.push(other),
                    }
                }
                vals = out;
            }
            "" => {
                return Err(err(
                    Code::UnknownModifier,
                    format!("empty modifier in '{key}'"),
                ));
            }
            other => {
                return Err(err(
                    Code::UnknownModifier,
                    format!("unknown modifier '{other}' in '{key}'"),
                ));
            }
        }
    }

    if all && vals.len() == 1 {
        warnings.push(Issue::new(
            Code::SingleValueAll,
            pos,
            format!("'all' on a single value in '{key}' has no effect"),
        ));
    }
    if vals.len() > MAX_VALUES {
        return Err(err(
            Code::TooManyAlternatives,
            format!("'{key}' has {} values, more than {MAX_VALUES}", vals.len()),
        ));
    }

    let mut atoms = Vec::with_capacity(vals.len());
    for v in vals {
        let atom = match kind {
            Kind::Plain => match v {
                Val::Pat { pat, .. } => AtomSpec::Str { pat, cased },
                Val::Num { text, .. } => AtomSpec::Str {
                    pat: Pattern::literal(text.as_bytes()),
                    cased,
                },
                Val::Bool(b) => AtomSpec::Str {
                    pat: Pattern::literal(if b { b"true" } else { b"false" }),
                    cased: false,
                },
                Val::Null => AtomSpec::Null,
                Val::Re(_) => unreachable_kind(key, pos)?,
            },
            Kind::Re => match v {
                Val::Re(r) => {
                    let mut flags = String::new();
                    if re_i {
                        flags.push('i');
                    }
                    if re_m {
                        flags.push('m');
                    }
                    if re_s {
                        flags.push('s');
                    }
                    if flags.is_empty() {
                        AtomSpec::Regex(r)
                    } else {
                        AtomSpec::Regex(format!("(?{flags}){r}"))
                    }
                }
                _ => unreachable_kind(key, pos)?,
            },
            Kind::Cidr => {
                let text = val_text(&v).ok_or_else(|| {
                    err(
                        Code::BadCidr,
                        format!("'cidr' needs network strings in '{key}'"),
                    )
                })?;
                AtomSpec::Cidr(vec![parse_cidr(&text).ok_or_else(|| {
                    err(
                        Code::BadCidr,
                        format!("'{text}' is not a CIDR network in '{key}'"),
                    )
                })?])
            }
            Kind::Cmp(op) => AtomSpec::Cmp {
                op,
                value: val_number(&v).ok_or_else(|| {
                    err(Code::BadNumber, format!("'{key}' needs a numeric value"))
                })?,
            },
            Kind::Time(part, op) => AtomSpec::Time {
                part,
                op,
                value: val_number(&v).ok_or_else(|| {
                    err(Code::BadNumber, format!("'{key}' needs a numeric value"))
                })?,
            },
            Kind::Exists => match v {
                Val::Bool(b) => AtomSpec::Exists(b),
                Val::Pat { raw: Some(r), .. } if r == "true" || r == "false" => {
                    AtomSpec::Exists(r == "true")
                }
                _ => {
                    return Err(err(
                        Code::BadModifierCombination,
                        format!("'exists' needs true or false in '{key}'"),
                    ));
                }
            },
            Kind::FieldRef => {
                let name = match &v {
                    Val::Pat { raw: Some(r), .. } => r.clone(),
                    Val::Pat { pat, .. } if !pat.has_wildcards() => {
                        String::from_utf8_lossy(&pat.literal_bytes()).into_owned()
                    }
                    _ => {
                        return Err(err(
                            Code::BadModifierCombination,
                            format!("'fieldref' needs field names in '{key}'"),
                        ));
                    }
                };
                AtomSpec::FieldRef {
                    field: name,
                    op: str_op,
                    cased,
                }
            }
        };
        atoms.push(atom);
    }
    // A CIDR list is one atom testing all networks, which keeps OR lists cheap.
    if kind == Kind::Cidr && !all && atoms.len() > 1 {
        let nets = atoms
            .into_iter()
            .flat_map(|a| match a {
                AtomSpec::Cidr(n) => n,
                _ => Vec::new(),
            })
            .collect();
        atoms = vec![AtomSpec::Cidr(nets)];
    }
    if field.is_none() && !matches!(kind, Kind::Plain) {
        return Err(err(
            Code::BadModifierCombination,
            format!("'{key}' has modifiers that need a field name"),
        ));
    }
    Ok(ItemSpec {
        field,
        atoms,
        all,
        negate,
        pos,
    })
}

fn unreachable_kind<T>(key: &str, pos: Pos) -> Result<T, Issue> {
    Err(Issue::new(
        Code::BadModifierCombination,
        pos,
        format!("the modifiers of '{key}' do not fit together"),
    ))
}

fn set_kind(old: Kind, new: Kind, m: &str, key: &str, pos: Pos) -> Result<Kind, Issue> {
    if old == Kind::Plain {
        Ok(new)
    } else {
        Err(Issue::new(
            Code::BadModifierCombination,
            pos,
            format!("'{m}' cannot be combined with the modifiers before it in '{key}'"),
        ))
    }
}

fn to_pattern(v: &mut Val) {
    match v {
        Val::Num { text, .. } => {
            *v = Val::Pat {
                pat: Pattern::literal(text.as_bytes()),
                raw: Some(text.clone()),
            }
        }
        Val::Bool(b) => {
            let t = b.to_string();
            *v = Val::Pat {
                pat: Pattern::literal(t.as_bytes()),
                raw: Some(t),
            }
        }
        _ => {}
    }
}

fn val_text(v: &Val) -> Option<String> {
    match v {
        Val::Pat { raw: Some(r), .. } => Some(r.clone()),
        Val::Pat { pat, .. } if !pat.has_wildcards() => {
            Some(String::from_utf8_lossy(&pat.literal_bytes()).into_owned())
        }
        Val::Num { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn val_number(v: &Val) -> Option<f64> {
    match v {
        Val::Num { num, .. } => Some(*num),
        _ => val_text(v)?.trim().parse().ok(),
    }
}

/// Parses `10.0.0.0/8`, `fe80::/10` or a single address (a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// pySigma's `base64offset`: the value base64-encoded at byte offsets 0, 1 and 2 with the
/// characters that depend on the unknown neighbouring bytes cut off.
pub fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_CUT: [usize; 3] = [0, 3, 2];
    let mut out = Vec::with_capacity(3);
    for i in 0..3 {
        let mut padded = vec![b' '; i];
        padded.extend_from_slice(value);
        let enc = B64.encode(&padded);
        let cut = END_CUT[(value.len() + i) % 3];
        let end = enc.len().saturating_sub(cut);
        let start = START[i].min(end);
        out.push(enc[start..end].to_owned());
    }
    out
}

fn utf16(bytes: &[u8], big_endian: bool) -> Vec<u8> {
    let s = String::from_utf8_lossy(bytes);
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for unit in s.encode_utf16() {
        if big_endian {
            out.extend_from_slice(&unit.to_be_bytes());
        } else {
            out.extend_from_slice(&unit.to_le_bytes());
        }
    }
    out
}

/// The dash characters `windash` substitutes.
pub const WINDASH_CHARS: [&str; 5] = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// pySigma's `windash`: every `-` or `/` at a regex position `\B[-/]\b` (preceded by a
/// non-word character or the start, followed by a word character) becomes each of the five
/// dashes; all combinations. `None` when there would be more than [`MAX_ALTERNATIVES`].
pub fn windash(pat: &Pattern) -> Option<Vec<Pattern>> {
    // Split the literal parts into segments at substitution points.
    let mut variants: Vec<Pattern> = vec![Pattern::default()];
    for part in &pat.parts {
        let Part::Lit(bytes) = part else {
            for v in &mut variants {
                v.push(part.clone());
            }
            continue;
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            for v in &mut variants {
                v.push_lit(bytes);
            }
            continue;
        };
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut seg_start = 0;
        for (k, &(idx, c)) in chars.iter().enumerate() {
            if c != '-' && c != '/' {
                continue;
            }
            let prev_nonword = k == 0 || !is_word(chars[k - 1].1);
            let next_word = chars.get(k + 1).is_some_and(|&(_, n)| is_word(n));
            if !(prev_nonword && next_word) {
                continue;
            }
            if variants.len() * WINDASH_CHARS.len() > MAX_ALTERNATIVES {
                return None;
            }
            let seg = &bytes[seg_start..idx];
            let mut next = Vec::with_capacity(variants.len() * WINDASH_CHARS.len());
            for v in &variants {
                for d in WINDASH_CHARS {
                    let mut nv = v.clone();
                    nv.push_lit(seg);
                    nv.push_lit(d.as_bytes());
                    next.push(nv);
                }
            }
            variants = next;
            seg_start = idx + c.len_utf8();
        }
        let rest = &bytes[seg_start..];
        for v in &mut variants {
            v.push_lit(rest);
        }
    }
    Some(variants)
}

/// `expand`: replaces `%name%` placeholders in literal parts with each configured value.
fn expand(pat: &Pattern, placeholders: &Placeholders) -> Result<Vec<Pattern>, String> {
    let mut variants = vec![Pattern::default()];
    for part in &pat.parts {
        let Part::Lit(bytes) = part else {
            for v in &mut variants {
                v.push(part.clone());
            }
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let mut rest: &str = &text;
        while let Some(start) = rest.find('%') {
            let Some(len) = rest[start + 1..].find('%') else {
                break;
            };
            let name = &rest[start + 1..start + 1 + len];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                for v in &mut variants {
                    v.push_lit(&rest.as_bytes()[..start + 1]);
                }
                rest = &rest[start + 1..];
                continue;
            }
            let values = placeholders
                .get(name)
                .ok_or_else(|| format!("placeholder '%{name}%' has no configured values"))?;
            if variants.len() * values.len().max(1) > MAX_ALTERNATIVES {
                return Err(format!("too many alternatives expanding '%{name}%'"));
            }
            let mut next = Vec::new();
            for v in &variants {
                for val in values {
                    let mut nv = v.clone();
                    nv.push_lit(&rest.as_bytes()[..start]);
                    for p in Pattern::parse(val).parts {
                        nv.push(p);
                    }
                    next.push(nv);
                }
            }
            variants = next;
            rest = &rest[start + 2 + len..];
        }
        for v in &mut variants {
            v.push_lit(rest.as_bytes());
        }
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn lit(s: &str) -> Part {
        Part::Lit(s.as_bytes().to_vec())
    }

    #[test]
    fn escaping_follows_pysigma() {
        assert_eq!(
            Pattern::parse("a*b?c").parts,
            vec![lit("a"), Part::Any, lit("b"), Part::One, lit("c")]
        );
        assert_eq!(
            Pattern::parse(r"C:\Windows\cmd.exe").parts,
            vec![lit(r"C:\Windows\cmd.exe")]
        );
        assert_eq!(Pattern::parse(r"a\*b").parts, vec![lit("a*b")]);
        assert_eq!(Pattern::parse(r"a\?b").parts, vec![lit("a?b")]);
        assert_eq!(Pattern::parse(r"a\\*").parts, vec![lit(r"a\"), Part::Any]);
        assert_eq!(Pattern::parse(r"a\\\*").parts, vec![lit(r"a\*")]);
        assert_eq!(Pattern::parse(r"a\\\\").parts, vec![lit(r"a\\")]);
        assert_eq!(Pattern::parse(r"a\\\").parts, vec![lit(r"a\\")]);
        assert_eq!(Pattern::parse(r"trailing\").parts, vec![lit(r"trailing\")]);
        assert_eq!(Pattern::parse("").parts, vec![]);
    }

    #[test]
    fn contains_does_not_double_wildcards() {
        assert_eq!(
            Pattern::parse("*a*").contains().parts,
            vec![Part::Any, lit("a"), Part::Any]
        );
        assert_eq!(
            Pattern::parse("a").startswith().parts,
            vec![lit("a"), Part::Any]
        );
        assert_eq!(
            Pattern::parse("a").endswith().parts,
            vec![Part::Any, lit("a")]
        );
    }

    #[test]
    fn base64offset_matches_pysigma() {
        // Values from pySigma's test_modifiers.py.
        assert_eq!(
            base64_offsets(b"foobar"),
            vec!["Zm9vYmFy", "Zvb2Jhc", "mb29iYX"]
        );
        assert_eq!(
            base64_offsets(b"/bin/sh"),
            vec!["L2Jpbi9za", "9iaW4vc2", "vYmluL3No"]
        );
    }

    #[test]
    fn windash_expands_word_start_dashes_only() {
        let v = windash(&Pattern::parse(" -enc ")).expect("small");
        let texts: Vec<String> = v
            .iter()
            .map(|p| String::from_utf8(p.literal_bytes()).expect("utf8"))
            .collect();
        assert_eq!(
            texts,
            vec![
                " -enc ",
                " /enc ",
                " \u{2013}enc ",
                " \u{2014}enc ",
                " \u{2015}enc "
            ]
        );
        // A dash inside a word is not at a word start.
        let v = windash(&Pattern::parse("a-b")).expect("small");
        assert_eq!(v.len(), 1);
        // Two positions give 25 variants, wildcards are kept.
        let v = windash(&Pattern::parse("* -a /b*")).expect("small");
        assert_eq!(v.len(), 25);
        assert!(v.iter().all(|p| p.parts.first() == Some(&Part::Any)));
        // Too many positions are refused.
        assert!(windash(&Pattern::parse(" -a -b -c -d -e -f")).is_none());
    }

    fn item(yaml: &str) -> Result<ItemSpec, Issue> {
        let docs = parse_documents(yaml).expect("yaml");
        let Node::Map(entries) = &docs[0].node else {
            panic!("map")
        };
        let (k, v) = &entries[0];
        let mut warnings = Vec::new();
        let mut ph = Placeholders::new();
        ph.insert("admins".into(), vec!["root".into(), "admin*".into()]);
        compile_item(k.as_str().expect("key"), k.pos, v, &ph, &mut warnings)
    }

    fn str_atoms(spec: &ItemSpec) -> Vec<Vec<Part>> {
        spec.atoms
            .iter()
            .map(|a| match a {
                AtomSpec::Str { pat, .. } => pat.parts.clone(),
                other => panic!("string atom expected, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn string_modifiers() {
        assert_eq!(
            str_atoms(&item("F|contains: a").expect("ok")),
            vec![vec![Part::Any, lit("a"), Part::Any]]
        );
        assert_eq!(
            str_atoms(&item("F|startswith: a").expect("ok")),
            vec![vec![lit("a"), Part::Any]]
        );
        assert_eq!(
            str_atoms(&item("F|endswith: a").expect("ok")),
            vec![vec![Part::Any, lit("a")]]
        );
        let all = item("F|contains|all: [a, b]").expect("ok");
        assert!(all.all);
        assert_eq!(all.atoms.len(), 2);
        let cased = item("F|cased: AbC").expect("ok");
        assert_eq!(
            cased.atoms,
            vec![AtomSpec::Str {
                pat: Pattern::parse("AbC"),
                cased: true
            }]
        );
        assert!(item("F|neq: x").expect("ok").negate);
    }

    #[test]
    fn encoding_modifiers() {
        assert_eq!(
            str_atoms(&item("F|base64: foo").expect("ok")),
            vec![vec![lit("Zm9v")]]
        );
        assert_eq!(
            str_atoms(&item("F|base64|contains: foo").expect("ok")),
            vec![vec![Part::Any, lit("Zm9v"), Part::Any]]
        );
        assert_eq!(
            item("F|base64offset|contains: foobar")
                .expect("ok")
                .atoms
                .len(),
            3
        );
        assert_eq!(
            str_atoms(&item("F|wide: ab").expect("ok")),
            vec![vec![Part::Lit(vec![b'a', 0, b'b', 0])]]
        );
        assert_eq!(
            str_atoms(&item("F|utf16le: ab").expect("ok")),
            vec![vec![Part::Lit(vec![b'a', 0, b'b', 0])]]
        );
        assert_eq!(
            str_atoms(&item("F|utf16be: ab").expect("ok")),
            vec![vec![Part::Lit(vec![0, b'a', 0, b'b'])]]
        );
        assert_eq!(
            str_atoms(&item("F|utf16: ab").expect("ok")),
            vec![vec![Part::Lit(vec![0xFF, 0xFE, b'a', 0, b'b', 0])]]
        );
        // wide then base64offset: the UTF-16LE bytes are encoded.
        let w = item("F|wide|base64offset|contains: ab").expect("ok");
        let expect: Vec<Vec<Part>> = base64_offsets(&[b'a', 0, b'b', 0])
            .into_iter()
            .map(|s| vec![Part::Any, lit(&s), Part::Any])
            .collect();
        assert_eq!(str_atoms(&w), expect);
        let e = item("F|base64: 'a*'").expect_err("wildcards");
        assert_eq!(e.code, Code::BadModifierCombination);
        assert_eq!(
            item("F|contains|windash: ' -e'").expect("ok").atoms.len(),
            5
        );
    }

    #[test]
    fn regex_and_flags() {
        assert_eq!(
            item("F|re: 'a.*b'").expect("ok").atoms,
            vec![AtomSpec::Regex("a.*b".into())]
        );
        assert_eq!(
            item("F|re|i: 'ab'").expect("ok").atoms,
            vec![AtomSpec::Regex("(?i)ab".into())]
        );
        assert_eq!(
            item("F|re|m|s: 'ab'").expect("ok").atoms,
            vec![AtomSpec::Regex("(?ms)ab".into())]
        );
        assert_eq!(
            item("F|re|ignorecase|multiline|dotall: 'ab'")
                .expect("ok")
                .atoms,
            vec![AtomSpec::Regex("(?ims)ab".into())]
        );
        // Escapes are the regex's own, not Sigma's.
        assert_eq!(
            item(r"F|re: '\\d+\*'").expect("ok").atoms,
            vec![AtomSpec::Regex(r"\\d+\*".into())]
        );
        assert_eq!(
            item("F|i: 'ab'").expect_err("flag").code,
            Code::BadModifierCombination
        );
    }

    #[test]
    fn typed_modifiers() {
        assert_eq!(
            item("F|gt: 5").expect("ok").atoms,
            vec![AtomSpec::Cmp {
                op: CmpOp::Gt,
                value: 5.0
            }]
        );
        assert_eq!(
            item("F|gte: '5'").expect("ok").atoms,
            vec![AtomSpec::Cmp {
                op: CmpOp::Gte,
                value: 5.0
            }]
        );
        assert_eq!(
            item("F|lt: 1.5").expect("ok").atoms,
            vec![AtomSpec::Cmp {
                op: CmpOp::Lt,
                value: 1.5
            }]
        );
        assert_eq!(
            item("F|lte: 0").expect("ok").atoms,
            vec![AtomSpec::Cmp {
                op: CmpOp::Lte,
                value: 0.0
            }]
        );
        assert_eq!(item("F|lt: x").expect_err("nan").code, Code::BadNumber);
        assert_eq!(
            item("F|exists: true").expect("ok").atoms,
            vec![AtomSpec::Exists(true)]
        );
        assert_eq!(
            item("F|exists: false").expect("ok").atoms,
            vec![AtomSpec::Exists(false)]
        );
        let c = item("F|cidr: ['10.0.0.0/8', 'fe80::/10']").expect("ok");
        assert!(matches!(&c.atoms[..], [AtomSpec::Cidr(n)] if n.len() == 2));
        assert_eq!(
            item("F|cidr: 10.0.0.0/33").expect_err("bad").code,
            Code::BadCidr
        );
        assert_eq!(
            item("F|fieldref|endswith: Other").expect("ok").atoms,
            vec![AtomSpec::FieldRef {
                field: "Other".into(),
                op: StrOp::Suffix,
                cased: false
            }]
        );
        assert_eq!(
            item("F|hour|gte: 22").expect("ok").atoms,
            vec![AtomSpec::Time {
                part: TimePart::Hour,
                op: CmpOp::Gte,
                value: 22.0
            }]
        );
        assert_eq!(
            item("F|month: 12").expect("ok").atoms,
            vec![AtomSpec::Time {
                part: TimePart::Month,
                op: CmpOp::Eq,
                value: 12.0
            }]
        );
        assert_eq!(item("F: null").expect("ok").atoms, vec![AtomSpec::Null]);
        assert_eq!(
            item("F: 4688").expect("ok").atoms,
            vec![AtomSpec::Str {
                pat: Pattern::literal(b"4688"),
                cased: false
            }]
        );
        assert_eq!(
            item("F|containz: a").expect_err("unknown").code,
            Code::UnknownModifier
        );
        assert_eq!(
            item("F|cidr|gt: 1").expect_err("combo").code,
            Code::BadModifierCombination
        );
    }

    #[test]
    fn expand_placeholders() {
        let e = item("F|contains|expand: '%admins%\\x'").expect("ok");
        assert_eq!(
            str_atoms(&e),
            vec![
                vec![Part::Any, lit("root\\x"), Part::Any],
                vec![Part::Any, lit("admin"), Part::Any, lit("\\x"), Part::Any]
            ]
        );
        let e = item("F|expand: '%nobody%'").expect_err("unresolved");
        assert_eq!(e.code, Code::UnresolvedPlaceholder);
        assert!(e.message.contains("%nobody%"), "{}", e.message);
    }
}
