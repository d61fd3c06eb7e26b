//! A unified diff of two texts, line by line (for `baton migrate --diff`).
//! Bounded: above [`MAX_CELLS`] line pairs the whole text is one hunk.

/// The largest line-pair table the diff computes (lines(a) × lines(b)).
pub const MAX_CELLS: usize = 16_000_000;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Keep,
    Del,
    Add,
}

/// `a` → `b` as a unified diff with 3 lines of context, labelled `label`;
/// empty when they are equal.
pub fn unified(label: &str, a: &str, b: &str) -> String {
    if a == b {
        return String::new();
    }
    let x: Vec<&str> = a.split_inclusive('\n').collect();
    let y: Vec<&str> = b.split_inclusive('\n').collect();
    let ops = script(&x, &y);
    let mut out = format!("--- {label}\n+++ {label} (2.0)\n");
    // group the script into hunks with 3 lines of context
    let mut i = 0;
    let (mut ai, mut bi) = (0usize, 0usize);
    let pos: Vec<(usize, usize)> = ops
        .iter()
        .map(|op| {
            let p = (ai, bi);
            match op {
                Op::Keep => {
                    ai += 1;
                    bi += 1;
                }
                Op::Del => ai += 1,
                Op::Add => bi += 1,
            }
            p
        })
        .collect();
    while i < ops.len() {
        if ops[i] == Op::Keep {
            i += 1;
            continue;
        }
        let start = i.saturating_sub(3);
        // the hunk runs to its last change whose gap to the next is over 6 kept lines
        let mut last = i;
        let mut k = i + 1;
        while k < ops.len() && k <= last + 7 {
            if ops[k] != Op::Keep {
                last = k;
            }
            k += 1;
        }
        let end = (last + 4).min(ops.len());
        let (a0, b0) = pos[start];
        let na = ops[start..end].iter().filter(|o| **o != Op::Add).count();
        let nb = ops[start..end].iter().filter(|o| **o != Op::Del).count();
        out.push_str(&format!("@@ -{},{na} +{},{nb} @@\n", a0 + 1, b0 + 1));
        for k in start..end {
            let (ak, bk) = pos[k];
            let (sign, line) = match ops[k] {
                Op::Keep => (' ', x[ak]),
                Op::Del => ('-', x[ak]),
                Op::Add => ('+', y[bk]),
            };
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
        i = end;
    }
    out
}

fn script(x: &[&str], y: &[&str]) -> Vec<Op> {
    let (n, m) = (x.len(), y.len());
    if n.saturating_mul(m) > MAX_CELLS {
        return std::iter::repeat_n(Op::Del, n).chain(std::iter::repeat_n(Op::Add, m)).collect();
    }
    // lcs[i][j] = LCS length of x[i..], y[j..]
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] =
                if x[i] == y[j] { lcs[at(i + 1, j + 1)] + 1 } else { lcs[at(i + 1, j)].max(lcs[at(i, j + 1)]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            ops.push(Op::Keep);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            ops.push(Op::Del);
            i += 1;
        } else {
            ops.push(Op::Add);
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_changed_line_is_one_hunk() {
        let a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            super::unified("f.yaml", a, b),
            "--- f.yaml\n+++ f.yaml (2.0)\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
        assert_eq!(super::unified("f", a, a), "");
    }
}
