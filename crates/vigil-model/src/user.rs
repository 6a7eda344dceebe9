//! Users, roles, API tokens, and the principal every request acts as.
//!
//! Authorization has two halves. [`Principal::allows`] decides whether a role may perform an
//! [`Action`] at all; [`Scope`] limits which organizations' records it touches, and the stores
//! apply the scope inside their queries, so a handler that forgets to filter still cannot leak.

use crate::error::{ValidationError, check_text};
use crate::{OrgId, Timestamp, TokenId, UserId};
use serde::{Deserialize, Serialize};

/// What a person or machine may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the platform: everything, including users and tokens.
    PlatformAdmin,
    /// Works the situation across all organizations: directory, events, alerts, incidents.
    Analyst,
    /// Reads everything, including the audit log; changes nothing.
    Auditor,
    /// Security officer of one monitored organization: sees and acts on that organization only.
    OrgUser,
}

impl Role {
    pub const ALL: [Self; 4] = [
        Self::PlatformAdmin,
        Self::Analyst,
        Self::Auditor,
        Self::OrgUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlatformAdmin => "platform_admin",
            Self::Analyst => "analyst",
            Self::Auditor => "auditor",
            Self::OrgUser => "org_user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn name(self, lang: &str) -> &'static str {
        let zh = lang.starts_with("zh");
        match self {
            Self::PlatformAdmin => {
                if zh {
                    "平台管理员"
                } else {
                    "Platform admin"
                }
            }
            Self::Analyst => {
                if zh {
                    "分析员"
                } else {
                    "Analyst"
                }
            }
            Self::Auditor => {
                if zh {
                    "审计员"
                } else {
                    "Auditor"
                }
            }
            Self::OrgUser => {
                if zh {
                    "单位用户"
                } else {
                    "Organization user"
                }
            }
        }
    }
}

/// Things a principal may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadDirectory,
    /// Create, change or delete organizations.
    WriteOrganizations,
    /// Create, change or delete assets (an organization user: of its own organization).
    WriteAssets,
    /// Set the platform-owned grading fields of an asset (its `importance`, an input of
    /// incident grading) and move an asset to another organization. Organization users
    /// keep their inventory but do not grade it.
    GradeAssets,
    ReadEvents,
    IngestEvents,
    ReadAlerts,
    /// Raise alerts by hand.
    CreateAlerts,
    /// Change an alert's status (triage).
    TriageAlerts,
    ReadIncidents,
    /// Open incidents and change their grade, category and content.
    ManageIncidents,
    /// Move an incident along its workflow and comment (an organization user acknowledges and
    /// reports remediation for its own incidents).
    RespondIncidents,
    ManageUsers,
    ManageTokens,
    ReadAudit,
    /// Read early warnings (an organization user: those addressed to its organization).
    ReadWarnings,
    /// Issue early warnings to organizations.
    IssueWarnings,
    /// Acknowledge a warning (an organization user: for its own organization; platform
    /// staff: on an organization's behalf, with a note).
    AcknowledgeWarnings,
}

/// The range of organizations a principal's queries may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Org(OrgId),
}

impl Scope {
    pub fn allows_org(&self, org: OrgId) -> bool {
        match self {
            Self::All => true,
            Self::Org(o) => *o == org,
        }
    }
}

/// Interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zh-CN" | "zh" | "zh-cn" => Some(Self::ZhCn),
            "en" | "en-US" | "en-GB" => Some(Self::En),
            _ => None,
        }
    }
}

/// What an administrator sends to create a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    pub role: Role,
    /// Required for, and only for, organization users.
    #[serde(default)]
    pub org_id: Option<OrgId>,
    #[serde(default)]
    pub locale: Locale,
}

impl NewUser {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("username", &self.username, 64)?;
        if !self
            .username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
        {
            return Err(ValidationError::new(
                "username",
                "only letters, digits and . _ - @ are allowed",
            ));
        }
        validate_role_org(self.role, self.org_id)
    }
}

/// An organization user must name its organization; other roles must not.
pub fn validate_role_org(role: Role, org: Option<OrgId>) -> Result<(), ValidationError> {
    match (role, org) {
        (Role::OrgUser, None) => Err(ValidationError::new(
            "org_id",
            "an org_user must belong to an organization",
        )),
        (r, Some(_)) if r != Role::OrgUser => Err(ValidationError::new(
            "org_id",
            "only org_user accounts belong to an organization",
        )),
        _ => Ok(()),
    }
}

/// A stored user (without the password hash, which never leaves the store layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    #[serde(flatten)]
    pub spec: NewUser,
    pub disabled: bool,
    pub created_at: Timestamp,
}

/// A machine credential. The secret is shown once at creation; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl ApiToken {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User(UserId),
    Token(TokenId),
    /// The platform itself (demo generator, CLI commands run by the operator).
    System,
}

