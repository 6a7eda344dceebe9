//! Monitored organizations: the core record everything else belongs to.

use crate::error::{ValidationError, check_len, check_text};
use crate::{OrgId, Timestamp, taxonomy};
use serde::{Deserialize, Serialize};

/// MIIT industrial-internet enterprise type (工业互联网企业类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MiitEnterpriseType {
    /// 联网工业企业
    NetworkedIndustrial,
    /// 工业互联网平台企业
    Platform,
    /// 标识解析企业
    IdentifierResolution,
}

impl MiitEnterpriseType {
    pub const ALL: [Self; 3] = [
        Self::NetworkedIndustrial,
        Self::Platform,
        Self::IdentifierResolution,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetworkedIndustrial => "networked_industrial",
            Self::Platform => "platform",
            Self::IdentifierResolution => "identifier_resolution",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn name(self, lang: &str) -> &'static str {
        let zh = lang.starts_with("zh");
        match (self, zh) {
            (Self::NetworkedIndustrial, true) => "联网工业企业",
            (Self::NetworkedIndustrial, false) => "Networked industrial enterprise",
            (Self::Platform, true) => "工业互联网平台企业",
            (Self::Platform, false) => "Industrial-internet platform enterprise",
            (Self::IdentifierResolution, true) => "标识解析企业",
            (Self::IdentifierResolution, false) => "Identifier-resolution enterprise",
        }
    }
}

/// A person responsible for an organization or an asset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Contact {
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        check_text(&format!("{field}.name"), &self.name, 100)?;
        if let Some(e) = &self.email
            && (!e.contains('@') || e.len() > 254)
        {
            return Err(ValidationError::new(
                format!("{field}.email"),
                "is not an email address",
            ));
        }
        if let Some(p) = &self.phone {
            check_len(&format!("{field}.phone"), p, 40)?;
        }
        Ok(())
    }
}

/// What a client sends to create or replace an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub name: String,
    /// Unified social credit code (统一社会信用代码, GB 32100-2015), checksum verified.
    #[serde(default)]
    pub uscc: Option<String>,
    /// Industry sector code, see [`taxonomy::sectors`].
    pub sector: String,
    /// GB/T 2260 administrative division code, six digits.
    pub region_code: String,
    /// MLPS 2.0 protection level 1–5.
    pub mlps_level: u8,
    /// Operator of critical information infrastructure.
    #[serde(default)]
    pub cii: bool,
    #[serde(default)]
    pub miit_type: Option<MiitEnterpriseType>,
    /// MIIT industrial-internet grade 1–3 (3 highest); requires `miit_type`.
    #[serde(default)]
    pub miit_grade: Option<u8>,
    pub responsible: Contact,
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

impl NewOrganization {
    /// Checks every field; the first problem found is returned with its field name.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("name", &self.name, 200)?;
        if let Some(code) = &self.uscc {
            validate_uscc(code)?;
        }
        if taxonomy::sector(&self.sector).is_none() {
            return Err(ValidationError::new(
                "sector",
                format!("unknown sector code '{}'", self.sector),
            ));
        }
        if taxonomy::region(&self.region_code).is_none() {
            return Err(ValidationError::new(
                "region_code",
                format!(
                    "'{}' is not a GB/T 2260 division code (six digits of a known province)",
                    self.region_code
                ),
            ));
        }
        if !(1..=5).contains(&self.mlps_level) {
            return Err(ValidationError::new("mlps_level", "must be 1 to 5"));
        }
        match (self.miit_type, self.miit_grade) {
            (_, Some(g)) if !(1..=3).contains(&g) => {
                return Err(ValidationError::new("miit_grade", "must be 1 to 3"));
            }
            (None, Some(_)) => {
                return Err(ValidationError::new(
                    "miit_grade",
                    "needs miit_type: only industrial-internet enterprises are graded",
                ));
            }
            _ => {}
        }
        self.responsible.validate("responsible")?;
        for (i, c) in self.contacts.iter().enumerate() {
            c.validate(&format!("contacts[{i}]"))?;
        }
        Ok(())
    }
}

