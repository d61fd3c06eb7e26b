//! Percent-encoding of one URL path segment or query value (RFC 3986
//! unreserved characters kept, everything else — `/` included — encoded),
//! as the GCS and BigQuery JSON APIs expect for object and job names.

/// Encodes `s` for use as a single path segment or query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_slashes_and_spaces() {
        assert_eq!(super::encode("dir/a b+é.csv"), "dir%2Fa%20b%2B%C3%A9.csv");
        assert_eq!(super::encode("plain-name_1.~"), "plain-name_1.~");
    }
}
