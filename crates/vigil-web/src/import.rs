//! Parsing of bulk asset imports (CSV and JSON), shared by the API and the CLI.
//!
//! CSV columns (header row required, any order, only `name` and `kind` are mandatory):
//! `org_id, name, kind, importance, ips, cidrs, hostnames, domains, urls, macs, vendor, model,
//! firmware, purls, cpes, tags, responsible_name, responsible_phone, responsible_email`.
//! List cells hold several values separated by `;` or spaces. Each row is validated on its own,
//! so one bad row never hides or spoils the others.

use vigil_model::{AssetKind, Contact, Importance, NewAsset, OrgId, SoftwareComponent};

/// The outcome of one input row.
// Rows live only for one import and most are valid, so boxing the large variant would add an
// allocation per row for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    Valid(NewAsset),
    Error(String),
}

/// One row: its number (1 = first data row or array element) and outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub row: usize,
    pub outcome: RowOutcome,
}

/// Most rows in one import.
pub const MAX_ROWS: usize = 100_000;

const COLUMNS: &[&str] = &[
    "org_id",
    "name",
    "kind",
    "importance",
    "ips",
    "cidrs",
    "hostnames",
    "domains",
    "urls",
    "macs",
    "vendor",
    "model",
    "firmware",
    "purls",
    "cpes",
    "tags",
    "responsible_name",
    "responsible_phone",
    "responsible_email",
];

/// Parses an import body by content type (`text/csv` or `application/json`). Errors that
/// concern the whole body (unknown column, not JSON) come back as `Err`.
pub fn parse_assets(
    content_type: &str,
    body: &[u8],
    default_org: Option<OrgId>,
) -> Result<Vec<Row>, String> {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let rows = match ct {
        "text/csv" => parse_csv(body, default_org)?,
        "application/json" => parse_json(body, default_org)?,
        other => {
            return Err(format!(
                "Content-Type must be text/csv or application/json, not '{other}'"
            ));
        }
    };
    if rows.len() > MAX_ROWS {
        return Err(format!("at most {MAX_ROWS} rows per import"));
    }
    Ok(rows)
}

fn parse_json(body: &[u8], default_org: Option<OrgId>) -> Result<Vec<Row>, String> {
    let values: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| format!("body is not a JSON array: {e}"))?;
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            if let (Some(obj), Some(org)) = (v.as_object_mut(), default_org)
                && !obj.contains_key("org_id")
            {
                obj.insert("org_id".into(), serde_json::json!(org));
            }
            let outcome = match serde_json::from_value::<NewAsset>(v) {
                Err(e) => RowOutcome::Error(e.to_string()),
                Ok(a) => match a.validate() {
                    Ok(()) => RowOutcome::Valid(a),
                    Err(e) => RowOutcome::Error(e.to_string()),
                },
            };
            Row {
                row: i + 1,
                outcome,
            }
        })
        .collect())
}

