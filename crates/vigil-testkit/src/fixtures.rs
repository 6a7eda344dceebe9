//! Directory records for tests: a plain organization and a plain asset, to be adjusted with
//! struct update syntax (`NewAsset { cidrs, ..asset_spec(org, "gw") }`), so each test states
//! only what it depends on.

use vigil_model::{AssetKind, Contact, Importance, NewAsset, NewOrganization, OrgId};

/// A power-sector organization in Hangzhou (330100), MLPS level 3, not CII, with a responsible
/// person and no other contacts.
pub fn org_spec(name: &str) -> NewOrganization {
    NewOrganization {
        name: name.to_string(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 3,
        cii: false,
        miit_type: None,
        miit_grade: None,
        responsible: Contact {
            name: "Li Wei".into(),
            ..Contact::default()
        },
        contacts: vec![],
    }
}

/// A host of medium importance with no identifiers.
pub fn asset_spec(org: OrgId, name: &str) -> NewAsset {
    NewAsset {
        org_id: org,
        name: name.to_string(),
        kind: AssetKind::Host,
        importance: Importance::Medium,
        ips: vec![],
        cidrs: vec![],
        hostnames: vec![],
        domains: vec![],
        urls: vec![],
        macs: vec![],
        vendor: None,
        model: None,
        firmware: None,
        software: vec![],
        responsible: None,
        tags: vec![],
    }
}
