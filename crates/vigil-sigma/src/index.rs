//! The field paths of a rule set in one trie, and a per-event index of a JSON event's leaves
//! built by walking the event once along it.
//!
//! Looking each slot's paths up in a `serde_json` map costs a B-tree walk per path segment
//! (keys compared one by one, ~390 instructions per path on EVTX JSON) for every path of
//! every slot an event needs, present or not. Walking the event's objects once instead,
//! each key looked up in the trie node's hash map, resolves every path the rules know in
//! one pass; a slot's value is then a few array reads.
//!
//! The result is exactly [`crate::Event::field`] of a JSON map: a dotted path is first
//! followed down nested objects (a `*` segment standing for the first key that leads to a
//! value), then looked up as one flat key.

use serde_json::{Map, Value as Json};

use crate::engine::FastMap;
use crate::event::FieldPath;

#[derive(Debug, Default)]
struct Node {
    children: FastMap<Box<str>, u32>,
    /// The child for a `*` segment.
    star: Option<u32>,
    /// The paths (nested lookup) that end at this node.
    ends: Vec<u32>,
}

impl Node {
    fn has_children(&self) -> bool {
        !self.children.is_empty() || self.star.is_some()
    }
}

/// The trie of all field paths of a rule set.
#[derive(Debug)]
pub(crate) struct PathIndex {
    /// `nodes[0]` is the root.
    nodes: Vec<Node>,
    /// Root keys naming a whole path (the flat lookup).
    flat: FastMap<Box<str>, Vec<u32>>,
    paths: FastMap<FieldPath, u32>,
}

impl Default for PathIndex {
    fn default() -> Self {
        PathIndex {
            nodes: vec![Node::default()],
            flat: FastMap::default(),
            paths: FastMap::default(),
        }
    }
}

impl PathIndex {
    /// The id of `path`, added when new.
    pub(crate) fn add(&mut self, path: &FieldPath) -> u32 {
        if let Some(&id) = self.paths.get(path) {
            return id;
        }
        let id = u32::try_from(self.paths.len()).unwrap_or(u32::MAX);
        self.paths.insert(path.clone(), id);
        self.flat.entry(path.as_str().into()).or_default().push(id);
        if !path.segments().is_empty() {
            let mut node = 0usize;
            for (depth, seg) in path.segments().iter().enumerate() {
                let next = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
                // The first segment is a key of the event itself, never a wildcard.
                let child = if seg == "*" && depth > 0 {
                    *self.nodes[node].star.get_or_insert(next)
                } else {
                    *self.nodes[node]
                        .children
                        .entry(seg.as_str().into())
                        .or_insert(next)
                };
                if child == next {
                    self.nodes.push(Node::default());
                }
                node = child as usize;
            }
            self.nodes[node].ends.push(id);
        }
        id
    }

    /// How many paths there are.
    pub(crate) fn len(&self) -> usize {
        self.paths.len()
    }

    /// Records in `out` the value of every known path present in `root`.
    pub(crate) fn fill<'e>(&self, root: &'e Map<String, Json>, out: &mut Leaves<'e>) {
        // Nested lookups first: they win over a flat key of the same name.
        self.walk(0, root.iter(), out);
        self.flat(root.iter(), out);
    }

    /// [`PathIndex::fill`] for a B-tree map event, whose lookup tries the flat key first
    /// (`BTreeMap`'s and `NewEvent`'s [`crate::Event::field`]).
    pub(crate) fn fill_tree<'e>(
        &self,
        root: &'e std::collections::BTreeMap<String, Json>,
        out: &mut Leaves<'e>,
    ) {
        self.flat(root.iter(), out);
        self.walk(0, root.iter(), out);
    }

    fn flat<'e>(&self, root: impl Iterator<Item = (&'e String, &'e Json)>, out: &mut Leaves<'e>) {
        for (k, v) in root {
            if let Some(ids) = self.flat.get(k.as_str()) {
                for &id in ids {
                    out.set(id, v);
                }
            }
        }
    }

    fn walk<'e>(
        &self,
        node: usize,
        obj: impl Iterator<Item = (&'e String, &'e Json)>,
        out: &mut Leaves<'e>,
    ) {
        let n = &self.nodes[node];
        for (k, v) in obj {
            if let Some(&c) = n.children.get(k.as_str()) {
                self.visit(c as usize, v, out);
            }
            if let Some(c) = n.star {
                self.visit(c as usize, v, out);
            }
        }
    }

    fn visit<'e>(&self, node: usize, v: &'e Json, out: &mut Leaves<'e>) {
        let n = &self.nodes[node];
        for &id in &n.ends {
            out.set(id, v);
        }
        if n.has_children()
            && let Json::Object(m) = v
        {
            self.walk(node, m.iter(), out);
        }
    }
}

/// The values of an event's paths (ids of a [`PathIndex`]), valid for one epoch.
#[derive(Debug)]
pub(crate) struct Leaves<'e> {
    epoch: u32,
    /// Per path: the epoch it was found in.
    seen: Vec<u32>,
    /// Per path: its value's index in `vals` (valid when `seen` holds the epoch).
    pos: Vec<u32>,
    vals: Vec<&'e Json>,
    /// The paths found, in the order found (`ids[k]` is the path of `vals[k]`).
    ids: Vec<u32>,
}

/// [`Leaves`] storage between events.
#[derive(Debug, Default)]
pub(crate) struct LeafCache {
    pub(crate) seen: Vec<u32>,
    pos: Vec<u32>,
    vals: Vec<&'static Json>,
    ids: Vec<u32>,
}

