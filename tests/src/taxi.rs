//! Deterministic NYC TLC trip files in the real layouts (DataTalksClub
//! `nyc-tlc-data` releases: yellow 18 columns, green 20, header as in the
//! real files), with realistic values and empty fields, as `.csv.gz` (or
//! plain CSV). The same `(kind, year, month, rows)` always gives the same
//! bytes. While `rows` is at most the number of seconds in the month, every
//! row has a distinct pickup time, so the zoomcamp's md5 `unique_row_id`
//! is unique per row. [`write_malformed_csv_gz`] puts a bad `fare_amount`
//! on a known line.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

/// The taxi kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Yellow,
    Green,
}

/// The yellow header (18 columns).
pub const YELLOW_COLUMNS: [&str; 18] = [
    "VendorID",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "RatecodeID",
    "store_and_fwd_flag",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
];

/// The green header (20 columns).
pub const GREEN_COLUMNS: [&str; 20] = [
    "VendorID",
    "lpep_pickup_datetime",
    "lpep_dropoff_datetime",
    "store_and_fwd_flag",
    "RatecodeID",
    "PULocationID",
    "DOLocationID",
    "passenger_count",
    "trip_distance",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "ehail_fee",
    "improvement_surcharge",
    "total_amount",
    "payment_type",
    "trip_type",
    "congestion_surcharge",
];

impl Kind {
    /// `yellow` or `green` (the flow's `taxi` input).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Yellow => "yellow",
            Kind::Green => "green",
        }
    }

    /// The header columns.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Yellow => &YELLOW_COLUMNS,
            Kind::Green => &GREEN_COLUMNS,
        }
    }
}

/// `yellow_tripdata_2019-01.csv` (add `.gz` for the release asset).
pub fn file_name(kind: Kind, year: u32, month: u32) -> String {
    format!("{}_tripdata_{year}-{month:02}.csv", kind.name())
}

/// splitmix64: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `pct`%.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

fn days_in_month(year: u32, month: u32) -> u64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        _ => 28,
    }
}

/// `YYYY-MM-DD HH:MM:SS` for `secs` seconds after the start of the month.
fn stamp(year: u32, month: u32, secs: u64) -> String {
    let (d, r) = (secs / 86400, secs % 86400);
    format!("{year}-{month:02}-{:02} {:02}:{:02}:{:02}", d + 1, r / 3600, (r % 3600) / 60, r % 60)
}

/// Formats cents as the TLC files do (`7`, `7.5`, `12.35`).
fn money(cents: i64) -> String {
    let s = format!("{}.{:02}", cents / 100, (cents % 100).abs());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if cents < 0 && !s.starts_with('-') { format!("-{s}") } else { s.to_string() }
}

/// Data line `i` (0-based, without the newline) of a month's file.
pub fn csv_line(kind: Kind, year: u32, month: u32, rows: usize, i: usize) -> String {
    let seed = ((kind as u64) << 56) ^ ((year as u64) << 40) ^ ((month as u64) << 32) ^ i as u64;
    let mut r = Rng::new(seed);
    let month_secs = days_in_month(year, month) * 86400;
    let offset = if rows as u64 <= month_secs {
        (i as u64 * month_secs) / rows.max(1) as u64
    } else {
        (i as u64 * 7919) % month_secs
    };
    let duration = 60 + r.below(3600);
    let pickup = stamp(year, month, offset);
    // a trip may end in the next month: clamp to the month's last second
    let dropoff = stamp(year, month, (offset + duration).min(month_secs - 1));
    let sparse = r.pct(2); // the "unknown vendor" rows with empty fields
    let vendor = if sparse { String::new() } else { (1 + r.below(2)).to_string() };
    let passengers = if sparse { String::new() } else { r.below(7).to_string() };
    let distance_hundredths = 10 + r.below(2500);
    let distance = format!("{}.{:02}", distance_hundredths / 100, distance_hundredths % 100);
    let ratecode =
        if sparse { String::new() } else { ["1", "1", "1", "1", "1", "1", "2", "5"][r.below(8) as usize].to_string() };
    let flag = if sparse {
        ""
    } else if r.pct(1) {
        "Y"
    } else {
        "N"
    };
    let pu = 1 + r.below(265);
    let dol = 1 + r.below(265);
    let payment = if sparse { String::new() } else { (1 + r.below(4)).to_string() };
    let fare = 250 + (distance_hundredths as i64) * 2 + r.below(500) as i64;
    let extra = [0, 50, 100][r.below(3) as usize];
    let mta = 50;
    let tip = if payment == "1" { (fare * (r.below(25) as i64)) / 100 } else { 0 };
    let tolls = if r.pct(5) { 576 } else { 0 };
    let improvement = 30;
    let congestion = if year == 2019 && month == 1 {
        None
    } else if r.pct(70) {
        Some(275)
    } else {
        Some(0)
    };
    let total = fare + extra + mta + tip + tolls + improvement + congestion.unwrap_or(0);
    let cong = congestion.map(money).unwrap_or_default();
    match kind {
        Kind::Yellow => format!(
            "{vendor},{pickup},{dropoff},{passengers},{distance},{ratecode},{flag},{pu},{dol},{payment},{},{},{},{},{},{},{},{cong}",
            money(fare),
            money(extra),
            money(mta),
            money(tip),
            money(tolls),
            money(improvement),
            money(total),
        ),
        Kind::Green => {
            let trip_type = if sparse { String::new() } else { (1 + r.below(2)).to_string() };
            format!(
                "{vendor},{pickup},{dropoff},{flag},{ratecode},{pu},{dol},{passengers},{distance},{},{},{},{},{},,{},{},{payment},{trip_type},{cong}",
                money(fare),
                money(extra),
                money(mta),
                money(tip),
                money(tolls),
                money(improvement),
                money(total),
            )
        }
    }
}