fn list(cell: &str) -> Vec<String> {
    cell.split([';', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn opt(cell: &str) -> Option<String> {
    let t = cell.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn parse_csv(body: &[u8], default_org: Option<OrgId>) -> Result<Vec<Row>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(body);
    let headers = rdr
        .headers()
        .map_err(|e| format!("cannot read the CSV header row: {e}"))?
        .clone();
    for h in headers.iter() {
        if !COLUMNS.contains(&h) {
            return Err(format!(
                "unknown CSV column '{h}'; known columns: {}",
                COLUMNS.join(", ")
            ));
        }
    }
    for required in ["name", "kind"] {
        if !headers.iter().any(|h| h == required) {
            return Err(format!("CSV column '{required}' is required"));
        }
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 1;
        let outcome = match rec {
            Err(e) => RowOutcome::Error(format!("unreadable CSV row: {e}")),
            Ok(rec) => {
                let cells = Cells {
                    headers: &headers,
                    rec: &rec,
                };
                match csv_row(&cells, default_org) {
                    Err(e) => RowOutcome::Error(e),
                    Ok(a) => match a.validate() {
                        Ok(()) => RowOutcome::Valid(a),
                        Err(e) => RowOutcome::Error(e.to_string()),
                    },
                }
            }
        };
        out.push(Row { row, outcome });
        if out.len() > MAX_ROWS {
            break;
        }
    }
    Ok(out)
}

/// One CSV record with its header row, read by column name.
struct Cells<'a> {
    headers: &'a csv::StringRecord,
    rec: &'a csv::StringRecord,
}

impl<'a> Cells<'a> {
    fn get(&self, name: &str) -> &'a str {
        self.headers
            .iter()
            .position(|h| h == name)
            .and_then(|p| self.rec.get(p))
            .unwrap_or("")
    }
}

fn csv_row(cells: &Cells<'_>, default_org: Option<OrgId>) -> Result<NewAsset, String> {
    let get = |name: &str| cells.get(name);
    let org_id = match opt(get("org_id")) {
        Some(s) => s
            .parse::<OrgId>()
            .map_err(|_| format!("org_id: '{s}' is not a UUID"))?,
        None => default_org.ok_or("org_id: missing, and no default organization was given")?,
    };
    let kind_s = get("kind").trim();
    let kind = AssetKind::parse(kind_s).ok_or_else(|| {
        format!(
            "kind: '{kind_s}' is not one of {}",
            AssetKind::ALL.map(|k| k.as_str()).join(", ")
        )
    })?;
    let importance = match opt(get("importance")) {
        None => Importance::Medium,
        Some(s) => Importance::parse(&s)
            .ok_or_else(|| format!("importance: '{s}' is not low, medium, high or critical"))?,
    };
    let ips = list(get("ips"))
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse()
                .map_err(|_| format!("ips[{i}]: '{s}' is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cidrs = list(get("cidrs"))
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse()
                .map_err(|_| format!("cidrs[{i}]: '{s}' is not a CIDR range"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut software: Vec<SoftwareComponent> = list(get("purls"))
        .into_iter()
        .map(|p| SoftwareComponent {
            name: purl_name(&p),
            version: p.rsplit_once('@').map(|(_, v)| v.to_string()),
            purl: Some(p),
            cpe: None,
        })
        .collect();
    software.extend(list(get("cpes")).into_iter().map(|c| {
        let parts: Vec<&str> = c.split(':').collect();
        SoftwareComponent {
            name: parts.get(4).unwrap_or(&"unknown").to_string(),
            version: parts.get(5).filter(|v| **v != "*").map(|v| v.to_string()),
            purl: None,
            cpe: Some(c),
        }
    }));
    let responsible = opt(get("responsible_name")).map(|name| Contact {
        name,
        title: None,
        phone: opt(get("responsible_phone")),
        email: opt(get("responsible_email")),
    });
    Ok(NewAsset {
        org_id,
        name: get("name").trim().to_string(),
        kind,
        importance,
        ips,
        cidrs,
        hostnames: list(get("hostnames")),
        domains: list(get("domains")),
        urls: list(get("urls")),
        macs: list(get("macs")),
        vendor: opt(get("vendor")),
        model: opt(get("model")),
        firmware: opt(get("firmware")),
        software,
        responsible,
        tags: list(get("tags")),
    })
}

/// The package name of a purl: `pkg:maven/org.apache/log4j-core@2.14.1` → `log4j-core`.
fn purl_name(purl: &str) -> String {
    let no_version = purl.split('@').next().unwrap_or(purl);
    no_version
        .rsplit('/')
        .next()
        .unwrap_or(no_version)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_checked_one_by_one() {
        let org = OrgId::new();
        let csv = "name,kind,ips,purls,importance\n\
                   web-1,host,10.0.0.1;10.0.0.2,pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1,high\n\
                   bad,toaster,,,\n\
                   plc-7,plc,10.0.0.300,,\n\
                   scada,scada,10.0.1.5,,critical\n";
        let rows = parse_assets("text/csv", csv.as_bytes(), Some(org)).expect("parsed");
        assert_eq!(rows.len(), 4);
        let RowOutcome::Valid(a) = &rows[0].outcome else {
            panic!("row 1 should be valid: {:?}", rows[0]);
        };
        assert_eq!(a.ips.len(), 2);
        assert_eq!(a.software[0].name, "log4j-core");
        assert_eq!(a.software[0].version.as_deref(), Some("2.14.1"));
        assert_eq!(a.importance, Importance::High);
        assert!(matches!(&rows[1].outcome, RowOutcome::Error(e) if e.contains("toaster")));
        assert!(matches!(&rows[2].outcome, RowOutcome::Error(e) if e.contains("ips[0]")));
        assert!(matches!(rows[3].outcome, RowOutcome::Valid(_)));
        assert_eq!(rows[3].row, 4);
    }

    #[test]
    fn unknown_columns_and_content_types_fail_the_whole_body() {
        let e = parse_assets("text/csv", b"name,kind,colour\nx,host,red\n", None)
            .expect_err("must fail");
        assert!(e.contains("colour"), "{e}");
        let e = parse_assets("text/plain", b"", None).expect_err("must fail");
        assert!(e.contains("Content-Type"), "{e}");
        let e = parse_assets("text/csv", b"name\nx\n", None).expect_err("must fail");
        assert!(e.contains("'kind'"), "{e}");
    }

    #[test]
    fn json_rows_take_the_default_org_and_report_bad_types() {
        let org = OrgId::new();
        let body = br#"[{"name":"a","kind":"website","urls":["https://a.example.cn"]},
                        {"name":"b","kind":"host","ips":"not-a-list"}]"#;
        let rows = parse_assets("application/json", body, Some(org)).expect("parsed");
        assert!(matches!(&rows[0].outcome, RowOutcome::Valid(a) if a.org_id == org));
        assert!(matches!(&rows[1].outcome, RowOutcome::Error(_)));
        let rows = parse_assets("text/csv", b"name,kind\nx,host\n", None).expect("parsed");
        assert!(matches!(&rows[0].outcome, RowOutcome::Error(e) if e.contains("org_id")));
    }
}
