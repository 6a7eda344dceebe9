//! Suggested GB/T 20986-2023 sub-categories for indicator hits.
//!
//! The mapping is a data table of keywords (matched against tags, malware names, kill-chain
//! phases and descriptions, case-insensitively) to sub-category codes. Its codes are checked
//! against `vigil_model::taxonomy` in a test, so a renamed code fails the build's tests rather
//! than producing alerts with an unknown category.

/// Keyword → sub-category, in priority order: the first row whose keyword occurs wins, so
/// the more specific kinds (ransomware, phishing) come before the generic ones.
pub const CATEGORY_RULES: &[(&str, &str)] = &[
    ("ransomware", "MPRANS"),
    ("ransom", "MPRANS"),
    ("phishing", "NAPHISH"),
    ("phish", "NAPHISH"),
    ("botnet", "MPZOMB"),
    ("command-and-control", "MPZOMB"),
    ("command and control", "MPZOMB"),
    ("c2", "MPZOMB"),
    ("c&c", "MPZOMB"),
    ("exploit", "NAEXPLOIT"),
    ("scanner", "NASCAN"),
    ("scanning", "NASCAN"),
    ("malware-download", "MPHOST"),
    ("malware download", "MPHOST"),
    ("payload-delivery", "MPHOST"),
    ("payload delivery", "MPHOST"),
    ("malware hosting", "MPHOST"),
    ("malware_download", "MPHOST"),
];

/// The sub-category suggested by a set of words (tags, names, phases, descriptions).
pub fn suggest<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let lower: Vec<String> = words.into_iter().map(str::to_lowercase).collect();
    CATEGORY_RULES
        .iter()
        .find_map(|(kw, code)| lower.iter().any(|w| contains_word(w, kw)).then_some(*code))
}

/// True when `kw` occurs in `text` not inside a longer alphanumeric word (so `c2` matches
/// `botnet c2` and `c2-server` but not `abc2x`).
fn contains_word(text: &str, kw: &str) -> bool {
    let b = text.as_bytes();
    text.match_indices(kw).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + kw.len()).copied();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_a_gbt20986_subcategory() {
        for (kw, code) in CATEGORY_RULES {
            assert!(
                vigil_model::taxonomy::incident_subcategory(code).is_some(),
                "{kw} -> {code} is not in GB/T 20986-2023"
            );
        }
    }

    #[test]
    fn keywords_suggest_categories() {
        assert_eq!(suggest(["Botnet C2"]), Some("MPZOMB"));
        assert_eq!(suggest(["c2-server"]), Some("MPZOMB"));
        assert_eq!(suggest(["abc2x"]), None);
        assert_eq!(suggest(["phishing-kit"]), Some("NAPHISH"));
        assert_eq!(
            suggest(["malware_classification:malware-category=\"Ransomware\""]),
            Some("MPRANS")
        );
        assert_eq!(suggest(["malware download host"]), Some("MPHOST"));
        assert_eq!(suggest(["scanner"]), Some("NASCAN"));
        assert_eq!(suggest(["exploit kit"]), Some("NAEXPLOIT"));
        // Ransomware delivered by phishing is ransomware: the table's order decides.
        assert_eq!(suggest(["phishing", "ransomware"]), Some("MPRANS"));
        assert_eq!(suggest(["benign"]), None);
    }
}
