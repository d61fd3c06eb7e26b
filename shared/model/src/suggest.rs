//! "Did you mean" hints: the closest known type name, by edit distance on
//! the last dotted segment (ties broken on the whole name).

/// Optimal-string-alignment distance (Levenshtein plus adjacent swaps).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

fn last_segment(s: &str) -> &str {
    s.rsplit('.').next().unwrap_or(s)
}

/// The candidate closest to `written`, if it is close enough to be a typo.
///
/// Linear in the candidates: a name longer than [`MAX_SUGGESTABLE`] gets no
/// hint, and a candidate whose length alone puts it out of reach is skipped
/// before any distance is computed.
pub fn closest<'a>(written: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if written.len() > MAX_SUGGESTABLE {
        return None;
    }
    let last = last_segment(written).to_ascii_lowercase();
    let len = last.chars().count();
    let limit = (len / 3).max(2);
    candidates
        .into_iter()
        .filter(|c| *c != written)
        .filter(|c| last_segment(c).chars().count().abs_diff(len) <= limit)
        .filter_map(|c| {
            let d = distance(&last, &last_segment(c).to_ascii_lowercase());
            (d <= limit).then(|| (d, distance(written, c), c))
        })
        .min()
        .map(|(_, _, c)| c)
}

/// The longest name "did you mean" is computed for.
pub const MAX_SUGGESTABLE: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_names_get_no_hint_and_take_no_time() {
        let names = ["io.kestra.plugin.core.log.Log", "io.kestra.plugin.core.kv.Set"];
        let started = std::time::Instant::now();
        assert_eq!(closest(&"x".repeat(2_000_000), names), None);
        assert_eq!(closest(&format!("io.kestra.{}", "L".repeat(200)), names), None);
        assert!(started.elapsed().as_millis() < 200);
    }

    #[test]
    fn distances() {
        assert_eq!(distance("Log", "Lgo"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn suggests_on_last_segment_then_whole_name() {
        let names = ["io.kestra.core.tasks.log.Log", "io.kestra.plugin.core.log.Log", "io.kestra.plugin.core.kv.Set"];
        assert_eq!(closest("io.kestra.plugin.core.log.Lgo", names), Some("io.kestra.plugin.core.log.Log"));
        assert_eq!(closest("io.kestra.plugin.core.Log", names), Some("io.kestra.plugin.core.log.Log"));
        assert_eq!(closest("io.kestra.plugin.jdbc.duckdb.Queries", names), None);
    }
}
