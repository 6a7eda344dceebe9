//! Vigil's Sigma engine (vigil-sigma) beside rsigma-eval on the same rules and the same
//! pre-parsed, flattened EVTX events, in one process, one thread, passes alternating between
//! the engines. See README.md for what each engine is given and why.
//!
//! ```text
//! peer-rsigma --rules ../shared/data/sigma-rules/rules/windows \
//!     --evtx ../shared/data/evtx-samples [--passes 5]
//! ```

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rsigma_eval::{Engine, JsonEvent};
use serde_json::{Map, Value};
use vigil_sigma::{CompileOptions, LogSource, RuleSet, Scratch, Severity};

struct Args {
    rules: PathBuf,
    evtx: PathBuf,
    passes: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut rules = None;
    let mut evtx = None;
    let mut passes = 5usize;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--rules" => rules = Some(PathBuf::from(val()?)),
            "--evtx" => evtx = Some(PathBuf::from(val()?)),
            "--passes" => {
                passes = val()?.parse().map_err(|e| format!("--passes: {e}"))?;
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(Args {
        rules: rules.ok_or("--rules DIR is required")?,
        evtx: evtx.ok_or("--evtx DIR is required")?,
        passes: passes.max(1),
    })
}

/// Every file under `dir` whose name ends with `.ext`, sorted, as paths.
fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            walk(&p, ext, out)?;
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
    Ok(())
}

fn files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let mut v = Vec::new();
    walk(dir, ext, &mut v).map_err(|e| format!("{}: {e}", dir.display()))?;
    v.sort();
    Ok(v)
}

