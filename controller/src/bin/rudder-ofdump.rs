//! `rudder-ofdump`: the same as `rudder ofdump`, as a command of its own (see `rudder_controller::ofdump`).

use std::process::ExitCode;

use clap::Parser;
use rudder_controller::ofdump::OfdumpArgs;

#[derive(Debug, Parser)]
#[command(
    name = "rudder-ofdump",
    version,
    about = "Print OpenFlow 1.3 messages from hex, binary files or pcap/pcapng captures"
)]
struct Cli {
    #[command(flatten)]
    args: OfdumpArgs,
}

fn main() -> ExitCode {
    rudder_controller::ofdump::main(&Cli::parse().args, "rudder-ofdump")
}
