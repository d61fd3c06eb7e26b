//! What the XML readers share (the serdes `XmlToIon` task and Odoo's
//! XML-RPC): entity references resolved as org.json and Python resolve
//! them.

use quick_xml::events::BytesRef;

/// An entity reference's text: a character reference or a predefined
/// entity resolved, any other entity kept as written (org.json does the same).
pub fn entity(r: &BytesRef) -> Result<String, String> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(c.to_string());
    }
    let name = r.clone().into_inner();
    Ok(match &*name {
        "lt" => "<".into(),
        "gt" => ">".into(),
        "amp" => "&".into(),
        "apos" => "'".into(),
        "quot" => "\"".into(),
        other => format!("&{other};"),
    })
}
