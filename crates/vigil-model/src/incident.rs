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

str_enum!(
    /// Where a ransom stands: demanded (not paid) or paid.
    RansomStatus {
        Demanded = "demanded" / "已索要（未支付）" / "Demanded (not paid)",
        Paid = "paid" / "已支付" / "Paid",
    }
);

str_enum!(
    /// How a ransom was (or is to be) paid.
    PaymentMethod {
        Btc = "btc" / "比特币（BTC）" / "Bitcoin (BTC)",
        Xmr = "xmr" / "门罗币（XMR）" / "Monero (XMR)",
        Eth = "eth" / "以太坊（ETH）" / "Ether (ETH)",
        Usdt = "usdt" / "泰达币（USDT）" / "Tether (USDT)",
        OtherCrypto = "other_crypto" / "其他加密货币" / "Other cryptocurrency",
        Bank = "bank" / "银行转账" / "Bank transfer",
        Cash = "cash" / "现金" / "Cash",
        Other = "other" / "其他" / "Other",
    }
);

/// Longest free text of an impact record (support requested, cause, affected scope).
pub const MAX_IMPACT_TEXT: usize = 5_000;
/// Bounds of the impact figures: ten years of minutes, ten billion people, a trillion
/// records, a quadrillion yuan. Anything above is a typo.
pub const MAX_IMPACT_MINUTES: u64 = 5_256_000;
pub const MAX_PEOPLE_AFFECTED: u64 = 10_000_000_000;
pub const MAX_RECORDS_LEAKED: u64 = 1_000_000_000_000;
pub const MAX_DIRECT_LOSS_YUAN: u64 = 1_000_000_000_000_000;

/// Ransom details of a ransomware incident (赎金金额、支付方式、支付日期).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ransom {
    pub status: RansomStatus,
    /// Decimal amount as text, exact in any currency (`"2.5"`, `"300000"`); a JSON number is
    /// accepted too.
    #[serde(deserialize_with = "amount_text")]
    pub amount: String,
    /// Currency or coin code: `CNY`, `USD`, `BTC`, `XMR`... (upper case after normalizing).
    pub currency: String,
    #[serde(default)]
    pub payment_method: Option<PaymentMethod>,
    /// Day of payment; only for a paid ransom.
    #[serde(default)]
    pub payment_date: Option<jiff::civil::Date>,
    /// The attacker's wallet (or account) the ransom is to be or was paid to.
    #[serde(default)]
    pub wallet_address: Option<String>,
}

fn amount_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Amount {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Amount::deserialize(d)? {
        Amount::Text(s) => s,
        Amount::Number(n) => n.to_string(),
    })
}

/// A positive decimal with at most 20 integer and 18 fractional digits.
fn is_decimal_amount(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    !int.is_empty()
        && int.len() <= 20
        && digits(int)
        && (!s.contains('.') || (!frac.is_empty() && frac.len() <= 18 && digits(frac)))
        && s.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

impl Ransom {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !is_decimal_amount(&self.amount) {
            return Err(ValidationError::new(
                "ransom.amount",
                "must be a positive decimal number such as 2.5 or 300000 (at most 20 digits before \
                 and 18 after the point)",
            ));
        }
        let c = &self.currency;
        if !(2..=10).contains(&c.len())
            || !c
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(ValidationError::new(
                "ransom.currency",
                "must be a currency or coin code of 2 to 10 letters or digits (CNY, USD, BTC, XMR)",
            ));
        }
        match self.status {
            RansomStatus::Paid => {
                if self.payment_method.is_none() {
                    return Err(ValidationError::new(
                        "ransom.payment_method",
                        "is required when the ransom was paid",
                    ));
                }
                if self.payment_date.is_none() {
                    return Err(ValidationError::new(
                        "ransom.payment_date",
                        "is required when the ransom was paid",
                    ));
                }
            }
            RansomStatus::Demanded => {
                if self.payment_date.is_some() {
                    return Err(ValidationError::new(
                        "ransom.payment_date",
                        "is only for a paid ransom",
                    ));
                }
            }
        }
        if let Some(d) = self.payment_date
            && d.year() < 2000
        {
            return Err(ValidationError::new(
                "ransom.payment_date",
                "must be in the year 2000 or later",
            ));
        }
        if let Some(w) = &self.wallet_address
            && (w.is_empty()
                || w.len() > 128
                || !w
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(ValidationError::new(
                "ransom.wallet_address",
                "must be 1 to 128 letters, digits, '-' or '_' (a BTC, XMR or ETH address, an \
                 account number)",
            ));
        }
        Ok(())
    }
}

