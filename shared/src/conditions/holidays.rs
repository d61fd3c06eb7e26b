//! Public holidays for `PublicHoliday`, offline (Kestra uses the jollyday
//! library; Baton implements the rules of the countries listed in
//! [`SUPPORTED`] exactly, any other is a validation error naming the list).

use chrono::NaiveDate;

/// The countries (ISO 3166-1 alpha-2) whose holidays Baton computes.
pub const SUPPORTED: &[&str] = &[];

/// Whether `country` (and `sub_division`) can be evaluated: `Err` names the
/// problem (prefixed `subDivision` when it is about the subdivision).
pub fn check(country: &str, _sub_division: Option<&str>) -> Result<(), String> {
    Err(format!("country '{country}' is not supported (supported: {})", SUPPORTED.join(", ")))
}

/// Whether `day` is a public holiday of `country` (and `sub_division`).
pub fn is_holiday(country: &str, sub_division: Option<&str>, _day: NaiveDate) -> Result<bool, String> {
    check(country, sub_division).map(|_| false)
}
