//! Telling a template expression from plain text, as Kestra does before
//! it renders or checks a property.

/// True if the string contains template syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}
