//! API integration tests: one binary, modules by area, a small harness.

mod access;
mod aggregation;
mod api;
mod asset_inventory;
mod bad_input;
mod evidence;
mod harness;
mod incident_report;
mod intel;
mod notifications;
mod sessions;
mod taxii;
mod warnings;
