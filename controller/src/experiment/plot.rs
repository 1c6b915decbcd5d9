//! The experiment's plots, each drawn twice with `plotters`: a PNG (text rendered with `ab_glyph`
//! from a TrueType font read at run time, DejaVu Sans from Debian's `fonts-dejavu-core` by default,
//! since nothing may be fetched at build time) and an SVG. Plots: latency CDF per algorithm,
//! per-backend share as grouped bars, and median latency over time with the scenario steps marked.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

/// Where the font is looked for unless `$RUDDER_PLOT_FONT` names another TrueType file.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const SIZE: (u32, u32) = (1000, 600);
const FONT: &str = "sans-serif";

/// A plot that could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlotError(pub String);

/// Registers the font once per process; the error says what to install.
pub fn ensure_font() -> Result<(), PlotError> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = std::env::var_os("RUDDER_PLOT_FONT")
                .map_or_else(|| PathBuf::from(DEFAULT_FONT), PathBuf::from);
            let bytes = std::fs::read(&path).map_err(|e| {
                format!(
                    "cannot read the plot font {} ({e}): install it with `apt-get install fonts-dejavu-core` \
                     (or `make deps`), or set RUDDER_PLOT_FONT to a .ttf file",
                    path.display()
                )
            })?;
            // plotters keeps fonts for the life of the process; this happens once.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FONT, FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a usable TrueType font", path.display()))
        })
        .clone()
        .map_err(PlotError)
}

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A vertical marker (a scenario step) at `x` with a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

fn err<E: std::fmt::Display>(what: &Path) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError(format!("drawing {}: {e}", what.display()))
}

/// Draws `draw` into `<stem>.png` and `<stem>.svg`; returns both paths.
macro_rules! both {
    ($stem:expr, $draw:ident, $($arg:expr),*) => {{
        ensure_font()?;
        let png = $stem.with_extension("png");
        let svg = $stem.with_extension("svg");
        $draw(&BitMapBackend::new(&png, SIZE).into_drawing_area(), $($arg),*).map_err(err(&png))?;
        $draw(&SVGBackend::new(&svg, SIZE).into_drawing_area(), $($arg),*).map_err(err(&svg))?;
        Ok(vec![png, svg])
    }};
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The empirical latency CDF of each algorithm. The x axis ends at the largest 99th percentile
/// (times 1.2), so a few outliers do not squash the interesting part; each curve still reaches 1.
pub fn latency_cdf(stem: &Path, series: &[Series], x_max: f64) -> Result<Vec<PathBuf>, PlotError> {
    both!(stem, draw_cdf, series, x_max)
}

fn draw_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    x_max: f64,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let x_max = if x_max > 0.0 && x_max.is_finite() { x_max } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .caption("Latency CDF per algorithm", (FONT, 24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..1.0)?;
    chart
        .configure_mesh()
        .x_desc("latency of successful requests (ms)")
        .y_desc("fraction of requests")
        .label_style((FONT, 15))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = s.points.iter().map(|&(x, y)| (x.min(x_max), y));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()
}

/// Grouped bars: for each algorithm, one bar per backend with its mean share of requests.
/// `shares[a][b]` is algorithm `a`'s share for backend `b`.
pub fn backend_shares(
    stem: &Path,
    algorithms: &[String],
    backends: &[String],
    shares: &[Vec<f64>],
) -> Result<Vec<PathBuf>, PlotError> {
    both!(stem, draw_shares, algorithms, backends, shares)
}

fn draw_shares<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    algorithms: &[String],
    backends: &[String],
    shares: &[Vec<f64>],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let n = algorithms.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption("Share of requests per backend", (FONT, 24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..1.0)?;
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            algorithms.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .y_desc("share of successful requests")
        .label_style((FONT, 14))
        .draw()?;
    let width = 0.8 / backends.len().max(1) as f64;
    for (b, backend) in backends.iter().enumerate() {
        let color = Palette99::pick(b).to_rgba();
        let bars = shares.iter().enumerate().map(move |(a, row)| {
            let x0 = a as f64 - 0.4 + b as f64 * width;
            let share = row.get(b).copied().unwrap_or(0.0);
            Rectangle::new([(x0, 0.0), (x0 + width * 0.9, share)], color.filled())
        });
        chart
            .draw_series(bars)?
            .label(backend.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()
}

/// Median latency per time bin for each algorithm, with a vertical line at each scenario step.
pub fn latency_over_time(
    stem: &Path,
    series: &[Series],
    markers: &[Marker],
    x_max: f64,
) -> Result<Vec<PathBuf>, PlotError> {
    both!(stem, draw_over_time, series, markers, x_max)
}

fn draw_over_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    markers: &[Marker],
    x_max: f64,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let x_max = if x_max > 0.0 && x_max.is_finite() { x_max } else { 1.0 };
    let y_max =
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0f64, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption("Median latency over time (first repetition)", (FONT, 24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time since the workload started (s)")
        .y_desc("median latency (ms)")
        .label_style((FONT, 15))
        .draw()?;
    for m in markers {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(m.x, 0.0), (m.x, y_max)],
            BLACK.mix(0.6).stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(m.label.clone(), (m.x, y_max * 0.97), (FONT, 15))))?;
    }
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rudder-plot-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn is_png(path: &Path) -> bool {
        std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 1000)
    }

    #[test]
    fn plots_are_written_as_png_and_svg_with_their_labels() {
        if ensure_font().is_err() {
            // The font is installed by `make deps`; CI has it. Say so instead of passing silently.
            panic!("{}", ensure_font().unwrap_err());
        }
        let dir = temp("all");
        let series = vec![
            Series { name: "round_robin".into(), points: vec![(10.0, 0.1), (20.0, 0.6), (40.0, 1.0)] },
            Series { name: "least_connections".into(), points: vec![(8.0, 0.2), (15.0, 0.9), (30.0, 1.0)] },
        ];
        let files = latency_cdf(&dir.join("latency_cdf"), &series, 48.0).unwrap();
        assert!(is_png(&files[0]));
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(svg.contains("<svg") && svg.contains("least_connections"), "legend in the SVG");

        let algorithms = vec!["round_robin".to_string(), "random".to_string()];
        let backends = vec!["n1".to_string(), "n2".to_string()];
        let files =
            backend_shares(&dir.join("shares"), &algorithms, &backends, &[vec![0.5, 0.5], vec![0.7, 0.3]])
                .unwrap();
        assert!(is_png(&files[0]));
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(svg.contains("random") && svg.contains("n2"), "{svg}");

        let markers = vec![Marker { x: 2.0, label: "kill n2".into() }];
        let files = latency_over_time(&dir.join("time"), &series, &markers, 50.0).unwrap();
        assert!(is_png(&files[0]));
        assert!(std::fs::read_to_string(&files[1]).unwrap().contains("kill n2"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
