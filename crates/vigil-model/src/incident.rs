//! Alerts raised by detection and incidents graded by GB/T 20986-2023.

use crate::error::{ValidationError, check_len, check_text};
use crate::{AlertId, AssetId, EventId, IncidentId, OrgId, Timestamp, taxonomy};
use serde::{Deserialize, Serialize};

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal / $zh:literal / $en:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $s)] $variant),* }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];
            pub fn as_str(self) -> &'static str { match self { $(Self::$variant => $s),* } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(Self::$variant),)* _ => None } }
            /// The display name: Chinese for `zh*`, English otherwise.
            pub fn name(self, lang: &str) -> &'static str {
                let zh = lang.starts_with("zh");
                match self { $(Self::$variant => if zh { $zh } else { $en }),* }
            }
        }
    };
}

str_enum!(
    /// How urgent an alert is.
    Severity {
        Info = "info" / "信息" / "Info",
        Low = "low" / "低" / "Low",
        Medium = "medium" / "中" / "Medium",
        High = "high" / "高" / "High",
        Critical = "critical" / "严重" / "Critical",
    }
);

str_enum!(
    /// Where an alert came from.
    AlertSource {
        Sigma = "sigma" / "Sigma规则" / "Sigma rule",
        Ioc = "ioc" / "威胁情报" / "Threat intelligence",
        Yara = "yara" / "恶意代码特征" / "YARA signature",
        Vuln = "vuln" / "漏洞" / "Vulnerability",
        Web = "web" / "网站监测" / "Website monitoring",
        Manual = "manual" / "人工" / "Manual",
    }
);

str_enum!(
    /// Triage state of an alert.
    AlertStatus {
        New = "new" / "新告警" / "New",
        Acknowledged = "acknowledged" / "已确认" / "Acknowledged",
        Escalated = "escalated" / "已转事件" / "Escalated",
        Closed = "closed" / "已关闭" / "Closed",
        FalsePositive = "false_positive" / "误报" / "False positive",
    }
);

str_enum!(
    /// Incident grade (事件级别), GB/T 20986-2023 and the national emergency plan: I is the most
    /// severe. Each grade has a warning colour and a response level of the same number.
    Grade {
        EspeciallyMajor = "especially_major" / "特别重大" / "Especially major (I)",
        Major = "major" / "重大" / "Major (II)",
        Large = "large" / "较大" / "Large (III)",
        General = "general" / "一般" / "General (IV)",
    }
);

impl Grade {
    /// Roman numeral of the grade and of its response level.
    pub fn level(self) -> &'static str {
        match self {
            Self::EspeciallyMajor => "I",
            Self::Major => "II",
            Self::Large => "III",
            Self::General => "IV",
        }
    }

    /// Early-warning colour of the same level: red, orange, yellow, blue.
    pub fn colour(self) -> &'static str {
        match self {
            Self::EspeciallyMajor => "red",
            Self::Major => "orange",
            Self::Large => "yellow",
            Self::General => "blue",
        }
    }

    /// 较大 and above must be reported to the authorities (2025 reporting measures).
    pub fn must_report(self) -> bool {
        self <= Self::Large
    }
}

str_enum!(
    /// Where an incident stands in the notice-to-closure workflow (vigil-incident's
    /// `workflow` module holds the legal steps between them). `open` is a new incident.
    IncidentStatus {
        Open = "open" / "待处置" / "Open",
        Triaged = "triaged" / "已研判" / "Triaged",
        Notified = "notified" / "已通报" / "Notified",
        Acknowledged = "acknowledged" / "已签收" / "Acknowledged",
        Remediating = "remediating" / "处置中" / "Remediating",
        Remediated = "remediated" / "已反馈" / "Remediated",
        Verified = "verified" / "已核验" / "Verified",
        Closed = "closed" / "已关闭" / "Closed",
        Archived = "archived" / "已归档" / "Archived",
    }
);

impl IncidentStatus {
    /// Not yet closed (closed and archived incidents are done).
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Closed | Self::Archived)
    }
}

