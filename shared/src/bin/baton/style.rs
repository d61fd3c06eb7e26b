//! How the CLI's progress looks: colour by state on a terminal (none when
//! stderr is not a terminal, or when `NO_COLOR` is set to anything but the
//! empty string, as no-color.org asks), and durations for humans (`217 ms`,
//! `4.2 s`, `3 min 05 s`) instead of Kestra's ISO-8601 `PT0.217S`.

use std::io::IsTerminal;
use std::sync::OnceLock;

use shared::model::StateType;

/// Whether stderr gets colour: a terminal, and `NO_COLOR` unset or empty.
pub fn colour() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| colour_for(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR")))
}

fn colour_for(tty: bool, no_color: Option<std::ffi::OsString>) -> bool {
    tty && no_color.is_none_or(|v| v.is_empty())
}

/// The ANSI colour of a state: green ended well, red failed, yellow a
/// warning or a retry, cyan running, blue paused or waiting.
fn code(state: StateType) -> &'static str {
    match state {
        StateType::Success => "32",
        StateType::Warning | StateType::Retrying | StateType::Retried => "33",
        s if s.is_failed() => "31",
        StateType::Running => "36",
        StateType::Paused | StateType::Queued => "34",
        _ => "2",
    }
}

/// `text` in the colour of `state` when `on`.
pub fn paint(on: bool, state: StateType, text: &str) -> String {
    if on { format!("\x1b[{}m{text}\x1b[0m", code(state)) } else { text.to_string() }
}

/// `text` dimmed when `on`.
pub fn dim(on: bool, text: &str) -> String {
    if on { format!("\x1b[2m{text}\x1b[0m") } else { text.to_string() }
}

/// An ISO-8601 duration (`PT0.217S`, `PT1M5.2S`, `PT2H`) for humans;
/// anything else unchanged.
pub fn human(iso: &str) -> String {
    match shared::model::duration::parse_iso(iso) {
        Ok(d) => human_ms(d.num_milliseconds()),
        Err(_) => iso.to_string(),
    }
}

/// A duration in milliseconds for humans.
pub fn human_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 10_000 {
        return format!("{:.2} s", ms as f64 / 1000.0);
    }
    if ms < 60_000 {
        return format!("{:.1} s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    if s < 3600 {
        return format!("{} min {:02} s", s / 60, s % 60);
    }
    if s < 86_400 {
        return format!("{} h {:02} min", s / 3600, (s % 3600) / 60);
    }
    format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(human("PT0.217S"), "217 ms");
        assert_eq!(human("PT0S"), "0 ms");
        assert_eq!(human("PT4.2S"), "4.20 s");
        assert_eq!(human("PT12.34S"), "12.3 s");
        assert_eq!(human("PT1M5.2S"), "1 min 05 s");
        assert_eq!(human("PT2H3M"), "2 h 03 min");
        assert_eq!(human("P2DT3H"), "2 d 03 h");
        assert_eq!(human("soon"), "soon");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_for(true, None));
        assert!(colour_for(true, Some("".into())));
        assert!(!colour_for(true, Some("1".into())));
        assert!(!colour_for(false, None));
        assert_eq!(paint(false, StateType::Failed, "x"), "x");
        assert_eq!(paint(true, StateType::Failed, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(paint(true, StateType::Success, "x"), "\x1b[32mx\x1b[0m");
    }
}
