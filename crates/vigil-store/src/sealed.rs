//! Personal contact fields encrypted at rest.
//!
//! Both backends keep an organization's `responsible` and `contacts` and an asset's
//! `responsible` as JSON. With a field key ([`crate::SqliteStore::with_field_key`],
//! [`crate::PgStore::with_field_key`]) the `name`, `phone` and `email` of every [`Contact`] are
//! stored as `sm4gcm:` followed by a sealed field (`vigil_crypto::seal_str`: SM4-GCM,
//! `base64(version ‖ nonce ‖ ciphertext ‖ tag)`); `title` stays in clear. The associated data
//! names the record and the field (`org/<id>/contacts/<i>/phone`,
//! `asset/<id>/responsible/email`), so a sealed value copied into another field or record does
//! not open there.
//!
//! Values written before encryption was on carry no `sm4gcm:` prefix: they are read as they are
//! and sealed the next time the record is written (an update of the organization or asset).
//! A sealed value that does not open (wrong key, altered value, or a store opened without a key)
//! is [`StoreError::Sealed`] naming the record and field, never the value.
//!
//! No query filters on contact fields: the organization text filter matches the organization's
//! name, the asset text filter names, hostnames, domains, addresses, vendor and model.

use crate::{Result, StoreError};
use std::sync::Arc;
use vigil_crypto::FieldKey;
use vigil_model::{Asset, AssetId, Contact, OrgId, Organization};

use crate::PipelineSource;

/// Marks a stored value as sealed; anything else is a value written before encryption was on.
pub const SEALED_PREFIX: &str = "sm4gcm:";

/// Seals and opens contact fields with the store's key, or passes them through without one.
#[derive(Clone, Default)]
pub(crate) struct Sealer(Option<Arc<FieldKey>>);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Sealer(key)"
        } else {
            "Sealer(none)"
        })
    }
}

fn org_record(id: OrgId) -> String {
    format!("org/{id}")
}

fn asset_record(id: AssetId) -> String {
    format!("asset/{id}")
}

fn source_record(name: &str) -> String {
    format!("pipeline_source/{name}")
}

/// The secret settings of a pipeline source: the MQTT broker password.
const SOURCE_SECRETS: [&str; 1] = ["password"];

impl Sealer {
    pub(crate) fn new(key: FieldKey) -> Self {
        Self(Some(Arc::new(key)))
    }

    fn seal_value(&self, record: &str, field: &str, value: &str) -> Result<String> {
        let Some(key) = &self.0 else {
            return Ok(value.to_string());
        };
        let sealed =
            vigil_crypto::seal_str(key, &format!("{record}/{field}"), value).map_err(|e| {
                StoreError::Sealed {
                    record: record.to_string(),
                    field: field.to_string(),
                    reason: e.to_string(),
                }
            })?;
        Ok(format!("{SEALED_PREFIX}{sealed}"))
    }