/// Who is acting: a logged-in user, an API token, or the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// `alice`, `token:sensor-7`.
    pub name: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    pub locale: Locale,
}

impl Principal {
    pub fn system() -> Self {
        Self {
            kind: PrincipalKind::System,
            name: "system".into(),
            role: Role::PlatformAdmin,
            org_id: None,
            locale: Locale::default(),
        }
    }

    /// The organizations this principal's queries are limited to. An organization user
    /// without an organization (which validation forbids) gets a scope that matches nothing.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::OrgUser => Scope::Org(self.org_id.unwrap_or(OrgId(uuid::Uuid::nil()))),
            _ => Scope::All,
        }
    }

    /// The audit-log actor string.
    pub fn actor(&self) -> String {
        match &self.kind {
            PrincipalKind::User(_) => format!("user:{}", self.name),
            PrincipalKind::Token(_) => format!("token:{}", self.name),
            PrincipalKind::System => "system".into(),
        }
    }

    /// Whether the role may perform the action at all (the scope then limits where).
    pub fn allows(&self, action: Action) -> bool {
        use Action::*;
        match self.role {
            Role::PlatformAdmin => true,
            Role::Analyst => !matches!(action, ManageUsers | ManageTokens | ReadAudit),
            Role::Auditor => matches!(
                action,
                ReadDirectory | ReadEvents | ReadAlerts | ReadIncidents | ReadAudit | ReadWarnings
            ),
            Role::OrgUser => matches!(
                action,
                ReadDirectory
                    | WriteAssets
                    | ReadEvents
                    | IngestEvents
                    | ReadAlerts
                    | TriageAlerts
                    | ReadIncidents
                    | RespondIncidents
                    | ReadWarnings
                    | AcknowledgeWarnings
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, org: Option<OrgId>) -> Principal {
        Principal {
            kind: PrincipalKind::System,
            name: "t".into(),
            role,
            org_id: org,
            locale: Locale::En,
        }
    }

    #[test]
    fn roles_allow_what_their_job_needs_and_nothing_else() {
        let org = OrgId::new();
        let admin = principal(Role::PlatformAdmin, None);
        let analyst = principal(Role::Analyst, None);
        let auditor = principal(Role::Auditor, None);
        let officer = principal(Role::OrgUser, Some(org));
        assert!(admin.allows(Action::ManageUsers));
        assert!(!analyst.allows(Action::ManageUsers));
        assert!(analyst.allows(Action::ManageIncidents));
        assert!(!analyst.allows(Action::ReadAudit));
        assert!(auditor.allows(Action::ReadAudit));
        assert!(!auditor.allows(Action::TriageAlerts));
        assert!(!auditor.allows(Action::IngestEvents));
        assert!(officer.allows(Action::RespondIncidents));
        assert!(!officer.allows(Action::ManageIncidents));
        assert!(!officer.allows(Action::WriteOrganizations));
        assert!(officer.allows(Action::AcknowledgeWarnings));
        assert!(officer.allows(Action::WriteAssets));
        assert!(!officer.allows(Action::GradeAssets));
        assert!(analyst.allows(Action::GradeAssets));
        assert!(!auditor.allows(Action::GradeAssets));
        assert!(!officer.allows(Action::IssueWarnings));
        assert!(analyst.allows(Action::IssueWarnings));
        assert!(auditor.allows(Action::ReadWarnings));
        assert!(!auditor.allows(Action::AcknowledgeWarnings));
        assert_eq!(officer.scope(), Scope::Org(org));
        assert_eq!(analyst.scope(), Scope::All);
        assert!(!officer.scope().allows_org(OrgId::new()));
    }

    #[test]
    fn only_org_users_belong_to_an_organization() {
        assert!(validate_role_org(Role::OrgUser, None).is_err());
        assert!(validate_role_org(Role::Analyst, Some(OrgId::new())).is_err());
        assert!(validate_role_org(Role::OrgUser, Some(OrgId::new())).is_ok());
        assert!(validate_role_org(Role::Auditor, None).is_ok());
    }

    #[test]
    fn tokens_expire_and_revoke() {
        let now = Timestamp::from_second(1_000).expect("ts");
        let mut t = ApiToken {
            id: TokenId::new(),
            name: "sensor".into(),
            role: Role::OrgUser,
            org_id: Some(OrgId::new()),
            created_by: "admin".into(),
            created_at: Timestamp::UNIX_EPOCH,
            expires_at: Some(Timestamp::from_second(2_000).expect("ts")),
            revoked_at: None,
            last_used_at: None,
        };
        assert!(t.is_active(now));
        assert!(!t.is_active(Timestamp::from_second(3_000).expect("ts")));
        t.revoked_at = Some(now);
        assert!(!t.is_active(now));
    }
}
