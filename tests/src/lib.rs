//! Harnesses shared by the end-to-end tests (tests/) and the benchmarks
//! (benches/): a throwaway PostgreSQL cluster (`pg`), NYC taxi trip files in
//! the real TLC layouts (`taxi`), a local HTTP file server (`http`), a webhook receiver (`webhook`),
//! the zoomcamp taxi flow made to run locally (`zoomcamp`), and Baton as
//! deployed on Google Cloud, played on the emulators (`deployed`, with a
//! Cloud Scheduler stand-in in `cloud_scheduler`).

pub mod ai_fake;
pub mod ai_schema;
pub mod cloud_run_fake;
pub mod cloud_scheduler;
pub mod deployed;
pub mod emulators;
pub mod functions;
pub mod gcp_emulators;
pub mod git_http;
pub mod google_apis_fake;
pub mod http;
pub mod mariadb;
pub mod pg;
pub mod taxi;
pub mod webhook;
pub mod zoomcamp;
