//! # rudder-controller
//!
//! An OpenFlow 1.3 controller: a tokio server that owns each switch's lifecycle ([`ofp`]), apps that
//! react to typed events ([`apps`]), and Prometheus metrics ([`metrics`]). `main.rs` parses the command
//! line and calls [`run`].

pub mod apps;
pub mod bench;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod experiment;
pub mod lab;
pub mod metrics;
pub mod ofdump;
pub mod ofp;
pub mod rest;
pub mod server;

pub use config::Config;
pub use server::{Controller, run};
