//! Tests of `XmlToIon`: the values org.json makes, Kestra's unwrapping,
//! `query`, `forceList`, the bound, malformed input, and round trips
//! through `IonToXml`.

use std::collections::HashSet;

use super::*;
use crate::serdes::test_support::run_job;

fn ion_with(input: &str, query: Option<&str>, force: &[&str]) -> Result<String, String> {
    let input = input.as_bytes().to_vec();
    let query = query.map(|q| parse_query(q).unwrap());
    let names =
        Names { local: query.is_some(), force_list: force.iter().map(|s| s.to_string()).collect::<HashSet<_>>() };
    run_job(input, move |src, out| to_ion(src, out, encoding_rs::UTF_8, query, names, "kestra:///f.xml"))
}

fn ion(input: &str) -> String {
    ion_with(input, None, &[]).unwrap()
}

#[test]
fn a_list_under_the_root_gives_a_record_per_item() {
    let items = "<?xml version='1.0' encoding='UTF-8'?>\n<items>\n  <item>\n    <job_title>BI Data Analyst</job_title>\n    \
                 <avg_salary>836644.8</avg_salary>\n  </item>\n  <item>\n    <job_title>ML Engineer</job_title>\n    \
                 <avg_salary>679247.63</avg_salary>\n  </item>\n</items>\n";
    assert_eq!(
        ion(items),
        "{\"job_title\":\"BI Data Analyst\",\"avg_salary\":836644.8}\n{\"job_title\":\"ML Engineer\",\"avg_salary\":679247.63}\n"
    );
}

#[test]
fn any_other_document_is_one_record_typed_as_org_json_types_it() {
    let doc = "<!-- c --><order id=\"7\" paid=\"true\"><ref>007</ref><note>a &amp; b &#x41;</note>\
               <line n=\"1\">x</line><empty/><cdata><![CDATA[<raw> 1]]></cdata><nil>null</nil></order>";
    assert_eq!(
        ion(doc),
        "{\"order\":{\"id\":7,\"paid\":true,\"ref\":\"007\",\"note\":\"a & b A\",\"line\":{\"n\":1,\"content\":\"x\"},\
         \"empty\":\"\",\"cdata\":\"<raw> 1\",\"nil\":null}}\n"
    );
    // one item only: not a list, one record as Kestra writes it
    assert_eq!(ion("<items><item><a>1</a></item></items>"), "{\"items\":{\"item\":{\"a\":1}}}\n");
    // an empty file: an empty record, as Kestra
    assert_eq!(ion(""), "{}\n");
    assert_eq!(ion("<a:r xmlns:a=\"u\"><a:x>1</a:x></a:r>"), "{\"a:r\":{\"xmlns:a\":\"u\",\"a:x\":1}}\n");
}

#[test]
fn numbers_are_written_as_org_json_reads_them() {
    let doc = "<r p=\"1.50\" t=\"\u{0}x\"><q>007</q><e>1e3</e><big>123456789012345678901234</big><z>-0</z></r>";
    assert_eq!(
        ion(doc),
        "{\"r\":{\"p\":1.50,\"t\":\"\\u0000x\",\"q\":\"007\",\"e\":1d3,\"big\":123456789012345678901234,\"z\":-0e0}}\n"
    );
}

#[test]
fn force_list_makes_lists_of_single_elements() {
    assert_eq!(ion_with("<items><item><a>1</a></item></items>", None, &["item"]).unwrap(), "{\"a\":1}\n");
    assert_eq!(ion_with("<r><tag>x</tag><k>1</k></r>", None, &["tag"]).unwrap(), "{\"r\":{\"tag\":[\"x\"],\"k\":1}}\n");
}

#[test]
fn query_streams_each_matching_element() {
    let books = "<?xml version=\"1.0\"?>\n<catalog>\n  <book id=\"bk101\">\n    <price>44.95</price>\n  </book>\n  \
                 <magazine><book id=\"no\"/></magazine>\n  <x:book xmlns:x=\"u\" x:id=\"bk102\"><title>Rain</title></x:book>\n\
                 </catalog>\n<!-- after -->\n";
    assert_eq!(
        ion_with(books, Some("/catalog/book"), &[]).unwrap(),
        "{\"id\":\"bk101\",\"price\":44.95}\n{\"id\":\"bk102\",\"title\":\"Rain\"}\n"
    );
    // Kestra's empty-tag cases
    let empty_tag = "<?xml version=\"1.0\"?>\n<catalog>\n\n</catalog>\n";
    assert_eq!(ion_with(empty_tag, Some("/random/stuff"), &[]).unwrap(), "");
    assert_eq!(ion_with(empty_tag, Some("/catalog"), &[]).unwrap(), "\"\"\n");
    assert_eq!(ion_with("", Some("/random/stuff"), &[]).unwrap(), "");
    assert_eq!(ion_with("<r><v>1</v><v>2</v></r>", Some("/r/v"), &[]).unwrap(), "1\n2\n");
}

#[test]
fn malformed_xml_fails_naming_the_line() {
    let e = ion_with("<a>\n  <b>1</b>\n  <c>2</d>\n</a>\n", None, &[]).unwrap_err();
    assert!(e.starts_with("kestra:///f.xml at line 3: malformed XML"), "{e}");
    let e = ion_with("<a>\n<b>\n", None, &[]).unwrap_err();
    assert!(e.contains("kestra:///f.xml at line"), "{e}");
    let e = ion_with("<r>\n<v>1</v>\n<v>2</x>\n</r>", Some("/r/v"), &[]).unwrap_err();
    assert!(e.starts_with("kestra:///f.xml at line 3: malformed XML"), "{e}");
    assert!(parse_query("/a//b").is_err());
}

#[test]
fn a_long_list_streams_and_a_long_record_is_refused() {
    let n = 250_000;
    let mut doc = String::from("<items>\n");
    for i in 0..n {
        doc.push_str(&format!("  <item><id>{i}</id><name>item number {i} with some padding text</name></item>\n"));
    }
    doc.push_str("</items>\n");
    assert!(doc.len() as u64 > MAX_RECORD_BYTES, "past the bound: {}", doc.len());
    let out = ion(&doc);
    assert_eq!(out.lines().count(), n);
    assert_eq!(
        out.lines().last().unwrap(),
        format!("{{\"id\":{},\"name\":\"item number {} with some padding text\"}}", n - 1, n - 1)
    );
    // the same with another element after the list: one record, too long
    let mixed = doc.replace("</items>\n", "<other/></items>\n");
    let e = ion_with(&mixed, None, &[]).unwrap_err();
    assert!(e.contains(&format!("longer than {MAX_RECORD_BYTES} bytes")), "{e}");
}

#[test]
fn round_trips_through_ion_to_xml() {
    let records = "{\"job_title\":\"Data Engineer\",\"avg_salary\":157510.03,\"tags\":[\"a\",\"b\"],\"m\":{\"x\":\"<&>\"}}\n\
                   {\"job_title\":\"Data Analyst\",\"avg_salary\":116348.29,\"tags\":[\"c\",\"d\"],\"m\":{\"x\":\"y\"}}\n";
    let xml = crate::serdes::xml_write::tests::xml(records, "items").unwrap();
    assert_eq!(ion(&xml), records);
    let back = crate::serdes::xml_write::tests::xml(&ion(&xml), "items").unwrap();
    assert_eq!(back, xml);
}
