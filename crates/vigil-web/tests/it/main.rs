//! API integration tests: one binary, modules by area, a small harness.

mod access;
mod aggregation;
mod api;
mod asset_inventory;
mod bad_input;
mod dead_letters;
mod evidence;
mod filed_reports;
mod harness;
mod impact;
mod incident_report;
mod intel;
mod intel_admin;
mod notifications;
mod overdue;
mod pipeline_sources;
mod retrohunt;
mod sessions;
mod stix_objects;
mod taxii;
mod warnings;