/// What detection or an analyst sends to raise an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAlert {
    pub org_id: OrgId,
    #[serde(default)]
    pub asset_id: Option<AssetId>,
    pub source: AlertSource,
    /// The rule or indicator that fired (Sigma id, IOC value, YARA rule name).
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    /// Suggested GB/T 20986-2023 sub-category code (`NACRED`).
    #[serde(default)]
    pub category: Option<String>,
    /// When the evidence happened (the first event's time).
    pub detected_at: Timestamp,
    #[serde(default)]
    pub event_ids: Vec<EventId>,
    #[serde(default)]
    pub details: serde_json::Value,
}

impl NewAlert {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("title", &self.title, 500)?;
        check_text("rule_id", &self.rule_id, 200)?;
        if let Some(c) = &self.category {
            validate_category(c, "category")?;
        }
        if self.event_ids.len() > 10_000 {
            return Err(ValidationError::new("event_ids", "at most 10000 events"));
        }
        Ok(())
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    #[serde(flatten)]
    pub spec: NewAlert,
    pub status: AlertStatus,
    pub incident_id: Option<IncidentId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Accepts a GB/T 20986 category code (`NA`) or sub-category code (`NACRED`).
fn validate_category(code: &str, field: &str) -> Result<(), ValidationError> {
    if taxonomy::incident_category(code).is_some() || taxonomy::incident_subcategory(code).is_some()
    {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("'{code}' is not a GB/T 20986-2023 category or sub-category code"),
        ))
    }
}

/// What an analyst sends to open an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    pub org_id: OrgId,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// GB/T 20986-2023 category code (`MP`).
    pub category: String,
    /// GB/T 20986-2023 sub-category code (`MPRANS`); must belong to `category`.
    #[serde(default)]
    pub subcategory: Option<String>,
    pub grade: Grade,
    #[serde(default)]
    pub asset_ids: Vec<AssetId>,
    #[serde(default)]
    pub alert_ids: Vec<AlertId>,
    /// When the incident started or was discovered.
    pub occurred_at: Timestamp,
}

impl NewIncident {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("title", &self.title, 500)?;
        check_len("description", &self.description, 20_000)?;
        let Some(cat) = taxonomy::incident_category(&self.category) else {
            return Err(ValidationError::new(
                "category",
                format!(
                    "'{}' is not a GB/T 20986-2023 category code (MP, NA, DS, IC, DE, RO, SHE, AB, FOC, OTH)",
                    self.category
                ),
            ));
        };
        if let Some(sub) = &self.subcategory
            && !cat.subcategories.iter().any(|s| &s.code == sub)
        {
            return Err(ValidationError::new(
                "subcategory",
                format!("'{sub}' is not a sub-category of {}", self.category),
            ));
        }
        Ok(())
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub actor: String,
    /// What happened: `created`, `status:acknowledged`, `comment`...
    pub action: String,
    #[serde(default)]
    pub note: String,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    #[serde(flatten)]
    pub spec: NewIncident,
    pub status: IncidentStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub timeline: Vec<TimelineEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_order_from_most_severe_and_carry_colours() {
        assert!(Grade::EspeciallyMajor < Grade::General);
        assert_eq!(Grade::Major.colour(), "orange");
        assert_eq!(Grade::General.level(), "IV");
        assert!(Grade::Large.must_report());
        assert!(!Grade::General.must_report());
        assert_eq!(Grade::parse("major"), Some(Grade::Major));
        assert_eq!(Grade::Major.name("zh-CN"), "重大");
        assert_eq!(
            serde_json::to_string(&Grade::EspeciallyMajor)
                .ok()
                .as_deref(),
            Some("\"especially_major\"")
        );
    }

    #[test]
    fn incident_subcategory_must_belong_to_its_category() {
        let mut i = NewIncident {
            org_id: OrgId::new(),
            title: "Ransomware on HMI".into(),
            description: String::new(),
            category: "MP".into(),
            subcategory: Some("MPRANS".into()),
            grade: Grade::Large,
            asset_ids: vec![],
            alert_ids: vec![],
            occurred_at: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(i.validate(), Ok(()));
        i.subcategory = Some("NADOS".into());
        assert_eq!(i.validate().map_err(|e| e.field), Err("subcategory".into()));
        i.category = "XX".into();
        assert_eq!(i.validate().map_err(|e| e.field), Err("category".into()));
    }
}