    fn open_value(&self, record: &str, field: &str, stored: String) -> Result<String> {
        let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
            // Written before encryption was on: read as it is.
            return Ok(stored);
        };
        let err = |reason: String| StoreError::Sealed {
            record: record.to_string(),
            field: field.to_string(),
            reason,
        };
        let Some(key) = &self.0 else {
            return Err(err(
                "the value is encrypted and the store was opened without a field key".into(),
            ));
        };
        vigil_crypto::open_str(key, &format!("{record}/{field}"), sealed)
            .map_err(|e| err(e.to_string()))
    }

    /// `contact` as stored: name, phone and email sealed under `<record>/<field>/...`.
    fn seal_contact(&self, record: &str, field: &str, c: &Contact) -> Result<Contact> {
        if self.0.is_none() {
            return Ok(c.clone());
        }
        let seal = |part: &str, v: &str| self.seal_value(record, &format!("{field}/{part}"), v);
        Ok(Contact {
            name: seal("name", &c.name)?,
            title: c.title.clone(),
            phone: c.phone.as_deref().map(|v| seal("phone", v)).transpose()?,
            email: c.email.as_deref().map(|v| seal("email", v)).transpose()?,
        })
    }

    fn open_contact(&self, record: &str, field: &str, c: Contact) -> Result<Contact> {
        let open = |part: &str, v: String| self.open_value(record, &format!("{field}/{part}"), v);
        Ok(Contact {
            name: open("name", c.name)?,
            title: c.title,
            phone: c.phone.map(|v| open("phone", v)).transpose()?,
            email: c.email.map(|v| open("email", v)).transpose()?,
        })
    }

    /// An organization's `responsible` and `contacts` as stored.
    pub(crate) fn seal_org(
        &self,
        id: OrgId,
        responsible: &Contact,
        contacts: &[Contact],
    ) -> Result<(Contact, Vec<Contact>)> {
        let record = org_record(id);
        let responsible = self.seal_contact(&record, "responsible", responsible)?;
        let contacts = contacts
            .iter()
            .enumerate()
            .map(|(i, c)| self.seal_contact(&record, &format!("contacts/{i}"), c))
            .collect::<Result<Vec<_>>>()?;
        Ok((responsible, contacts))
    }

    /// An organization read from the store, its contacts opened.
    pub(crate) fn open_org(&self, mut org: Organization) -> Result<Organization> {
        let record = org_record(org.id);
        let responsible = std::mem::take(&mut org.spec.responsible);
        org.spec.responsible = self.open_contact(&record, "responsible", responsible)?;
        let contacts = std::mem::take(&mut org.spec.contacts);
        org.spec.contacts = contacts
            .into_iter()
            .enumerate()
            .map(|(i, c)| self.open_contact(&record, &format!("contacts/{i}"), c))
            .collect::<Result<Vec<_>>>()?;
        Ok(org)
    }

    /// An asset's `responsible` as stored.
    pub(crate) fn seal_asset_contact(
        &self,
        id: AssetId,
        responsible: Option<&Contact>,
    ) -> Result<Option<Contact>> {
        responsible
            .map(|c| self.seal_contact(&asset_record(id), "responsible", c))
            .transpose()
    }

    /// A pipeline source as stored: its secret settings (the MQTT `password`) sealed under
    /// `pipeline_source/<name>/settings/<key>`.
    pub(crate) fn seal_source(&self, mut s: PipelineSource) -> Result<PipelineSource> {
        if self.0.is_none() {
            return Ok(s);
        }
        let record = source_record(&s.name);
        if let Some(o) = s.settings.as_object_mut() {
            for k in SOURCE_SECRETS {
                if let Some(serde_json::Value::String(v)) = o.get(k) {
                    let sealed = self.seal_value(&record, &format!("settings/{k}"), v)?;
                    o.insert(k.to_string(), sealed.into());
                }
            }
        }
        Ok(s)
    }

    /// A pipeline source read from the store, its secret settings opened (one stored before
    /// encryption was on reads as it is, and is sealed the next time it is written).
    pub(crate) fn open_source(&self, mut s: PipelineSource) -> Result<PipelineSource> {
        let record = source_record(&s.name);
        if let Some(o) = s.settings.as_object_mut() {
            for k in SOURCE_SECRETS {
                if let Some(serde_json::Value::String(v)) = o.get_mut(k) {
                    *v = self.open_value(&record, &format!("settings/{k}"), std::mem::take(v))?;
                }
            }
        }
        Ok(s)
    }

    /// An asset read from the store, its contact opened.
    pub(crate) fn open_asset(&self, mut asset: Asset) -> Result<Asset> {
        if let Some(c) = asset.spec.responsible.take() {
            asset.spec.responsible =
                Some(self.open_contact(&asset_record(asset.id), "responsible", c)?);
        }
        Ok(asset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact {
            name: "张伟".into(),
            title: Some("CISO".into()),
            phone: Some("+86 138 0013 8000".into()),
            email: Some("zhang.wei@example.cn".into()),
        }
    }

    #[test]
    fn contacts_seal_per_record_and_field_and_legacy_values_pass() {
        let s = Sealer::new(FieldKey::generate());
        let org = OrgId::new();
        let (r, cs) = s
            .seal_org(org, &contact(), &[contact(), contact()])
            .expect("seal");
        for v in [&r.name, r.phone.as_ref().expect("phone"), &cs[1].name] {
            assert!(v.starts_with(SEALED_PREFIX), "{v}");
        }
        assert_eq!(r.title.as_deref(), Some("CISO"));
        assert!(!r.name.contains("张伟"));

        // Opens in place.
        let (o, _) = s.open_org_parts(org, r.clone(), cs.clone()).expect("open");
        assert_eq!(o, contact());

        // Moved to another field, index or record: does not open, and the error names where.
        let swapped = Contact {
            phone: r.email.clone(),
            ..r.clone()
        };
        let e = s.open_org_parts(org, swapped, vec![]).expect_err("swapped");
        assert!(
            matches!(&e, StoreError::Sealed { record, field, .. }
                if *record == format!("org/{org}") && field == "responsible/phone"),
            "{e}"
        );
        assert!(
            s.open_org_parts(org, cs[0].clone(), vec![cs[1].clone()])
                .is_err()
        );
        assert!(s.open_org_parts(OrgId::new(), r.clone(), vec![]).is_err());

        // Without a key: sealed values are an error, plain ones pass; writes stay plain.
        let none = Sealer::default();
        assert!(none.open_org_parts(org, r, vec![]).is_err());
        let (plain, _) = none.seal_org(org, &contact(), &[]).expect("plain");
        assert_eq!(plain, contact());
        let (legacy, _) = s.open_org_parts(org, contact(), vec![]).expect("legacy");
        assert_eq!(legacy, contact());
    }

    impl Sealer {
        fn open_org_parts(
            &self,
            id: OrgId,
            responsible: Contact,
            contacts: Vec<Contact>,
        ) -> Result<(Contact, Vec<Contact>)> {
            let record = org_record(id);
            let r = self.open_contact(&record, "responsible", responsible)?;
            let cs = contacts
                .into_iter()
                .enumerate()
                .map(|(i, c)| self.open_contact(&record, &format!("contacts/{i}"), c))
                .collect::<Result<Vec<_>>>()?;
            Ok((r, cs))
        }
    }
}