/// Writes the header and `rows` lines to `w`; with `bad_line` (1-based
/// file line, the header being line 1), that line's `fare_amount` is `abc`.
pub fn write_rows<W: Write>(
    kind: Kind,
    year: u32,
    month: u32,
    rows: usize,
    bad_line: Option<usize>,
    w: &mut W,
) -> io::Result<()> {
    writeln!(w, "{}", kind.columns().join(","))?;
    let fare_col = kind.columns().iter().position(|c| *c == "fare_amount").unwrap_or(0);
    for i in 0..rows {
        let line = csv_line(kind, year, month, rows, i);
        if bad_line == Some(i + 2) {
            let mut cells: Vec<&str> = line.split(',').collect();
            cells[fare_col] = "abc";
            writeln!(w, "{}", cells.join(","))?;
        } else {
            writeln!(w, "{line}")?;
        }
    }
    Ok(())
}

fn write_gz(kind: Kind, year: u32, month: u32, rows: usize, bad_line: Option<usize>, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(path)?;
    let mut gz = GzEncoder::new(BufWriter::with_capacity(1 << 20, file), Compression::fast());
    write_rows(kind, year, month, rows, bad_line, &mut gz)?;
    gz.finish()?.flush()
}

/// Writes a month's `.csv.gz` with `rows` data lines to `path`.
pub fn write_csv_gz(kind: Kind, year: u32, month: u32, rows: usize, path: &Path) -> io::Result<()> {
    write_gz(kind, year, month, rows, None, path)
}

/// Like [`write_csv_gz`], with `fare_amount` = `abc` on file line `bad_line`
/// (1-based; line 1 is the header, so PostgreSQL's COPY reports `line {bad_line}`).
pub fn write_malformed_csv_gz(
    kind: Kind,
    year: u32,
    month: u32,
    rows: usize,
    bad_line: usize,
    path: &Path,
) -> io::Result<()> {
    write_gz(kind, year, month, rows, Some(bad_line), path)
}

/// Writes a plain (uncompressed) CSV.
pub fn write_csv(kind: Kind, year: u32, month: u32, rows: usize, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    write_rows(kind, year, month, rows, None, &mut w)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_determinism() {
        for kind in [Kind::Yellow, Kind::Green] {
            let a = csv_line(kind, 2019, 1, 100, 7);
            assert_eq!(a, csv_line(kind, 2019, 1, 100, 7));
            assert_eq!(a.split(',').count(), kind.columns().len(), "{a}");
            let mut buf = Vec::new();
            write_rows(kind, 2020, 2, 10, Some(5), &mut buf).unwrap();
            let text = String::from_utf8(buf).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 11);
            assert!(lines[0].starts_with("VendorID,"));
            assert!(lines[4].contains(",abc,"), "{}", lines[4]);
            assert_eq!(lines.iter().filter(|l| l.contains("abc")).count(), 1);
        }
        assert_eq!(money(700), "7");
        assert_eq!(money(750), "7.5");
        assert_eq!(money(1235), "12.35");
        assert_eq!(file_name(Kind::Green, 2019, 4), "green_tripdata_2019-04.csv");
    }
}
