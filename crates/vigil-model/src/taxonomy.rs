//! National taxonomies as data tables with Chinese and English names.
//!
//! The tables live in `data/*.csv` beside this crate and are embedded at build time, so a
//! correction to a code or a name is a data change, not a code change. Each table is parsed
//! once, on first use.

use serde::Serialize;
use std::sync::OnceLock;

/// One named entry of a taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

impl Term {
    /// The name in the given language: `zh` for Chinese, anything else for English.
    pub fn name(&self, lang: &str) -> &str {
        if lang.starts_with("zh") {
            &self.name_zh
        } else {
            &self.name_en
        }
    }
}

/// A GB/T 20986-2023 category with its sub-categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    #[serde(flatten)]
    pub term: Term,
    pub subcategories: Vec<Term>,
}

/// An industry sector, flagged when it is a critical-information-infrastructure sector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sector {
    #[serde(flatten)]
    pub term: Term,
    pub cii_sector: bool,
}

fn rows(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').map(str::trim).collect())
}

/// GB/T 20986-2023 incident categories (10) with their sub-categories (75).
pub fn incident_categories() -> &'static [Category] {
    static TABLE: OnceLock<Vec<Category>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out: Vec<Category> = Vec::new();
        for r in rows(include_str!("../data/gbt20986_2023.csv")) {
            let [level, code, parent, zh, en] = r[..] else {
                continue;
            };
            let term = Term {
                code: code.into(),
                name_zh: zh.into(),
                name_en: en.into(),
            };
            match level {
                "category" => out.push(Category {
                    term,
                    subcategories: Vec::new(),
                }),
                _ => {
                    if let Some(c) = out.iter_mut().find(|c| c.term.code == parent) {
                        c.subcategories.push(term);
                    }
                }
            }
        }
        out
    })
}

/// Looks up a category by code (`MP`).
pub fn incident_category(code: &str) -> Option<&'static Category> {
    incident_categories().iter().find(|c| c.term.code == code)
}

/// Looks up a sub-category by code (`MPRANS`) and returns it with its parent category.
pub fn incident_subcategory(code: &str) -> Option<(&'static Category, &'static Term)> {
    incident_categories().iter().find_map(|c| {
        c.subcategories
            .iter()
            .find(|s| s.code == code)
            .map(|s| (c, s))
    })
}

/// Industry sectors.
pub fn sectors() -> &'static [Sector] {
    static TABLE: OnceLock<Vec<Sector>> = OnceLock::new();
    TABLE.get_or_init(|| {
        rows(include_str!("../data/sectors.csv"))
            .filter_map(|r| match r[..] {
                [code, cii, zh, en] => Some(Sector {
                    term: Term {
                        code: code.into(),
                        name_zh: zh.into(),
                        name_en: en.into(),
                    },
                    cii_sector: cii == "true",
                }),
                _ => None,
            })
            .collect()
    })
}

pub fn sector(code: &str) -> Option<&'static Sector> {
    sectors().iter().find(|s| s.term.code == code)
}

/// GB/T 2260 administrative divisions known by name (provinces and provincial capitals).
pub fn regions() -> &'static [Term] {
    static TABLE: OnceLock<Vec<Term>> = OnceLock::new();
    TABLE.get_or_init(|| {
        rows(include_str!("../data/gbt2260_regions.csv"))
            .filter_map(|r| match r[..] {
                [code, zh, en] => Some(Term {
                    code: code.into(),
                    name_zh: zh.into(),
                    name_en: en.into(),
                }),
                _ => None,
            })
            .collect()
    })
}

/// Checks a GB/T 2260 code: six digits whose first two name a known province. Returns the
/// most specific known division: the code itself when the table names it, else its province.
pub fn region(code: &str) -> Option<&'static Term> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all = regions();
    if let Some(t) = all.iter().find(|t| t.code == code) {
        return Some(t);
    }
    let province = format!("{}0000", &code[..2]);
    all.iter().find(|t| t.code == province)
}

/// The province (first level) of a region code.
pub fn province_of(code: &str) -> Option<&'static Term> {
    let p = format!("{}0000", code.get(..2)?);
    regions().iter().find(|t| t.code == p)
}

/// MLPS 2.0 (GB/T 22239-2019) protection levels 1–5.
pub fn mlps_levels() -> &'static [Term] {
    static TABLE: OnceLock<Vec<Term>> = OnceLock::new();
    TABLE.get_or_init(|| {
        [
            (
                "1",
                "第一级 自主保护级",
                "Level 1: user-discretionary protection",
            ),
            ("2", "第二级 指导保护级", "Level 2: guided protection"),
            ("3", "第三级 监督保护级", "Level 3: supervised protection"),
            ("4", "第四级 强制保护级", "Level 4: mandatory protection"),
            (
                "5",
                "第五级 专控保护级",
                "Level 5: specially controlled protection",
            ),
        ]
        .into_iter()
        .map(|(c, zh, en)| Term {
            code: c.into(),
            name_zh: zh.into(),
            name_en: en.into(),
        })
        .collect()
    })
}

/// MIIT industrial-internet enterprise grades 1–3 (3 highest).
pub fn miit_grades() -> &'static [Term] {
    static TABLE: OnceLock<Vec<Term>> = OnceLock::new();
    TABLE.get_or_init(|| {
        [
            ("1", "一级", "Grade 1"),
            ("2", "二级", "Grade 2"),
            ("3", "三级（最高）", "Grade 3 (highest)"),
        ]
        .into_iter()
        .map(|(c, zh, en)| Term {
            code: c.into(),
            name_zh: zh.into(),
            name_en: en.into(),
        })
        .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbt20986_has_ten_categories_and_75_subcategories() {
        let cats = incident_categories();
        assert_eq!(cats.len(), 10);
        let subs: usize = cats.iter().map(|c| c.subcategories.len()).sum();
        assert_eq!(subs, 75);
        assert_eq!(
            incident_category("NA").map(|c| c.subcategories.len()),
            Some(21)
        );
        let (cat, sub) = incident_subcategory("MPRANS").expect("ransomware code");
        assert_eq!(cat.term.code, "MP");
        assert_eq!(sub.name_zh, "勒索软件");
        assert_eq!(sub.name("en"), "Ransomware");
    }

    #[test]
    fn every_subcategory_code_starts_with_its_parent() {
        for c in incident_categories() {
            for s in &c.subcategories {
                assert!(
                    s.code.starts_with(&c.term.code),
                    "{} under {}",
                    s.code,
                    c.term.code
                );
            }
        }
    }

    #[test]
    fn region_codes_resolve_to_the_most_specific_known_division() {
        assert_eq!(
            region("330100").map(|t| t.name_en.as_str()),
            Some("Hangzhou")
        );
        // A district not in the table resolves to its province.
        assert_eq!(region("330106").map(|t| t.name_zh.as_str()), Some("浙江省"));
        assert!(region("990000").is_none());
        assert!(region("33010").is_none());
        assert!(region("33010x").is_none());
        assert_eq!(
            province_of("440305").map(|t| t.code.as_str()),
            Some("440000")
        );
    }

    #[test]
    fn sectors_mark_cii_sectors() {
        assert!(sector("power").is_some_and(|s| s.cii_sector));
        assert!(sector("manufacturing").is_some_and(|s| !s.cii_sector));
        assert!(sector("nonsense").is_none());
        assert_eq!(mlps_levels().len(), 5);
        assert_eq!(miit_grades().len(), 3);
    }
}
