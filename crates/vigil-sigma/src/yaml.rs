//! A YAML document tree with line and column on every node, read with serde-saphyr under a
//! budget. Sigma needs the tree (not typed structs) because detection maps have open keys
//! (`Field|mod|mod`) and values of several shapes, and every compile problem must point at
//! the node it is about.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node starts in its file (1-based; 0 when unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<SNode>),
    /// Entries in document order.
    Map(Vec<(SNode, SNode)>),
}

/// A node and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct SNode {
    pub node: Node,
    pub pos: Pos,
}

impl SNode {
    /// The value of `key` when this node is a map with a string key `key`.
    pub fn get(&self, key: &str) -> Option<&SNode> {
        match &self.node {
            Node::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.node, Node::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.node {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Scalars as text (keys like `4688:` and values like `level: 3` are still names).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.node {
            Node::Str(s) => Some(s.clone()),
            Node::Int(i) => Some(i.to_string()),
            Node::UInt(u) => Some(u.to_string()),
            Node::Float(f) => Some(f.to_string()),
            Node::Bool(b) => Some(b.to_string()),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }

    /// A short name of the node's kind for messages.
    pub fn kind(&self) -> &'static str {
        match &self.node {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::UInt(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for SNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Node>::deserialize(d)?;
        let loc = spanned.referenced;
        Ok(SNode {
            node: spanned.value,
            pos: Pos {
                line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
                column: u32::try_from(loc.column()).unwrap_or(u32::MAX),
            },
        })
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::UInt(v), Node::Int))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(u64::try_from(v).map_or(Node::Float(v as f64), |u| {
            i64::try_from(u).map_or(Node::UInt(u), Node::Int)
        }))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<SNode>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<SNode>()? {
            let v = map.next_value::<SNode>()?;
            entries.push((k, v));
        }
        Ok(Node::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// Largest rule file accepted, in bytes. SigmaHQ's largest rule is ~40 KiB.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// A YAML error with where it happened.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

fn file_too_large(len: usize) -> YamlError {
    YamlError {
        pos: Pos::default(),
        message: format!("file is {len} bytes, more than the limit of {MAX_FILE_BYTES}"),
    }
}

/// Parses every document of a file: with the fast reader of [`crate::yaml_fast`] when the
/// file is in its subset, else with serde-saphyr under a budget that bounds nesting, anchors
/// and aliases so a hostile file ("billion laughs") costs little.
pub fn parse_documents(text: &str) -> Result<Vec<SNode>, YamlError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(file_too_large(text.len()));
    }
    // The fast reader is hand-written code on untrusted input: should it ever panic, the
    // file is read by serde-saphyr instead of taking the process down.
    if let Ok(Some(docs)) = std::panic::catch_unwind(|| crate::yaml_fast::parse(text)) {
        return Ok(docs);
    }
    on_big_stack(text)
}

/// The stack serde-saphyr runs on: it recurses per nesting level, and a debug build
/// overflowed a 2 MiB thread stack at about 40 levels, under its budget's depth limit. Rule
/// files reach here rarely (outside the fast reader's subset, or broken), so a thread of its
/// own per such file costs nothing measurable and keeps a hostile file from aborting the
/// process whatever thread compiles it.
const SAPHYR_STACK: usize = 64 << 20;

fn on_big_stack(text: &str) -> Result<Vec<SNode>, YamlError> {
    let run = || parse_documents_saphyr(text);
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("vigil-yaml".into())
            .stack_size(SAPHYR_STACK)
            .spawn_scoped(s, run)
        {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            // No thread to be had: parse here.
            Err(_) => run(),
        }
    })
}

/// [`parse_documents`] by serde-saphyr alone: for files outside the fast reader's subset,
/// and the reference the fast reader is tested against.
pub(crate) fn parse_documents_saphyr(text: &str) -> Result<Vec<SNode>, YamlError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(file_too_large(text.len()));
    }
    let budget = serde_saphyr::budget! {
        max_depth: 64,
        max_events: 1_000_000,
        max_aliases: 1_000,
        max_anchors: 1_000,
    };
    // YAML 1.2 booleans (true/false only): under YAML 1.1 a field named `N` or `Y`, or a
    // value `n`, would read as a boolean (found by the pySigma differential test).
    let options = serde_saphyr::options! {
        budget: budget,
        with_snippet: false,
        strict_booleans: true,
    };
    serde_saphyr::from_multiple_with_options::<SNode>(text, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: u32::try_from(l.line()).unwrap_or(u32::MAX),
                column: u32::try_from(l.column()).unwrap_or(u32::MAX),
            })
            .unwrap_or_default();
        let message = e.to_string();
        // The rendered message repeats the position; keep the first line, which says what.
        let first = message.lines().next().unwrap_or("invalid YAML").trim();
        YamlError {
            pos,
            message: first.to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_lines_and_columns() {
        let docs = parse_documents(
            "title: x\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n",
        )
        .expect("valid yaml");
        assert_eq!(docs.len(), 1);
        let det = docs[0].get("detection").expect("detection");
        assert_eq!(det.pos.line, 3);
        let sel = det.get("sel").expect("sel");
        let Node::Map(entries) = &sel.node else {
            panic!("map expected")
        };
        assert_eq!(entries[0].0.pos, Pos { line: 4, column: 5 });
        assert_eq!(entries[0].1.as_str(), Some("\\cmd.exe"));
    }

    #[test]
    fn multi_documents_and_scalars() {
        let docs = parse_documents(
            "a: 1\nb: null\nc: 0x10\nd: 18446744073709551615\n---\ne: [true, 1.5]\n",
        )
        .expect("valid yaml");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get("a").map(|n| &n.node), Some(&Node::Int(1)));
        assert_eq!(docs[0].get("b").map(|n| &n.node), Some(&Node::Null));
        assert_eq!(
            docs[0].get("d").map(|n| &n.node),
            Some(&Node::UInt(u64::MAX))
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse_documents("a: [1, 2\nb: 3\n").expect_err("invalid");
        assert!(err.pos.line >= 1, "{err:?}");
    }

    #[test]
    fn hostile_nesting_is_an_error_not_a_stack_overflow() {
        // On a test thread's 2 MiB stack serde-saphyr alone overflowed (aborting the
        // process) at about 40 levels in a debug build; its budget stops at 64.
        for text in [
            format!("a: {}x{}\n", "[".repeat(5_000), "]".repeat(5_000)),
            format!("a: {}\n", "{b: ".repeat(2_000)),
            (0..200).fold(String::new(), |mut s, i| {
                s.push_str(&" ".repeat(i));
                s.push_str("k:\n");
                s
            }),
        ] {
            let err = parse_documents(&text).expect_err("too deep");
            assert!(!err.message.is_empty());
        }
        let ok = (0..30).fold(String::new(), |mut s, i| {
            s.push_str(&" ".repeat(i));
            s.push_str(if i == 29 { "k: v\n" } else { "k:\n" });
            s
        });
        assert!(parse_documents(&ok).is_ok());
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse_documents(&s).is_err());
    }
}
