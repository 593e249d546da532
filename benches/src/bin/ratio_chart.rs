//! Draws the embedis/Redis throughput ratios of `benches/compare-redis.sh` as an SVG bar
//! chart: one group of bars per test, one bar per pipeline depth, a line at 1.0 (parity).
//!
//! ```sh
//! cargo run --release -p embedis-benches --bin ratio_chart -- \
//!     benches/results/compare-redis.csv benches/results/compare-redis.svg
//! ```
//!
//! The CSV is the one compare-redis.sh writes: a header, then
//! `test,pipeline,redis_rps,embedis_rps,ratio,...` rows.

use plotters::prelude::*;

struct Row {
    test: String,
    pipeline: u32,
    ratio: f64,
}

fn read(path: &str) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let bad = || {
            format!(
                "{path}:{}: expected test,pipeline,redis,embedis,ratio",
                n + 1
            )
        };
        if f.len() < 5 {
            return Err(bad());
        }
        rows.push(Row {
            test: f[0].to_string(),
            pipeline: f[1].parse().map_err(|_| bad())?,
            ratio: f[4].parse().map_err(|_| bad())?,
        });
    }
    Ok(rows)
}

const COLORS: [RGBColor; 4] = [
    RGBColor(66, 133, 244),
    RGBColor(234, 67, 53),
    RGBColor(251, 188, 4),
    RGBColor(52, 168, 83),
];

fn draw(rows: &[Row], out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut tests: Vec<&str> = Vec::new();
    let mut pipes: Vec<u32> = Vec::new();
    for r in rows {
        if !tests.contains(&r.test.as_str()) {
            tests.push(&r.test);
        }
        if !pipes.contains(&r.pipeline) {
            pipes.push(r.pipeline);
        }
    }
    let top = rows.iter().map(|r| r.ratio).fold(1.2f64, f64::max) * 1.1;
    let root = SVGBackend::new(out, (1100, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "embedis-server / redis-server throughput (redis-benchmark -c 50)",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(70)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..tests.len() as f64, 0f64..top)?;
    let names = tests.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(tests.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 && i < names.len() {
                names[i].to_string()
            } else {
                String::new()
            }
        })
        .x_label_style(
            ("sans-serif", 11)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .y_desc("ratio (higher is better for embedis)")
        .draw()?;
    let width = 0.8 / pipes.len().max(1) as f64;
    for (p_idx, p) in pipes.iter().enumerate() {
        let color = COLORS[p_idx % COLORS.len()];
        let bars = rows.iter().filter(|r| r.pipeline == *p).map(|r| {
            let i = tests.iter().position(|t| *t == r.test).unwrap_or(0) as f64;
            let x0 = i + 0.1 + width * p_idx as f64;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.95, r.ratio)], color.filled())
        });
        chart
            .draw_series(bars)?
            .label(format!("-P {p}"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart.draw_series(LineSeries::new(
        [(0.0, 1.0), (tests.len() as f64, 1.0)],
        BLACK.stroke_width(1),
    ))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: ratio_chart <compare-redis.csv> <out.svg>");
        std::process::exit(2);
    }
    let rows = match read(&args[1]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ratio_chart: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = draw(&rows, &args[2]) {
        eprintln!("ratio_chart: {e}");
        std::process::exit(1);
    }
}
