//! `rudder ofdump` (also installed as `rudder-ofdump`): print the OpenFlow 1.3 messages in a hex
//! string, a binary file of back-to-back messages, or a pcap/pcapng capture (TCP reassembled on ports
//! 6653/6633 plus `--port`).
//!
//! ```text
//! rudder ofdump capture.pcapng            # readable text
//! rudder ofdump --json capture.pcap       # one JSON object per message
//! rudder ofdump --hex '04 02 00 08 00 00 00 01'
//! tcpdump -w - -i lo port 6653 | rudder ofdump -     # from stdin
//! ```
//!
//! All decoding is `ofproto::dump` (pure, no I/O); this module reads the input and prints. Messages
//! that fail to decode are printed with their error and bytes; the exit status is non-zero only when
//! the input itself cannot be read.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Args;
use ofproto::dump::{self, DumpOptions};

/// Arguments of `rudder ofdump` and `rudder-ofdump`.
#[derive(Debug, Clone, Args)]
pub struct OfdumpArgs {
    /// Print one JSON object per message instead of text.
    #[arg(long)]
    pub json: bool,

    /// Decode this hex string (spaces, newlines, commas, colons and 0x prefixes are ignored).
    #[arg(long, value_name = "HEXSTRING", conflicts_with = "file", required_unless_present = "file")]
    pub hex: Option<String>,

    /// A pcap, pcapng or raw binary file (detected by its magic number); `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Another TCP port that carries OpenFlow in captures (6653 and 6633 always do). Repeatable.
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
}