/// Reuses a vector's buffer for references of another lifetime (the in-place `collect` of
/// an emptied vector keeps its allocation).
fn recycle<'b>(mut v: Vec<&Json>) -> Vec<&'b Json> {
    v.clear();
    v.into_iter().map(|_| unreachable_json()).collect()
}

/// Never called: `recycle` maps an empty iterator.
fn unreachable_json<'b>() -> &'b Json {
    static NULL: Json = Json::Null;
    &NULL
}

impl<'e> Leaves<'e> {
    /// Takes the cache for an event of generation `epoch` over `paths` paths. Stamps in the
    /// cache only hold earlier generations (the caller clears them when the counter wraps).
    pub(crate) fn lend(c: LeafCache, epoch: u32, paths: usize) -> Leaves<'e> {
        let mut ids = c.ids;
        ids.clear();
        let mut l = Leaves {
            epoch,
            seen: c.seen,
            pos: c.pos,
            vals: recycle(c.vals),
            ids,
        };
        if l.seen.len() < paths {
            l.seen.resize(paths, 0);
            l.pos.resize(paths, 0);
        }
        l
    }

    pub(crate) fn give_back(self) -> LeafCache {
        LeafCache {
            seen: self.seen,
            pos: self.pos,
            vals: recycle(self.vals),
            ids: self.ids,
        }
    }

    /// Records `v` for `id` unless a value was already found (the first one wins).
    fn set(&mut self, id: u32, v: &'e Json) {
        let i = id as usize;
        if self.seen[i] != self.epoch {
            self.seen[i] = self.epoch;
            self.pos[i] = u32::try_from(self.vals.len()).unwrap_or(u32::MAX);
            self.vals.push(v);
            self.ids.push(id);
        }
    }

    /// How many paths the event has.
    pub(crate) fn found(&self) -> usize {
        self.ids.len()
    }

    /// The `k`-th path found.
    pub(crate) fn found_id(&self, k: usize) -> Option<u32> {
        self.ids.get(k).copied()
    }

    /// The value of path `id`, when present in the event.
    pub(crate) fn get(&self, id: u32) -> Option<&'e Json> {
        let i = id as usize;
        if self.seen.get(i) == Some(&self.epoch) {
            self.vals.get(self.pos[i] as usize).copied()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Value};
    use proptest::prelude::*;
    use serde_json::json;

    fn check(paths: &[&str], event: &Json) {
        let mut idx = PathIndex::default();
        let ids: Vec<u32> = paths.iter().map(|p| idx.add(&FieldPath::new(p))).collect();
        let Json::Object(root) = event else {
            panic!("not an object")
        };
        for epoch in [1, 2] {
            let mut leaves = Leaves::lend(LeafCache::default(), epoch, idx.len());
            idx.fill(root, &mut leaves);
            for (p, id) in paths.iter().zip(&ids) {
                let want = event.field(&FieldPath::new(p));
                let got = leaves.get(*id).map(Value::from_json);
                assert_eq!(got, want, "path {p} in {event}");
            }
        }
        // The same event as a B-tree map, whose lookup tries the flat key first.
        let tree: std::collections::BTreeMap<String, Json> =
            root.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for epoch in [3, 4] {
            let mut leaves = Leaves::lend(LeafCache::default(), epoch, idx.len());
            idx.fill_tree(&tree, &mut leaves);
            for (p, id) in paths.iter().zip(&ids) {
                let want = tree.field(&FieldPath::new(p));
                let got = leaves.get(*id).map(Value::from_json);
                assert_eq!(got, want, "path {p} in {event} as a B-tree map");
            }
        }
    }

    #[test]
    fn same_as_lookup() {
        let e = json!({
            "Event": {
                "System": {"EventID": 4688, "Provider": {"#attributes": {"Name": "x"}}},
                "EventData": {"Image": "a.exe", "Null": null, "Obj": {"k": 1}, "List": [1, "b"]},
                "UserData": {"Op": {"Target": "t1"}, "Op2": {"Target": "t2", "Other": 3}}
            },
            "Event.EventData.Image": "flat",
            "Event.EventData.Flat": "only flat",
            "plain": "p",
            "a.b": {"c": 1}
        });
        check(
            &[
                "Event.System.EventID",
                "Event.System.Provider.#attributes.Name",
                "Event.EventData.Image",
                "Event.EventData.Null",
                "Event.EventData.Obj",
                "Event.EventData.List",
                "Event.EventData.Missing",
                "Event.EventData.Flat",
                "Event.UserData.*.Target",
                "Event.UserData.*.Other",
                "Event.UserData.*.Nope",
                "Event.*.Image",
                "Event",
                "plain",
                "missing",
                "a.b",
                "a.b.c",
                "Event.System.EventID.deeper",
            ],
            &e,
        );
    }

    fn leaf() -> impl Strategy<Value = Json> {
        prop_oneof![
            Just(Json::Null),
            any::<i32>().prop_map(|i| json!(i)),
            "[a-c]{0,2}".prop_map(Json::String),
        ]
    }

    fn tree() -> impl Strategy<Value = Json> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map("[ab*.]{1,3}", inner, 0..4)
                .prop_map(|m| Json::Object(m.into_iter().collect()))
        })
    }

    proptest! {
        #[test]
        fn random_events_agree(
            e in prop::collection::btree_map("[ab.]{1,3}", tree(), 0..4),
            paths in prop::collection::vec("[ab*]{1,2}(\\.[ab*]{1,2}){0,3}", 1..8),
        ) {
            let e = Json::Object(e.into_iter().collect());
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            check(&paths, &e);
        }
    }
}
