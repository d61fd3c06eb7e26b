//! `documentSplitter` of `IngestDocument`: cuts a document into segments of
//! at most `maxSegmentSizeInChars`, in langchain4j's spirit — RECURSIVE tries
//! paragraphs, then lines, then sentences, then words, then characters;
//! PARAGRAPH/LINE/SENTENCE/WORD start at that level (a unit still too long
//! is cut at the next level). Units are packed greedily; each segment
//! after the first starts with up to `maxOverlapSizeInChars` of the end of
//! the previous one (whole words).

/// The splitter levels, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Paragraph,
    Line,
    Sentence,
    Word,
    Char,
}

impl Level {
    /// Kestra's `splitter` names.
    pub fn from_name(s: &str) -> Option<Level> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RECURSIVE" | "PARAGRAPH" => Some(Level::Paragraph),
            "LINE" => Some(Level::Line),
            "SENTENCE" => Some(Level::Sentence),
            "WORD" => Some(Level::Word),
            _ => None,
        }
    }

    fn next(self) -> Level {
        match self {
            Level::Paragraph => Level::Line,
            Level::Line => Level::Sentence,
            Level::Sentence => Level::Word,
            Level::Word | Level::Char => Level::Char,
        }
    }

    fn joiner(self) -> &'static str {
        match self {
            Level::Paragraph => "\n\n",
            Level::Line => "\n",
            Level::Sentence | Level::Word => " ",
            Level::Char => "",
        }
    }
}

fn units(text: &str, level: Level) -> Vec<String> {
    let v: Vec<String> = match level {
        Level::Paragraph => text.split("\n\n").map(str::to_string).collect(),
        Level::Line => text.split('\n').map(str::to_string).collect(),
        Level::Sentence => {
            let mut out = Vec::new();
            let mut cur = String::new();
            let chars: Vec<char> = text.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                cur.push(*c);
                if matches!(c, '.' | '!' | '?') && chars.get(i + 1).is_none_or(|n| n.is_whitespace()) {
                    out.push(std::mem::take(&mut cur));
                }
            }
            out.push(cur);
            out
        }
        Level::Word => text.split_whitespace().map(str::to_string).collect(),
        Level::Char => text.chars().map(String::from).collect(),
    };
    v.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// The pieces of `text`, each at most `max` characters, at `level` or finer.
fn pieces(text: &str, level: Level, max: usize, out: &mut Vec<(String, Level)>) {
    for u in units(text, level) {
        if char_len(&u) <= max || level == Level::Char {
            out.push((u, level));
        } else {
            pieces(&u, level.next(), max, out);
        }
    }
}

/// The end of `s`, at most `n` characters, starting at a word boundary.
fn tail(s: &str, n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::new();
    let mut len = 0;
    for w in words.iter().rev() {
        let add = char_len(w) + usize::from(!out.is_empty());
        if len + add > n {
            break;
        }
        len += add;
        out.push(w);
    }
    out.reverse();
    out.join(" ")
}

/// Splits `text` into segments.
pub fn split(text: &str, level: Level, max: usize, overlap: usize) -> Vec<String> {
    let max = max.max(1);
    let overlap = overlap.min(max / 2);
    let mut ps = Vec::new();
    pieces(text, level, max, &mut ps);
    let mut segs: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut fresh = true; // cur holds only overlap so far
    for (p, lvl) in ps {
        let joiner = if cur.is_empty() { "" } else { lvl.joiner() };
        if char_len(&cur) + char_len(joiner) + char_len(&p) <= max {
            cur.push_str(joiner);
            cur.push_str(&p);
            fresh = false;
        } else {
            if !fresh {
                segs.push(cur.clone());
            }
            let t = tail(&cur, overlap);
            cur =
                if !fresh && !t.is_empty() && char_len(&t) + 1 + char_len(&p) <= max { format!("{t} {p}") } else { p };
            fresh = false;
        }
    }
    if !fresh && !cur.is_empty() {
        segs.push(cur);
    }
    segs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_respect_the_size_and_overlap() {
        let text =
            "First paragraph is here. It has two sentences.\n\nSecond one.\n\n".to_string() + &"word ".repeat(40);
        let segs = split(&text, Level::Paragraph, 60, 10);
        assert!(segs.iter().all(|s| s.chars().count() <= 60), "{segs:?}");
        assert_eq!(segs[0], "First paragraph is here. It has two sentences.\n\nSecond one.");
        assert!(segs.len() > 3);
        let words = split("a b c d e f g h", Level::Word, 3, 0);
        assert_eq!(words, vec!["a b", "c d", "e f", "g h"]);
        assert!(split("", Level::Paragraph, 10, 0).is_empty());
    }
}
