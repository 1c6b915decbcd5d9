//! Test support shared by the controller's integration tests: a private Open vSwitch
//! ([`ovs::OvsInstance`]) and an in-process controller ([`controller::TestController`]).
//!
//! Each test crate uses a subset of these helpers, so unused ones are expected in any one crate.
#![allow(dead_code)]

pub mod controller;
pub mod ovs;
