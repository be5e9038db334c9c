//! Integration tests: the real outrider binary against real registries, checked with
//! skopeo. One test binary; each test starts the servers it needs.

mod architecture;
mod auth_tls;
mod bundle_faults;
mod charon_source;
mod cli;
mod config;
mod conformance;
mod cut_copies;
mod deploy;
mod destinations;
mod docker_save;
mod foreign_origin;
mod full_registry;
mod hostile;
mod incremental;
mod inputs;
mod json_contract;
mod lying_registry;
mod naming;
mod operator;
mod planning;
mod prechecks;
mod push_resume;
mod rate_limits;
mod referrers;
mod resume;
mod roundtrip;
mod saved_tars;
mod serve;
mod serve_hostile;
mod signing;
mod slow_links;
mod sources;
mod support;
mod volumes;