/// One EVTX record (as the evtx crate renders it to JSON) as one flat object: the keys of
/// Event.System (EventID as its number, Provider's Name as Provider_Name, the rest as they
/// are), then every key of Event.EventData and of UserData's inner map (these win on a name
/// clash). Both engines get exactly these objects.
fn flatten(rec: &Value) -> Option<Value> {
    let ev = rec.get("Event")?;
    let mut out = Map::new();
    if let Some(Value::Object(sys)) = ev.get("System") {
        for (k, v) in sys {
            match k.as_str() {
                "EventID" => {
                    let id = match v {
                        Value::Object(o) => o.get("#text").cloned().unwrap_or(Value::Null),
                        other => other.clone(),
                    };
                    // A number when it reads as one (the rules compare EventID with integers).
                    let id = match &id {
                        Value::String(s) => s.trim().parse::<i64>().map(Value::from).unwrap_or(id),
                        _ => id,
                    };
                    out.insert(k.clone(), id);
                }
                "Provider" => {
                    if let Some(name) = v.pointer("/#attributes/Name") {
                        out.insert("Provider_Name".to_owned(), name.clone());
                    }
                    out.insert(k.clone(), v.clone());
                }
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let mut take = |m: &Map<String, Value>| {
        for (k, v) in m {
            if k != "#attributes" {
                out.insert(k.clone(), v.clone());
            }
        }
    };
    if let Some(Value::Object(data)) = ev.get("EventData") {
        take(data);
    }
    if let Some(Value::Object(ud)) = ev.get("UserData") {
        for inner in ud.values() {
            if let Value::Object(m) = inner {
                take(m);
            }
        }
    }
    Some(Value::Object(out))
}

/// rsigma log sources per channel: for event ids the table names, and for any other id.
#[derive(Default)]
struct ChannelRoutes {
    by_id: HashMap<i64, Vec<rsigma_parser::LogSource>>,
    other: Vec<rsigma_parser::LogSource>,
}

/// Vigil's Windows table turned into the log sources rsigma's `evaluate_with_logsource`
/// takes: one per category the event falls in (rsigma's event log source has one category),
/// each with the product and the channel's service. Built once, before timing.
struct Router {
    channel_field: String,
    event_id_field: String,
    channels: HashMap<String, ChannelRoutes>,
    unknown: Vec<rsigma_parser::LogSource>,
}

impl Router {
    fn new(t: &vigil_sigma::LogSourceTable) -> Router {
        let mut svc: HashMap<&str, Vec<&str>> = HashMap::new();
        for (ch, services) in t.services() {
            svc.insert(ch.as_str(), services.iter().map(String::as_str).collect());
        }
        let mut cats: HashMap<&str, Vec<(Option<i64>, &str)>> = HashMap::new();
        for (ch, entries) in t.categories() {
            cats.insert(
                ch.as_str(),
                entries.iter().map(|(id, c)| (*id, c.as_str())).collect(),
            );
        }
        let product = t.product().to_owned();
        let sources = |services: &[&str], categories: &[&str]| {
            let mut v = Vec::new();
            let services: Vec<Option<&str>> = if services.is_empty() {
                vec![None]
            } else {
                services.iter().map(|s| Some(*s)).collect()
            };
            let categories: Vec<Option<&str>> = if categories.is_empty() {
                vec![None]
            } else {
                categories.iter().map(|c| Some(*c)).collect()
            };
            for s in &services {
                for c in &categories {
                    v.push(rsigma_parser::LogSource {
                        product: Some(product.clone()),
                        service: s.map(str::to_owned),
                        category: c.map(str::to_owned),
                        ..Default::default()
                    });
                }
            }
            v
        };
        let mut channels = HashMap::new();
        let names: HashSet<&str> = svc.keys().chain(cats.keys()).copied().collect();
        for ch in names {
            let services = svc.get(ch).cloned().unwrap_or_default();
            let entries = cats.get(ch).cloned().unwrap_or_default();
            let any: Vec<&str> = entries
                .iter()
                .filter(|(id, _)| id.is_none())
                .map(|(_, c)| *c)
                .collect();
            let mut r = ChannelRoutes {
                other: sources(&services, &any),
                ..Default::default()
            };
            let ids: HashSet<i64> = entries.iter().filter_map(|(id, _)| *id).collect();
            for id in ids {
                let mut c: Vec<&str> = any.clone();
                for (eid, cat) in &entries {
                    if *eid == Some(id) && !c.contains(cat) {
                        c.push(cat);
                    }
                }
                r.by_id.insert(id, sources(&services, &c));
            }
            channels.insert(ch.to_owned(), r);
        }
        Router {
            channel_field: t.channel_field().to_owned(),
            event_id_field: t.event_id_field().to_owned(),
            channels,
            unknown: sources(&[], &[]),
        }
    }

    fn route(&self, e: &Value) -> &[rsigma_parser::LogSource] {
        let Some(ch) = e
            .get(&self.channel_field)
            .and_then(Value::as_str)
            .and_then(|c| self.channels.get(c))
        else {
            return &self.unknown;
        };
        let id = e.get(&self.event_id_field).and_then(Value::as_i64);
        id.and_then(|i| ch.by_id.get(&i)).unwrap_or(&ch.other)
    }
}

/// rsigma with the routing above: one `evaluate_with_logsource` per log source of the
/// event; rules without a category match under each, so later calls drop repeats.
fn rsigma_routed(
    engine: &Engine,
    router: &Router,
    e: &Value,
) -> Vec<rsigma_eval::EvaluationResult> {
    let ev = JsonEvent::borrow(e);
    let sources = router.route(e);
    let mut out = Vec::new();
    for (i, ls) in sources.iter().enumerate() {
        let r = engine.evaluate_with_logsource(&ev, ls);
        if i == 0 {
            out = r;
        } else {
            for m in r {
                if !out.iter().any(|o| {
                    o.header.rule_id == m.header.rule_id
                        && o.header.rule_title == m.header.rule_title
                }) {
                    out.push(m);
                }
            }
        }
    }
    out
}

fn rsigma_key(m: &rsigma_eval::EvaluationResult) -> String {
    m.header
        .rule_id
        .clone()
        .unwrap_or_else(|| m.header.rule_title.clone())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Pairs (event, rule) both sets hold, only the first, only the second; and the rules
/// most often found by one side only.
fn agreement(name: &str, a: &HashSet<(u32, String)>, b: &HashSet<(u32, String)>) {
    let both = a.intersection(b).count();
    println!(
        "agreement Vigil vs {name}: both {both}, only Vigil {}, only {name} {}",
        a.len() - both,
        b.len() - both
    );
    let only_other = format!("only {name}");
    for (label, x, y) in [("only Vigil", a, b), (only_other.as_str(), b, a)] {
        let mut by_rule: HashMap<&str, usize> = HashMap::new();
        for (_, r) in x.difference(y) {
            *by_rule.entry(r.as_str()).or_default() += 1;
        }
        let mut top: Vec<_> = by_rule.into_iter().collect();
        top.sort_by(|p, q| q.1.cmp(&p.1).then(p.0.cmp(q.0)));
        for (r, n) in top.iter().take(5) {
            println!("    {label}: {n:>6}  {r}");
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    // Rules.
    let rule_paths = files(&args.rules, "yml")?;
    let mut sources: Vec<(String, String)> = Vec::with_capacity(rule_paths.len());
    let mut unreadable = 0usize;
    for p in &rule_paths {
        match std::fs::read_to_string(p) {
            Ok(t) => sources.push((p.display().to_string(), t)),
            Err(_) => unreadable += 1,
        }
    }
    println!(
        "rule files: {} ({} unreadable) under {}",
        sources.len(),
        unreadable,
        args.rules.display()
    );

    let opts = CompileOptions::with_mapping("native").ok_or("no native mapping")?;
    let t = Instant::now();
    let (set, problems) = RuleSet::compile_with(&sources, &opts);
    let vigil_compile = t.elapsed();
    let errors = problems
        .iter()
        .filter(|p| p.severity() == Severity::Error)
        .count();
    println!(
        "Vigil  compile: {:>8.1} ms  rules loaded {}  problems {} ({} errors)  {:?}",
        vigil_compile.as_secs_f64() * 1e3,
        set.stats().rules,
        problems.len(),
        errors,
        set.stats()
    );

    // One collection per file (a file rsigma cannot parse is counted, not fatal), then all
    // rules into the engine in one batch. Not `add_collection` per file: in 0.23.0 each call
    // rebuilds the engine's indexes over all rules loaded so far (O(files x rules)); that way
    // took 790.6 s for these 2,407 files here, against well under a second in one batch.
    let t = Instant::now();
    let mut engine = Engine::new();
    let (mut parse_failed, mut doc_errors) = (0usize, 0usize);
    let mut rules = Vec::new();
    let (mut filters, mut correlations) = (Vec::new(), 0usize);
    for (_, text) in &sources {
        match rsigma_parser::parse_sigma_yaml(text) {
            Err(_) => parse_failed += 1,
            Ok(c) => {
                doc_errors += c.error_count();
                correlations += c.correlations.len();
                rules.extend(c.rules);
                filters.extend(c.filters);
            }
        }
    }
    let rsigma_parse = t.elapsed();
    let not_compiled = engine.add_rules(rules.iter()).len();
    let filters_failed = filters
        .iter()
        .filter(|f| engine.apply_filter(f).is_err())
        .count();
    let rsigma_compile = t.elapsed();
    println!(
        "rsigma compile: {:>8.1} ms (parse {:.1} ms)  rules loaded {}  files not parsed {}  \
         documents not parsed {}  rules not compiled {}  filters {} ({} failed)  \
         correlations ignored {}",
        rsigma_compile.as_secs_f64() * 1e3,
        rsigma_parse.as_secs_f64() * 1e3,
        engine.rule_count(),
        parse_failed,
        doc_errors,
        not_compiled,
        filters.len(),
        filters_failed,
        correlations
    );
    let table = vigil_sigma::LogSourceTable::windows()
        .ok_or("vigil-sigma's built-in Windows log source table did not load")?;
    let router = Router::new(&table);

    // Events.
    let evtx_paths = files(&args.evtx, "evtx")?;
    let (mut bad_files, mut bad_records) = (0usize, 0usize);
    let mut events: Vec<Value> = Vec::new();
    let t = Instant::now();
    for p in &evtx_paths {
        let parser = match evtx::EvtxParser::from_path(p) {
            Ok(x) => x,
            Err(_) => {
                bad_files += 1;
                continue;
            }
        };
        let mut parser = parser.with_configuration(evtx::ParserSettings::new().num_threads(1));
        for rec in parser.records_json_value() {
            match rec.ok().as_ref().and_then(|r| flatten(&r.data)) {
                Some(e) => events.push(e),
                None => bad_records += 1,
            }
        }
    }
    println!(
        "events: {} from {} .evtx files ({} not opened, {} records not read) in {:.1} s",
        events.len(),
        evtx_paths.len(),
        bad_files,
        bad_records,
        t.elapsed().as_secs_f64()
    );
    if events.is_empty() {
        return Err("no events".into());
    }

    // Sanity: what each engine finds on every event.
    let ls = LogSource::new().product("windows");
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    let mut vigil_pairs = HashSet::new();
    let mut plain_pairs = HashSet::new();
    let mut routed_pairs = HashSet::new();
    let (mut vn, mut pn, mut rn) = (0usize, 0usize, 0usize);
    for (i, e) in events.iter().enumerate() {
        let i = u32::try_from(i).map_err(|_| "too many events")?;
        out.clear();
        set.matches_into(e, &ls, &mut scratch, &mut out);
        vn += out.len();
        for m in &out {
            let k = m.id().unwrap_or(m.title()).to_owned();
            vigil_pairs.insert((i, k));
        }
        let r = engine.evaluate(&JsonEvent::borrow(e));
        pn += r.len();
        plain_pairs.extend(r.iter().map(|m| (i, rsigma_key(m))));
        let r = rsigma_routed(&engine, &router, e);
        rn += r.len();
        routed_pairs.extend(r.iter().map(|m| (i, rsigma_key(m))));
    }
    println!(
        "matches over all events: Vigil {vn}, rsigma (evaluate) {pn}, rsigma-routed \
         (evaluate_with_logsource) {rn}"
    );
    agreement("rsigma", &vigil_pairs, &plain_pairs);
    agreement("rsigma-routed", &vigil_pairs, &routed_pairs);

    // Timing: one thread, passes alternating Vigil, rsigma, rsigma-routed.
    let n = events.len();
    let mut rates: [Vec<f64>; 3] = Default::default();
    for pass in 1..=args.passes {
        let t = Instant::now();
        let mut hits = 0usize;
        for e in &events {
            out.clear();
            set.matches_into(black_box(e), &ls, &mut scratch, &mut out);
            hits += out.len();
        }
        let v = rate(n, t.elapsed());
        black_box(hits);

        let t = Instant::now();
        let mut hits = 0usize;
        for e in &events {
            hits += engine.evaluate(&JsonEvent::borrow(black_box(e))).len();
        }
        let p = rate(n, t.elapsed());
        black_box(hits);

        let t = Instant::now();
        let mut hits = 0usize;
        for e in &events {
            hits += rsigma_routed(&engine, &router, black_box(e)).len();
        }
        let r = rate(n, t.elapsed());
        black_box(hits);

        println!(
            "pass {pass:>2}: Vigil {v:>8.0} ev/s   rsigma {p:>8.0} ev/s   rsigma-routed {r:>8.0} \
             ev/s   Vigil/rsigma {:.2}x   Vigil/rsigma-routed {:.2}x",
            v / p,
            v / r
        );
        rates[0].push(v);
        rates[1].push(p);
        rates[2].push(r);
    }
    let [v, p, r] = rates.map(|x| median(&x));
    println!(
        "median: Vigil {v:.0} ev/s, rsigma {p:.0} ev/s, rsigma-routed {r:.0} ev/s; \
         Vigil/rsigma {:.2}x, Vigil/rsigma-routed {:.2}x",
        v / p,
        v / r
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("peer-rsigma: {e}\nusage: peer-rsigma --rules DIR --evtx DIR [--passes N]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer-rsigma: {e}");
            ExitCode::FAILURE
        }
    }
}
