//! The renderer end to end: Pebble syntax, dates, printing, errors with
//! their positions and the paths that were undefined.

use super::*;
use serde_json::json;

struct TestHost;

impl TemplateHost for TestHost {
    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        Ok(match (namespace, key) {
            ("company", "GCP_CREDS") => Some(json!({"type": "service_account", "n": 1})),
            ("company.team", "BUCKET") => Some(json!("my-bucket")),
            ("other", "X") => Some(json!(42)),
            (_, "EXPIRED") => return Err("The requested value has expired".into()),
            _ => None,
        })
    }
    fn secret(&self, key: &str) -> Result<String, String> {
        if key.eq_ignore_ascii_case("x") {
            Ok("s3cr3t".into())
        } else {
            Err(format!("Cannot find secret for key '{key}'."))
        }
    }
    fn read(&self, namespace: &str, path: &str) -> Result<String, String> {
        Ok(format!("{namespace}:{path}"))
    }
    fn secret_values(&self) -> Vec<String> {
        vec!["s3cr3t".into()]
    }
}

fn ctx() -> Value {
    json!({
        "flow": {"id": "f", "namespace": "company.team", "revision": 1},
        "execution": {"id": "e1", "startDate": "2024-05-06T07:08:09.123Z", "originalId": "e1"},
        "inputs": {"taxi": "yellow", "year": 2019, "month": "01", "cols": ["brand", "price"], "n": 3, "f": 2.0},
        "vars": {"file": "{{inputs.taxi}}_tripdata", "deep": "{{ vars.file }}!"},
        "outputs": {"extract": {"outputFiles": {"green_tripdata_2019-01.csv": "kestra:///x.csv"}}, "each": {"value": {"a": 1}}},
        "labels": {},
        "trigger": {},
        "taskrun": {"id": "t", "value": "v1", "attemptsCount": 0},
        "parent": {"taskrun": {"value": "p1"}},
    })
}