/// The impact of an incident (已造成的影响和危害) as the analyst or the organization reports it:
/// the figures grading reads, ransom details for ransomware, the support requested, the
/// preliminary cause and the affected scope. A figure left out is "not recorded", not zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentImpact {
    /// Whole outage of the affected systems, minutes.
    #[serde(default)]
    pub outage_minutes: Option<u64>,
    /// Main functions impaired, minutes.
    #[serde(default)]
    pub degraded_minutes: Option<u64>,
    #[serde(default)]
    pub people_affected: Option<u64>,
    #[serde(default)]
    pub personal_records_leaked: Option<u64>,
    #[serde(default)]
    pub direct_loss_yuan: Option<u64>,
    /// Home page defaced, minutes.
    #[serde(default)]
    pub defacement_homepage_minutes: Option<u64>,
    /// Other pages defaced, minutes.
    #[serde(default)]
    pub defacement_other_minutes: Option<u64>,
    #[serde(default)]
    pub ransom: Option<Ransom>,
    /// Support requested from the authorities (需要支持的事项).
    #[serde(default)]
    pub support_requested: Option<String>,
    /// Preliminary cause (初步原因分析).
    #[serde(default)]
    pub preliminary_cause: Option<String>,
    /// What is affected, in words (影响范围).
    #[serde(default)]
    pub affected_scope: Option<String>,
}

impl IncidentImpact {
    /// Trims the texts (blank ones become `None`), upper-cases the ransom currency and trims
    /// the wallet address.
    #[must_use]
    pub fn normalized(mut self) -> Self {
        let text = |t: Option<String>| t.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        self.support_requested = text(self.support_requested);
        self.preliminary_cause = text(self.preliminary_cause);
        self.affected_scope = text(self.affected_scope);
        if let Some(r) = &mut self.ransom {
            r.amount = r.amount.trim().to_string();
            r.currency = r.currency.trim().to_ascii_uppercase();
            r.wallet_address = text(r.wallet_address.take());
        }
        self
    }

    /// Checks the bounds; the error names the field as in the JSON form.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let figures = [
            ("outage_minutes", self.outage_minutes, MAX_IMPACT_MINUTES),
            (
                "degraded_minutes",
                self.degraded_minutes,
                MAX_IMPACT_MINUTES,
            ),
            ("people_affected", self.people_affected, MAX_PEOPLE_AFFECTED),
            (
                "personal_records_leaked",
                self.personal_records_leaked,
                MAX_RECORDS_LEAKED,
            ),
            (
                "direct_loss_yuan",
                self.direct_loss_yuan,
                MAX_DIRECT_LOSS_YUAN,
            ),
            (
                "defacement_homepage_minutes",
                self.defacement_homepage_minutes,
                MAX_IMPACT_MINUTES,
            ),
            (
                "defacement_other_minutes",
                self.defacement_other_minutes,
                MAX_IMPACT_MINUTES,
            ),
        ];
        for (field, value, max) in figures {
            if value.is_some_and(|v| v > max) {
                return Err(ValidationError::new(
                    field,
                    format!("must be at most {max}"),
                ));
            }
        }
        for (field, value) in [
            ("support_requested", &self.support_requested),
            ("preliminary_cause", &self.preliminary_cause),
            ("affected_scope", &self.affected_scope),
        ] {
            if let Some(v) = value {
                check_text(field, v, MAX_IMPACT_TEXT)?;
            }
        }
        if let Some(r) = &self.ransom {
            r.validate()?;
        }
        Ok(())
    }

    /// Nothing recorded at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// A one-line summary for the timeline: the figures and ransom given.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let figures = [
            ("outage", self.outage_minutes, " min"),
            ("degraded", self.degraded_minutes, " min"),
            ("people affected", self.people_affected, ""),
            ("personal records leaked", self.personal_records_leaked, ""),
            ("direct loss", self.direct_loss_yuan, " yuan"),
            (
                "home page defaced",
                self.defacement_homepage_minutes,
                " min",
            ),
            ("other pages defaced", self.defacement_other_minutes, " min"),
        ];
        for (name, v, unit) in figures {
            if let Some(v) = v {
                parts.push(format!("{name} {v}{unit}"));
            }
        }
        if let Some(r) = &self.ransom {
            let mut s = format!("ransom {} {} {}", r.status.as_str(), r.amount, r.currency);
            if let Some(m) = r.payment_method {
                s.push_str(&format!(" via {}", m.as_str()));
            }
            if let Some(d) = r.payment_date {
                s.push_str(&format!(" on {d}"));
            }
            parts.push(s);
        }
        if self.support_requested.is_some() {
            parts.push("support requested".into());
        }
        if self.preliminary_cause.is_some() {
            parts.push("preliminary cause".into());
        }
        if self.affected_scope.is_some() {
            parts.push("affected scope".into());
        }
        if parts.is_empty() {
            "impact cleared".into()
        } else {
            parts.join("; ")
        }
    }
}

