//! Integration tests: the real outrider binary against real registries, checked with
//! skopeo. One test binary; each test starts the servers it needs.

mod auth_tls;
mod bundle_faults;
mod cli;
mod config;
mod deploy;
mod docker_save;
mod hostile;
mod incremental;
mod inputs;
mod json_contract;
mod lying_registry;
mod naming;
mod operator;
mod planning;
mod push_resume;
mod rate_limits;
mod referrers;
mod resume;
mod roundtrip;
mod saved_tars;
mod serve;
mod serve_hostile;
mod signing;
mod sources;
mod support;
mod volumes;