/// Reads the input the command line names.
fn read_input(cli: &OfdumpArgs, stdin: &mut dyn Read) -> Result<Bytes, String> {
    if let Some(hex) = &cli.hex {
        return dump::parse_hex(hex).map(Bytes::from).map_err(|e| format!("--hex: {e}"));
    }
    match cli.file.as_deref() {
        Some(path) if path.as_os_str() == "-" => {
            let mut buf = Vec::new();
            stdin.read_to_end(&mut buf).map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(Bytes::from(buf))
        }
        Some(path) => {
            std::fs::read(path).map(Bytes::from).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        None => Err("nothing to decode: give a FILE or --hex".to_string()),
    }
}

/// Decodes and prints. `Err` is the message for an unreadable input; decode errors are output.
pub fn execute(
    cli: &OfdumpArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let input = read_input(cli, stdin)?;
    let mut options = DumpOptions::default();
    for &port in &cli.ports {
        if !options.ports.contains(&port) {
            options.ports.push(port);
        }
    }
    let result = dump::run(input, &options).map_err(|e| e.to_string())?;
    for warning in &result.warnings {
        let _ = writeln!(err, "ofdump: warning: {warning}");
    }
    let write = |out: &mut dyn Write| -> io::Result<()> {
        for record in &result.records {
            if cli.json {
                writeln!(out, "{}", dump::format_json(record))?;
            } else {
                write!(out, "{}", dump::format_text(record))?;
            }
        }
        out.flush()
    };
    match write(out) {
        // `rudder-ofdump big.pcap | head` closes the pipe early: that is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write output: {e}")),
        Ok(()) => Ok(()),
    }
}

/// Runs the command with the process's stdin/stdout/stderr; `name` prefixes error messages.
pub fn main(args: &OfdumpArgs, name: &str) -> ExitCode {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match execute(args, &mut io::stdin(), &mut out, &mut io::stderr()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = out.flush();
            eprintln!("{name}: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    #[command(name = "rudder-ofdump")]
    struct Cli {
        #[command(flatten)]
        args: OfdumpArgs,
    }

    fn run_cli(args: &[&str], stdin: &[u8]) -> (Result<(), String>, String, String) {
        let cli = Cli::try_parse_from(std::iter::once("rudder-ofdump").chain(args.iter().copied())).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = execute(&cli.args, &mut &stdin[..], &mut out, &mut err);
        (result, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("rudder-ofdump-test-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A little-endian pcap holding one Ethernet/IPv4/TCP frame from 10.0.0.1:40000 to `port`.
    fn pcap_with(port: u16, payload: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&40000u16.to_be_bytes());
        ip.extend_from_slice(&port.to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        ip.extend_from_slice(payload);
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend(ip);
        let mut pcap =
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        pcap.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        pcap.extend_from_slice(&0u32.to_le_bytes());
        pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        pcap.extend(frame);
        pcap
    }

    #[test]
    fn command_line_definition_is_valid() {
        Cli::command().debug_assert();
        assert!(Cli::try_parse_from(["rudder-ofdump"]).is_err(), "an input is required");
        assert!(Cli::try_parse_from(["rudder-ofdump", "--hex", "04", "file"]).is_err(), "--hex or FILE");
    }

    #[test]
    fn hex_input_prints_text_and_json() {
        let (result, out, _) = run_cli(&["--hex", "0x04 0x02 0x00 0x0a 00000012 abcd"], b"");
        result.unwrap();
        assert!(out.starts_with("[@0] ECHO_REQUEST xid=0x12 len=10\n"), "{out}");
        let (result, out, _) = run_cli(&["--json", "--hex", "04140008000000070414000800000008"], b"");
        result.unwrap();
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["type"], "BARRIER_REQUEST");
        assert_eq!(lines[1]["xid"], 8);
    }

    #[test]
    fn decode_errors_are_printed_and_do_not_stop_the_dump() {
        // A BARRIER_REQUEST with an illegal body byte, then a good one.
        let (result, out, _) = run_cli(&["--hex", "041400090000000100 0414000800000002"], b"");
        result.unwrap();
        assert!(out.contains("decode error: BARRIER_REQUEST"), "{out}");
        assert!(out.contains("BARRIER_REQUEST xid=0x2 len=8"), "{out}");
    }

    #[test]
    fn files_are_detected_by_magic_and_ports_can_be_added() {
        let barrier = [4, 20, 0, 8, 0, 0, 0, 9];
        let binary = temp_file("raw.bin", &barrier);
        let (result, out, _) = run_cli(&[binary.to_str().unwrap()], b"");
        result.unwrap();
        assert!(out.contains("BARRIER_REQUEST xid=0x9"), "{out}");

        let capture = temp_file("cap.pcap", &pcap_with(7777, &barrier));
        let (result, out, _) = run_cli(&[capture.to_str().unwrap()], b"");
        result.unwrap();
        assert_eq!(out, "", "port 7777 is not OpenFlow by default");
        let (result, out, _) = run_cli(&["--port", "7777", capture.to_str().unwrap()], b"");
        result.unwrap();
        assert!(
            out.starts_with(
                "[2023-11-14T22:13:20.000000Z] 10.0.0.1:40000 -> 10.0.0.2:7777 BARRIER_REQUEST xid=0x9 len=8"
            ),
            "{out}"
        );
        let _ = std::fs::remove_file(binary);
        let _ = std::fs::remove_file(capture);
    }

    #[test]
    fn stdin_is_read_for_dash() {
        let (result, out, _) = run_cli(&["--json", "-"], &[4, 21, 0, 8, 0, 0, 0, 3]);
        result.unwrap();
        assert!(out.contains(r#""type":"BARRIER_REPLY""#), "{out}");
    }

    #[test]
    fn unreadable_input_is_an_error_with_a_clear_message() {
        let (result, _, _) = run_cli(&["/nonexistent/capture.pcap"], b"");
        let message = result.unwrap_err();
        assert!(message.starts_with("cannot read /nonexistent/capture.pcap: "), "{message}");
        let (result, _, _) = run_cli(&["--hex", "04 0"], b"");
        assert_eq!(result.unwrap_err(), "--hex: odd number of hex digits (3): the last byte is incomplete");
        let empty = temp_file("empty.bin", b"");
        let (result, _, _) = run_cli(&[empty.to_str().unwrap()], b"");
        assert_eq!(result.unwrap_err(), "the input is empty");
        let bad_pcap = temp_file("bad.pcap", &[0xd4, 0xc3, 0xb2, 0xa1, 2]);
        let (result, _, _) = run_cli(&[bad_pcap.to_str().unwrap()], b"");
        assert!(result.unwrap_err().starts_with("Pcap capture header is unreadable"));
        let _ = std::fs::remove_file(empty);
        let _ = std::fs::remove_file(bad_pcap);
    }
}