/// A monitored organization as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    #[serde(flatten)]
    pub spec: NewOrganization,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const USCC_CHARSET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The check character of the first 17 characters of a unified social credit code, or `None`
/// when one of them is outside the code's alphabet.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, b) in first17.bytes().enumerate().take(17) {
        let v = USCC_CHARSET.iter().position(|&c| c == b)? as u32;
        sum += v * USCC_WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARSET[check as usize] as char)
}

/// Validates a unified social credit code: 18 characters of the GB 32100 alphabet with a
/// correct check character.
pub fn validate_uscc(code: &str) -> Result<(), ValidationError> {
    let bad = |m: &str| Err(ValidationError::new("uscc", m.to_string()));
    if code.len() != 18 || !code.is_ascii() {
        return bad("must be 18 characters");
    }
    let Some(expected) = uscc_check_char(&code[..17]) else {
        return bad(
            "contains a character outside the GB 32100 alphabet (digits and A-Y without I, O, S, V, Z)",
        );
    };
    if code.as_bytes()[17] as char != expected {
        return bad("check character does not match (GB 32100-2015)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> NewOrganization {
        NewOrganization {
            name: "Zhejiang Grid Co.".into(),
            uscc: Some("91330000MA27U8KX1D".into()),
            sector: "power".into(),
            region_code: "330100".into(),
            mlps_level: 3,
            cii: true,
            miit_type: Some(MiitEnterpriseType::NetworkedIndustrial),
            miit_grade: Some(3),
            responsible: Contact {
                name: "Li Wei".into(),
                email: Some("li.wei@example.cn".into()),
                ..Contact::default()
            },
            contacts: vec![],
        }
    }

    #[test]
    fn uscc_check_character_follows_gb32100() {
        // Published example codes with their check characters.
        assert_eq!(uscc_check_char("91350100M000100Y4"), Some('3'));
        assert!(validate_uscc("91350100M000100Y43").is_ok());
        // Codes of well-known listed companies, as printed on their business licences.
        for real in [
            "9144030071526726XG",
            "91110000802100433B",
            "91330100716105852F",
        ] {
            assert_eq!(validate_uscc(real), Ok(()), "{real}");
        }
        assert!(validate_uscc("91350100M000100Y44").is_err());
        assert!(validate_uscc("91350100M000100Y4").is_err());
        let err = validate_uscc("91350100M000100I43").expect_err("must fail");
        assert!(err.message.contains("alphabet"), "{err}");
    }

    #[test]
    fn valid_organization_passes_and_each_bad_field_is_named() {
        let mut o = sample();
        o.uscc = Some(format!(
            "91330000MA27U8KX1{}",
            uscc_check_char("91330000MA27U8KX1").unwrap_or('0')
        ));
        assert_eq!(o.validate(), Ok(()));

        type Mutation = Box<dyn Fn(&mut NewOrganization)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("name", Box::new(|o| o.name = "  ".into())),
            ("sector", Box::new(|o| o.sector = "mining-on-mars".into())),
            ("region_code", Box::new(|o| o.region_code = "999999".into())),
            ("mlps_level", Box::new(|o| o.mlps_level = 6)),
            ("miit_grade", Box::new(|o| o.miit_grade = Some(4))),
            (
                "responsible.email",
                Box::new(|o| o.responsible.email = Some("nope".into())),
            ),
            ("uscc", Box::new(|o| o.uscc = Some("123".into()))),
        ];
        for (field, mutate) in cases {
            let mut bad = o.clone();
            mutate(&mut bad);
            let err = bad.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
        let mut no_type = o.clone();
        no_type.miit_type = None;
        assert_eq!(
            no_type.validate().map_err(|e| e.field),
            Err("miit_grade".into())
        );
    }

    #[test]
    fn unknown_json_fields_are_rejected() {
        let json = r#"{"name":"x","sector":"power","region_code":"110000","mlps_level":2,
            "responsible":{"name":"a"},"colour":"red"}"#;
        let err = serde_json::from_str::<NewOrganization>(json).expect_err("must fail");
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
