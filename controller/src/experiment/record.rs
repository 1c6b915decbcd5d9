//! One row per request: what the workload generator measured, and the CSV files it is written to
//! and read back from (RFC 4180 quoting, so labels with commas survive).

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

/// What happened to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// When it was sent, seconds since the run started.
    pub start_s: f64,
    /// From sending to the last byte of the response (or to the failure), milliseconds.
    pub latency_ms: f64,
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Why it failed: `connect`, `timeout`, `body`, `request`, `overload`, `http_<status>`, ...;
    /// `None` for a success (a 2xx response whose body was read).
    pub error: Option<String>,
    /// The serving node (`node_id` of the JSON reply, else the `x-node-id` header).
    pub node: Option<String>,
    /// The top-1 label of a classification reply.
    pub label: Option<String>,
    pub url: String,
}

impl RequestRecord {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The columns of a workload CSV, in order.
pub const CSV_HEADER: [&str; 7] = ["start_s", "latency_ms", "status", "error", "node", "label", "url"];

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180 §2).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Writes one CSV line from already-formatted fields.
pub fn write_csv_line<W: Write>(out: &mut W, fields: &[&str]) -> io::Result<()> {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    writeln!(out, "{}", line.join(","))
}

/// The record's fields in [`CSV_HEADER`] order.
pub fn record_fields(r: &RequestRecord) -> [String; 7] {
    [
        format!("{:.6}", r.start_s),
        format!("{:.3}", r.latency_ms),
        r.status.map(|s| s.to_string()).unwrap_or_default(),
        r.error.clone().unwrap_or_default(),
        r.node.clone().unwrap_or_default(),
        r.label.clone().unwrap_or_default(),
        r.url.clone(),
    ]
}

/// Writes a header and one line per record.
pub fn write_csv<W: Write>(out: &mut W, records: &[RequestRecord]) -> io::Result<()> {
    write_csv_line(out, &CSV_HEADER)?;
    for r in records {
        let fields = record_fields(r);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        write_csv_line(out, &refs)?;
    }
    Ok(())
}

/// Splits one CSV line into fields (RFC 4180; a quoted field may not span lines here, which our
/// writer never produces since no field holds a line break in practice; one that does is rejected).
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            (_, c) => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field".to_string());
    }
    fields.push(field);
    Ok(fields)
}

/// A CSV file that is not a workload CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("reading the CSV: {0}")]
    Io(#[from] io::Error),
    #[error("line {line}: {message}")]
    Bad { line: usize, message: String },
}

/// Reads a CSV written by [`write_csv`]: the header must start with [`CSV_HEADER`] (extra columns
/// after it are ignored).
pub fn read_csv<R: BufRead>(input: R) -> Result<Vec<RequestRecord>, CsvError> {
    let mut records = Vec::new();
    let mut lines = input.lines();
    let header = lines.next().transpose()?.unwrap_or_default();
    let columns = split_csv_line(&header).map_err(|message| CsvError::Bad { line: 1, message })?;
    if columns.len() < CSV_HEADER.len() || columns[..CSV_HEADER.len()] != CSV_HEADER {
        return Err(CsvError::Bad {
            line: 1,
            message: format!("header {header:?} does not start with {}", CSV_HEADER.join(",")),
        });
    }
    for (i, line) in lines.enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let n = i + 2;
        let bad = |message: String| CsvError::Bad { line: n, message };
        let f = split_csv_line(&line).map_err(bad)?;
        if f.len() < CSV_HEADER.len() {
            return Err(bad(format!("{} fields, expected {}", f.len(), CSV_HEADER.len())));
        }
        let number = |i: usize| f[i].parse::<f64>().map_err(|e| bad(format!("{}: {e}", CSV_HEADER[i])));
        let text = |i: usize| (!f[i].is_empty()).then(|| f[i].clone());
        records.push(RequestRecord {
            start_s: number(0)?,
            latency_ms: number(1)?,
            status: match f[2].as_str() {
                "" => None,
                s => Some(s.parse().map_err(|e| bad(format!("status: {e}")))?),
            },
            error: text(3),
            node: text(4),
            label: text(5),
            url: f[6].clone(),
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(error: Option<&str>, label: Option<&str>) -> RequestRecord {
        RequestRecord {
            start_s: 1.25,
            latency_ms: 31.5,
            status: if error.is_none() { Some(200) } else { None },
            error: error.map(str::to_string),
            node: Some("n1".into()),
            label: label.map(str::to_string),
            url: "http://10.0.0.100:8000/predict".into(),
        }
    }

    #[test]
    fn csv_round_trips_with_awkward_labels() {
        let rows = vec![
            record(None, Some("tiger cat")),
            record(None, Some("hen-of-the-woods, \"hen\" of the woods")),
            record(Some("connect"), None),
        ];
        let mut out = Vec::new();
        write_csv(&mut out, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("start_s,latency_ms,status,error,node,label,url\n"));
        assert!(text.contains("\"hen-of-the-woods, \"\"hen\"\" of the woods\""));
        let back = read_csv(text.as_bytes()).unwrap();
        assert_eq!(back, rows);
        assert!(back[0].ok() && !back[2].ok());
    }

    #[test]
    fn bad_csv_names_the_line() {
        let e = read_csv("a,b\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let text = format!("{}\n1.0,x,200,,n1,cat,u\n", CSV_HEADER.join(","));
        let e = read_csv(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("latency_ms"), "{e}");
        assert!(split_csv_line("\"open").is_err());
    }
}