fn r(t: &str) -> String {
    Renderer::new().render_str(t, &ctx(), &TestHost).unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn r_err(t: &str) -> String {
    match Renderer::new().render_str(t, &ctx(), &TestHost) {
        Ok(s) => panic!("{t} rendered to {s:?}"),
        Err(e) => e.message,
    }
}

#[test]
fn plain_strings_untouched() {
    assert_eq!(r("no template"), "no template");
    assert_eq!(r("keep trailing {{ 'x' }}\n"), "keep trailing x\n");
}

#[test]
fn concat_and_subscripts() {
    assert_eq!(
        r("{{ inputs.taxi ~ '_tripdata_' ~ inputs.year ~ '-' ~ inputs.month ~ '.csv' }}"),
        "yellow_tripdata_2019-01.csv"
    );
    assert_eq!(r("{{ outputs.extract.outputFiles['green_tripdata_2019-01.csv'] }}"), "kestra:///x.csv");
    assert_eq!(
        r("{{ outputs.extract.outputFiles['green_tripdata_' ~ (inputs.year) ~ '-' ~ inputs.month ~ '.csv'] }}"),
        "kestra:///x.csv"
    );
    assert_eq!(r("{{ \"a\" ~ \"b\" | upper }}"), "AB");
}

#[test]
fn dates() {
    assert_eq!(r("{{ \"2019-03-01T09:00:00Z\" | date('yyyy-MM') }}"), "2019-03");
    assert_eq!(r("{{ \"2019-03-01T09:00:00Z\" | date('yyyy_MM') }}"), "2019_03");
    assert_eq!(r("{{ \"2019-03-01T09:00:00Z\" | date('yyyyMM') }}"), "201903");
    assert_eq!(r("{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}"), "2024-05-06");
    assert_eq!(r("{{ \"2024-01-31T00:00:00Z\" | dateAdd(1, 'DAYS') | date('yyyy-MM-dd') }}"), "2024-02-01");
    assert_eq!(r("{{ execution.startDate | date(\"HH:mm\", timeZone=\"Europe/Paris\") }}"), "09:08");
    assert_eq!(r("{{ 0 | date('iso_sec') }}"), "1970-01-01T00:00:00Z");
    assert_eq!(r("{{ execution.startDate | timestamp }}"), "1714979289");
    let now = r("{{ now() }}");
    assert!(chrono::DateTime::parse_from_rfc3339(&now).is_ok(), "{now}");
}

#[test]
fn printing() {
    assert_eq!(r("{{ inputs.cols }}"), "[\"brand\",\"price\"]");
    assert_eq!(r("{{ outputs.each }}"), "{\"value\":{\"a\":1}}");
    assert_eq!(r("{{ inputs.f }} {{ 1.5 }} {{ true }} {{ null }}|"), "2.0 1.5 true |");
    assert_eq!(r("{{ kv('GCP_CREDS') }}"), "{\"type\":\"service_account\",\"n\":1}");
}

#[test]
fn coalescing() {
    assert_eq!(r("{{ 1 ?? 2 }}"), "1");
    assert_eq!(r("{{ null ?? 2 }}"), "2");
    assert_eq!(r("{{ inputs.nope ?? 'd' }}"), "d");
    assert_eq!(r("{{ inputs.nope.deeper ?? 'd' }}"), "d");
    assert_eq!(r("{{ nothing.at.all ?? 'd' }}"), "d");
    assert_eq!(r("{{ null ??? 'd' }}"), "");
    assert_eq!(r("{{ inputs.nope ??? 'd' }}"), "d");
    assert_eq!(r("{{ inputs.nope ?? inputs.nope2 ?? 'x' ~ 'y' }}"), "xy");
}

#[test]
fn undefined_through_render_names_the_path_and_the_variable() {
    let mut c = ctx();
    c["vars"]["when"] = json!("{{ trigger.date | date('yyyy') }}-{{ inputs.taxi }}");
    c["vars"]["outer"] = json!("x{{ render(vars.when) }}");
    let e = Renderer::new().render_str("{{ render(vars.when) }}", &c, &TestHost).unwrap_err().to_string();
    assert!(e.contains("'trigger.date' is undefined (in vars.when, rendered by render())"), "{e}");
    let e = Renderer::new().render_str("{{ render(vars.outer) }}", &c, &TestHost).unwrap_err().to_string();
    assert!(e.contains("'trigger.date' is undefined (in vars.when, rendered by render())"), "{e}");
}

#[test]
fn undefined_is_an_error_naming_the_variable() {
    let m = r_err("{{ inputs.nope }}");
    assert!(m.contains("'inputs.nope' is undefined"), "{m}");
    assert!(m.contains("{{ inputs.nope }}"), "{m}");
    let m = r_err("line1\n{{ inputs.taxi }}\n{{ inputs.a.b | upper }}");
    assert!(m.contains("'inputs.a' is undefined") && m.contains("line 3"), "{m}");
    let m = r_err("{% if foo == 1 %}x{% endif %}");
    assert!(m.contains("'foo' is undefined"), "{m}");
    let m = r_err("{{ 'a' ~ inputs.zzz }}");
    assert!(m.contains("'inputs.zzz' is undefined"), "{m}");
}

#[test]
fn recursive_rendering_only_via_render() {
    assert_eq!(r("{{ vars.file }}"), "{{inputs.taxi}}_tripdata");
    assert_eq!(r("{{ render(vars.file) }}"), "yellow_tripdata");
    assert_eq!(r("{{ render(vars.deep) }}"), "yellow_tripdata!");
    assert_eq!(r("{{ renderOnce(vars.deep) }}"), "{{inputs.taxi}}_tripdata!");
    assert_eq!(r("{{ render(vars.deep, recursive=false) }}"), "{{inputs.taxi}}_tripdata!");
}

#[test]
fn filters() {
    assert_eq!(r("{{ '{\"a\":{\"b\":[1,2]}}' | fromJson | jq('.a.b[1]') | first }}"), "2");
    // JSON lines as text: the first record, as Kestra's Jackson readTree reads it
    assert_eq!(r("{{ '{\"n\":\"a\"}\n{\"n\":\"b\"}\n' | jq('.n') | first }}"), "a");
    assert_eq!(r("{{ 'Hello World!' | slugify }}"), "hello-world");
    assert_eq!(r("{{ 'a.b.c' | substringBefore('.') }}-{{ 'a.b.c' | substringAfterLast('.') }}"), "a-c");
    assert_eq!(r("{{ {'b': 1, 'a': 2} | keys }}"), "[\"b\",\"a\"]");
    assert_eq!(r("{{ [[1,2],[3]] | flatten }} {{ [1,2,3] | chunk(2) }}"), "[1,2,3] [[1,2],[3]]");
    assert_eq!(r("{{ '12' | number + 1 }} {{ '1.5' | number }}"), "13 1.5");
    assert_eq!(r("{{ 'abc' | md5 }}"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(r("{{ 'abc' | sha1 }}"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(r("{{ \"it's\" | escapeChar('shell') }}"), "it'\\''s");
    assert_eq!(r("{{ 'hello' | replace({'l': 'L'}) }} {{ 'hello' | replace('h', 'J') }}"), "heLLo Jello");
    assert_eq!(r("{{ 'a,b,,' | split(',') }}"), "[\"a\",\"b\"]");
    assert_eq!(
        r("{{ 'hello world' | abbreviate(8) }}|{{ 'hello' | capitalize }}|{{ 'hello' | slice(1, 3) }}"),
        "hello...|Hello|el"
    );
    assert_eq!(r("{{ [3,1,2] | sort | join(',') }} {{ {'a':1} | length }} {{ 'héllo' | length }}"), "1,2,3 1 5");
    assert_eq!(r("{{ '' | default('d') }} {{ inputs.nope.x | default('d2') }}"), "d d2");
    assert_eq!(r("{{ 'aGk=' | base64decode }}{{ 'hi' | base64encode }}"), "hiaGk=");
    assert_eq!(r("{{ {'a': [1, {'b': 'c'}]} | toJson }}"), "{\"a\":[1,{\"b\":\"c\"}]}");
    assert_eq!(r("{{ 'a b' | urlencode }} {{ 'a+b' | urldecode }}"), "a+b a b");
    assert_eq!(r("{{ 'x\ny' | indent(2) }}|{{ 'x' | nindent(2) }}"), "x\n  y|\n  x");
    assert_eq!(r("{{ 1 | className }} {{ 'a' | className }}"), "java.lang.Integer java.lang.String");
    assert_eq!(r("{{ {'a': [1]} | yaml }}"), "a:\n  - 1\n");
}

#[test]
fn operators_and_tags() {
    assert_eq!(r("{{ inputs.cols contains 'brand' }}"), "true");
    assert_eq!(r("{% if inputs.taxi == 'yellow' %}Y{% else %}N{% endif %}"), "Y");
    assert_eq!(r("{% if inputs.taxi equals 'green' %}G{% elseif inputs.n > 2 %}B{% endif %}"), "B");
    assert_eq!(r("{{ inputs.n > 2 ? 'big' : 'small' }}"), "big");
    assert_eq!(r("{% for i in 1..3 %}{{ i }}{{ loop.index }}{% endfor %}"), "102132");
    assert_eq!(r("{% for e in {'a': 1} %}{{ e.key }}={{ e.value }}{% endfor %}"), "a=1");
    assert_eq!(r("{{ 7 / 2 }} {{ 7.0 / 2 }}"), "3 3.5");
    assert_eq!(r("{{ inputs.nope is defined }} {{ taskrun.value is defined }}"), "false true");
    assert_eq!(r("{{ null is null }}"), "true");
    assert_eq!(r("{% set x = 'a' ~ 'b' %}{{ x }}"), "ab");
    assert_eq!(r("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
    assert_eq!(r("{{ parent.taskrun.value }}-{{ taskrun.value }}"), "p1-v1");
}

#[test]
fn host_functions() {
    assert_eq!(r("{{ secret('X') }}"), "s3cr3t");
    assert_eq!(r("{{ kv('BUCKET') }}/{{ kv('GCP_CREDS').type }}"), "my-bucket/service_account");
    assert_eq!(r("{{ kv('X', namespace='other') + 1 }}"), "43");
    assert_eq!(r("{{ kv('missing', errorOnMissing=false) ?? 'none' }}"), "none");
    assert_eq!(r("{{ read('a.txt') }}"), "company.team:a.txt");
    let m = r_err("{{ kv('missing') }}");
    assert!(m.contains("Cannot find the KV 'missing' in namespace 'company.team'"), "{m}");
    let m = r_err("{{ kv('EXPIRED') }}");
    assert!(m.contains("expired"), "{m}");
    let m = r_err("{{ secret('nope') }}");
    assert!(m.contains("Cannot find secret for key 'nope'"), "{m}");
    let m = Renderer::new().render_str("{{ secret('X') }}", &ctx(), &NoHost).unwrap_err().message;
    assert!(m.contains("Cannot find secret"), "{m}");
    assert_eq!(r("{{ uuid() | length }} {{ id() | length }}"), "36 22");
    let n: i64 = r("{{ randomInt(1, 3) }}").parse().unwrap();
    assert!((1..3).contains(&n));
    // a port nothing listens on: binding it works
    let port: u16 = r("{{ randomPort() }}").parse().unwrap();
    assert!(port > 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "{port}");
}

#[test]
fn typed_rendering() {
    let rd = Renderer::new();
    let v = json!({"n": "{{ inputs.n }}", "l": " {{ inputs.cols }} ", "s": "x{{ inputs.n }}", "m": ["{{ {'a': true} }}"], "k": "{{ kv('X', namespace='other') }}"});
    assert_eq!(
        rd.render_typed(&v, &ctx(), &TestHost).unwrap(),
        json!({"n": 3, "l": ["brand", "price"], "s": "x3", "m": [{"a": true}], "k": 42})
    );
    assert!(
        rd.render_typed(&json!("{{ inputs.nope }}"), &ctx(), &TestHost).unwrap_err().message.contains("inputs.nope")
    );
    assert_eq!(rd.eval_expression("inputs.n > 2", &ctx(), &TestHost).unwrap(), json!(true));
    assert_eq!(rd.render_value(&json!({"a": ["{{ inputs.n }}"]}), &ctx(), &TestHost).unwrap(), json!({"a": ["3"]}));
}

#[test]
fn syntax_check() {
    let rd = Renderer::new();
    assert!(rd.check_syntax("{{ a ?? b | date('yyyy') }} {% if x %}{% endif %}").is_ok());
    let e = rd.check_syntax("ok\n{{ a + }}").unwrap_err().message;
    assert!(e.contains("line 2"), "{e}");
    let e = rd.check_syntax("{% if x %}").unwrap_err().message;
    assert!(e.contains("syntax error"), "{e}");
    let e = rd.check_syntax("{{ a").unwrap_err().message;
    assert!(e.contains("never closed"), "{e}");
}

#[test]
fn many_small_renders_are_fast() {
    let rd = Renderer::new();
    let c = ctx();
    let start = std::time::Instant::now();
    for _ in 0..2000 {
        rd.render_str("{{ inputs.taxi }}-{{ flow.namespace }}", &c, &TestHost).unwrap();
    }
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn system_labels_are_also_nested_under_labels_system() {
    let r = Renderer::new();
    let mut c = ctx();
    c["labels"] = json!({"team": "data", "system.correlationId": "c1", "system.username": "ana"});
    let out = |t: &str| r.render_str(t, &c, &TestHost).expect(t);
    assert_eq!(
        out("{{ labels.system.correlationId }}/{{ labels['system.username'] }}/{{ labels.team }}"),
        "c1/ana/data"
    );
    // the flat keys stay, in their order, and the nested map comes after them
    assert_eq!(out("{{ labels | keys | join(';') }}"), "team;system.correlationId;system.username;system");
    // the rest of the context is there as before
    assert_eq!(out("{{ inputs.taxi }} {{ flow.id }} {{ execution.id }}"), "yellow f e1");
    // a context whose labels already hold `system` is left as written
    c["labels"] = json!({"system": {"x": 1}, "system.correlationId": "c1"});
    assert_eq!(r.render_str("{{ labels.system.x }}", &c, &TestHost).expect("render"), "1");
}

#[test]
fn a_context_is_converted_as_serde_would_convert_it() {
    let v = json!({
        "n": 1, "neg": -5, "big": u64::MAX, "min": i64::MIN, "f": 1.5, "t": true, "z": null, "s": "é\"x",
        "list": [1, "a", [], {}, {"k": [null, 2.0]}], "empty": {}, "order": {"b": 1, "a": 2}
    });
    let (direct, serde) = (template_value(&v), MjValue::from_serialize(&v));
    assert_eq!(format!("{direct:?}"), format!("{serde:?}"));
    assert_eq!(serde_json::to_string(&direct).unwrap(), serde_json::to_string(&serde).unwrap());
    for key in ["n", "neg", "big", "min", "f", "t", "z", "s", "list", "empty", "order"] {
        let (a, b) = (direct.get_attr(key).unwrap(), serde.get_attr(key).unwrap());
        assert_eq!((a.kind(), a.is_integer(), format!("{a:?}")), (b.kind(), b.is_integer(), format!("{b:?}")), "{key}");
    }
}
