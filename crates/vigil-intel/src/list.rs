//! Plain lists (one indicator per line, type sniffed) and CSV files with a header.

use crate::import::{ImportProblem, ImportSummary, Intel, Source};
use crate::indicator::{
    Indicator, IndicatorContext, IndicatorKind, IndicatorValue, SourceRef, Tlp,
};
use jiff::Timestamp;
use std::sync::Arc;

impl Intel {
    /// Imports a plain list: one value per line, its type sniffed. `#` starts a comment line;
    /// the latest comment describes the lines below it (as in LOKI/THOR IOC files). After the
    /// value, `;` or `,` may add a comment or a score (a number 0–100, taken as confidence).
    pub fn import_list(
        &mut self,
        bytes: &[u8],
        source: &Source,
    ) -> (ImportSummary, Vec<ImportProblem>) {
        let mut summary = ImportSummary::default();
        let mut problems = Vec::new();
        let text = String::from_utf8_lossy(bytes);
        let base = |description: Option<String>| {
            let mut c = IndicatorContext {
                sources: vec![SourceRef {
                    source: source.name.clone(),
                    reference: None,
                    confidence: source.default_confidence,
                }],
                tlp: source.default_tlp,
                description,
                ..Default::default()
            };
            c.suggest_category();
            Arc::new(c)
        };
        let mut section = base(None);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let comment = comment.trim();
                if !comment.is_empty() {
                    section = base(Some(comment.to_string()));
                }
                continue;
            }
            summary.objects += 1;
            let (value, extra) = match line.split_once([';', ',', '\t']) {
                Some((v, e)) => (v.trim(), Some(e.trim())),
                None => (line, None),
            };
            match IndicatorValue::sniff(value) {
                Ok(v) => {
                    let mut confidence = source.default_confidence;
                    let mut ctx = section.clone();
                    match extra.filter(|e| !e.is_empty()) {
                        Some(e) if e.parse::<u8>().is_ok_and(|n| n <= 100) => {
                            confidence = e.parse().unwrap_or(confidence);
                        }
                        Some(e) => {
                            let mut c = (*section).clone();
                            c.tags.push(e.to_string());
                            if c.category.is_none() {
                                c.suggest_category();
                            }
                            ctx = Arc::new(c);
                        }
                        None => {}
                    }
                    summary.count_indicator(v.kind());
                    self.indicators.push(Indicator::new(v, confidence, ctx));
                }
                Err(e) => {
                    problems.push(ImportProblem::new(format!("line {}", i + 1), e.to_string()))
                }
            }
        }
        summary.skipped = problems.len();
        (summary, problems)
    }

    /// Imports CSV with a header row. Columns (case-insensitive): `value` (or `indicator`,
    /// required), `type` (sniffed when absent or empty), `confidence`, `tlp`, `tags` (`;` or
    /// `|` separated), `valid_from`, `valid_until` (RFC 3339), `description`, `malware`,
    /// `threat_actor`, `technique`, `category`.
    pub fn import_csv(
        &mut self,
        bytes: &[u8],
        source: &Source,
    ) -> (ImportSummary, Vec<ImportProblem>) {
        let mut summary = ImportSummary::default();
        let mut problems = Vec::new();
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(bytes);
        let header: Vec<String> = match rdr.headers() {
            Ok(h) => h.iter().map(|s| s.to_ascii_lowercase()).collect(),
            Err(e) => {
                problems.push(ImportProblem::new("header", e.to_string()));
                summary.skipped = 1;
                return (summary, problems);
            }
        };
        let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
        let Some(c_value) = col(&["value", "indicator", "ioc"]) else {
            problems.push(ImportProblem::new("header", "no value column"));
            summary.skipped = 1;
            return (summary, problems);
        };
        let c_type = col(&["type", "kind"]);
        let c_conf = col(&["confidence", "score"]);
        let c_tlp = col(&["tlp"]);
        let c_tags = col(&["tags", "tag"]);
        let c_from = col(&["valid_from"]);
        let c_until = col(&["valid_until", "expires"]);
        let c_desc = col(&["description", "comment"]);
        let c_mal = col(&["malware"]);
        let c_actor = col(&["threat_actor", "actor"]);
        let c_tech = col(&["technique", "techniques"]);
        let c_cat = col(&["category"]);
        for (n, rec) in rdr.records().enumerate() {
            let line = format!("row {}", n + 2);
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    problems.push(ImportProblem::new(line, e.to_string()));
                    continue;
                }
            };
            summary.objects += 1;
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).filter(|s| !s.is_empty());
            let list = |c: Option<usize>| -> Vec<String> {
                get(c)
                    .map(|s| {
                        s.split([';', '|'])
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let Some(raw) = get(Some(c_value)) else {
                problems.push(ImportProblem::new(line, "empty value"));
                continue;
            };
            let value = match get(c_type) {
                Some(t) => match IndicatorKind::parse(t) {
                    Some(k) => IndicatorValue::parse(k, raw).or_else(|e| {
                        // `ipv4` in a type column also takes IPv6 and networks.
                        if k == IndicatorKind::Ipv4 {
                            crate::indicator::parse_ip(raw)
                        } else {
                            Err(e)
                        }
                    }),
                    None => {
                        problems.push(ImportProblem::new(line, format!("unknown type {t:?}")));
                        continue;
                    }
                },
                None => IndicatorValue::sniff(raw),
            };
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    problems.push(ImportProblem::new(line, e.to_string()));
                    continue;
                }
            };
            let confidence = match get(c_conf).map(str::parse::<u8>) {
                None => source.default_confidence,
                Some(Ok(c)) if c <= 100 => c,
                Some(_) => {
                    problems.push(ImportProblem::new(line, "confidence is not 0-100"));
                    continue;
                }
            };
            let tlp = match get(c_tlp) {
                None => source.default_tlp,
                Some(t) => match Tlp::parse(t) {
                    Some(t) => Some(t),
                    None => {
                        problems.push(ImportProblem::new(line, format!("unknown TLP {t:?}")));
                        continue;
                    }
                },
            };
            let time = |c: Option<usize>| -> Result<Option<Timestamp>, String> {
                get(c)
                    .map(|s| s.parse::<Timestamp>().map_err(|e| format!("{s:?}: {e}")))
                    .transpose()
            };
            let (valid_from, valid_until) = match (time(c_from), time(c_until)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    problems.push(ImportProblem::new(line, e));
                    continue;
                }
            };
            let category = get(c_cat).map(str::to_string);
            if let Some(code) = &category
                && vigil_model::taxonomy::incident_subcategory(code).is_none()
            {
                problems.push(ImportProblem::new(
                    line,
                    format!("{code} is no GB/T 20986 sub-category"),
                ));
                continue;
            }
            let mut ctx = IndicatorContext {
                sources: vec![SourceRef {
                    source: source.name.clone(),
                    reference: None,
                    confidence,
                }],
                tlp,
                tags: list(c_tags),
                techniques: list(c_tech),
                malware: list(c_mal),
                threat_actors: list(c_actor),
                category,
                description: get(c_desc).map(str::to_string),
                ..Default::default()
            };
            ctx.suggest_category();
            summary.count_indicator(value.kind());
            let mut ind = Indicator::new(value, confidence, Arc::new(ctx));
            ind.valid_from = valid_from;
            ind.valid_until = valid_until;
            self.indicators.push(ind);
        }
        summary.skipped = problems.len();
        (summary, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lists_sniff_types_and_keep_comments() {
        let text = "# FireEye Operation Snowman\nsuroot.com\n58.64.143.244\n\n# Botnet C2\n176.123.5.126;65\nd41d8cd98f00b204e9800998ecf8427e;Dark Caracal - PE32\nnot a value\n";
        let mut intel = Intel::new();
        let (s, problems) = intel.import_list(text.as_bytes(), &Source::new("loki"));
        assert_eq!(s.objects, 5);
        assert_eq!(s.indicators, 4);
        assert_eq!(
            problems,
            [ImportProblem::new(
                "line 8",
                "domain: \"not a value\" has no dot"
            )]
        );
        let i = &intel.indicators;
        assert_eq!(
            i[0].context.description.as_deref(),
            Some("FireEye Operation Snowman")
        );
        assert_eq!(i[2].confidence, 65);
        assert_eq!(i[2].context.category.as_deref(), Some("MPZOMB"));
        assert_eq!(i[3].context.tags, ["Dark Caracal - PE32"]);
        assert_eq!(i[3].value.kind(), IndicatorKind::Md5);
    }

    #[test]
    fn csv_reads_named_columns() {
        let text = "value,type,confidence,tlp,tags,valid_until,category\n\
                    evil.com,domain,90,amber,phishing;kit,2030-01-01T00:00:00Z,\n\
                    1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b,sm3,,,,,MPRANS\n\
                    10.0.0.0/8,ipv4,,,,,\n\
                    x,domain,,,,,\n\
                    a.org,domain,101,,,,\n\
                    b.org,,,purple,,,\n\
                    c.org,,,,,,XXYY\n";
        let mut intel = Intel::new();
        let (s, problems) = intel.import_csv(text.as_bytes(), &Source::new("csv"));
        assert_eq!(s.indicators, 3);
        assert_eq!(problems.len(), 4, "{problems:?}");
        let i = &intel.indicators;
        assert_eq!(i[0].confidence, 90);
        assert_eq!(i[0].context.tlp, Some(Tlp::Amber));
        assert_eq!(i[0].context.category.as_deref(), Some("NAPHISH"));
        assert!(i[0].valid_until.is_some());
        assert_eq!(i[1].value.kind(), IndicatorKind::Sm3);
        assert_eq!(i[1].context.category.as_deref(), Some("MPRANS"));
        assert_eq!(i[2].value.text(), "10.0.0.0/8");
        let (_, p) = Intel::new().import_csv(b"a,b\n1,2\n", &Source::new("csv"));
        assert_eq!(p[0].reason, "no value column");
    }
}
