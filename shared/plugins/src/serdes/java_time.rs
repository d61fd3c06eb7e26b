//! Parsing text with a Java `DateTimeFormatter` pattern, as Kestra's
//! `dateFormat`, `timeFormat` and `datetimeFormat` are written
//! (`yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]`): fields, quoted literals and
//! optional sections `[…]`, tried with and without. The text must match
//! whole. Fractions (`S…`) take 1 to 9 digits.

use chrono::{FixedOffset, NaiveDate, NaiveTime};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(String),
    /// A pattern letter and its count.
    Field(char, usize),
    Optional(Vec<Tok>),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    text: String,
    toks: Vec<Tok>,
}

/// What a text held.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Parsed {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    nano: Option<u32>,
    pub offset: Option<FixedOffset>,
}

impl Parsed {
    pub fn date(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year?, self.month?, self.day?)
    }

    pub fn time(&self) -> Option<NaiveTime> {
        let mut h = self.hour?;
        if let Some(pm) = self.pm {
            h = h % 12 + if pm { 12 } else { 0 };
        }
        NaiveTime::from_hms_nano_opt(h, self.minute.unwrap_or(0), self.second.unwrap_or(0), self.nano.unwrap_or(0))
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl Pattern {
    /// Compiles `text`; the error says what is wrong with it.
    pub fn compile(text: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let toks = seq(&chars, &mut i, 0)?;
        Ok(Pattern { text: text.to_string(), toks })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Parses the whole of `s`.
    pub fn parse(&self, s: &str) -> Option<Parsed> {
        let chars: Vec<char> = s.chars().collect();
        matches(&self.toks, &[], &chars, 0, Parsed::default())
    }
}

fn seq(chars: &[char], i: &mut usize, depth: usize) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    while *i < chars.len() {
        let c = chars[*i];
        match c {
            '[' => {
                *i += 1;
                out.push(Tok::Optional(seq(chars, i, depth + 1)?));
            }
            ']' if depth > 0 => {
                *i += 1;
                return Ok(out);
            }
            ']' => return Err("']' without its '['".into()),
            '\'' => {
                *i += 1;
                let mut lit = String::new();
                loop {
                    match chars.get(*i) {
                        None => return Err("a quoted literal is not closed".into()),
                        Some('\'') if chars.get(*i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            *i += 2;
                        }
                        Some('\'') => {
                            *i += 1;
                            break;
                        }
                        Some(&ch) => {
                            lit.push(ch);
                            *i += 1;
                        }
                    }
                }
                // '' is a quote
                out.push(Tok::Lit(if lit.is_empty() { "'".into() } else { lit }));
            }
            c if c.is_ascii_alphabetic() => {
                let mut n = 1;
                while chars.get(*i + n) == Some(&c) {
                    n += 1;
                }
                if !matches!(
                    c,
                    'y' | 'u' | 'M' | 'L' | 'd' | 'H' | 'k' | 'h' | 'K' | 'a' | 'm' | 's' | 'S' | 'X' | 'x' | 'Z'
                ) {
                    return Err(format!("the pattern letter '{c}' is not supported"));
                }
                out.push(Tok::Field(c, n));
                *i += n;
            }
            c => {
                out.push(Tok::Lit(c.to_string()));
                *i += 1;
            }
        }
    }
    if depth > 0 { Err("'[' without its ']'".into()) } else { Ok(out) }
}

/// Matches `toks` then `rest` (the tokens after an enclosing optional
/// section) against `s` from `pos`, to its end.
fn matches(toks: &[Tok], rest: &[&[Tok]], s: &[char], pos: usize, p: Parsed) -> Option<Parsed> {
    let Some((tok, tail)) = toks.split_first() else {
        return match rest.split_first() {
            Some((next, outer)) => matches(next, outer, s, pos, p),
            None => (pos == s.len()).then_some(p),
        };
    };
    match tok {
        Tok::Lit(l) => {
            let n = l.chars().count();
            let got: String = s.get(pos..pos + n)?.iter().collect();
            (got == *l).then_some(())?;
            matches(tail, rest, s, pos + n, p)
        }
        Tok::Optional(inner) => {
            let mut stack: Vec<&[Tok]> = vec![tail];
            stack.extend_from_slice(rest);
            matches(inner, &stack, s, pos, p).or_else(|| matches(tail, rest, s, pos, p))
        }
        Tok::Field(c, n) => {
            let (p, used) = field(*c, *n, &s[pos..], p)?;
            matches(tail, rest, s, pos + used, p)
        }
    }
}

/// Digits at the start of `s`: at least `min`, at most `max`.
fn digits(s: &[char], min: usize, max: usize) -> Option<(u32, usize)> {
    let n = s.iter().take(max).take_while(|c| c.is_ascii_digit()).count();
    if n < min {
        return None;
    }
    let text: String = s[..n].iter().collect();
    text.parse().ok().map(|v| (v, n))
}

fn field(c: char, n: usize, s: &[char], mut p: Parsed) -> Option<(Parsed, usize)> {
    let fixed = |s: &[char]| if n >= 2 { digits(s, n, n) } else { digits(s, 1, 2) };
    let used = match c {
        'y' | 'u' => {
            let (v, used) = if n == 2 { digits(s, 2, 2).map(|(v, u)| (v + 2000, u))? } else { digits(s, n.max(1), 9)? };
            p.year = Some(i32::try_from(v).ok()?);
            used
        }
        'M' | 'L' if n >= 3 => {
            let text: String = s.iter().take_while(|c| c.is_alphabetic()).collect::<String>().to_lowercase();
            let i = MONTHS.iter().position(|m| if n == 3 { text == m[..3] } else { text == *m })?;
            p.month = Some(i as u32 + 1);
            text.chars().count()
        }
        'M' | 'L' => set(&mut p.month, fixed(s)?),
        'd' => set(&mut p.day, fixed(s)?),
        'H' | 'k' | 'h' | 'K' => set(&mut p.hour, fixed(s)?),
        'm' => set(&mut p.minute, fixed(s)?),
        's' => set(&mut p.second, fixed(s)?),
        'S' => {
            let (v, used) = digits(s, 1, 9)?;
            p.nano = Some(v * 10u32.pow(9 - used as u32));
            used
        }
        'a' => {
            let t: String = s.iter().take(2).collect::<String>().to_ascii_uppercase();
            p.pm = Some(match t.as_str() {
                "AM" => false,
                "PM" => true,
                _ => return None,
            });
            2
        }
        _ => {
            // X, x, Z: an offset (X also 'Z' for zero)
            if c == 'X' && s.first() == Some(&'Z') {
                p.offset = FixedOffset::east_opt(0);
                return Some((p, 1));
            }
            let sign = match s.first()? {
                '+' => 1,
                '-' => -1,
                _ => return None,
            };
            let (h, mut used) = digits(&s[1..], 2, 2)?;
            used += 1;
            let mut m = 0;
            let colon = s.get(used) == Some(&':');
            if let Some((mm, u)) = digits(&s[used + usize::from(colon)..], 2, 2) {
                m = mm;
                used += u + usize::from(colon);
            }
            p.offset = FixedOffset::east_opt(sign * (h as i32 * 3600 + m as i32 * 60));
            used
        }
    };
    Some((p, used))
}

fn set(slot: &mut Option<u32>, (v, used): (u32, usize)) -> usize {
    *slot = Some(v);
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_default_patterns() {
        let dt = Pattern::compile("yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]").unwrap();
        let p = dt.parse("2024-03-01T10:20:30.5+01:00").unwrap();
        assert_eq!(p.date().unwrap().to_string(), "2024-03-01");
        assert_eq!(p.time().unwrap().to_string(), "10:20:30.500");
        assert_eq!(p.offset, FixedOffset::east_opt(3600));
        let p = dt.parse("2024-03-01T10:20").unwrap();
        assert_eq!((p.time().unwrap().to_string(), p.offset), ("10:20:00".to_string(), None));
        assert_eq!(dt.parse("2024-03-01T10:20:30Z").unwrap().offset, FixedOffset::east_opt(0));
        assert!(dt.parse("2024-03-01 10:20:30").is_none());
        let spaced = Pattern::compile("yyyy-MM-dd' 'HH:mm:ss").unwrap();
        assert_eq!(spaced.parse("2024-03-01 10:20:30").unwrap().time().unwrap().to_string(), "10:20:30");
        assert!(spaced.parse("2024-03-01 10:20").is_none());
        let d = Pattern::compile("dd/MMM/yyyy[XXX]").unwrap();
        assert_eq!(d.parse("05/Feb/2024").unwrap().date().unwrap().to_string(), "2024-02-05");
        let t = Pattern::compile("hh:mm a").unwrap();
        assert_eq!(t.parse("02:15 PM").unwrap().time().unwrap().to_string(), "14:15:00");
        assert!(Pattern::compile("yyyy[").is_err());
        assert!(Pattern::compile("'open").is_err());
        assert!(Pattern::compile("yyyy-ww").unwrap_err().contains("'w'"));
    }
}
