//! An error with its sources, in one line: what a task or a backend shows
//! when a call to a service fails (reqwest, for one, hides the useful part,
//! such as "connection refused", in the sources).

/// An error and its sources, joined with `: `, each source once.
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}