/// An incident's impact as stored: who recorded it last, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedImpact {
    pub incident_id: IncidentId,
    #[serde(flatten)]
    pub impact: IncidentImpact,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
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

    fn ransom() -> Ransom {
        Ransom {
            status: RansomStatus::Paid,
            amount: "2.5".into(),
            currency: "BTC".into(),
            payment_method: Some(PaymentMethod::Btc),
            payment_date: Some(jiff::civil::date(2026, 11, 3)),
            wallet_address: Some("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh".into()),
        }
    }

    #[test]
    fn impact_is_bounded_and_names_the_field() {
        let ok = IncidentImpact {
            outage_minutes: Some(360),
            personal_records_leaked: Some(12_000_000),
            ransom: Some(ransom()),
            support_requested: Some("  forensic support  ".into()),
            preliminary_cause: Some("   ".into()),
            ..IncidentImpact::default()
        }
        .normalized();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.support_requested.as_deref(), Some("forensic support"));
        assert_eq!(ok.preliminary_cause, None);
        let field = |i: &IncidentImpact| i.validate().map_err(|e| e.field);
        let mut i = ok.clone();
        i.outage_minutes = Some(MAX_IMPACT_MINUTES + 1);
        assert_eq!(field(&i), Err("outage_minutes".into()));
        let mut i = ok.clone();
        i.direct_loss_yuan = Some(MAX_DIRECT_LOSS_YUAN + 1);
        assert_eq!(field(&i), Err("direct_loss_yuan".into()));
        let mut i = ok.clone();
        i.affected_scope = Some("x".repeat(MAX_IMPACT_TEXT + 1));
        assert_eq!(field(&i), Err("affected_scope".into()));
        for bad in ["", "0", "0.00", "-1", "1.", ".5", "1e3", "12a", "1.2.3"] {
            let mut i = ok.clone();
            if let Some(r) = &mut i.ransom {
                r.amount = bad.into();
            }
            assert_eq!(field(&i), Err("ransom.amount".into()), "{bad:?}");
        }
        let mut r = ransom();
        r.payment_method = None;
        assert_eq!(
            r.validate().map_err(|e| e.field),
            Err("ransom.payment_method".into())
        );
        let mut r = ransom();
        r.status = RansomStatus::Demanded;
        assert_eq!(
            r.validate().map_err(|e| e.field),
            Err("ransom.payment_date".into())
        );
        r.payment_date = None;
        assert_eq!(r.validate(), Ok(()));
        r.wallet_address = Some("bc1 q; drop".into());
        assert_eq!(
            r.validate().map_err(|e| e.field),
            Err("ransom.wallet_address".into())
        );
        r.wallet_address = None;
        r.currency = "bitcoin!".into();
        assert_eq!(
            r.validate().map_err(|e| e.field),
            Err("ransom.currency".into())
        );
    }

    #[test]
    fn impact_json_accepts_numeric_amounts_and_refuses_unknown_fields() {
        let i: IncidentImpact = serde_json::from_str(
            r#"{"outage_minutes": 90, "ransom": {"status": "demanded", "amount": 0.75,
                "currency": "xmr", "payment_method": "xmr"}}"#,
        )
        .expect("parses");
        let i = i.normalized();
        assert_eq!(i.validate(), Ok(()));
        let r = i.ransom.as_ref().expect("ransom");
        assert_eq!((r.amount.as_str(), r.currency.as_str()), ("0.75", "XMR"));
        assert_eq!(i.people_affected, None);
        assert!(i.summary().contains("outage 90 min"), "{}", i.summary());
        assert!(serde_json::from_str::<IncidentImpact>(r#"{"mood": 1}"#).is_err());
        assert!(IncidentImpact::default().is_empty());
    }
}
