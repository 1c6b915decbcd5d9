//! Test support shared by the controller's integration tests: a private Open vSwitch
//! ([`ovs::OvsInstance`]), an in-process controller ([`controller::TestController`]), and the
//! load balancer's lab of inference nodes and clients in network namespaces ([`lb::LbLab`]).
//!
//! Each test crate uses a subset of these helpers, so unused ones are expected in any one crate.
#![allow(dead_code)]

pub mod controller;
pub mod lb;
pub mod ovs;
