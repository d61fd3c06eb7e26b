//! The declared shape of a plugin's, trigger's or condition's properties,
//! as `baton validate` checks them on the unrendered value.

/// The expected shape of a property, checked by `baton validate` on the
/// unrendered value (a template string is accepted for any kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropKind {
    String,
    Integer,
    Number,
    Boolean,
    /// An ISO-8601 duration string.
    Duration,
    List,
    Map,
    /// A string or a list of strings.
    StringOrList,
    Any,
}

/// One property of a plugin.
#[derive(Debug, Clone, Copy)]
pub struct PropSpec {
    pub name: &'static str,
    pub kind: PropKind,
    pub required: bool,
}

impl PropSpec {
    pub const fn required(name: &'static str, kind: PropKind) -> PropSpec {
        PropSpec { name, kind, required: true }
    }
    pub const fn optional(name: &'static str, kind: PropKind) -> PropSpec {
        PropSpec { name, kind, required: false }
    }
}
